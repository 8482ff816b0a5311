"""Repeated reads answered from memory (app.api.read_cache), on every backend: one query
per read, and every write, revocation and tenant boundary still holds on the next request."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from app.api.read_cache import CACHEABLE, ReadCache, Stored
from app.db.content_version import VERSION_COLUMNS
from app.main import create_app
from app.services import services
from tests.conftest import (
    Client,
    clock_at,
    make_participant,
    make_party,
    make_series,
    make_settings,
    new_workspace,
    statements,
)


@pytest.fixture
def elsewhere(
    database_url: str, portal: anyio.from_thread.BlockingPortal, app: FastAPI
) -> Iterator[FastAPI]:
    """A second instance of the service on the same database, sharing no memory with the
    first: another worker or host behind the load balancer."""
    other = create_app(make_settings(database_url))
    yield other
    services(other).engine.dispose()


def _as(application: FastAPI, portal: anyio.from_thread.BlockingPortal, c: Client) -> Client:
    return Client(application, portal, c.headers)


def _world(api: Client) -> dict[str, Any]:
    party = make_party(api, name="Acme NY")
    person = make_participant(api, party["id"], name="Dana")
    vendor = make_party(api, name="OABPO", timezone="Asia/Manila", holiday_country="PH")
    other = make_participant(api, vendor["id"], name="Maria")
    day = {"start_date": "2027-03-01", "end_date": "2027-03-02"}
    assert api.post(f"/v1/participants/{person['id']}/time-off", json=day).status_code == 201
    series = make_series(api, [person["id"], other["id"]], policy="rotate")
    assert api.post(f"/v1/series/{series['id']}/schedule").status_code == 200
    return {"party": party, "person": person, "series": series}


def _paths(w: dict[str, Any]) -> dict[str, str]:
    """One concrete path for every cacheable route template."""
    ids = {
        "party_id": w["party"]["id"],
        "participant_id": w["person"]["id"],
        "series_id": w["series"]["id"],
    }
    return {t: t.format(**ids) for t in CACHEABLE}


def test_the_cacheable_routes_exist_and_are_reads(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    gets = {path for path, operations in paths.items() if "get" in operations}
    assert gets >= CACHEABLE.keys()
    columns = set(VERSION_COLUMNS)
    assert all(kinds and set(kinds) <= columns for kinds in CACHEABLE.values())


def test_a_repeated_read_is_one_query_and_the_same_answer(
    app: FastAPI, engine: Engine, api: Client
) -> None:
    w = _world(api)
    with clock_at(app, datetime(2026, 12, 1, tzinfo=UTC)):  # the balance says when
        for template, path in _paths(w).items():
            first = api.get(path)
            assert first.status_code == 200, (template, first.text)
            with statements(engine) as sql:
                again = api.get(path)
            assert len(sql) == 1, (template, sql)  # the key's and the versions' check
            assert again.status_code == 200
            assert again.content == first.content, template
            drop = {"x-request-id"}
            assert {k: v for k, v in again.headers.items() if k not in drop} == {
                k: v for k, v in first.headers.items() if k not in drop
            }, template


def test_writes_elsewhere_are_seen_by_the_next_read(
    api: Client, elsewhere: FastAPI, portal: anyio.from_thread.BlockingPortal
) -> None:
    w = _world(api)
    there = _as(elsewhere, portal, api)
    party = f"/v1/parties/{w['party']['id']}"
    for _ in range(2):
        assert api.get(party).json()["name"] == "Acme NY"
        assert api.get("/v1/parties").json()["items"][0]["name"] == "Acme NY"
    assert there.patch(party, json={"name": "Acme New York"}).status_code == 200
    assert api.get(party).json()["name"] == "Acme New York"  # no waiting, no notification
    assert api.get("/v1/parties").json()["items"][0]["name"] == "Acme New York"

    occurrences = f"/v1/series/{w['series']['id']}/occurrences"
    before = api.get(occurrences).json()["items"]
    assert api.get(occurrences).json()["items"] == before
    first = before[0]["id"]
    r = there.patch(f"/v1/occurrences/{first}", json={"status": "cancelled"})
    assert r.status_code == 200, r.text
    after = {o["id"]: o["status"] for o in api.get(occurrences).json()["items"]}
    assert after[first] == "cancelled"


def test_a_revoked_key_is_refused_at_once(
    api: Client, elsewhere: FastAPI, portal: anyio.from_thread.BlockingPortal
) -> None:
    there = _as(elsewhere, portal, api)
    fresh = there.post("/v1/workspace/api-keys").json()
    mine = api.with_headers(Authorization=f"Bearer {fresh['api_key']}")
    assert mine.get("/v1/parties").status_code == 200
    assert mine.get("/v1/parties").status_code == 200  # answered from memory
    assert there.delete(f"/v1/workspace/api-keys/{fresh['id']}").status_code == 204
    r = mine.get("/v1/parties")
    assert r.status_code == 401, r.text
    assert api.get("/v1/parties").status_code == 200  # the workspace's other key still works


def test_tenants_never_share_an_answer(api: Client, other_api: Client) -> None:
    make_party(api, name="Mine")
    assert [p["name"] for p in api.get("/v1/parties").json()["items"]] == ["Mine"]
    assert api.get("/v1/parties").status_code == 200
    assert other_api.get("/v1/parties").json()["items"] == []
    mine = api.get("/v1/parties").json()["items"][0]["id"]
    assert api.get(f"/v1/parties/{mine}").status_code == 200
    assert other_api.get(f"/v1/parties/{mine}").status_code == 404


def test_conditions_take_the_full_route_and_the_balance_follows_the_clock(
    app: FastAPI, engine: Engine, api: Client
) -> None:
    w = _world(api)
    balance = f"/v1/series/{w['series']['id']}/balance"
    real = services(app).clock
    try:
        services(app).clock = lambda: datetime(2026, 12, 1, tzinfo=UTC)
        early = api.get(balance).json()
        services(app).clock = lambda: datetime(2027, 3, 1, tzinfo=UTC)
        late = api.get(balance).json()
    finally:
        services(app).clock = real
    assert early["as_of"] != late["as_of"]
    party = f"/v1/parties/{w['party']['id']}"
    etag = api.get(party).headers["etag"]
    with statements(engine) as sql:
        r = api.get(party, headers={"If-None-Match": etag})
    assert r.status_code in (200, 304)
    assert len(sql) >= 2, "a conditional read is answered by the route itself"


def test_turned_off_every_read_takes_the_full_route(
    database_url: str, portal: anyio.from_thread.BlockingPortal, client: Client
) -> None:
    plain = create_app(make_settings(database_url, read_cache_bytes=0))
    try:
        api = _as(plain, portal, new_workspace(Client(plain, portal))[0])
        assert api.get("/v1/parties").status_code == 200
        with statements(services(plain).engine) as sql:
            assert api.get("/v1/parties").status_code == 200
        assert len(sql) >= 2
    finally:
        services(plain).engine.dispose()


def test_the_cache_is_bounded_in_bytes() -> None:
    cache = ReadCache(max_bytes=1000)
    ws = uuid.uuid4()
    for i in range(10):
        cache.put((ws, f"/v1/p/{i}", b""), Stored(None, [], b"x" * 100))
    assert len(cache) == 10
    cache.put((ws, "/v1/p/10", b""), Stored(None, [], b"x" * 100))
    assert len(cache) == 10 and cache.get((ws, "/v1/p/0", b"")) is None
    cache.put((ws, "/v1/big", b""), Stored(None, [], b"x" * 500))  # over an eighth
    assert cache.get((ws, "/v1/big", b"")) is None


# (what a write does, the routes whose answers it must drop); every other cacheable answer
# must be served from memory after it.
WRITES: list[tuple[str, Callable[[Client, dict[str, Any]], None], set[str]]] = [
    (
        "a day off",
        lambda api, w: _ok(
            api.post(
                f"/v1/participants/{w['person']['id']}/time-off",
                json={"start_date": "2027-04-01", "end_date": "2027-04-02"},
            )
        ),
        # the list of days off shows it, and the series' stored future occurrences are read
        # against it (the person, their ETag included, is unchanged)
        {
            "/v1/participants/{participant_id}/time-off",
            "/v1/series/{series_id}",
            "/v1/series/{series_id}/occurrences",
        },
    ),
    (
        "a person renamed",
        lambda api, w: _ok(
            api.patch(f"/v1/participants/{w['person']['id']}", json={"name": "Dana W."})
        ),
        {"/v1/participants", "/v1/participants/{participant_id}", "/v1/series/{series_id}/balance"},
    ),
    (
        "a person's zone",
        lambda api, w: _ok(
            api.patch(f"/v1/participants/{w['person']['id']}", json={"timezone": "America/Chicago"})
        ),
        {
            "/v1/participants",
            "/v1/participants/{participant_id}",
            "/v1/participants/{participant_id}/time-off",
            "/v1/series/{series_id}",  # whether its occurrences are stale
            "/v1/series/{series_id}/occurrences",
            "/v1/series/{series_id}/balance",
        },
    ),
    (
        "a party renamed",
        lambda api, w: _ok(api.patch(f"/v1/parties/{w['party']['id']}", json={"name": "Acme"})),
        {
            "/v1/parties",
            "/v1/parties/{party_id}",
            "/v1/participants",
            "/v1/participants/{participant_id}",
            "/v1/series/{series_id}",  # read with the parties' hours (a rename included)
            "/v1/series/{series_id}/occurrences",
            "/v1/series/{series_id}/balance",  # it names each party
        },
    ),
    (
        "a series retitled",
        lambda api, w: _ok(api.patch(f"/v1/series/{w['series']['id']}", json={"title": "QBR"})),
        {
            "/v1/series",
            "/v1/series/{series_id}",
            "/v1/series/{series_id}/occurrences",
            "/v1/series/{series_id}/balance",
        },
    ),
    (
        "an occurrence cancelled",
        lambda api, w: _ok(
            api.patch(f"/v1/occurrences/{_first_occurrence(api, w)}", json={"status": "cancelled"})
        ),
        {
            "/v1/series/{series_id}",
            "/v1/series/{series_id}/occurrences",
            "/v1/series/{series_id}/balance",
        },
    ),
    (
        "the workspace renamed",
        lambda api, w: _ok(api.patch("/v1/workspace", json={"name": "Renamed"})),
        {"/v1/workspace"},
    ),
]


def _ok(r: httpx.Response) -> None:
    assert r.status_code in (200, 201), r.text


def _first_occurrence(api: Client, w: dict[str, Any]) -> str:
    items = api.get(f"/v1/series/{w['series']['id']}/occurrences").json()["items"]
    return str(items[0]["id"])


@pytest.mark.parametrize("what", [w[0] for w in WRITES])
def test_a_write_drops_exactly_the_answers_that_show_what_it_changed(
    what: str,
    database_url: str,
    app: FastAPI,
    engine: Engine,
    api: Client,
    portal: anyio.from_thread.BlockingPortal,
) -> None:
    w = _world(api)
    paths = _paths(w)
    _, write, dropped = next(x for x in WRITES if x[0] == what)
    plain = create_app(make_settings(database_url, read_cache_bytes=0))
    truth = _as(plain, portal, api)  # the same database, nothing kept in memory
    now = datetime(2026, 12, 1, tzinfo=UTC)  # before the series: one balance all along
    try:
        with clock_at(app, now), clock_at(plain, now):
            for path in paths.values():
                assert api.get(path).status_code == 200
            write(api, w)
            for template, path in paths.items():
                with statements(engine) as sql:
                    answer = api.get(path)
                served_from_memory = len(sql) == 1
                # The workspace is kept under its content version, which every write a
                # feed could show moves (all of these but a day off).
                moves_content = True  # every write moves the workspace's content version
                expected = template not in dropped and not (
                    template == "/v1/workspace" and moves_content
                )
                assert served_from_memory == expected, (what, template, sql)
                fresh = truth.get(path)
                assert answer.status_code == fresh.status_code == 200, (template, answer.text)
                assert answer.json() == fresh.json(), (what, template)
                assert answer.headers.get("etag") == fresh.headers.get("etag"), (what, template)
    finally:
        services(plain).engine.dispose()


def test_a_balance_is_kept_until_the_next_occurrence_starts_and_says_when_it_was_sent(
    app: FastAPI, engine: Engine, api: Client
) -> None:
    w = _world(api)
    balance = f"/v1/series/{w['series']['id']}/balance"
    starts = sorted(
        datetime.fromisoformat(o["start"])
        for o in api.get(f"/v1/series/{w['series']['id']}/occurrences").json()["items"]
    )
    before = starts[0] - timedelta(days=3)
    with clock_at(app, before):
        first = api.get(balance).json()
    assert {p["past_minutes"] for p in first["participants"]} == {0}
    for now in (before + timedelta(hours=5), starts[0] - timedelta(microseconds=1)):
        with clock_at(app, now), statements(engine) as sql:
            r = api.get(balance)
        assert len(sql) == 1, "answered from memory"
        again = r.json()
        assert datetime.fromisoformat(again.pop("as_of")) == now
        assert again == {k: v for k, v in first.items() if k != "as_of"}
        assert int(r.headers["content-length"]) == len(r.content)
    started = starts[0] + timedelta(minutes=1)  # the first one is under way: it counts as past
    with clock_at(app, started), statements(engine) as sql:
        moved = api.get(balance).json()
    assert len(sql) > 1, "computed again"
    assert datetime.fromisoformat(moved["as_of"]) == started
    assert sum(p["past_minutes"] for p in moved["participants"]) > 0
    assert [p["total_minutes"] for p in moved["participants"]] == [
        p["total_minutes"] for p in first["participants"]
    ]
