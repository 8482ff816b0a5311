"""Invitations end to end: the API's writes, the outbox, the dispatcher, a real SMTP server
(aiosmtpd), and what three real calendar readers make of the messages it received
(docs/rules.md, "Invitations")."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from fastapi import FastAPI

from app.db import invitations, outbox
from app.services import services
from app.settings import Settings
from tests.api.test_invitations import deliveries, team
from tests.conftest import Client, make_settings
from tests.feeds.test_render import instant, integer
from tests.invitations.clients import read_with_all_clients, scheduled
from tests.invitations.smtp_server import SmtpServer, smtp_fixture  # noqa: F401


@pytest.fixture
def mail(database_url: str, smtp_server: SmtpServer) -> Settings:
    """The app's settings pointed at the local SMTP server (plain text on loopback)."""
    return make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_starttls=False
    )


class Post:
    """Runs the dispatcher once, as a worker's loop would, at a moment of the test's."""

    def __init__(self, app: FastAPI, settings: Settings, start: datetime) -> None:
        self.app, self.settings, self.now = app, settings, start

    def __call__(self, after: timedelta = timedelta(minutes=2)) -> int:
        self.now += after  # past the coalescing window (60 s) of what was just written
        engine = services(self.app).engine
        now = self.now
        return asyncio.run(
            outbox.dispatch_once(
                engine,
                self.settings,
                lambda session, row: invitations.render(session, row, self.settings, now),
                lambda: now,
                "test-worker",
            )
        )


@pytest.fixture
def post(app: FastAPI, mail: Settings, pinned_now: datetime) -> Iterator[Post]:
    yield Post(app, mail, pinned_now)


def calendar_part(message: EmailMessage) -> tuple[str, bytes]:
    """The text/calendar part: its method parameter and its bytes."""
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    parts = [p for p in message.iter_parts() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert part.get_content_charset() == "utf-8"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(part.get_param("method")), payload


def api_instants(api: Client, series_id: str) -> list[tuple[str, str]]:
    items = api.get(f"/v1/series/{series_id}/occurrences").json()["items"]
    return [
        (
            datetime.fromisoformat(o["start"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            datetime.fromisoformat(o["end"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for o in items
        if o["status"] == "scheduled"
    ]


def latest_by_recipient(server: SmtpServer) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for received in server.messages:
        for rcpt in received.rcpt_tos:
            found[rcpt] = received.message
    return found


def sequence_of(ics: bytes) -> int:
    calendar = icalendar.Calendar.from_ical(ics)
    return max(integer(e, "SEQUENCE") for e in calendar.walk("VEVENT"))


def patch_occurrence(api: Client, occurrence: dict[str, Any], **body: Any) -> None:
    r = api.patch(f"/v1/occurrences/{occurrence['id']}", json=body)
    assert r.status_code == 200, r.text


def test_every_reader_sees_the_apis_instants_before_and_after_changes(
    api: Client, smtp_server: SmtpServer, post: Post
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    assert post() == 3
    first = latest_by_recipient(smtp_server)
    assert sorted(first) == ["ana@client.example", "jo@vendor.example", "maria@vendor.example"]
    method, ics = calendar_part(first["maria@vendor.example"])
    assert method == "REQUEST"
    expected = api_instants(api, sid)
    for client, [seen] in read_with_all_clients([ics]).items():
        assert scheduled(seen) == expected, client

    # A move and a cancel within the coalescing window: one message per member.
    items = api.get(f"/v1/series/{sid}/occurrences").json()["items"]
    moved = datetime.fromisoformat(items[1]["start"]) + timedelta(hours=2)
    patch_occurrence(api, items[1], start=moved.isoformat(), force=True)
    patch_occurrence(api, items[2], status="cancelled")
    smtp_server.reset()
    assert post() == 3
    second = latest_by_recipient(smtp_server)
    assert len(smtp_server.messages) == 3
    method, updated = calendar_part(second["ana@client.example"])
    assert method == "REQUEST" and sequence_of(updated) > sequence_of(ics)
    expected = api_instants(api, sid)
    assert len(expected) == 3 and expected != scheduled(read_with_all_clients([ics])["libical"][0])
    for client, [seen] in read_with_all_clients([updated]).items():
        assert scheduled(seen) == expected, client

    # A cancel alone: a CANCEL of that RECURRENCE-ID.
    patch_occurrence(api, items[3], status="cancelled")
    smtp_server.reset()
    assert post() == 3
    method, cancel = calendar_part(latest_by_recipient(smtp_server)["jo@vendor.example"])
    assert method == "CANCEL"
    calendar = icalendar.Calendar.from_ical(cancel)
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and "RECURRENCE-ID" in event
    rid = instant(event, "RECURRENCE-ID").astimezone(UTC).date()
    assert rid == datetime.fromisoformat(items[3]["start"]).astimezone(UTC).date()

    # Scheduling again moves nothing in anyone's calendar: nothing is sent.
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    assert deliveries(api, status="pending") == []


def test_an_smtp_outage_delays_messages_and_loses_none(
    api: Client, smtp_server: SmtpServer, post: Post
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    smtp_server.stop()
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200  # 2xx while SMTP is down
    post()
    waiting = deliveries(api, status="pending")
    assert len(waiting) == 3 and all(d["attempts"] == 1 and d["last_error"] for d in waiting)
    smtp_server.start()
    post(timedelta(seconds=5))  # before the backoff: nothing is retried yet
    assert smtp_server.messages == []
    post(timedelta(hours=1))
    assert sorted(smtp_server.message_ids().values()) == [1, 1, 1]  # each exactly once
    assert {d["message_id"] for d in deliveries(api, status="sent")} == set(
        smtp_server.message_ids()
    )
    post(timedelta(hours=1))
    assert len(smtp_server.messages) == 3


def test_the_message_reads_in_the_readers_time_and_its_links_work(
    api: Client, smtp_server: SmtpServer, post: Post
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    post()
    message = latest_by_recipient(smtp_server)["maria@vendor.example"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://sched.example/unsubscribe/")
    assert re.fullmatch(r"<delivery-[0-9a-f-]{36}@meeting-scheduler>", message["Message-ID"])
    html_part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    html = html_part.get_content()
    first = api.get(f"/v1/series/{sid}/occurrences").json()["items"][0]
    local = datetime.fromisoformat(first["start"]).astimezone(ZoneInfo("Asia/Manila"))
    assert f"{local:%H:%M}" in html  # Maria's own time
    _, ics = calendar_part(message)
    [master, *_] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    [alarm] = master.walk("VALARM")
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)
    accept = re.findall(r"https://sched\.example(/rsvp/[^\"'<>\s]+/accept)", html)
    assert accept, html
    assert api.post(accept[0]).status_code == 200
    answered = api.get(f"/v1/series/{sid}/occurrences").json()["items"]
    responses = {
        p["participant_id"]: p["response"] for o in answered[:1] for p in o["participants"]
    }
    assert responses[world["maria"]["id"]] == "accepted"


def test_a_removed_member_and_a_deleted_series_get_a_cancel_by_email(
    api: Client, smtp_server: SmtpServer, post: Post
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    post()
    keep = [{"participant_id": world["ana"]["id"]}, {"participant_id": world["maria"]["id"]}]
    etag = api.get(f"/v1/series/{sid}").headers["ETag"]
    assert (
        api.patch(
            f"/v1/series/{sid}", json={"participants": keep}, headers={"If-Match": etag}
        ).status_code
        == 200
    )
    smtp_server.reset()
    post()
    got = {rcpt: calendar_part(m)[0] for rcpt, m in latest_by_recipient(smtp_server).items()}
    assert got == {
        "jo@vendor.example": "CANCEL",
        "ana@client.example": "REQUEST",
        "maria@vendor.example": "REQUEST",
    }
    assert api.delete(f"/v1/series/{sid}").status_code == 204
    smtp_server.reset()
    post()
    gone = latest_by_recipient(smtp_server)
    assert sorted(gone) == ["ana@client.example", "maria@vendor.example"]
    method, ics = calendar_part(gone["ana@client.example"])
    calendar = icalendar.Calendar.from_ical(ics)
    assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    assert {str(e["UID"]) for e in calendar.walk("VEVENT")} == {f"series-{sid}@meeting-scheduler"}


def test_a_re_schedule_that_moves_meetings_reaches_every_reader(
    api: Client, smtp_server: SmtpServer, post: Post
) -> None:
    world = team(api)
    sid = world["series"]["id"]
    api.post(f"/v1/series/{sid}/schedule")
    post()
    _, before = calendar_part(latest_by_recipient(smtp_server)["ana@client.example"])
    # Maria is away on the second Tuesday: the plan changes when the series is scheduled again.
    second = api.get(f"/v1/series/{sid}/occurrences").json()["items"][1]
    r = api.post(
        f"/v1/participants/{world['maria']['id']}/time-off",
        json={"start_date": second["date"], "end_date": second["date"]},
    )
    assert r.status_code == 201, r.text
    assert api.post(f"/v1/series/{sid}/schedule").status_code == 200
    smtp_server.reset()
    assert post() == 3
    _, after = calendar_part(latest_by_recipient(smtp_server)["ana@client.example"])
    expected = api_instants(api, sid)
    assert sequence_of(after) > sequence_of(before)
    assert expected != scheduled(read_with_all_clients([before])["ical.js"][0])
    for client, [seen] in read_with_all_clients([after]).items():
        assert scheduled(seen) == expected, client
