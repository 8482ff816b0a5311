"""Feeds end to end: created through the API, fetched over HTTP, read by four real clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import icalendar
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.feeds.render import FeedEvent
from app.services import services
from tests.conftest import PUBLIC_BASE, Client, clock_at, make_participant, make_party, statements
from tests.feeds.clients import read_with_all_clients

DAY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def _four_zones(api: Client) -> dict[str, dict[str, Any]]:
    people = {}
    for key, tz, country in [
        ("ny", "America/New_York", "US"),
        ("ldn", "Europe/London", "GB"),
        ("mnl", "Asia/Manila", "PH"),
        ("ktm", "Asia/Kathmandu", "NP"),
    ]:
        party = make_party(
            api, name=f"Party {key}", timezone=tz, working_hours=DAY, holiday_country=country
        )
        people[key] = make_participant(api, party["id"], name=f"Person {key}")
    return people


def _series(api: Client, people: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Weekly operations review",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=WE",
        "start_date": "2026-03-04",
        "count": 40,
        "anchor_timezone": "America/New_York",
        "policy": "rotate",
        "step_minutes": 30,
        "location": "https://meet.example.com/ops",
        "participants": [{"participant_id": p["id"]} for p in people.values()],
    }
    body.update(overrides)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def _feed(api: Client, scope: str, target_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"scope": scope}
    if target_id is not None:
        body["target_id"] = target_id
    r = api.post("/v1/feeds", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    assert result["url"].startswith(PUBLIC_BASE + "/feeds/")
    assert result["webcal_url"] == "webcal://" + result["url"].split("://", 1)[1]
    return result


def _path(feed: dict[str, Any]) -> str:
    url: str = feed["url"]
    return url.removeprefix(PUBLIC_BASE)


@pytest.fixture
def in_march(app: FastAPI) -> Any:
    """The service's clock at 2026-03-01, so all of 2026 is still ahead."""
    with clock_at(app, datetime(2026, 3, 1, tzinfo=UTC)):
        yield app


@pytest.mark.clients
def test_four_clients_read_what_the_api_returns(
    api: Client, client: Client, in_march: FastAPI
) -> None:
    people = _four_zones(api)
    s = _series(api, people)
    plan = api.post(f"/v1/series/{s['id']}/schedule").json()
    occ = plan["occurrences"]
    assert len(occ) >= 30  # across both 2026 DST seasons
    moved = occ[5]
    new_start = datetime.fromisoformat(moved["start"]) + timedelta(minutes=30)
    r = api.patch(f"/v1/occurrences/{moved['id']}", json={"start": new_start.isoformat()})
    if r.status_code == 422:  # not feasible half an hour later: try half an hour earlier
        new_start -= timedelta(minutes=60)
        r = api.patch(f"/v1/occurrences/{moved['id']}", json={"start": new_start.isoformat()})
    assert r.status_code == 200, r.text
    cancelled = occ[9]
    assert (
        api.patch(f"/v1/occurrences/{cancelled['id']}", json={"status": "cancelled"}).status_code
        == 200
    )

    items = api.get(f"/v1/series/{s['id']}/occurrences", params={"limit": 200}).json()["items"]
    expected = sorted(
        (
            f"{o['id']}@meeting-scheduler",
            datetime.fromisoformat(o["start"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            datetime.fromisoformat(o["end"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            {"scheduled": "CONFIRMED", "cancelled": "CANCELLED"}[o["status"]],
            o["sequence"],
        )
        for o in items
    )
    feed = _feed(api, "series", s["id"])
    body = client.get(_path(feed)).content
    for name, events in read_with_all_clients(body).items():
        got = sorted(
            (e["uid"], e["start_utc"], e["end_utc"], e["status"], e["sequence"]) for e in events
        )
        assert got == expected, f"{name} reads a different calendar"


def test_http_semantics_200_304_head(api: Client, client: Client) -> None:
    people = _four_zones(api)
    s = _series(api, people, start_date="2027-01-06", count=6)
    api.post(f"/v1/series/{s['id']}/schedule")
    path = _path(_feed(api, "workspace", None))
    first = client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/calendar; charset=utf-8"
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong
    assert "content-encoding" not in first.headers
    assert "no-cache" in first.headers["cache-control"]
    assert client.get(path).content == first.content  # byte-identical
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    ims = first.headers["last-modified"]
    assert client.get(path, headers={"If-Modified-Since": ims}).status_code == 304
    old = format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": old}).status_code == 200
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    assert int(head.headers["content-length"]) == len(first.content)
    cal = icalendar.Calendar.from_ical(first.content)
    assert len(cal.walk("VEVENT")) == 6
    for prop in (
        "VERSION",
        "PRODID",
        "CALSCALE",
        "METHOD",
        "NAME",
        "X-WR-CALNAME",
        "REFRESH-INTERVAL",
        "X-PUBLISHED-TTL",
    ):
        assert prop in cal, prop


def _without_request_id(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k != "x-request-id"}


def _head_is_get_without_body(client: Client, path: str, **headers: str) -> httpx.Response:
    """HEAD first (so nothing is in memory for it), then GET: same status and headers."""
    head = client.head(path, headers=headers)
    get = client.get(path, headers=headers)
    assert head.content == b""
    assert (head.status_code, _without_request_id(head)) == (
        get.status_code,
        _without_request_id(get),
    )
    return get


def test_head_answers_as_get_before_any_get_and_after_every_change(
    api: Client, client: Client
) -> None:
    people = _four_zones(api)
    s = _series(api, people, start_date="2027-01-06", count=4)
    api.post(f"/v1/series/{s['id']}/schedule")
    feed = _feed(api, "workspace", None)
    path = _path(feed)
    first = _head_is_get_without_body(client, path)  # this worker has rendered nothing yet
    assert first.status_code == 200
    assert int(first.headers["content-length"]) == len(first.content) > 0
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert _head_is_get_without_body(client, path, **{"If-None-Match": etag}).status_code == 304
    assert (
        _head_is_get_without_body(client, path, **{"If-Modified-Since": modified}).status_code
        == 304
    )
    assert api.patch("/v1/workspace", json={"name": "Renamed tenant"}).status_code == 200
    changed = _head_is_get_without_body(client, path, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    # From memory (the FeedPolls middleware) it is the same answer again.
    assert _head_is_get_without_body(client, path).headers["etag"] == changed.headers["etag"]

    unknown = _head_is_get_without_body(client, "/feeds/" + "A" * 43 + ".ics")
    assert unknown.status_code == 404
    assert api.delete(f"/v1/feeds/{feed['id']}").status_code == 204
    revoked = _head_is_get_without_body(client, path)
    assert revoked.status_code == 404 and revoked.json() == unknown.json()


def test_revoked_and_unknown_tokens_look_alike(api: Client, client: Client) -> None:
    people = _four_zones(api)
    feed = _feed(api, "participant", people["mnl"]["id"])
    assert client.get(_path(feed)).status_code == 200
    assert api.delete(f"/v1/feeds/{feed['id']}").status_code == 204
    revoked = client.get(_path(feed))
    unknown = client.get("/feeds/" + "A" * 43 + ".ics")
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.json() == unknown.json()
    assert [f["id"] for f in api.get("/v1/feeds").json()["items"]] == []
    assert api.delete(f"/v1/feeds/{feed['id']}").status_code == 404


def test_changes_invalidate_exactly_the_feeds_they_appear_in(api: Client, client: Client) -> None:
    people = _four_zones(api)
    a = _series(api, {k: people[k] for k in ("ny", "mnl")}, start_date="2027-01-06", count=4)
    b = _series(
        api,
        {k: people[k] for k in ("ldn", "ktm")},
        start_date="2027-01-06",
        count=4,
        title="Escalations sync",
    )
    for s in (a, b):
        api.post(f"/v1/series/{s['id']}/schedule")
    feed_a, feed_b = _path(_feed(api, "series", a["id"])), _path(_feed(api, "series", b["id"]))
    feed_ny = _path(_feed(api, "participant", people["ny"]["id"]))
    etags = {p: client.get(p).headers["etag"] for p in (feed_a, feed_b, feed_ny)}

    assert (
        api.patch(f"/v1/series/{a['id']}", json={"title": "Ops review (new name)"}).status_code
        == 200
    )
    after = {p: client.get(p).headers["etag"] for p in (feed_a, feed_b, feed_ny)}
    assert after[feed_a] != etags[feed_a]
    assert after[feed_ny] != etags[feed_ny]
    assert after[feed_b] == etags[feed_b]
    assert b"Ops review (new name)" in client.get(feed_a).content

    occ = api.get(f"/v1/series/{b['id']}/occurrences").json()["items"][0]
    api.patch(f"/v1/occurrences/{occ['id']}", json={"status": "cancelled"})
    final = {p: client.get(p).headers["etag"] for p in (feed_a, feed_b, feed_ny)}
    assert final[feed_b] != after[feed_b]
    assert final[feed_a] == after[feed_a]

    api.patch(f"/v1/participants/{people['ldn']['id']}", json={"name": "Priya Renamed"})
    renamed = client.get(feed_b)
    assert renamed.headers["etag"] != final[feed_b]
    assert b"Priya Renamed" in renamed.content
    assert client.get(feed_a).headers["etag"] == final[feed_a]


def test_other_workspace_never_appears(api: Client, other_api: Client, client: Client) -> None:
    mine = _four_zones(api)
    _series(api, mine, start_date="2027-01-06", count=3, title="Mine only")
    theirs = _four_zones(other_api)
    s = _series(other_api, theirs, start_date="2027-01-06", count=3, title="Their secret review")
    other_api.post(f"/v1/series/{s['id']}/schedule")
    for s_mine in api.get("/v1/series").json()["items"]:
        api.post(f"/v1/series/{s_mine['id']}/schedule")
    body = client.get(_path(_feed(api, "workspace", None))).content
    assert b"Their secret review" not in body
    assert b"Mine only" in body
    r = api.post("/v1/feeds", json={"scope": "series", "target_id": s["id"]})
    assert r.status_code == 422


def test_hostile_title_stays_one_property(api: Client, client: Client) -> None:
    people = _four_zones(api)
    s = _series(
        api,
        {k: people[k] for k in ("ny", "ldn")},
        start_date="2027-01-06",
        count=2,
        description="Line one\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:pwned; a,b \\ ü",
    )
    api.post(f"/v1/series/{s['id']}/schedule")
    r = api.patch(f"/v1/series/{s['id']}", json={"title": "Review\r\nEND:VEVENT"})
    assert r.status_code == 422  # titles are one line
    body = client.get(_path(_feed(api, "series", s["id"]))).content
    cal = icalendar.Calendar.from_ical(body)
    events = cal.walk("VEVENT")
    assert len(events) == 2
    desc = str(events[0]["DESCRIPTION"])
    assert "END:VEVENT\nBEGIN:VEVENT\nSUMMARY:pwned; a,b \\ ü" in desc.replace("\r\n", "\n")
    assert all(str(e["SUMMARY"]) == "Weekly operations review" for e in events)


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "workspace", "target_id": "00000000-0000-0000-0000-000000000000"},
        {"scope": "series"},
        {"scope": "team", "target_id": "00000000-0000-0000-0000-000000000000"},
        {"scope": "party", "target_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_bad_feed_requests_are_422(api: Client, body: dict[str, Any]) -> None:
    r = api.post("/v1/feeds", json=body)
    assert r.status_code == 422
    assert r.json()["detail"]


def test_renames_of_parties_and_the_workspace_reach_the_feeds(api: Client, client: Client) -> None:
    # The description names each participant's party, the calendar name the workspace.
    people = _four_zones(api)
    series = _series(api, {k: people[k] for k in ("ny", "mnl")}, start_date="2027-01-06", count=4)
    api.post(f"/v1/series/{series['id']}/schedule")
    feed = _path(_feed(api, "series", series["id"]))
    before = client.get(feed)
    assert b"Party mnl" in before.content

    party_id = people["mnl"]["party_id"]
    assert api.patch(f"/v1/parties/{party_id}", json={"name": "Vendor renamed"}).status_code == 200
    renamed = client.get(feed)
    assert b"Vendor renamed" in renamed.content
    assert renamed.headers["etag"] != before.headers["etag"]

    assert api.patch("/v1/workspace", json={"name": "Tenant renamed"}).status_code == 200
    retitled = client.get(feed)
    assert b"X-WR-CALNAME:Weekly operations review \xc2\xb7 Tenant renamed" in retitled.content


def _versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT content_version, time_off_version FROM workspace"))
        rows = row.all()
    assert len(rows) == 1
    return {"content_version": rows[0][0], "time_off_version": rows[0][1]}


def test_time_off_shows_in_feeds_only_where_it_changes_a_meeting(
    api: Client, client: Client, app: FastAPI
) -> None:
    # Feeds show future meetings with today's figures (docs/rules.md, "Stale occurrences"):
    # time off that touches no meeting leaves the feed's bytes and ETag as they were (304);
    # time off on a meeting's day shows in its description at once.
    people = _four_zones(api)
    series = _series(api, {k: people[k] for k in ("ny", "mnl")}, start_date="2027-01-06", count=4)
    api.post(f"/v1/series/{series['id']}/schedule")
    feed = _path(_feed(api, "participant", people["mnl"]["id"]))
    first = client.get(feed)
    etag = first.headers["etag"]
    engine = services(app).engine
    before = _versions(engine)

    pid = people["mnl"]["id"]
    off = api.post(
        f"/v1/participants/{pid}/time-off",
        json={"start_date": "2027-02-01", "end_date": "2027-02-02"},
    )
    assert off.status_code == 201, off.text
    assert off.json()["warnings"] == []
    assert client.get(feed, headers={"If-None-Match": etag}).status_code == 304
    assert _versions(engine)["time_off_version"] == before["time_off_version"] + 1

    on_a_meeting = api.post(
        f"/v1/participants/{pid}/time-off",
        json={"start_date": "2027-01-13", "end_date": "2027-01-14"},
    )
    assert on_a_meeting.status_code == 201 and on_a_meeting.json()["warnings"]
    r = client.get(feed, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    text = r.content.decode().replace("\r\n ", "")
    assert "Out of date since it was scheduled:" in text and "cannot attend: time off." in text
    assert (
        api.delete(f"/v1/participants/{pid}/time-off/{on_a_meeting.json()['id']}").status_code
        == 204
    )
    assert client.get(feed).content == first.content


def test_feeds_sharing_a_series_build_its_events_once(
    api: Client, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.feeds import content

    people = _four_zones(api)
    series = _series(api, {k: people[k] for k in ("ny", "mnl")}, start_date="2027-01-06", count=4)
    api.post(f"/v1/series/{series['id']}/schedule")
    feeds = [
        _path(_feed(api, "series", series["id"])),
        _path(_feed(api, "participant", people["ny"]["id"])),
        _path(_feed(api, "workspace", None)),
    ]
    for path in feeds:
        assert client.get(path).status_code == 200
    built: list[object] = []
    real = content._series_events

    def counted(*a: Any) -> tuple[FeedEvent, ...]:
        built.append(a[2])
        return real(*a)

    monkeypatch.setattr(content, "_series_events", counted)

    pid = people["mnl"]["id"]
    assert api.patch(f"/v1/participants/{pid}", json={"name": "Maria Renamed"}).status_code == 200
    for path in feeds:
        r = client.get(path)
        assert b"Maria Renamed" in r.content
    assert [str(i) for i in built] == [series["id"]]


def test_after_a_write_the_workspace_is_read_once_for_all_its_feeds(
    api: Client, client: Client, app: FastAPI
) -> None:
    # A write moves the workspace's content version, so every feed must find out whether
    # what it shows changed. That costs one read of the workspace, not one per feed.
    people = _four_zones(api)
    series = _series(api, {k: people[k] for k in ("ny", "mnl")}, start_date="2027-01-06", count=4)
    api.post(f"/v1/series/{series['id']}/schedule")
    other = _series(api, {k: people[k] for k in ("ldn", "ktm")}, start_date="2027-01-07", count=3)
    api.post(f"/v1/series/{other['id']}/schedule")
    feeds = [
        _path(_feed(api, "series", series["id"])),
        _path(_feed(api, "participant", people["ny"]["id"])),
        _path(_feed(api, "participant", people["ktm"]["id"])),
        _path(_feed(api, "party", people["mnl"]["party_id"])),
        _path(_feed(api, "workspace", None)),
    ]
    etags = {path: client.get(path).headers["etag"] for path in feeds}
    engine = services(app).engine

    def view_reads(sql: list[str]) -> list[str]:
        # The token lookup (the write also made the directory forget these tokens) aside.
        return [q for q in sql if "token_hash" not in q]

    pid = people["ldn"]["id"]
    # Someone new, in no series: no feed shows them, but the content version moves.
    make_participant(api, people["ldn"]["party_id"], name="Newcomer")
    with statements(engine) as first:
        assert client.get(feeds[0], headers={"If-None-Match": etags[feeds[0]]}).status_code == 304
    with statements(engine) as rest:
        for path in feeds[1:]:
            assert client.get(path, headers={"If-None-Match": etags[path]}).status_code == 304
    assert view_reads(first), "the first poll after the write reads the workspace"
    assert view_reads(rest) == [], "the other feeds reuse what it read"

    # What each feed covers still follows its scope: a rename shows where the person is.
    assert api.patch(f"/v1/participants/{pid}", json={"name": "Ldn Renamed"}).status_code == 200
    shows = {path: b"Ldn Renamed" in client.get(path).content for path in feeds}
    assert shows == {
        feeds[0]: False,  # series without London
        feeds[1]: False,  # New York is not in London's series
        feeds[2]: True,  # Kathmandu is
        feeds[3]: False,  # Manila's party is not
        feeds[4]: True,  # the workspace has every series
    }


def test_a_feed_carries_the_series_reminder(api: Client, client: Client, in_march: FastAPI) -> None:
    people = _four_zones(api)
    s = _series(api, people, count=3, reminder_minutes=30)
    items = api.post(f"/v1/series/{s['id']}/schedule").json()["occurrences"]
    api.patch(f"/v1/occurrences/{items[1]['id']}", json={"status": "cancelled"})
    feed = _feed(api, "series", s["id"])
    calendar = icalendar.Calendar.from_ical(client.get(_path(feed)).content)
    alarms = {
        str(e["STATUS"]): [a.decoded("TRIGGER") for a in e.walk("VALARM")]
        for e in calendar.walk("VEVENT")
    }
    assert alarms == {"CONFIRMED": [timedelta(minutes=-30)], "CANCELLED": []}
    etag = api.get(f"/v1/series/{s['id']}").headers["ETag"]
    r = api.patch(
        f"/v1/series/{s['id']}", json={"reminder_minutes": None}, headers={"If-Match": etag}
    )
    assert r.status_code == 200, r.text
    calendar = icalendar.Calendar.from_ical(client.get(_path(feed)).content)
    assert [a for e in calendar.walk("VEVENT") for a in e.walk("VALARM")] == []
