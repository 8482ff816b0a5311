"""Participants' calendars through the real API: adding, listing, syncing, failing and
recovering, the refresh lease, stale occurrences, and the address rules with the default
settings (docs/api.md, "Calendars"; docs/rules.md, "Busy times")."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.from_thread
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.db import calendars
from app.db.models import CalendarSource
from app.main import create_app
from app.services import services
from tests.api.conftest import error_of
from tests.api.review import two_parties, weekly_review
from tests.calendars.ics_server import IcsServer
from tests.conftest import (
    Client,
    clock_at,
    make_participant,
    make_settings,
    new_workspace,
    running,
)


def ics(*events: tuple[datetime, datetime], extra: str = "") -> bytes:
    """A calendar of opaque events at these UTC times (and ``extra`` VEVENT text)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//calendars//EN"]
    for n, (a, b) in enumerate(events):
        lines += [
            "BEGIN:VEVENT",
            f"UID:event-{n}-{a:%Y%m%dT%H%M}@example.com",
            "DTSTAMP:20261001T000000Z",
            f"DTSTART:{a:%Y%m%dT%H%M%SZ}",
            f"DTEND:{b:%Y%m%dT%H%M%SZ}",
            "SUMMARY:Team huddle (secret title)",
            "END:VEVENT",
        ]
    return ("\r\n".join(lines) + "\r\n" + extra + "END:VCALENDAR\r\n").encode()


@pytest.fixture
def files() -> Iterator[IcsServer]:
    with IcsServer() as server:
        yield server


def people(api: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    ny, mnl = two_parties(api)
    ana = make_participant(api, ny["id"], name="Ana Reyes", email="ana@client.example")
    maria = make_participant(api, mnl["id"], name="Maria Santos", email="maria@vendor.example")
    return ana, maria


def series(api: Client, members: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The weekly review of tests/api/review.py with these members, not scheduled."""
    return weekly_review(api, members, schedule=False, **extra)


def starts_of(plan: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]))
        for o in plan["occurrences"]
    ]


def add(api: Client, who: dict[str, Any], url: str, **body: Any) -> dict[str, Any]:
    r = api.post(
        f"/v1/participants/{who['id']}/calendars", json={"kind": "ics", "url": url, **body}
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def test_a_plan_avoids_every_busy_minute_and_shows_only_times(
    api: Client, files: IcsServer
) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    before = api.post(f"/v1/series/{s['id']}/plan").json()
    planned = starts_of(before)
    # Maria is busy at each planned time, and for a minute before the next half hour.
    busy = [(a, b) for a, b in planned]
    files.put("/maria.ics", ics(*busy), etag='"v1"')
    source = add(api, maria, files.url("/maria.ics"))
    assert source["status"] == "ok" and source["last_error"] is None
    assert source["last_synced_at"] is not None and "password" not in source
    assert [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]))
        for i in source["busy_intervals"]
    ] == busy
    assert "secret title" not in str(source) and "Team huddle" not in str(source)

    after = api.post(f"/v1/series/{s['id']}/plan").json()
    assert after["notices"] == []
    moved = starts_of(after)
    assert len(moved) + len(after["unschedulable"]) == 4
    for start, end in moved:
        assert all(not (start < b and a < end) for a, b in busy), (start, busy)
    assert moved != planned


def test_a_busy_optional_member_is_a_conflict_that_says_why(api: Client, files: IcsServer) -> None:
    ana, maria = people(api)
    s = series(
        api,
        [{"participant_id": ana["id"]}, {"participant_id": maria["id"], "attendance": "optional"}],
    )
    planned = starts_of(api.post(f"/v1/series/{s['id']}/plan").json())
    files.put("/maria.ics", ics(*planned))
    add(api, maria, files.url("/maria.ics"))
    after = api.post(f"/v1/series/{s['id']}/plan").json()
    conflicts = [c for o in after["occurrences"] for c in o["conflicts"]]
    assert {"participant_id": maria["id"], "reason": "busy (calendar)"} in conflicts


def test_list_sync_delete_and_the_etag(api: Client, files: IcsServer) -> None:
    _, maria = people(api)
    day = datetime(2027, 1, 5, 13, tzinfo=UTC)
    files.put("/m.ics", ics((day, day + timedelta(hours=1))), etag='"one"')
    source = add(api, maria, files.url("/m.ics"))
    path = f"/v1/participants/{maria['id']}/calendars"
    listed = api.get(path).json()["items"]
    assert [c["id"] for c in listed] == [source["id"]]
    # A second read asks with If-None-Match, gets 304, keeps the busy times.
    again = api.post(f"{path}/{source['id']}/sync")
    assert again.status_code == 200 and again.json()["status"] == "ok"
    assert files.headers("/m.ics")["If-None-Match"] == '"one"'  # type: ignore[index]
    assert again.json()["busy_intervals"] == source["busy_intervals"]
    # A changed file is read afresh.
    files.put("/m.ics", ics((day, day + timedelta(hours=2))), etag='"two"')
    changed = api.post(f"{path}/{source['id']}/sync").json()
    assert changed["busy_intervals"][0]["end"].startswith("2027-01-05T15:00")
    assert api.delete(f"{path}/{source['id']}").status_code == 204
    assert api.get(path).json()["items"] == []
    error_of(api.post(f"{path}/{source['id']}/sync"), 404)


def test_a_failing_calendar_keeps_its_busy_times_and_plans_say_so(
    api: Client, files: IcsServer, app: FastAPI
) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    planned = starts_of(api.post(f"/v1/series/{s['id']}/plan").json())
    files.put("/m.ics", ics(planned[0]))
    source = add(api, maria, files.url("/m.ics"))
    path = f"/v1/participants/{maria['id']}/calendars/{source['id']}"
    files.fail("/m.ics", 503)
    failed_at = datetime(2026, 10, 1, 9, 40, tzinfo=UTC)
    with clock_at(app, failed_at):
        failed = api.post(f"{path}/sync").json()
    assert failed["status"] == "error" and "503" in failed["last_error"]
    assert failed["busy_intervals"] == source["busy_intervals"]  # the last good ones
    plan = api.post(f"/v1/series/{s['id']}/plan")
    assert plan.status_code == 200
    assert plan.json()["notices"] == [
        "Maria Santos's calendar could not be read since 09:40 UTC on 01 Oct 2026; busy "
        "times may be out of date."
    ]
    assert all(o["start"] != planned[0][0].isoformat() for o in plan.json()["occurrences"])
    # It comes back: ok again, the notice gone.
    files.put("/m.ics", ics(planned[1]))
    back = api.post(f"{path}/sync").json()
    assert back["status"] == "ok" and back["last_error"] is None
    assert api.post(f"/v1/series/{s['id']}/plan").json()["notices"] == []


def test_new_busy_times_make_a_stored_occurrence_stale_or_replan_it(
    api: Client, files: IcsServer
) -> None:
    ana, maria = people(api)
    manual = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    auto = series(
        api,
        [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}],
        title="Auto review",
        replan="auto",
    )
    stored = api.post(f"/v1/series/{manual['id']}/schedule").json()
    assert api.post(f"/v1/series/{auto['id']}/schedule").status_code == 200
    first = starts_of(stored)[0]
    files.put("/m.ics", ics(first))
    source = add(api, maria, files.url("/m.ics"))
    [warning] = source["warnings"]  # rotation may move the others too, to stay fair
    assert warning.startswith("Auto review was re-planned at once (replan: auto): ")
    read = api.get(f"/v1/series/{manual['id']}").json()
    assert read["stale"] is True and len(read["stale_occurrences"]) == 1
    occurrences = api.get(f"/v1/series/{manual['id']}/occurrences").json()["items"]
    changes = [c for o in occurrences for c in o["changes"]]
    assert any("Maria Santos cannot attend: busy (calendar)." in c for c in changes), changes
    auto_occ = api.get(f"/v1/series/{auto['id']}/occurrences").json()["items"]
    assert all(not o["stale"] for o in auto_occ)
    assert any("Re-planned: Maria Santos's calendar changed." in o["notices"] for o in auto_occ)


def test_validation_and_permanent_failures_store_nothing(api: Client, files: IcsServer) -> None:
    _, maria = people(api)
    path = f"/v1/participants/{maria['id']}/calendars"
    url = files.url("/m.ics")
    for body, where in [
        ({"kind": "ics", "url": url, "username": "u", "password": "p"}, "username"),
        ({"kind": "caldav", "url": url, "username": "u"}, "password"),
        ({"kind": "google", "url": url}, "kind"),
        ({"kind": "ics", "url": "file:///etc/passwd"}, "url"),
        ({"kind": "ics", "url": "ftp://calendar.example/x.ics"}, "url"),
        ({"kind": "ics"}, "url"),
    ]:
        body_ = error_of(api.post(path, json=body), 422)
        assert any(where in f["loc"] for f in body_["fields"]), (body, body_)
    files.fail("/missing.ics", 404)
    gone = error_of(api.post(path, json={"kind": "ics", "url": files.url("/missing.ics")}), 422)
    assert "404" in gone["detail"]
    files.put("/page.html", b"<html>not a calendar</html>", content_type="text/html")
    error_of(api.post(path, json={"kind": "ics", "url": files.url("/page.html")}), 422)
    assert api.get(path).json()["items"] == []
    # Only failing for now: stored, with the error, to be read again.
    files.fail("/down.ics", 500)
    down = api.post(path, json={"kind": "ics", "url": files.url("/down.ics")})
    assert down.status_code == 201 and down.json()["status"] == "error"


def test_webcal_is_read_as_https(api: Client, files: IcsServer) -> None:
    _, maria = people(api)
    url = files.url("/m.ics").replace("http://", "webcal://")
    r = api.post(f"/v1/participants/{maria['id']}/calendars", json={"kind": "ics", "url": url})
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith("https://127.0.0.1:")
    assert r.json()["status"] == "error"  # our test server speaks plain HTTP


def test_other_tenants_never_see_a_calendar(
    api: Client, other_api: Client, files: IcsServer
) -> None:
    ana, maria = people(api)
    files.put("/m.ics", ics())
    source = add(api, maria, files.url("/m.ics"))
    base = f"/v1/participants/{maria['id']}/calendars"
    error_of(other_api.get(base), 404)
    error_of(other_api.post(base, json={"kind": "ics", "url": files.url("/m.ics")}), 404)
    error_of(other_api.post(f"{base}/{source['id']}/sync"), 404)
    error_of(other_api.delete(f"{base}/{source['id']}"), 404)
    # Nor through another participant of the same workspace.
    error_of(api.delete(f"/v1/participants/{ana['id']}/calendars/{source['id']}"), 404)
    assert len(api.get(base).json()["items"]) == 1


def test_a_caldav_password_is_sealed_and_never_shown(
    api: Client, files: IcsServer, engine: Engine
) -> None:
    _, maria = people(api)
    r = api.post(
        f"/v1/participants/{maria['id']}/calendars",
        json={
            "kind": "caldav",
            "url": files.url("/dav/maria/"),
            "username": "maria",
            "password": "pa55-word-in-clear",
        },
    )
    assert r.status_code in (201, 422), r.text
    assert "pa55-word-in-clear" not in r.text
    with engine.connect() as conn:
        dump = str(conn.execute(text("SELECT * FROM calendar_source")).all())
    assert "pa55-word-in-clear" not in dump


def test_deleting_a_participant_deletes_their_calendars(
    api: Client, files: IcsServer, engine: Engine
) -> None:
    _, maria = people(api)
    files.put("/m.ics", ics())
    add(api, maria, files.url("/m.ics"))
    assert api.delete(f"/v1/participants/{maria['id']}").status_code == 204
    with Session(engine) as session:
        assert session.exec(select(CalendarSource)).all() == []


# --- the background refresh -------------------------------------------------------------


def test_each_due_source_is_refreshed_by_exactly_one_of_two_workers(
    api: Client, files: IcsServer, app: FastAPI, pinned_now: datetime
) -> None:
    _, maria = people(api)
    for n in range(6):
        files.put(f"/c{n}.ics", ics())
        add(api, maria, files.url(f"/c{n}.ics"))
    assert files.hits() == 6
    later = pinned_now + timedelta(minutes=31)  # past SCHEDULER_CALENDAR_REFRESH_MINUTES
    engine, settings = services(app).engine, services(app).settings
    barrier = threading.Barrier(2)
    done: list[int] = []

    def worker(owner: str) -> None:
        barrier.wait()
        done.append(calendars.refresh_due(engine, settings, lambda: later, owner))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done) == 6
    assert [files.hits(f"/c{n}.ics") for n in range(6)] == [2] * 6
    # Nothing is due again until the next interval.
    assert calendars.refresh_due(engine, settings, lambda: later, "w3") == 0
    assert files.hits() == 12


def test_a_lease_held_by_a_live_worker_is_not_taken(
    api: Client, files: IcsServer, app: FastAPI, pinned_now: datetime
) -> None:
    _, maria = people(api)
    files.put("/m.ics", ics())
    source = add(api, maria, files.url("/m.ics"))
    engine, settings = services(app).engine, services(app).settings
    later = pinned_now + timedelta(hours=1)
    assert calendars._claim(engine, uuid.UUID(source["id"]), "crashed", later)
    assert calendars.refresh_due(engine, settings, lambda: later, "other") == 0
    # Its lease runs out: another worker takes the source.
    expired = later + calendars.LEASE + timedelta(seconds=1)
    assert calendars.refresh_due(engine, settings, lambda: expired, "other") == 1


def test_the_app_refreshes_sources_in_the_background(
    database_url: str,
    portal: anyio.from_thread.BlockingPortal,
    files: IcsServer,
    app: FastAPI,
    pinned_now: datetime,
) -> None:
    api = new_workspace(Client(app, portal))[0]
    _, maria = people(api)
    files.put("/m.ics", ics())
    add(api, maria, files.url("/m.ics"))
    later = pinned_now + timedelta(hours=1)
    settings = make_settings(database_url, calendar_poll_seconds=0.05)
    worker = create_app(settings)
    services(worker).clock = lambda: later
    with running(worker, portal):
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while files.hits("/m.ics") < 2:
            assert datetime.now(UTC) < deadline, "the background refresh never ran"
            threading.Event().wait(0.05)
    services(worker).engine.dispose()


# --- addresses refused with the default settings ---------------------------------------


@pytest.fixture
def strict_api(
    database_url: str, portal: anyio.from_thread.BlockingPortal, app: FastAPI
) -> Iterator[Client]:
    """An app with the default address rule (the shared one allows loopback for tests)."""
    strict = create_app(make_settings(database_url, calendar_allow_private_addresses=False))
    yield new_workspace(Client(strict, portal))[0]
    services(strict).engine.dispose()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/calendar.ics", "loopback"),
        ("http://localhost:9/calendar.ics", "loopback"),
        ("http://[::1]:9/calendar.ics", "loopback"),
        ("http://10.1.2.3/calendar.ics", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.10.1/calendar.ics", "link-local"),
        ("file:///etc/passwd", "http"),
    ],
)
def test_refused_addresses_are_422_with_the_reason_and_never_reached(
    strict_api: Client, url: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def no_connect(*args: object, **kw: object) -> None:
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket, "create_connection", no_connect)
    _, maria = people(strict_api)
    path = f"/v1/participants/{maria['id']}/calendars"
    body = error_of(strict_api.post(path, json={"kind": "ics", "url": url}), 422)
    assert why in body["detail"], body
    monkeypatch.undo()
    assert strict_api.get(path).json()["items"] == []


def test_a_redirect_to_a_private_address_is_refused_after_the_redirect(
    strict_api: Client, files: IcsServer
) -> None:
    # The loopback server itself is refused by the default rule, so the redirect is only
    # ever followed by the tests of app.calendars.fetch (tests/calendars/test_fetch.py);
    # here the first hop is refused with its reason.
    _, maria = people(strict_api)
    files.redirect("/r.ics", "http://169.254.169.254/latest/meta-data/")
    path = f"/v1/participants/{maria['id']}/calendars"
    body = error_of(strict_api.post(path, json={"kind": "ics", "url": files.url("/r.ics")}), 422)
    assert "loopback" in body["detail"]
    assert files.hits("/r.ics") == 0


def test_a_new_zone_reads_all_day_events_again_in_it(
    api: Client, files: IcsServer, app: FastAPI, pinned_now: datetime
) -> None:
    _, maria = people(api)
    all_day = (
        "BEGIN:VEVENT\r\nUID:ooo@vendor.example\r\nDTSTAMP:20261001T000000Z\r\n"
        "DTSTART;VALUE=DATE:20270105\r\nDTEND;VALUE=DATE:20270106\r\nEND:VEVENT\r\n"
    )
    files.put("/m.ics", ics(extra=all_day), etag='"same"')
    source = add(api, maria, files.url("/m.ics"))
    assert source["busy_intervals"] == [
        {"start": "2027-01-04T16:00:00Z", "end": "2027-01-05T16:00:00Z"}  # Manila's day
    ]
    r = api.get(f"/v1/participants/{maria['id']}")
    patched = api.patch(
        f"/v1/participants/{maria['id']}",
        json={"timezone": "Asia/Tokyo"},
        headers={"If-Match": r.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    engine, settings = services(app).engine, services(app).settings
    assert calendars.refresh_due(engine, settings, lambda: pinned_now, "w") == 1
    assert files.headers("/m.ics").get("If-None-Match") is None  # type: ignore[union-attr]
    [again] = api.get(f"/v1/participants/{maria['id']}/calendars").json()["items"]
    assert again["busy_intervals"] == [
        {"start": "2027-01-04T15:00:00Z", "end": "2027-01-05T15:00:00Z"}  # Tokyo's day
    ]
