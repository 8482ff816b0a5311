"""A series planned for people whose real CalDAV calendars (Radicale, written with the
caldav client) hold weekly meetings with an exception and a cancelled instance, an all-day
out-of-office and a declined invitation: no occurrence meets a busy minute of a required
participant, and each case is read as the rules say (docs/rules.md, "Busy times")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.test_calendars import people, series, starts_of
from tests.calendars.radicale import RadicaleServer, radicale_fixture  # noqa: F401
from tests.conftest import Client

MANILA = ZoneInfo("Asia/Manila")
STAMP = "DTSTAMP:20261001T000000Z"


def vcalendar(*lines: str) -> str:
    return (
        "\r\n".join(
            ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//EN", *lines, "END:VCALENDAR"]
        )
        + "\r\n"
    )


def utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def busy_of(source: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]))
        for i in source["busy_intervals"]
    ]


def connect(api: Client, who: dict[str, Any], radicale: RadicaleServer, name: str) -> str:
    """A fresh Radicale calendar for ``who``; returns its URL."""
    return radicale.make_calendar(who["id"][:8], name, password="caldav-secret")


def add_caldav(api: Client, who: dict[str, Any], url: str) -> dict[str, Any]:
    r = api.post(
        f"/v1/participants/{who['id']}/calendars",
        json={"kind": "caldav", "url": url, "username": who["id"][:8], "password": "caldav-secret"},
    )
    assert r.status_code == 201, r.text
    assert "caldav-secret" not in r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == "ok", body
    return body


def overlaps(plan: dict[str, Any], busy: list[tuple[datetime, datetime]]) -> list[str]:
    return [f"{a:%F %H:%M}" for a, b in starts_of(plan) for x, y in busy if a < y and x < b]


def test_weekly_meeting_with_a_moved_and_a_cancelled_instance(
    api: Client, radicale: RadicaleServer
) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    first, _ = starts_of(api.post(f"/v1/series/{s['id']}/plan").json())[0]
    url = connect(api, maria, radicale, "work")
    # Weekly at the first planned time, four weeks; week 2 moved three hours later; week 3
    # cancelled by EXDATE. Written in Manila time, as Maria's client would.
    local = first.astimezone(MANILA)
    week = timedelta(days=7)
    moved_from, moved_to = local + week, local + week + timedelta(hours=3)
    radicale.save_event(
        url,
        vcalendar(
            "BEGIN:VEVENT",
            "UID:huddle@vendor.example",
            STAMP,
            f"DTSTART;TZID=Asia/Manila:{local:%Y%m%dT%H%M%S}",
            "DURATION:PT1H",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            f"EXDATE;TZID=Asia/Manila:{local + 2 * week:%Y%m%dT%H%M%S}",
            "SUMMARY:Team huddle",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:huddle@vendor.example",
            STAMP,
            f"RECURRENCE-ID;TZID=Asia/Manila:{moved_from:%Y%m%dT%H%M%S}",
            f"DTSTART;TZID=Asia/Manila:{moved_to:%Y%m%dT%H%M%S}",
            "DURATION:PT1H",
            "SUMMARY:Team huddle (moved)",
            "END:VEVENT",
        ),
    )
    source = add_caldav(api, maria, url)
    hour = timedelta(hours=1)
    expected = [
        (first, first + hour),
        (moved_to, moved_to + hour),
        (first + 3 * week, first + 3 * week + hour),
    ]
    assert busy_of(source) == [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in expected]
    plan = api.post(f"/v1/series/{s['id']}/plan").json()
    assert overlaps(plan, busy_of(source)) == []
    assert "Team huddle" not in str(source)


def test_an_all_day_out_of_office_blocks_the_whole_local_day(
    api: Client, radicale: RadicaleServer
) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    planned = starts_of(api.post(f"/v1/series/{s['id']}/plan").json())
    day = planned[1][0].astimezone(MANILA).date()  # Maria's local date of the second meeting
    url = connect(api, maria, radicale, "ooo")
    radicale.save_event(
        url,
        vcalendar(
            "BEGIN:VEVENT",
            "UID:ooo@vendor.example",
            STAMP,
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            "SUMMARY:Out of office",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ),
    )
    source = add_caldav(api, maria, url)
    midnight = datetime(day.year, day.month, day.day, tzinfo=MANILA)
    assert busy_of(source) == [
        (midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC))
    ]
    plan = api.post(f"/v1/series/{s['id']}/plan").json()
    assert overlaps(plan, busy_of(source)) == []
    assert starts_of(plan)[1] != planned[1] or plan["unschedulable"]


def test_a_declined_invitation_is_not_busy(api: Client, radicale: RadicaleServer) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    planned = starts_of(api.post(f"/v1/series/{s['id']}/plan").json())
    first, end = planned[0]
    url = connect(api, maria, radicale, "invites")
    radicale.save_event(
        url,
        vcalendar(
            "BEGIN:VEVENT",
            "UID:declined@client.example",
            STAMP,
            f"DTSTART:{utc(first)}",
            f"DTEND:{utc(end)}",
            "SUMMARY:Vendor sync",
            "ORGANIZER:mailto:boss@client.example",
            "ATTENDEE;PARTSTAT=DECLINED;CN=Maria Santos:mailto:MARIA@vendor.example",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:boss@client.example",
            "END:VEVENT",
        ),
    )
    source = add_caldav(api, maria, url)
    assert source["busy_intervals"] == []
    assert starts_of(api.post(f"/v1/series/{s['id']}/plan").json()) == planned
    radicale.save_event(  # one UID per resource (RFC 4791 §4.1)
        url,
        vcalendar(
            "BEGIN:VEVENT",
            "UID:accepted@client.example",
            STAMP,
            f"DTSTART:{utc(planned[2][0])}",
            f"DTEND:{utc(planned[2][1])}",
            "SUMMARY:Vendor sync 2",
            "ORGANIZER:mailto:boss@client.example",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:maria@vendor.example",
            "END:VEVENT",
        ),
    )
    r = api.post(f"/v1/participants/{maria['id']}/calendars/{source['id']}/sync")
    assert busy_of(r.json()) == [planned[2]]  # the accepted one only
    plan = api.post(f"/v1/series/{s['id']}/plan").json()
    assert overlaps(plan, busy_of(r.json())) == []


def test_our_own_meetings_in_a_calendar_are_never_busy(
    api: Client, radicale: RadicaleServer
) -> None:
    ana, maria = people(api)
    s = series(api, [{"participant_id": ana["id"]}, {"participant_id": maria["id"]}])
    stored = api.post(f"/v1/series/{s['id']}/schedule").json()
    url = connect(api, maria, radicale, "subscribed")
    # Maria's calendar holds our own occurrences (as a feed or an invitation put them).
    for occ in stored["occurrences"]:
        start, end = datetime.fromisoformat(occ["start"]), datetime.fromisoformat(occ["end"])
        radicale.save_event(
            url,
            vcalendar(
                "BEGIN:VEVENT",
                f"UID:{occ['id']}@meeting-scheduler",
                STAMP,
                f"DTSTART:{utc(start)}",
                f"DTEND:{utc(end)}",
                "SUMMARY:Weekly review",
                "END:VEVENT",
            ),
        )
    source = add_caldav(api, maria, url)
    assert source["busy_intervals"] == []
    assert api.get(f"/v1/series/{s['id']}").json()["stale"] is False


def test_a_wrong_caldav_password_is_refused_and_nothing_is_stored(
    api: Client, radicale: RadicaleServer
) -> None:
    _, maria = people(api)
    url = connect(api, maria, radicale, "locked")
    r = api.post(
        f"/v1/participants/{maria['id']}/calendars",
        json={"kind": "caldav", "url": url, "username": maria["id"][:8], "password": "wrong"},
    )
    assert r.status_code == 422, r.text
    assert "wrong" not in r.json()["detail"]
    assert api.get(f"/v1/participants/{maria['id']}/calendars").json()["items"] == []
