"""Keyset pagination: every item exactly once, in order, and cursors that cannot break it."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db.models import Party, Workspace
from tests.api.conftest import error_of, locs
from tests.conftest import Client, make_participant, make_party


def _pages(api: Client, url: str, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        r = api.get(url, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


def _time_off(api: Client, participant_id: str) -> Callable[[int], str]:
    def add(i: int) -> str:
        r = api.post(
            f"/v1/participants/{participant_id}/time-off",
            json={"start_date": f"2027-01-{i + 1:02d}", "end_date": f"2027-01-{i + 1:02d}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    return add


@pytest.mark.parametrize("resource", ["parties", "participants", "time-off"])
def test_seven_items_in_pages_of_three(api: Client, resource: str) -> None:
    party = make_party(api)
    person = make_participant(api, party["id"])
    if resource == "parties":
        url = "/v1/parties"
        created = [party["id"]] + [make_party(api)["id"] for _ in range(6)]
    elif resource == "participants":
        url = "/v1/participants"
        created = [person["id"]] + [make_participant(api, party["id"])["id"] for _ in range(6)]
    else:
        url = f"/v1/participants/{person['id']}/time-off"
        add = _time_off(api, person["id"])
        created = [add(i) for i in range(7)]

    pages = _pages(api, url, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [item["id"] for page in pages for item in page]
    assert seen == created  # oldest first, no duplicates, no gaps
    # The same walk with the default limit returns the same order on one page.
    assert [i["id"] for i in api.get(url).json()["items"]] == created


def test_exact_multiple_of_the_limit_ends_without_an_empty_page(api: Client) -> None:
    ids = [make_party(api)["id"] for _ in range(6)]
    pages = _pages(api, "/v1/parties", 3)
    assert [len(p) for p in pages] == [3, 3]
    assert [i["id"] for p in pages for i in p] == ids
    assert _pages(api, "/v1/parties", 6) == [api.get("/v1/parties").json()["items"]]
    assert [len(p) for p in _pages(api, "/v1/parties", 200)] == [6]
    assert [len(p) for p in _pages(api, "/v1/parties", 1)] == [1] * 6


def test_empty_list(api: Client) -> None:
    assert api.get("/v1/parties").json() == {"items": [], "next_cursor": None}


def test_filter_applies_to_every_page(api: Client) -> None:
    a, b = make_party(api), make_party(api)
    wanted = []
    for i in range(8):
        p = make_participant(api, (a if i % 2 else b)["id"])
        if i % 2:
            wanted.append(p["id"])
    pages = _pages(api, "/v1/participants", 3, party_id=a["id"])
    assert [len(p) for p in pages] == [3, 1]
    assert [i["id"] for p in pages for i in p] == wanted


def test_rows_with_the_same_created_at_are_neither_lost_nor_repeated(
    api: Client, engine: Engine
) -> None:
    workspace_id = uuid.UUID(api.get("/v1/workspace").json()["id"])
    stamp = datetime(2026, 11, 3, 13, 0, 0, 123456, tzinfo=UTC)
    with Session(engine) as session:
        assert session.get(Workspace, workspace_id) is not None
        for i in range(5):
            session.add(
                Party(
                    workspace_id=workspace_id,
                    name=f"Twin {i}",
                    role="client",
                    timezone="UTC",
                    working_hours=[],
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        session.commit()
        expected = sorted(str(p.id) for p in session.exec(select(Party)))
    for limit in (1, 2, 3, 4):
        pages = _pages(api, "/v1/parties", limit)
        assert [i["id"] for p in pages for i in p] == expected, limit


def test_new_items_do_not_disturb_a_walk_in_progress(api: Client) -> None:
    first = [make_party(api)["id"] for _ in range(4)]
    r = api.get("/v1/parties", params={"limit": 2}).json()
    assert [i["id"] for i in r["items"]] == first[:2]
    later = make_party(api)["id"]
    rest = api.get("/v1/parties", params={"limit": 10, "cursor": r["next_cursor"]}).json()
    assert [i["id"] for i in rest["items"]] == [*first[2:], later]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_CURSORS = {
    "garbage": "!!!not-base64!!!",
    "no-separator": _b64("hello"),
    "bad-date": _b64(f"yesterday|{uuid.uuid4()}"),
    "bad-uuid": _b64("2026-11-03T13:00:00+00:00|not-a-uuid"),
    "naive-date": _b64(f"2026-11-03T13:00:00|{uuid.uuid4()}"),
    "date-only": _b64(f"2026-11-03|{uuid.uuid4()}"),
    "far-future": _b64(f"9999-12-31T23:59:59-12:00|{uuid.uuid4()}"),
    "not-utf8": base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(),
    "too-long": "A" * 201,
    "empty-uuid": _b64("2026-11-03T13:00:00+00:00|"),
}


@pytest.mark.parametrize("cursor", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
@pytest.mark.parametrize("url", ["/v1/parties", "/v1/participants", "time-off"])
def test_bad_cursor_is_422(api: Client, url: str, cursor: str) -> None:
    make_party(api)
    if url == "time-off":
        url = f"/v1/participants/{make_participant(api, make_party(api)['id'])['id']}/time-off"
    err = error_of(api.get(url, params={"cursor": cursor}), 422)
    assert ["query", "cursor"] in locs(err)


def test_a_cursor_from_another_list_does_not_break_anything(api: Client) -> None:
    party = make_party(api)
    for _ in range(3):
        make_participant(api, party["id"])
    for _ in range(2):
        make_party(api)
    cursor = api.get("/v1/participants", params={"limit": 1}).json()["next_cursor"]
    r = api.get("/v1/parties", params={"cursor": cursor})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", ""])
@pytest.mark.parametrize("url", ["/v1/parties", "/v1/participants"])
def test_limit_out_of_range_is_422(api: Client, url: str, limit: str) -> None:
    err = error_of(api.get(url, params={"limit": limit}), 422)
    assert ["query", "limit"] in locs(err)


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_bounds_are_accepted(api: Client, limit: str) -> None:
    make_party(api)
    assert api.get("/v1/parties", params={"limit": limit}).status_code == 200
