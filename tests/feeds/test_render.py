"""The feed document itself, read back with icalendar's own parser (no external clients)."""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.feeds.render import FeedCalendar, FeedEvent, render_feed
from tests.feeds.sample import (
    CANCELLED_WEEK,
    MOVED_WEEK,
    NOW,
    WEEKS,
    EventChange,
    rotating_calendar,
    rotating_series,
    simple_event,
    uid,
)

T0 = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


def parse(ics: bytes) -> icalendar.Calendar:
    calendar = icalendar.Calendar.from_ical(ics)
    assert isinstance(calendar, icalendar.Calendar)
    for component in calendar.walk():
        assert component.errors == [], f"{component.name}: {component.errors}"
    return calendar


def instant(component: icalendar.Component, name: str) -> datetime:
    """The DATE-TIME property ``name`` as icalendar decodes it (its values are a wide union)."""
    value = component.decoded(name)
    assert isinstance(value, datetime), f"{name}: {value!r}"
    return value


def integer(component: icalendar.Component, name: str) -> int:
    """The INTEGER property ``name`` as icalendar decodes it."""
    value = component.decoded(name)
    assert isinstance(value, int), f"{name}: {value!r}"
    return value


def escaped(text: str) -> str:
    """``text`` as a TEXT value on the wire.

    icalendar reads NAME and X-WR-* as "unknown" values and leaves them escaped, so those
    are compared in this form.
    """
    return icalendar.vText(text).to_ical().decode("utf-8")


def physical_lines(ics: bytes) -> list[bytes]:
    assert ics.endswith(b"\r\n")
    return ics[:-2].split(b"\r\n")


def reference_rendering(calendar: FeedCalendar, events: list[FeedEvent]) -> bytes:
    """The same document built the plain way, with icalendar's Calendar and Event objects."""
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//Meeting Scheduler//Governance feeds 1.0//EN")
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("NAME", icalendar.vText(calendar.name))
    cal.add("X-WR-CALNAME", icalendar.vText(calendar.name))
    if calendar.description:
        cal.add("DESCRIPTION", calendar.description)
        cal.add("X-WR-CALDESC", icalendar.vText(calendar.description))
    refresh = timedelta(minutes=calendar.refresh_minutes)
    cal.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", icalendar.vDuration(refresh))
    for event in events:
        vevent = icalendar.Event()
        vevent.add("UID", event.uid)
        vevent.add("DTSTAMP", event.last_modified.astimezone(UTC))
        vevent.add("DTSTART", event.start.astimezone(UTC))
        vevent.add("DTEND", event.end.astimezone(UTC))
        vevent.add("CREATED", event.created.astimezone(UTC))
        vevent.add("LAST-MODIFIED", event.last_modified.astimezone(UTC))
        vevent.add("SEQUENCE", event.sequence)
        vevent.add("STATUS", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
        vevent.add("SUMMARY", event.summary)
        if event.description:
            vevent.add("DESCRIPTION", event.description)
        if event.location:
            vevent.add("LOCATION", event.location)
        if event.url or (event.location or "").startswith("https://"):
            vevent.add("URL", event.url or event.location)
        vevent.add("TRANSP", "OPAQUE")
        cal.add_component(vevent)
    ics: bytes = cal.to_ical()
    return ics


# --- the calendar and its events -------------------------------------------------------


def test_calendar_properties() -> None:
    ics = render_feed(rotating_calendar(), now=NOW)
    lines = physical_lines(ics)
    assert lines[:5] == [
        b"BEGIN:VCALENDAR",
        b"VERSION:2.0",
        b"PRODID:-//Meeting Scheduler//Governance feeds 1.0//EN",
        b"CALSCALE:GREGORIAN",
        b"METHOD:PUBLISH",
    ]
    assert lines[-1] == b"END:VCALENDAR"
    assert "NAME:Acme ↔ Manila governance".encode() in lines
    assert "X-WR-CALNAME:Acme ↔ Manila governance".encode() in lines
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert b"X-PUBLISHED-TTL:PT1H" in lines
    calendar = parse(ics)
    description = rotating_calendar().description
    assert description is not None
    assert str(calendar["DESCRIPTION"]) == description
    assert str(calendar["X-WR-CALDESC"]) == escaped(description)
    assert b"VTIMEZONE" not in ics and b"TZID" not in ics


def test_refresh_interval_and_optional_description() -> None:
    calendar = FeedCalendar(name="x", description=None, events=[], refresh_minutes=90)
    ics = render_feed(calendar, now=NOW)
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H30M\r\n" in ics
    assert b"X-PUBLISHED-TTL:PT1H30M\r\n" in ics
    assert b"X-WR-CALDESC" not in ics and b"DESCRIPTION" not in ics
    assert parse(ics).walk("VEVENT") == []
    with pytest.raises(ValueError, match="refresh_minutes"):
        render_feed(replace(calendar, refresh_minutes=0), now=NOW)


def test_event_properties_come_from_the_data() -> None:
    events = rotating_series()
    calendar = parse(render_feed(rotating_calendar(), now=NOW))
    by_uid = {str(vevent["UID"]): vevent for vevent in calendar.walk("VEVENT")}
    assert sorted(by_uid) == sorted(event.uid for event in events)
    for event in events:
        vevent = by_uid[event.uid]
        assert instant(vevent, "DTSTART") == event.start
        assert instant(vevent, "DTEND") == event.end
        assert instant(vevent, "DTSTART").tzinfo is not None
        assert instant(vevent, "DTSTAMP") == event.last_modified  # the data's, not the clock's
        assert instant(vevent, "LAST-MODIFIED") == event.last_modified
        assert instant(vevent, "CREATED") == event.created
        assert integer(vevent, "SEQUENCE") == event.sequence
        assert str(vevent["SUMMARY"]) == event.summary
        assert str(vevent["DESCRIPTION"]) == event.description
        assert str(vevent["LOCATION"]) == "https://meet.example.com/ops-review"
        assert str(vevent["URL"]) == "https://meet.example.com/ops-review"
        assert str(vevent["TRANSP"]) == "OPAQUE"
    assert str(by_uid[uid(CANCELLED_WEEK)]["STATUS"]) == "CANCELLED"
    assert str(by_uid[uid(MOVED_WEEK)]["STATUS"]) == "CONFIRMED"
    assert integer(by_uid[uid(MOVED_WEEK)], "SEQUENCE") == 1


def test_utc_instants_follow_each_city_through_dst() -> None:
    """Spot checks written out by hand, independent of how the sample computes them."""
    starts = {event.uid: event.start for event in rotating_series()}
    ics = render_feed(rotating_calendar(), now=NOW)
    expected = {
        uid(5): "20260210T123000Z",  # New York 07:30 EST (-05)
        uid(8): "20260303T120000Z",  # London 12:00 GMT
        uid(9): "20260310T113000Z",  # New York 07:30 EDT: US changed 03-08, EU not yet
        uid(10): "20260317T130000Z",  # Manila 21:00 (+08), never changes
        uid(11): "20260325T130000Z",  # Kathmandu 18:45 (+05:45), moved a day later
        uid(12): "20260331T110000Z",  # London 12:00 BST (+01), EU changed 03-29
        uid(40): "20261013T110000Z",  # London 12:00 BST
        uid(41): "20261020T113000Z",  # New York 07:30 EDT
        uid(42): "20261027T130000Z",  # Manila 21:00: EU fell back 10-25, US not yet
        uid(44): "20261110T120000Z",  # London 12:00 GMT again
        uid(45): "20261117T123000Z",  # New York 07:30 EST again (US fell back 11-01)
    }
    for event_uid, dtstart in expected.items():
        assert f"UID:{event_uid}\r\n".encode() in ics
        assert starts[event_uid].strftime("%Y%m%dT%H%M%SZ") == dtstart
        assert f"DTSTART:{dtstart}\r\n".encode() in ics


def test_url_from_location_or_explicit() -> None:
    base = simple_event(1, T0)
    cases = {
        "https://meet.example.com/x": (None, "https://meet.example.com/x"),
        "HTTP://Example.com/a?b=1;c=2,d": (None, "HTTP://Example.com/a?b=1;c=2,d"),
        "Room 4, Pasig office": (None, None),
        "https://a.example/x and more": (None, None),
        "https://例え.jp/x": (None, None),
        "https://x.example/\u00a0y": (None, None),
        "Boardroom": ("https://meet.example.com/y", "https://meet.example.com/y"),
        "javascript:alert(1)": ("ftp://files.example.com", None),
    }
    for location, (url, expected_url) in cases.items():
        event = replace(base, location=location, url=url)
        ics = render_feed(FeedCalendar(name="x", description=None, events=[event]), now=T0)
        (vevent,) = parse(ics).walk("VEVENT")
        assert str(vevent["LOCATION"]) == location
        assert (str(vevent["URL"]) if "URL" in vevent else None) == expected_url, location
    no_location = render_feed(FeedCalendar(name="x", description=None, events=[base]), now=T0)
    assert b"LOCATION" not in no_location and b"URL" not in no_location


def test_times_in_other_zones_are_written_in_utc() -> None:
    manila = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Asia/Manila"))
    event = simple_event(1, manila, created=manila, last_modified=manila)
    ics = render_feed(FeedCalendar(name="x", description=None, events=[event]), now=T0)
    assert b"DTSTART:20260701T010000Z\r\n" in ics
    assert b"DTEND:20260701T020000Z\r\n" in ics
    assert b"DTSTAMP:20260701T010000Z\r\n" in ics


def test_refuses_inconsistent_events() -> None:
    naive = simple_event(1, datetime(2026, 7, 1, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        render_feed(FeedCalendar(name="x", description=None, events=[naive]), now=T0)
    with pytest.raises(ValueError, match="aware"):
        render_feed(FeedCalendar(name="x", description=None, events=[]), now=datetime(2026, 1, 1))
    backwards = replace(simple_event(1, T0), end=T0)
    with pytest.raises(ValueError, match="end after it starts"):
        render_feed(FeedCalendar(name="x", description=None, events=[backwards]), now=T0)
    negative = replace(simple_event(1, T0), sequence=-1)
    with pytest.raises(ValueError, match="negative SEQUENCE"):
        render_feed(FeedCalendar(name="x", description=None, events=[negative]), now=T0)
    twins = [simple_event(1, T0), simple_event(1, T0 + timedelta(days=1))]
    with pytest.raises(ValueError, match="share a UID"):
        render_feed(FeedCalendar(name="x", description=None, events=twins), now=T0)


# --- the wire format ---------------------------------------------------------------------


def test_crlf_lines_folded_at_75_octets() -> None:
    long_text = "Kathmandu 18:45 नमस्ते — " * 20 + "日本語のテキスト" * 10 + "😀" * 30
    event = replace(simple_event(1, T0), summary=long_text, description=long_text * 2)
    ics = render_feed(
        FeedCalendar(name=long_text, description=long_text, events=[event, *rotating_series()]),
        now=NOW,
    )
    assert b"\n" not in ics.replace(b"\r\n", b"")
    assert b"\r" not in ics.replace(b"\r\n", b"")
    lines = physical_lines(ics)
    assert max(len(line) for line in lines) <= 75
    assert sum(line.startswith(b" ") for line in lines) > 100  # folding really happened
    for line in lines:
        line.decode("utf-8")  # no fold splits a multi-byte character
    (parsed,) = (e for e in parse(ics).walk("VEVENT") if str(e["UID"]) == event.uid)
    assert str(parsed["SUMMARY"]) == long_text
    assert str(parsed["DESCRIPTION"]) == long_text * 2


def test_same_bytes_as_icalendar_components() -> None:
    """The fast path writes exactly what icalendar's Calendar/Event.to_ical() would."""
    calendar = rotating_calendar()
    ordered = sorted(calendar.events, key=lambda event: (event.start, event.uid))
    assert render_feed(calendar, now=NOW) == reference_rendering(calendar, ordered)


def test_an_event_that_changed_is_rendered_anew_the_others_as_before() -> None:
    """Blocks are kept per event (app.feeds.render._BLOCKS): after one event changes in any
    field, the document is still exactly what icalendar writes for the new events."""
    calendar = rotating_calendar()
    render_feed(calendar, now=NOW)  # every block kept
    events = list(calendar.events)
    changes: list[EventChange] = [
        {"description": events[0].description + " (Maria on call)"},
        {"summary": "Renamed review"},
        {"sequence": events[2].sequence + 1},
        {"start": events[3].start + timedelta(minutes=30), "end": events[3].end},
        {"location": "https://meet.example.com/other"},
        {"last_modified": events[5].last_modified + timedelta(seconds=1)},
    ]
    for i, change in enumerate(changes):
        changed = [replace(e, **change) if j == i else e for j, e in enumerate(events)]
        again = replace(calendar, events=changed)
        ordered = sorted(changed, key=lambda event: (event.start, event.uid))
        assert render_feed(again, now=NOW) == reference_rendering(again, ordered), change
    assert render_feed(calendar, now=NOW) == reference_rendering(
        calendar, sorted(events, key=lambda event: (event.start, event.uid))
    )


def test_deterministic_whatever_the_input_order() -> None:
    calendar = rotating_calendar()
    first = render_feed(calendar, now=NOW)
    assert render_feed(rotating_calendar(), now=NOW) == first
    shuffled = list(calendar.events)
    random.Random(5).shuffle(shuffled)
    assert render_feed(replace(calendar, events=shuffled), now=NOW) == first
    # now only moves the cut-offs: an hour later nothing crosses one, so nothing changes.
    assert render_feed(calendar, now=NOW + timedelta(hours=1)) == first


def test_events_sorted_by_start_then_uid() -> None:
    events = [
        simple_event(3, T0),
        simple_event(1, T0 + timedelta(hours=2)),
        simple_event(2, T0),
        simple_event(0, T0 - timedelta(days=1)),
    ]
    ics = render_feed(FeedCalendar(name="x", description=None, events=events), now=T0)
    uids = [str(vevent["UID"]) for vevent in parse(ics).walk("VEVENT")]
    assert uids == [f"event-{n:05d}@scheduler.test" for n in (0, 2, 3, 1)]


# --- text from users ---------------------------------------------------------------------

INJECTION = "Ops review\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nDTSTART:20260101T000000Z"


def test_injected_lines_stay_text() -> None:
    events = [replace(simple_event(n, T0 + timedelta(days=n)), summary=INJECTION) for n in range(3)]
    calendar = FeedCalendar(
        name="Name\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR",
        description="Desc;with,specials\\and\nlines",
        events=events,
    )
    ics = render_feed(calendar, now=T0)
    lines = physical_lines(ics)
    assert lines.count(b"BEGIN:VEVENT") == lines.count(b"END:VEVENT") == 3
    assert lines.count(b"BEGIN:VCALENDAR") == lines.count(b"END:VCALENDAR") == 1
    assert not [line for line in lines if line.startswith(b"UID:evil")]
    parsed = parse(ics)
    assert str(parsed["NAME"]) == str(parsed["X-WR-CALNAME"]) == escaped(calendar.name)
    assert escaped(calendar.name) == "Name\\nEND:VCALENDAR\\nBEGIN:VCALENDAR"
    assert str(parsed["DESCRIPTION"]) == calendar.description
    assert str(parsed["X-WR-CALDESC"]) == escaped("Desc;with,specials\\and\nlines")
    vevents = parsed.walk("VEVENT")
    assert len(vevents) == 3
    for vevent in vevents:
        assert str(vevent["SUMMARY"]) == INJECTION.replace("\r\n", "\n")
        assert str(vevent["UID"]).startswith("event-")


def test_control_characters_are_removed() -> None:
    text = " a\x00b\x07c\x1bd\x7fe\x9bf\tg\u2028h\x85i\x0bj\ud800k\ufeffl\x00\t\n"
    event = replace(simple_event(1, T0), summary=text, uid="uid\x00-1", location="Room\x1b 4")
    ics = render_feed(FeedCalendar(name="n\x01m", description=None, events=[event]), now=T0)
    ics.decode("utf-8", errors="strict")
    for control in [*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F]:
        assert bytes([control]) not in ics
    (vevent,) = parse(ics).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "abcdef\tg\nh\ni\nj\ufffdk\ufeffl"
    assert str(vevent["UID"]) == "uid-1"
    assert str(vevent["LOCATION"]) == "Room 4"
    assert b"NAME:nm\r\n" in ics


PLAIN_TEXT = st.lists(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
    | st.sampled_from(["\n", "\t", ";", ",", "\\", ":", '"', "\\n", "\r\nEND:VEVENT", " ", "😀"]),
    max_size=120,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(summary=PLAIN_TEXT, description=PLAIN_TEXT, name=PLAIN_TEXT)
def test_any_text_round_trips(summary: str, description: str, name: str) -> None:
    event = replace(simple_event(1, T0), summary=summary, description=description)
    ics = render_feed(FeedCalendar(name=name, description=description, events=[event]), now=T0)
    # What should arrive: surrounding whitespace dropped, CRLF read as one newline.
    summary, description, name = (text.strip() for text in (summary, description, name))
    stripped = replace(event, summary=summary, description=description)
    calendar = FeedCalendar(name=name, description=description, events=[stripped])
    if "\\N" not in summary + description + name:
        # icalendar itself rewrites a literal backslash-N to a newline; we keep it as text
        # (checked by the parse-back assertions below), so only then do the bytes differ.
        assert ics == reference_rendering(calendar, [stripped])
    assert max(len(line) for line in physical_lines(ics)) <= 75
    parsed = parse(ics)
    assert str(parsed["X-WR-CALNAME"]) == escaped(name)
    assert str(parsed.get("DESCRIPTION", "")) == description.replace("\r\n", "\n")
    (vevent,) = parsed.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == summary.replace("\r\n", "\n")
    assert str(vevent.get("DESCRIPTION", "")) == description.replace("\r\n", "\n")


# --- cut-offs ----------------------------------------------------------------------------


def test_cancelled_events_stay_30_days() -> None:
    ended = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    cancelled = simple_event(1, ended - timedelta(hours=1), status="cancelled")
    scheduled = simple_event(2, ended - timedelta(hours=1))
    calendar = FeedCalendar(name="x", description=None, events=[cancelled, scheduled])

    def uids(now: datetime) -> list[str]:
        return [str(e["UID"]) for e in parse(render_feed(calendar, now=now)).walk("VEVENT")]

    both = [cancelled.uid, scheduled.uid]
    assert uids(ended + timedelta(days=30)) == both
    assert uids(ended + timedelta(days=30, seconds=1)) == [scheduled.uid]
    assert uids(ended + timedelta(days=400)) == [scheduled.uid]  # scheduled ones stay
    assert uids(ended - timedelta(days=60)) == both  # a cancelled future event stays


def big_event(n: int, start: datetime) -> FeedEvent:
    return simple_event(n, start, description=f"{n} " + "burden and balance " * 50)


def test_size_cap_drops_oldest_past_events_first() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    past = [big_event(n, now - timedelta(days=400 - n // 4, hours=n % 4)) for n in range(1000)]
    future = [big_event(2000 + n, now + timedelta(days=n // 4, hours=n % 4)) for n in range(400)]
    calendar = FeedCalendar(name="x", description=None, events=[*future, *past])
    uncapped = render_feed(calendar, now=now, max_bytes=10**9)
    assert len(uncapped) > 1_000_000

    ics = render_feed(calendar, now=now)
    assert len(ics) <= 1_000_000
    kept = {str(vevent["UID"]) for vevent in parse(ics).walk("VEVENT")}
    assert {event.uid for event in future} <= kept
    kept_past = [event for event in past if event.uid in kept]
    dropped_past = [event for event in past if event.uid not in kept]
    assert dropped_past and kept_past
    assert max(event.start for event in dropped_past) < min(event.start for event in kept_past)
    # …and no more than needed: putting back the newest dropped one breaks the cap.
    one_more = replace(calendar, events=[*future, *kept_past, dropped_past[-1]])
    assert len(render_feed(one_more, now=now, max_bytes=10**9)) > 1_000_000
    assert ics == render_feed(replace(calendar, events=[*future, *kept_past]), now=now)


def test_size_cap_then_drops_furthest_future() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    past = [big_event(n, now - timedelta(days=n + 1)) for n in range(5)]
    future = [big_event(100 + n, now + timedelta(days=n)) for n in range(50)]
    calendar = FeedCalendar(name="x", description=None, events=[*past, *future])
    ics = render_feed(calendar, now=now, max_bytes=30_000)
    assert len(ics) <= 30_000
    kept = [str(vevent["UID"]) for vevent in parse(ics).walk("VEVENT")]
    assert kept == [event.uid for event in future[: len(kept)]]
    assert 0 < len(kept) < len(future)
    with pytest.raises(ValueError, match="larger than"):
        render_feed(calendar, now=now, max_bytes=100)


# --- purity ------------------------------------------------------------------------------


def test_renderer_imports_no_web_or_database_code() -> None:
    code = "import sys, app.feeds.render; print('\\n'.join(sys.modules))"
    modules = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    banned = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "httpx", "app.db", "app.api")
    assert [m for m in modules if m.split(".")[0] in banned or m.startswith(banned)] == []


def test_event_count_sanity() -> None:
    assert len(rotating_series()) == WEEKS


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    text=st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
        max_size=400,
    ),
    prefix=st.sampled_from(["DESCRIPTION:", "SUMMARY:", "LOCATION:", "X:"]),
)
def test_fold_is_byte_identical_to_icalendar(text: str, prefix: str) -> None:
    from icalendar.parser import Contentline

    from app.feeds.render import _fold

    line = prefix + text
    # icalendar's Contentline (7.3) has no annotations on __new__ or to_ical.
    folded = Contentline(line).to_ical()  # type: ignore[no-untyped-call]
    assert _fold(line) == folded + b"\r\n"
