"""iMIP invitations (app.invitations.imip): what three real clients expand from a REQUEST or a
CANCEL, the VTIMEZONE they read it through, and the message around it.

A series is checked by instants: recurring-ical-events (through ``zoneinfo``), ical.js and
libical (both through the calendar's own VTIMEZONE) must each give exactly the UTC start and
end of every scheduled instance, nothing else. All dates are fixed, in 2027.
"""

from __future__ import annotations

import doctest
import email
import email.policy
import re
import shutil
import sys
import zoneinfo
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.invitations import imip
from app.invitations.imip import (
    Attendee,
    Instance,
    Letter,
    Row,
    SeriesInvite,
    cancel_calendar,
    message,
    request_calendar,
    valarm,
    vtimezone,
)
from app.scheduling.recurrence import series_dates
from app.scheduling.wording import clock_changes
from tests.feeds import clients as feed_clients
from tests.invitations import clients as series_clients
from tests.invitations.clients import (
    CLIENTS,
    Occurrence,
    read_with_all_clients,
    read_with_recurring_ical_events,
    scheduled,
)
from tests.scheduling.test_purity import imported_modules

NEW_YORK, MANILA, LONDON = "America/New_York", "Asia/Manila", "Europe/London"
KATHMANDU, SANTIAGO, LORD_HOWE = "Asia/Kathmandu", "America/Santiago", "Australia/Lord_Howe"
STAMP = datetime(2027, 1, 4, 15, 30, tzinfo=UTC)
ANA = Attendee("ana@example.com", "Ana Lima", True)
MARIA = Attendee("maria@example.ph", "María Santos", True)
BO = Attendee("bo@example.com", 'Bo "the bold", Jr.', False)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_invite(
    zone_name: str,
    rule: str,
    start: date,
    plan: str,
    *,
    title: str = "Weekly review",
    reminder: int | None = 15,
    sequence: int = 0,
    attendees: tuple[Attendee, ...] = (ANA, MARIA, BO),
) -> SeriesInvite:
    """A series whose ``plan`` says, date by date of the rule: ``09:00+60`` (a meeting at
    09:00 local for 60 minutes), ``x09:00+60`` (the same, cancelled) or ``-`` (none)."""
    slots = plan.split()
    dates = series_dates(rule, start, zone_name, count=len(slots))
    tz = ZoneInfo(zone_name)
    instances = []
    for day, slot in zip(dates, slots, strict=True):
        if slot == "-":
            continue
        found = re.fullmatch(r"(x?)(\d\d):(\d\d)\+(\d+)", slot)
        assert found is not None, slot
        begin = datetime.combine(day, time(int(found[2]), int(found[3])), tzinfo=tz)
        end = (begin.astimezone(UTC) + timedelta(minutes=int(found[4]))).astimezone(tz)
        instances.append(Instance(day, begin, end, cancelled=found[1] == "x"))
    return SeriesInvite(
        uid="series-0b7e4c2a@meeting-scheduler",
        sequence=sequence,
        stamp=STAMP,
        title=title,
        description="Agenda: the week's incidents.\nNotes in the usual place.",
        location="https://meet.example/review",
        organizer_email="scheduler@example.com",
        organizer_name="Meeting scheduler",
        attendees=attendees,
        anchor_timezone=zone_name,
        rule=rule,
        dates=tuple(dates),
        instances=tuple(instances),
        reminder_minutes=reminder,
    )


def expected(invite: SeriesInvite) -> list[tuple[str, str]]:
    return sorted((iso(i.start), iso(i.end)) for i in invite.instances if not i.cancelled)


def events(ics: bytes) -> list[icalendar.Component]:
    """The VEVENTs of ``ics``, which icalendar must read without an error."""
    calendar = icalendar.Calendar.from_ical(ics)
    for component in calendar.walk():
        assert component.errors == [], f"{component.name}: {component.errors}"
    return list(calendar.walk("VEVENT"))


def instant(component: icalendar.Component, name: str) -> datetime:
    """The DATE-TIME property ``name`` as icalendar decodes it."""
    found = component.decoded(name)
    assert isinstance(found, datetime), f"{name}: {found!r}"
    return found


def value(component: icalendar.Component, name: str) -> Any:
    """The property ``name`` (icalendar types its values as a wide union)."""
    return component[name]


# ---------------------------------------------------------------------------------------------
# Series as the three clients expand them

SCENARIOS = {
    # Every occurrence at its own local time: most of the series is overrides.
    "rotating": make_invite(
        NEW_YORK,
        "FREQ=WEEKLY;BYDAY=TU",
        date(2027, 1, 5),
        "07:00+60 08:30+60 10:00+60 11:30+60 13:00+60 14:30+60 16:00+60 17:30+60",
    ),
    # New York changes clocks on 14 March and 7 November 2027: 09:00 stays 09:00 local.
    "dst-march-november": make_invite(
        NEW_YORK,
        "FREQ=WEEKLY;BYDAY=TU",
        date(2027, 3, 2),
        " ".join(
            {1: "07:00+45", 4: "21:00+90", 35: "06:30+60"}.get(week, "09:00+60")
            for week in range(38)
        ),
    ),
    "weekly-across-both-changes": make_invite(
        NEW_YORK,
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        date(2027, 2, 22),
        " ".join(["08:00+50"] * 10 + ["19:00+50", "-", "x08:00+50"] + ["08:00+50"] * 17)
        + " 06:00+50 08:00+50 08:00+50 08:00+50 08:00+50 08:00+50 08:00+50 08:00+50 08:00+50",
    ),
    "unschedulable-date": make_invite(
        NEW_YORK, "FREQ=WEEKLY;BYDAY=WE", date(2027, 1, 6), "09:00+60 - 09:00+60 10:00+60"
    ),
    "cancelled-occurrence": make_invite(
        NEW_YORK, "FREQ=WEEKLY;BYDAY=WE", date(2027, 1, 6), "09:00+60 x09:00+60 09:00+60 11:00+60"
    ),
    "first-date-without-meeting": make_invite(
        LONDON, "FREQ=WEEKLY;BYDAY=FR", date(2027, 3, 19), "- 16:00+30 16:00+30 x16:00+30 08:00+30"
    ),
    "master-time-ties-take-the-earliest": make_invite(
        LONDON, "FREQ=WEEKLY;BYDAY=TH", date(2027, 10, 14), "17:00+60 08:00+60 17:00+60 08:00+60"
    ),
    "kathmandu": make_invite(
        KATHMANDU,
        "FREQ=WEEKLY;BYDAY=MO",
        date(2027, 3, 1),
        "18:45+60 18:45+60 06:15+60 - 18:45+60 21:00+60",
    ),
    # Santiago: clocks go back on Sunday 4 April (00:00 → 23:00 on the 3rd) and forward on
    # Sunday 5 September 2027.
    "santiago": make_invite(
        SANTIAGO,
        "FREQ=WEEKLY;BYDAY=SU",
        date(2027, 3, 21),
        "10:00+60 10:00+60 23:30+60 10:00+60 " + "10:00+60 " * 20 + "00:30+60 10:00+60 07:00+60",
    ),
    # Lord Howe moves 30 minutes: 01:30 happens twice on 4 April, 02:15 is skipped on 3 October.
    "lord-howe": make_invite(
        LORD_HOWE,
        "FREQ=WEEKLY;BYDAY=SU",
        date(2027, 3, 28),
        "09:00+60 01:30+60 02:15+60 09:00+60 " + "09:00+60 " * 23 + "02:15+60 09:00+60",
    ),
    # The awkward walls: 02:30 on 14 March does not exist in New York, 01:30 on 7 November
    # happens twice, and that meeting crosses the change (01:30 EDT to 01:30 EST).
    "gap-and-repeated-hour": make_invite(
        NEW_YORK,
        "FREQ=WEEKLY;BYDAY=SU",
        date(2027, 3, 7),
        "02:30+60 02:30+60 02:30+60 " + "- " * 31 + "01:30+60 01:30+60 01:30+60",
    ),
}


@pytest.fixture(scope="module")
def readings() -> dict[str, dict[str, list[Occurrence]]]:
    """Every scenario's REQUEST read by every client: one subprocess per client."""
    names = sorted(SCENARIOS)
    found = read_with_all_clients([request_calendar(SCENARIOS[name]) for name in names])
    return {name: {client: found[client][i] for client in found} for i, name in enumerate(names)}


@pytest.mark.clients
@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_expands_exactly_the_scheduled_instances(
    readings: dict[str, dict[str, list[Occurrence]]], name: str, client: str
) -> None:
    invite = SCENARIOS[name]
    assert scheduled(readings[name][client]) == expected(invite)
    assert not [o for o in readings[name][client] if o["status"] == "CANCELLED"]
    assert {o["sequence"] for o in readings[name][client]} == {invite.sequence}


def test_the_scenarios_are_what_they_say() -> None:
    """The awkward cases really are in the series (so the expansion test covers them)."""
    gap = SCENARIOS["gap-and-repeated-hour"]
    [skipped] = [i for i in gap.instances if i.date == date(2027, 3, 14)]
    assert skipped.start.replace(fold=1).utcoffset() != skipped.start.utcoffset()
    starts = {
        i.start.astimezone(ZoneInfo(NEW_YORK)).time() for i in SCENARIOS["rotating"].instances
    }
    assert len(starts) == len(SCENARIOS["rotating"].instances)


def test_the_master_is_the_most_common_time_and_overrides_the_others() -> None:
    invite = SCENARIOS["unschedulable-date"]
    master, *overrides = events(request_calendar(invite))
    assert instant(master, "DTSTART") == datetime(2027, 1, 6, 9, tzinfo=ZoneInfo(NEW_YORK))
    assert master["DTSTART"].params["TZID"] == NEW_YORK
    assert instant(master, "DTEND") == datetime(2027, 1, 6, 10, tzinfo=ZoneInfo(NEW_YORK))
    assert [instant(o, "RECURRENCE-ID") for o in overrides] == [
        datetime(2027, 1, 27, 9, tzinfo=ZoneInfo(NEW_YORK))
    ]
    assert instant(overrides[0], "DTSTART") == datetime(2027, 1, 27, 10, tzinfo=ZoneInfo(NEW_YORK))
    assert [e.dt for e in _exdates(master)] == [datetime(2027, 1, 13, 9, tzinfo=ZoneInfo(NEW_YORK))]
    # Ties: 17:00 and 08:00 twice each; the earliest is the master.
    tie = events(request_calendar(SCENARIOS["master-time-ties-take-the-earliest"]))
    assert instant(tie[0], "DTSTART").time() == time(8, 0)
    assert len(tie) == 3


def test_an_occurrence_on_the_master_time_has_no_override() -> None:
    invite = SCENARIOS["cancelled-occurrence"]
    master, *overrides = events(request_calendar(invite))
    tz = ZoneInfo(NEW_YORK)
    assert [instant(o, "RECURRENCE-ID") for o in overrides] == [datetime(2027, 1, 27, 9, tzinfo=tz)]
    # The cancelled 13 January is an EXDATE (every client reads that alike), not an override.
    assert [e.dt for e in _exdates(master)] == [datetime(2027, 1, 13, 9, tzinfo=tz)]


def test_overrides_are_written_in_the_anchor_zone_unless_the_wall_time_is_ambiguous() -> None:
    invite = SCENARIOS["unschedulable-date"]
    in_utc = tuple(
        replace(i, start=i.start.astimezone(UTC), end=i.end.astimezone(UTC))
        for i in invite.instances
    )
    assert request_calendar(replace(invite, instances=in_utc)) == request_calendar(invite)
    # 01:30 on 7 November 2027 happens twice in New York: a TZID time cannot say which.
    ics = request_calendar(SCENARIOS["gap-and-repeated-hour"])
    assert b"DTSTART:20271107T053000Z\r\nDTEND:20271107T063000Z\r\n" in ics
    # Nor is the master time one of them (02:30 is skipped on 14 March): libical would read
    # a RECURRENCE-ID or EXDATE there as another instant than its own expansion of the rule.
    assert b"DTSTART;TZID=America/New_York:20270307T120000\r\n" in ics
    assert b"RECURRENCE-ID;TZID=America/New_York:20271107T120000\r\n" in ics


def test_the_master_vevent_carries_the_series() -> None:
    invite = SCENARIOS["rotating"]
    ics = request_calendar(invite)
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["PRODID"] == imip.PRODID
    assert (calendar["VERSION"], calendar["CALSCALE"], calendar["METHOD"]) == (
        "2.0",
        "GREGORIAN",
        "REQUEST",
    )
    [tzc] = calendar.walk("VTIMEZONE")
    assert tzc["TZID"] == NEW_YORK
    master, *overrides = calendar.walk("VEVENT")
    assert len(overrides) == 7  # the first meeting is at the master time (ties: the earliest)
    for event in (master, *overrides):
        assert event["UID"] == invite.uid
        assert event["SEQUENCE"] == invite.sequence
        assert instant(event, "DTSTAMP") == STAMP
        assert event["SUMMARY"] == "Weekly review"
        assert event["DESCRIPTION"] == invite.description
        assert event["LOCATION"] == invite.location
        assert event["STATUS"] == "CONFIRMED"
        assert event["TRANSP"] == "OPAQUE"
        organizer = event["ORGANIZER"]
        assert str(organizer) == "mailto:scheduler@example.com"
        assert organizer.params["CN"] == "Meeting scheduler"
        attendees = {str(a): a.params for a in value(event, "ATTENDEE")}
        assert list(attendees) == [
            "mailto:ana@example.com",
            "mailto:bo@example.com",
            "mailto:maria@example.ph",
        ]
        for address, params in attendees.items():
            assert params["CUTYPE"] == "INDIVIDUAL"
            assert params["PARTSTAT"] == "NEEDS-ACTION"
            assert params["RSVP"] == "TRUE"
            role = "OPT-PARTICIPANT" if address == "mailto:bo@example.com" else "REQ-PARTICIPANT"
            assert params["ROLE"] == role
        assert attendees["mailto:bo@example.com"]["CN"] == 'Bo "the bold", Jr.'
        assert attendees["mailto:maria@example.ph"]["CN"] == "María Santos"
        [alarm] = event.walk("VALARM")
        assert alarm["ACTION"] == "DISPLAY"
        assert value(alarm, "TRIGGER").dt == timedelta(minutes=-15)
    rule = value(master, "RRULE")
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TU"]
    # UNTIL is UTC, at the master instant of the last date (07:00 EST on 23 February).
    assert rule["UNTIL"] == [datetime(2027, 2, 23, 12, tzinfo=UTC)]
    assert b"UNTIL=20270223T120000Z" in ics
    assert b"\r\nRECURRENCE-ID;TZID=America/New_York:20270112T070000\r\n" in ics


def test_the_rule_gives_exactly_the_dates() -> None:
    for invite in SCENARIOS.values():
        master = events(request_calendar(invite))[0]
        rule = value(master, "RRULE").to_ical().decode()
        local = [t.date() for t in rrulestr(rule, dtstart=instant(master, "DTSTART"))]
        assert local == list(invite.dates)


def test_no_reminder_no_valarm_and_same_input_same_bytes() -> None:
    invite = replace(SCENARIOS["rotating"], reminder_minutes=None)
    ics = request_calendar(invite)
    assert b"VALARM" not in ics
    shuffled = replace(invite, attendees=tuple(reversed(invite.attendees)))
    assert request_calendar(shuffled) == ics == request_calendar(invite)
    assert cancel_calendar(invite, only=invite.dates[2]) == cancel_calendar(
        invite, only=invite.dates[2]
    )


def test_valarm() -> None:
    alarm = valarm(10)
    assert alarm.to_ical() == (
        b"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT10M\r\n"
        b"END:VALARM\r\n"
    )
    with pytest.raises(ValueError):
        valarm(-1)


@pytest.mark.clients
def test_user_text_is_escaped_and_cleaned() -> None:
    invite = replace(
        SCENARIOS["unschedulable-date"],
        title="Plan; review, then C:\\New\x00 <b>",
        attendees=(Attendee("x@example.com", 'Line\nbreak; "quoted": ok', True),),
    )
    ics = request_calendar(invite)
    [master, *_] = events(ics)
    assert master["SUMMARY"] == "Plan; review, then C:\\New <b>"
    assert master["ATTENDEE"].params["CN"] == 'Line break; "quoted": ok'
    readings = read_with_all_clients([ics])
    for client, [found] in readings.items():
        assert {o["summary"] for o in found} == {"Plan; review, then C:\\New <b>"}, client


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ({"rule": "FREQ=WEEKLY;BYDAY=WE;COUNT=4"}, "COUNT"),
        ({"rule": "FREQ=WEEKLY;BYDAY=TH"}, "does not give exactly the dates"),
        ({"sequence": -1}, "SEQUENCE"),
        ({"stamp": datetime(2027, 1, 1)}, "aware"),
        ({"organizer_email": "nobody"}, "not an email address"),
    ],
)
def test_an_invite_that_cannot_be_written_is_refused(
    change: dict[str, Any], message_part: str
) -> None:
    with pytest.raises(ValueError, match=message_part):
        request_calendar(replace(SCENARIOS["unschedulable-date"], **change))


def test_instances_must_match_the_dates() -> None:
    invite = SCENARIOS["unschedulable-date"]
    first = invite.instances[0]
    with pytest.raises(ValueError, match="two instances"):
        request_calendar(replace(invite, instances=(first, first)))
    stray = replace(first, date=date(2027, 1, 7))
    with pytest.raises(ValueError, match="not a date of the rule"):
        request_calendar(replace(invite, instances=(stray,)))
    with pytest.raises(ValueError, match="no scheduled meeting"):
        request_calendar(replace(invite, instances=(replace(first, cancelled=True),)))


def _exdates(event: icalendar.Component) -> list[Any]:
    found = event.get("EXDATE", [])
    lists = found if isinstance(found, list) else [found]
    return [d for exdate in lists for d in exdate.dts]


# ---------------------------------------------------------------------------------------------
# Rotating times across a clock change, generated

# (anchor zone, a date a few weeks before one of its 2027 clock changes)
CHANGES = [
    (NEW_YORK, date(2027, 2, 21)),
    (NEW_YORK, date(2027, 10, 17)),
    (LONDON, date(2027, 3, 7)),
    (SANTIAGO, date(2027, 3, 14)),
    (SANTIAGO, date(2027, 8, 15)),
    (LORD_HOWE, date(2027, 9, 12)),
    (KATHMANDU, date(2027, 3, 1)),
]
RULES = ["FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;BYDAY=SU", "FREQ=WEEKLY;BYDAY=MO,SA"]
_slot = st.one_of(
    st.just("-"),
    st.tuples(
        st.sampled_from(["", "", "", "", "x"]),
        st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}"),
        st.integers(1, 16).map(lambda q: q * 15),
    ).map(lambda s: f"{s[0]}{s[1]}+{s[2]}"),
)


@st.composite
def rotations(draw: st.DrawFn) -> SeriesInvite:
    zone_name, start = draw(st.sampled_from(CHANGES))
    rule = draw(st.sampled_from(RULES))
    plan = draw(st.lists(_slot, min_size=4, max_size=10))
    invite = make_invite(zone_name, rule, start, " ".join(plan))
    assume(any(not i.cancelled for i in invite.instances))
    return invite


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invite=rotations())
def test_recurring_ical_events_reads_generated_rotations(invite: SeriesInvite) -> None:
    [found] = read_with_recurring_ical_events([request_calendar(invite)])
    assert scheduled(found) == expected(invite)


@pytest.mark.clients
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invites=st.lists(rotations(), min_size=4, max_size=4))
def test_every_client_reads_generated_rotations(invites: list[SeriesInvite]) -> None:
    calendars = [request_calendar(invite) for invite in invites]
    for client, found in read_with_all_clients(calendars).items():
        for invite, occurrences in zip(invites, found, strict=True):
            assert scheduled(occurrences) == expected(invite), client


# ---------------------------------------------------------------------------------------------
# CANCEL


@pytest.mark.clients
def test_cancel_of_the_whole_series() -> None:
    invite = replace(SCENARIOS["cancelled-occurrence"], sequence=3)
    ics = cancel_calendar(invite)
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["METHOD"] == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert "RECURRENCE-ID" not in event
    assert (event["UID"], event["SEQUENCE"], event["STATUS"]) == (invite.uid, 3, "CANCELLED")
    assert str(event["ORGANIZER"]) == "mailto:scheduler@example.com"
    assert len(value(event, "ATTENDEE")) == 3
    assert not event.walk("VALARM")
    for client, [found] in read_with_all_clients([ics]).items():
        assert found, client
        assert {o["status"] for o in found} == {"CANCELLED"}, client
        assert {o["uid"] for o in found} == {invite.uid}, client
        assert scheduled(found) == [], client


def test_cancel_of_a_deleted_series_names_only_the_uid() -> None:
    snapshot = replace(SCENARIOS["rotating"], dates=(), instances=(), rule="FREQ=WEEKLY")
    [event] = events(cancel_calendar(snapshot))
    assert "DTSTART" not in event and "RRULE" not in event
    assert (event["UID"], event["STATUS"]) == (snapshot.uid, "CANCELLED")
    assert b"VTIMEZONE" not in cancel_calendar(snapshot)


@pytest.mark.clients
@pytest.mark.parametrize("already_cancelled", [False, True])
def test_cancel_of_one_occurrence(already_cancelled: bool) -> None:
    invite = SCENARIOS["rotating"]
    request = request_calendar(invite)
    day = invite.dates[3]  # 26 January, 11:30 local: an override
    if already_cancelled:  # the caller may pass the series as it stands after the cancel
        invite = replace(
            invite,
            instances=tuple(replace(i, cancelled=i.date == day) for i in invite.instances),
            sequence=invite.sequence + 1,
        )
    ics = cancel_calendar(invite, only=day)
    calendar = icalendar.Calendar.from_ical(ics)
    assert calendar["METHOD"] == "CANCEL"
    [event] = calendar.walk("VEVENT")
    [override] = [
        e
        for e in events(request)
        if e.get("RECURRENCE-ID") and instant(e, "RECURRENCE-ID").date() == day
    ]
    assert event["RECURRENCE-ID"].to_ical() == override["RECURRENCE-ID"].to_ical()
    assert event["RECURRENCE-ID"].params["TZID"] == NEW_YORK
    assert instant(event, "DTSTART") == datetime(2027, 1, 26, 11, 30, tzinfo=ZoneInfo(NEW_YORK))
    assert event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] == invite.sequence
    # A client applies the CANCEL to what the REQUEST gave it: the override is replaced.
    applied = _apply_cancel(request, ics)
    expect = [t for t in expected(SCENARIOS["rotating"]) if not t[0].startswith("2027-01-26")]
    for client, [alone, merged] in read_with_all_clients([ics, applied]).items():
        assert [(o["status"], o["start_utc"]) for o in alone] == [
            ("CANCELLED", "2027-01-26T16:30:00Z")
        ], client
        assert scheduled(merged) == expect, client
        assert len(merged) == len(expect) + 1, client


@pytest.mark.clients
def test_cancel_of_an_occurrence_at_the_master_time() -> None:
    invite = SCENARIOS["unschedulable-date"]
    ics = cancel_calendar(invite, only=date(2027, 1, 20))
    [event] = events(ics)
    tz = ZoneInfo(NEW_YORK)
    assert (
        instant(event, "RECURRENCE-ID")
        == instant(event, "DTSTART")
        == datetime(2027, 1, 20, 9, tzinfo=tz)
    )
    applied = _apply_cancel(request_calendar(invite), ics)
    expect = [t for t in expected(invite) if not t[0].startswith("2027-01-20")]
    for client, [found] in read_with_all_clients([applied]).items():
        assert scheduled(found) == expect, client


def _apply_cancel(request: bytes, cancel: bytes) -> bytes:
    """The REQUEST with the CANCEL's VEVENT in place of the override it names (or added)."""
    calendar = icalendar.Calendar.from_ical(request)
    [cancelled] = events(cancel)
    rid = cancelled["RECURRENCE-ID"].to_ical()
    calendar.subcomponents = [
        c
        for c in calendar.subcomponents
        if not ("RECURRENCE-ID" in c and c["RECURRENCE-ID"].to_ical() == rid)
    ] + [cancelled]
    calendar["METHOD"] = "REQUEST"
    ics: bytes = calendar.to_ical()
    return ics


# ---------------------------------------------------------------------------------------------
# VTIMEZONE


def test_vtimezone_is_written_with_rrules() -> None:
    for zone_name in (NEW_YORK, LONDON, SANTIAGO, LORD_HOWE):
        tzc = vtimezone(zone_name, date(2027, 1, 5), date(2027, 12, 28))
        blocks = tzc.subcomponents
        assert sorted(b.name for b in blocks) == ["DAYLIGHT", "STANDARD"], zone_name
        assert all("RRULE" in b and "RDATE" not in b for b in blocks), zone_name
    ny = vtimezone(NEW_YORK, date(2027, 1, 5), date(2027, 12, 28)).to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3" in ny
    assert "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11" in ny
    for zone_name, offset in ((MANILA, "+0800"), (KATHMANDU, "+0545")):
        [block] = vtimezone(zone_name, date(2027, 1, 5), date(2027, 12, 28)).subcomponents
        assert block.name == "STANDARD"
        assert block["TZOFFSETFROM"].to_ical() == block["TZOFFSETTO"].to_ical() == offset


def test_a_rule_change_inside_the_span_is_written_as_it_happened() -> None:
    """Mexico City kept DST until October 2022: those changes one by one, then no RRULE."""
    tzc = vtimezone("America/Mexico_City", date(2021, 6, 1), date(2023, 6, 1))
    assert [b.name for b in tzc.subcomponents].count("DAYLIGHT") == 2
    assert not any("RRULE" in b for b in tzc.subcomponents)


def _zones_to_check() -> list[str]:
    """One zone of each POSIX TZ rule in the database, and the zones with odd histories."""
    by_rule: dict[str | None, str] = {}
    for name in sorted(zoneinfo.available_timezones() - {"Factory", "localtime"}):
        by_rule.setdefault(imip._tzif_footer(name), name)
    odd = {"Africa/Cairo", "Africa/Casablanca", "Asia/Gaza", "Europe/Dublin", "Asia/Tehran"}
    return sorted(set(by_rule.values()) | odd)


def test_vtimezone_agrees_with_zoneinfo_for_every_kind_of_zone() -> None:
    """icalendar's own reading of the VTIMEZONE (dateutil's tzical) has zoneinfo's offsets at
    every change of 2027-2028 and weekly; every zone with DST gets RRULEs but a few with
    irregular changes (Ramadan, Cairo's Friday after the last Thursday)."""
    first, last = date(2027, 1, 1), date(2028, 12, 31)
    without_rrule = set()
    for name in _zones_to_check():
        tzc = vtimezone(name, first, last)
        theirs, ours = tzc.to_tz(lookup_tzid=False), ZoneInfo(name)
        for moment in _probes(name, first, last):
            assert moment.astimezone(theirs).utcoffset() == moment.astimezone(ours).utcoffset(), (
                name,
                moment,
            )
        if len(tzc.subcomponents) > 1 and not any("RRULE" in b for b in tzc.subcomponents):
            without_rrule.add(name)
    assert without_rrule <= {"Africa/Cairo", "Africa/Casablanca", "Asia/Gaza"}


def _probes(name: str, first: date, last: date) -> list[datetime]:
    """UTC instants: weekly at noon local, and three hours either side of each change."""
    tz = ZoneInfo(name)
    moments = []
    day = first
    while day <= last:
        moments.append(datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC))
        day += timedelta(days=7)
    start = datetime.combine(first, time(), tzinfo=UTC)
    for change in clock_changes([name], start, datetime.combine(last, time(), tzinfo=UTC)):
        moments += [change.moment - timedelta(hours=3), change.moment + timedelta(hours=3)]
    return sorted(moments)


VTIMEZONE_SPANS = [
    (NEW_YORK, date(2027, 1, 1), date(2028, 12, 31)),
    (LONDON, date(2027, 1, 1), date(2027, 12, 31)),
    (MANILA, date(2027, 1, 1), date(2027, 12, 31)),
    (KATHMANDU, date(2027, 1, 1), date(2027, 12, 31)),
    (SANTIAGO, date(2027, 1, 1), date(2028, 12, 31)),
    (LORD_HOWE, date(2027, 1, 1), date(2028, 12, 31)),
    ("Europe/Dublin", date(2027, 1, 1), date(2027, 12, 31)),
    ("America/Nuuk", date(2027, 1, 1), date(2027, 12, 31)),
    ("Asia/Jerusalem", date(2027, 1, 1), date(2027, 12, 31)),
    ("Pacific/Chatham", date(2027, 1, 1), date(2027, 12, 31)),
    ("Africa/Cairo", date(2027, 1, 1), date(2027, 12, 31)),
    ("Africa/Casablanca", date(2027, 1, 1), date(2027, 12, 31)),
    ("America/Mexico_City", date(2021, 6, 1), date(2023, 6, 1)),
]


@pytest.mark.clients
def test_libical_and_icaljs_read_instants_through_the_vtimezone() -> None:
    """One calendar per zone of single events at wall times around every change (and weekly):
    ical.js and libical know no zones but the calendar's, and must land on zoneinfo's
    instants."""
    calendars, wanted = [], []
    for name, first, last in VTIMEZONE_SPANS:
        tz = ZoneInfo(name)
        calendar = icalendar.Calendar()
        calendar.add("PRODID", "-//tests//probe//EN")
        calendar.add("VERSION", "2.0")
        calendar.add_component(vtimezone(name, first, last))
        instants = []
        for i, moment in enumerate(_probes(name, first, last)):
            local = moment.astimezone(tz)
            if local.replace(fold=1).utcoffset() != local.replace(fold=0).utcoffset():
                continue
            event = icalendar.Event()
            event.add("UID", f"probe-{i}@tests")
            event.add("DTSTAMP", STAMP)
            event.add("SUMMARY", "probe")
            event.add("DTSTART", local)
            event.add("DTEND", moment + timedelta(minutes=30))
            calendar.add_component(event)
            instants.append(iso(moment))
        assert b"TZID=" + name.encode() in calendar.to_ical()
        calendars.append(calendar.to_ical())
        wanted.append(instants)
    for client in ("ical.js", "libical"):
        for (name, _, _), found, instants in zip(
            VTIMEZONE_SPANS, CLIENTS[client](calendars), wanted, strict=True
        ):
            assert [o["start_utc"] for o in found] == instants, (client, name)


# ---------------------------------------------------------------------------------------------
# The message

URL = "https://sched.example/i"


def make_letter(**change: Any) -> Letter:
    tz = ZoneInfo(NEW_YORK)
    rows = (
        Row(
            start=datetime(2027, 1, 12, 7, tzinfo=tz),
            end=datetime(2027, 1, 12, 8, tzinfo=tz),
            others=(("María <Santos>", MANILA),),
            burden_minutes=90,
            accept_url=f"{URL}/accept/2027-01-12?t=a&b",
            decline_url=f"{URL}/decline/2027-01-12",
            propose_url=f"{URL}/propose/2027-01-12",
        ),
        Row(
            start=datetime(2027, 1, 19, 13, tzinfo=UTC),
            end=datetime(2027, 1, 19, 14, tzinfo=UTC),
            others=(("María <Santos>", MANILA),),
            burden_minutes=0,
            accept_url=f"{URL}/accept/2027-01-19",
            decline_url=f"{URL}/decline/2027-01-19",
            propose_url=f"{URL}/propose/2027-01-19",
        ),
    )
    values: dict[str, Any] = {
        "recipient": Attendee("ana@example.com", "Ana Lima-Ñúñez", True),
        "reader_timezone": NEW_YORK,
        "rows": rows,
        "total_burden_minutes": 270,
        "accept_url": f"{URL}/accept",
        "decline_url": f"{URL}/decline",
        "propose_url": f"{URL}/propose",
        "unsubscribe_url": f"{URL}/unsubscribe?t=xyz",
        "message_id": "<delivery-5f0c@meeting-scheduler>",
        "from_address": "Meeting scheduler <scheduler@example.com>",
        "subject": "Invitation: <script>alert(1)</script> revisión",
    }
    values.update(change)
    return Letter(**values)


HOSTILE = replace(
    SCENARIOS["rotating"], title="<script>alert(1)</script> review", description="Bring <b>data</b>"
)


def parsed(mail: EmailMessage) -> EmailMessage:
    found = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert isinstance(found, EmailMessage)
    return found


def test_the_message_parts_and_headers() -> None:
    calendar = request_calendar(HOSTILE)
    mail = parsed(message(make_letter(), calendar, "REQUEST"))
    assert mail.get_content_type() == "multipart/alternative"
    parts = list(mail.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
    assert [p.get_content_charset() for p in parts] == ["utf-8"] * 3
    assert parts[2].get_param("method") == "REQUEST"
    assert parts[2].get_content() == calendar.decode("utf-8")
    assert parts[2].get_payload(decode=True) == calendar  # CRLF kept: base64
    assert mail["From"] == "Meeting scheduler <scheduler@example.com>"
    assert mail["To"].addresses[0].display_name == "Ana Lima-Ñúñez"
    assert mail["To"].addresses[0].addr_spec == "ana@example.com"
    assert mail["Subject"] == "Invitation: <script>alert(1)</script> revisión"
    assert mail["Date"].datetime == STAMP
    assert mail["Message-ID"] == "<delivery-5f0c@meeting-scheduler>"
    assert mail["MIME-Version"] == "1.0"
    assert mail["List-Unsubscribe"] == f"<{URL}/unsubscribe?t=xyz>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated"
    raw = message(make_letter(), calendar, "REQUEST").as_bytes()
    assert b"Ana Lima-" not in raw.split(b"\n\n", 1)[0]  # the non-ASCII name is encoded
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    assert raw == message(make_letter(), calendar, "REQUEST").as_bytes()


def test_html_escapes_what_users_wrote() -> None:
    mail = parsed(message(make_letter(), request_calendar(HOSTILE), "REQUEST"))
    html = _part(mail, "text/html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; review" in html
    assert "Bring &lt;b&gt;data&lt;/b&gt;" in html
    assert "María &lt;Santos&gt;" in html
    assert 'href="https://sched.example/i/accept/2027-01-12?t=a&amp;b"' in html
    assert f'href="{URL}/unsubscribe?t=xyz"' in html


def test_the_text_gives_the_readers_times_and_burden() -> None:
    mail = parsed(message(make_letter(), request_calendar(HOSTILE), "REQUEST"))
    text = _part(mail, "text/plain")
    assert "Meeting scheduler invites you to “<script>alert(1)</script> review”" in text
    assert "- Tue 12 Jan 2027, 07:00–08:00 New York, EST" in text
    assert "María <Santos>: Tue 20:00–21:00 Manila, UTC+8" in text
    assert "1.5 h outside your working hours" in text
    assert "- Tue 19 Jan 2027, 08:00–09:00 New York, EST" in text
    assert "Inside your working hours" in text
    assert "Over the whole series: 4.5 h outside your working hours." in text
    assert f"Accept: {URL}/accept/2027-01-12?t=a&b" in text
    assert f"Propose another turn: {URL}/propose\n" in text
    assert f"Unsubscribe from its invitations: {URL}/unsubscribe?t=xyz" in text
    html = _part(mail, "text/html")
    assert "Tue 12 Jan 2027, 07:00–08:00 New York, EST" in html
    assert "Over the whole series: 4.5 h outside your working hours." in html


def test_a_cancel_message_says_so() -> None:
    invite = SCENARIOS["rotating"]
    whole = parsed(message(make_letter(rows=()), cancel_calendar(invite), "CANCEL"))
    assert _calendar_part(whole).get_param("method") == "CANCEL"
    text = _part(whole, "text/plain")
    assert "“Weekly review” is cancelled: none of its meetings take place." in text
    assert "Accept" not in text and "Accept" not in _part(whole, "text/html")
    one = parsed(message(make_letter(), cancel_calendar(invite, only=date(2027, 1, 26)), "CANCEL"))
    text = _part(one, "text/plain")
    assert (
        "The meeting of “Weekly review” on Tue 26 Jan 2027, 11:30–12:30 New York, EST "
        "is cancelled." in text
    )
    assert "Still planned (America/New_York):" in text
    with pytest.raises(ValueError, match="METHOD:REQUEST"):
        message(make_letter(), cancel_calendar(invite), "REQUEST")


def _part(mail: EmailMessage, content_type: str) -> str:
    [part] = [p for p in mail.iter_parts() if p.get_content_type() == content_type]
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _calendar_part(mail: EmailMessage) -> EmailMessage:
    part = list(mail.iter_parts())[-1]
    assert isinstance(part, EmailMessage)
    return part


def test_missing_tools_fail_with_a_pointer_to_make_test_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="make test-tools"):
        series_clients.read_with_icaljs([])
    monkeypatch.setattr(feed_clients, "SYSTEM_PYTHON", "/nonexistent/python3")
    feed_clients._require_libical.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match="make test-tools"):
            series_clients.read_with_libical([])
    finally:
        feed_clients._require_libical.cache_clear()


def test_the_module_is_pure() -> None:
    """No web framework, database or HTTP client: plain data in, bytes out."""
    source = Path(imip.__file__).read_text("utf-8")
    outside = {
        name
        for name in imported_modules(source, ["app", "invitations", "imip"])
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in {"icalendar", "dateutil", "jinja2", "tzdata"}
        and not name.startswith(("app.scheduling.", "app.feeds.render"))
    }
    assert outside == set()


def test_docstring_examples() -> None:
    assert doctest.testmod(imip, optionflags=doctest.ELLIPSIS).failed == 0
