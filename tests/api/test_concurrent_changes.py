"""Twenty changes to one object at once, through the real service (``python -m app serve``,
2 worker processes) on every backend:

* all with the same ``If-Match``: exactly one is applied (200, its ETag matching its body)
  and the other nineteen get 412 with the error envelope;
* none with ``If-Match``: every one is applied and counted once, so the row's version (an
  occurrence's ``sequence``, which calendars compare) rises by exactly one per 200.

Dates come from the service's own clock (today in the process it runs in): a process of its
own cannot have its clock pinned.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, SQLModel

from app.db.models import Occurrence, Participant, Party, Series, Workspace
from app.services import services
from tests.conftest import ADMIN_TOKEN, NY_HOURS
from tests.serving import Service, serve

pytestmark = pytest.mark.slow

RACERS = 20
KINDS = ["workspace", "party", "participant", "series", "occurrence"]


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("race") / "service.log"
    # What is tested is who wins, not how fast: on a loaded machine (or under
    # make test-any-date's libfaketime) 20 requests at once may queue for longer than the
    # default 3 s before their turn, and a 503 would say nothing about atomicity.
    with serve(database_url, ADMIN_TOKEN, log, workers=2, database_connect_timeout="30") as svc:
        yield svc


@pytest.fixture
def c(service: Service, app: FastAPI) -> Iterator[httpx.Client]:
    """A client of the service (``app``: the tables are wiped afterwards)."""
    with httpx.Client(base_url=service.base, timeout=60) as client:
        yield client


@dataclass
class Target:
    """An object that takes If-Match: where it is PATCHed, the ``i``-th racer's change, and
    how the API shows it (occurrences are read in their series' list)."""

    model: type[SQLModel]
    object_id: str
    path: str
    change: Callable[[int], dict[str, Any]]
    list_path: str | None = None

    def read(self, c: httpx.Client) -> dict[str, Any]:
        if self.list_path is None:
            r = c.get(self.path)
            assert r.status_code == 200, r.text
            return {**r.json(), "etag": r.headers["etag"]}
        items = c.get(self.list_path).json()["items"]
        return next(o for o in items if o["id"] == self.object_id)

    def counter(self, engine: Any) -> int:
        """The change counter as stored (version, or an occurrence's sequence)."""
        with Session(engine) as session:
            row = session.get(self.model, uuid.UUID(self.object_id))
            assert row is not None
            value: int = getattr(row, "sequence" if self.model is Occurrence else "version")
            return value


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def _target(c: httpx.Client, kind: str) -> Target:
    """A fresh workspace holding the object ``kind`` (``c`` is then authenticated there)."""
    ws = _ok(
        c.post("/v1/workspaces", json={"name": "Race"}, headers={"X-Admin-Token": ADMIN_TOKEN})
    )
    c.headers["Authorization"] = f"Bearer {ws['api_key']}"
    if kind == "workspace":
        return Target(Workspace, ws["id"], "/v1/workspace", lambda i: {"name": f"Race {i}"})
    party = _ok(
        c.post(
            "/v1/parties",
            json={
                "name": "Acme NY",
                "role": "client",
                "timezone": "America/New_York",
                "working_hours": NY_HOURS,
            },
        )
    )
    if kind == "party":
        path = f"/v1/parties/{party['id']}"
        return Target(Party, party["id"], path, lambda i: {"name": f"Party {i}"})
    person = _ok(c.post("/v1/participants", json={"name": "Dana", "party_id": party["id"]}))
    if kind == "participant":
        path = f"/v1/participants/{person['id']}"
        return Target(Participant, person["id"], path, lambda i: {"name": f"Person {i}"})
    series = _ok(
        c.post(
            "/v1/series",
            json={
                "title": "Review",
                "duration_minutes": 60,
                "recurrence": "FREQ=DAILY",
                "start_date": (date.today() + timedelta(days=21)).isoformat(),
                "count": 3,
                "anchor_timezone": "America/New_York",
                "step_minutes": 30,
                "participants": [{"participant_id": person["id"], "required": True}],
            },
        )
    )
    if kind == "series":
        path = f"/v1/series/{series['id']}"
        return Target(Series, series["id"], path, lambda i: {"title": f"Review {i}"})
    assert kind == "occurrence"
    occ = _ok(c.post(f"/v1/series/{series['id']}/schedule"))["occurrences"][0]
    planned = datetime.fromisoformat(occ["start"]).astimezone(UTC)

    def move(i: int) -> dict[str, Any]:
        # A start of its own for every racer, none the current one: each is a real change.
        moved = planned + timedelta(minutes=3 * (i + 1))
        return {"start": moved.isoformat().replace("+00:00", "Z")}

    return Target(
        Occurrence,
        occ["id"],
        f"/v1/occurrences/{occ['id']}",
        move,
        list_path=f"/v1/series/{series['id']}/occurrences",
    )


def _race(
    service: Service, c: httpx.Client, target: Target, if_match: str | None
) -> list[httpx.Response]:
    """RACERS PATCHes of ``target`` released together, the ``i``-th with change ``i``."""
    headers = {**c.headers, **({"If-Match": if_match} if if_match else {})}
    return _at_once(service, headers, lambda r, i: r.patch(target.path, json=target.change(i)))


def _at_once(
    service: Service,
    headers: dict[str, str],
    send: Callable[[httpx.Client, int], httpx.Response],
) -> list[httpx.Response]:
    """RACERS requests released together, each on a connection of its own (so both workers
    take some) opened beforehand, so that only the request itself is left to send."""
    racers = [
        httpx.Client(base_url=service.base, headers=headers, timeout=60) for _ in range(RACERS)
    ]
    try:
        for racer in racers:
            assert racer.get("/healthz").status_code == 200
        go = threading.Barrier(RACERS)

        def fire(i: int) -> httpx.Response:
            go.wait()
            return send(racers[i], i)

        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(fire, range(RACERS)))
    finally:
        for racer in racers:
            racer.close()


def _etag_counter(etag: str) -> int:
    found = re.fullmatch(r'W/"[0-9a-f-]+-(\d+)"', etag)
    assert found, etag
    return int(found[1])


def _shown(body: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """What of ``body`` a change of these fields writes (instants compared as instants)."""
    return {k: datetime.fromisoformat(body[k]) if k == "start" else body[k] for k in change}


def _asked(change: dict[str, Any]) -> dict[str, Any]:
    return {
        k: datetime.fromisoformat(v.replace("Z", "+00:00")) if k == "start" else v
        for k, v in change.items()
    }


@pytest.mark.parametrize("kind", KINDS)
def test_same_if_match_twenty_times_at_once_one_wins(
    kind: str, service: Service, c: httpx.Client, app: FastAPI
) -> None:
    target = _target(c, kind)
    before = target.counter(services(app).engine)
    etag = c.get(target.path).headers["etag"] if target.list_path is None else None
    if etag is None:
        etag = f'W/"{target.object_id}-{before}"'
    assert _etag_counter(etag) == before

    answers = _race(service, c, target, etag)

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [412] * (RACERS - 1), [r.text for r in answers]
    for lost in (r for r in answers if r.status_code == 412):
        assert lost.json()["error"] == "precondition_failed"
        assert "ETag" in lost.json()["detail"]
    ((i, won),) = [(i, r) for i, r in enumerate(answers) if r.status_code == 200]
    # The winner's change is what is stored, and its ETag names the stored row.
    assert target.counter(services(app).engine) == before + 1
    assert _etag_counter(won.headers["etag"]) == before + 1
    assert _shown(won.json(), target.change(i)) == _asked(target.change(i))
    now = target.read(c)
    assert _shown(now, target.change(i)) == _asked(target.change(i))
    if "etag" in now:
        assert now["etag"] == won.headers["etag"]
    if kind == "occurrence":
        assert now["sequence"] == won.json()["sequence"] == before + 1


@pytest.mark.parametrize("kind", KINDS)
def test_twenty_changes_at_once_without_if_match_each_count_once(
    kind: str, service: Service, c: httpx.Client, app: FastAPI
) -> None:
    target = _target(c, kind)
    before = target.counter(services(app).engine)

    answers = _race(service, c, target, None)

    assert [r.status_code for r in answers] == [200] * RACERS, [r.text for r in answers]
    # Every acknowledged change raised the counter by one: each answer names a version of
    # its own, and the stored counter went up by exactly the number of answers.
    counters = sorted(_etag_counter(r.headers["etag"]) for r in answers)
    assert counters == list(range(before + 1, before + RACERS + 1))
    assert target.counter(services(app).engine) == before + RACERS
    if kind == "occurrence":
        assert sorted(r.json()["sequence"] for r in answers) == counters
    # Each answer shows its own change; the stored row is the last one's (highest counter).
    for i, r in enumerate(answers):
        assert _shown(r.json(), target.change(i)) == _asked(target.change(i))
    last = max(range(RACERS), key=lambda i: _etag_counter(answers[i].headers["etag"]))
    now = target.read(c)
    assert _shown(now, target.change(last)) == _asked(target.change(last))
    if "etag" in now:
        assert now["etag"] == answers[last].headers["etag"]


def test_schedule_runs_racing_moves_of_an_occurrence_never_reuse_a_sequence(
    service: Service, c: httpx.Client
) -> None:
    """A stored plan puts an unpinned occurrence that was moved back (a change: sequence + 1);
    moves (which pin it) and unpins racing it must neither be overwritten uncounted nor share
    a SEQUENCE with a different time."""
    target = _target(c, "occurrence")
    assert target.list_path is not None
    schedule = target.list_path.removesuffix("/occurrences") + "/schedule"
    first = target.read(c)

    def send(racer: httpx.Client, i: int) -> httpx.Response:
        if i % 4 == 0:
            return racer.post(schedule)
        if i % 4 == 1:
            return racer.patch(target.path, json={"pinned": False})
        return racer.patch(target.path, json=target.change(i))

    answers = _at_once(service, dict(c.headers), send)

    moves = [r for i, r in enumerate(answers) if i % 4]
    runs = [r for i, r in enumerate(answers) if i % 4 == 0]
    assert [r.status_code for r in moves] == [200] * len(moves), [r.text for r in moves]
    assert {r.status_code for r in runs} <= {200, 409}, [r.text for r in runs]
    # Every version of the occurrence an answer showed: (sequence, start).
    shown = [(first["sequence"], first["start"])]
    shown += [(r.json()["sequence"], r.json()["start"]) for r in moves]
    for run in (r for r in runs if r.status_code == 200):
        # A run that read the occurrence pinned left it out of its plan.
        for occ in [o for o in run.json()["occurrences"] if o["id"] == target.object_id]:
            shown.append((occ["sequence"], occ["start"]))
    starts: dict[int, set[datetime]] = {}
    for sequence, start in shown:
        starts.setdefault(sequence, set()).add(datetime.fromisoformat(start))
    assert all(len(s) == 1 for s in starts.values()), starts
    # Each move is a change with a sequence of its own (an unpin may change nothing).
    moved = [r for i, r in enumerate(answers) if i % 4 > 1]
    assert all(r.json()["pinned"] for r in moved)
    assert len({r.json()["sequence"] for r in moved}) == len(moved)
    # No change went unanswered or uncounted: the sequences shown run without a gap up to
    # the stored one, and the stored time is the one shown with it.
    now = target.read(c)
    assert sorted(starts) == list(range(first["sequence"], now["sequence"] + 1))
    assert starts[now["sequence"]] == {datetime.fromisoformat(now["start"])}


def test_deleting_a_series_while_its_occurrence_is_moved_answers_every_request(
    service: Service, c: httpx.Client
) -> None:
    """Deleting takes the series row first, as moves do: neither waits for the other in a
    circle (a deadlock PostgreSQL would break by failing one of them)."""
    target = _target(c, "occurrence")
    assert target.list_path is not None
    series = target.list_path.removesuffix("/occurrences")

    def send(racer: httpx.Client, i: int) -> httpx.Response:
        if i == RACERS // 2:
            return racer.delete(series)
        return racer.patch(target.path, json=target.change(i))

    answers = _at_once(service, dict(c.headers), send)

    assert answers[RACERS // 2].status_code == 204, answers[RACERS // 2].text
    assert {r.status_code for r in answers} <= {200, 204, 404}, [r.text for r in answers]
    assert c.get(series).status_code == 404
