"""Four independent calendar clients read our feeds exactly as we meant them.

ical.js (node), libical (Debian's python3-gi), recurring-ical-events and vobject must list
the same UIDs, UTC instants, statuses, sequences and summaries as the input. A missing
client fails with a pointer to ``make test-tools``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.feeds.render import FeedCalendar, FeedEvent, render_feed
from tests.feeds import clients
from tests.feeds.clients import read_with_all_clients
from tests.feeds.sample import (
    CANCELLED_WEEK,
    MOVED_WEEK,
    NOW,
    expected_reading,
    rotating_calendar,
    rotating_series,
    simple_event,
    uid,
)

pytestmark = pytest.mark.clients

CLIENT_NAMES = ["ical.js", "libical", "recurring-ical-events", "vobject"]
T0 = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


def assert_all_clients_read(ics: bytes, expected: list[dict[str, object]]) -> None:
    readings = read_with_all_clients(ics)
    assert sorted(readings) == CLIENT_NAMES
    for client, events in readings.items():
        assert len(events) == len(expected), client
        for got, want in zip(events, expected, strict=True):
            assert got == want, client


def test_rotating_series_across_both_dst_seasons() -> None:
    calendar = rotating_calendar()
    ics = render_feed(calendar, now=NOW)
    expected = expected_reading(list(calendar.events))
    assert_all_clients_read(ics, expected)
    by_uid = {event["uid"]: event for event in expected}
    assert by_uid[uid(MOVED_WEEK)]["sequence"] == 1
    assert by_uid[uid(MOVED_WEEK)]["start_utc"] == "2026-03-25T13:00:00Z"
    assert by_uid[uid(CANCELLED_WEEK)]["status"] == "CANCELLED"
    assert {event["status"] for event in expected} == {"CONFIRMED", "CANCELLED"}


def test_old_cancellation_is_gone_for_every_client() -> None:
    later = NOW + timedelta(days=40)
    ics = render_feed(rotating_calendar(), now=later)
    kept = [event for event in rotating_series() if event.uid != uid(CANCELLED_WEEK)]
    assert_all_clients_read(ics, expected_reading(kept))


INJECTED = "Sync\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:injected\r\nDTSTART:20260101T000000Z\r\nEND"


def test_injected_summary_stays_one_property() -> None:
    events = [
        replace(simple_event(n, T0 + timedelta(days=n)), summary=f"{n}: {INJECTED}")
        for n in range(4)
    ]
    calendar = FeedCalendar(name="Team\r\nEND:VCALENDAR", description=INJECTED, events=events)
    ics = render_feed(calendar, now=T0)
    readings = read_with_all_clients(ics)
    for client, read in readings.items():
        assert len(read) == 4, client
        assert [event["uid"] for event in read] == [event.uid for event in events], client
        for event, got in zip(events, read, strict=True):
            assert got["summary"] == event.summary.replace("\r\n", "\n"), client


# Text whose folds land next to multi-byte characters, escapes, spaces and tabs.
FOLD_TRAPS = [
    "x" * 60 + "é" * 30 + "😀" * 20 + "日本語" * 10,
    ("a" * 64 + "\\;,") * 4,
    "s" * 65 + " " * 20 + "end with spaces   ",
    "t" * 66 + "\t\t" + "tab inside" + "\t" * 30,
    "🇳🇵 Kathmandu 18:45 (+05:45) · " * 8,
    "\n".join(["line; with, specials\\"] * 12),
    "combining: e\u0301" * 20 + " zero\u200bwidth\u200d joiner",
    "  \t leading and trailing whitespace \t ",
]


@pytest.mark.parametrize("summary", FOLD_TRAPS, ids=range(len(FOLD_TRAPS)))
def test_folded_text_round_trips_in_every_client(summary: str) -> None:
    event = replace(simple_event(1, T0), summary=summary, description=summary * 3)
    ics = render_feed(FeedCalendar(name=summary, description=summary, events=[event]), now=T0)
    assert max(len(line) for line in ics.split(b"\r\n")) <= 75
    # libical drops a value's leading and trailing spaces, so the renderer strips them.
    assert_all_clients_read(ics, expected_reading([replace(event, summary=summary.strip())]))


def test_missing_tools_fail_with_a_pointer_to_make_test_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="make test-tools"):
        clients.read_with_icaljs(b"")
    monkeypatch.setattr(clients, "SYSTEM_PYTHON", "/nonexistent/python3")
    clients._require_libical.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match="make test-tools"):
            clients.read_with_libical(b"")
    finally:
        clients._require_libical.cache_clear()


@pytest.mark.clients
def test_literal_backslash_n_survives_in_every_client() -> None:
    # icalendar's own escaping would turn this backslash-N into a line break.
    t = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    title = "Path C:\\New\\Notes; a,b"
    event = FeedEvent(
        uid="bs@example",
        start=t,
        end=t + timedelta(hours=1),
        sequence=0,
        status="scheduled",
        summary=title,
        description="",
        location=None,
        url=None,
        created=t,
        last_modified=t,
    )
    ics = render_feed(FeedCalendar(name="n", description=None, events=[event]), now=t)
    for name, events in read_with_all_clients(ics).items():
        assert [e["summary"] for e in events] == [title], name
