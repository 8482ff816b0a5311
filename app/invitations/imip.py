"""A meeting series as iMIP invitations (RFC 6047 over iTIP, RFC 5546): the REQUEST and CANCEL
calendars with their VTIMEZONE, and the email that carries one. Pure: no clock, no database.

>>> from datetime import UTC, date, datetime
>>> t = datetime(2027, 1, 12, 14, tzinfo=UTC)
>>> invite = SeriesInvite(uid="series-1@meeting-scheduler", sequence=0, stamp=t,
...     title="Review", description=None, location=None, organizer_email="o@example.com",
...     organizer_name=None, attendees=(Attendee("a@example.com", "Ana", True),),
...     anchor_timezone="America/New_York", rule="FREQ=WEEKLY;BYDAY=TU",
...     dates=(date(2027, 1, 12),), instances=(Instance(date(2027, 1, 12), t, t.replace(hour=15)),),
...     reminder_minutes=None)
>>> b"DTSTART;TZID=America/New_York:20270112T090000\\r\\n" in request_calendar(invite)
True
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import zoneinfo
from bisect import bisect_right
from calendar import monthrange
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Literal

from dateutil.rrule import rrulestr
from icalendar import (
    Alarm,
    Calendar,
    Component,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vRecur,
)
from jinja2 import Environment, PackageLoader, StrictUndefined

from app.scheduling.clock import utc_datetime, utc_minute, zone_span
from app.scheduling.model import zone
from app.scheduling.wording import day_label, hours, local_range

PRODID = "-//Meeting Scheduler//Invitations 1.0//EN"

Method = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True)
class Attendee:
    """One invited person: ROLE=REQ-PARTICIPANT if ``required``, else OPT-PARTICIPANT; always
    RSVP=TRUE and PARTSTAT=NEEDS-ACTION."""

    email: str
    name: str
    required: bool


@dataclass(frozen=True)
class Instance:
    """One occurrence: ``date`` is its date of the rule in the anchor zone; ``start`` and
    ``end`` are aware (any zone). A cancelled one is left out of the REQUEST (EXDATE)."""

    date: date
    start: datetime
    end: datetime
    cancelled: bool = False


@dataclass(frozen=True)
class SeriesInvite:
    """What an invitation says about a series.

    ``rule`` is the RRULE without COUNT, UNTIL or DTSTART (``FREQ=WEEKLY;BYDAY=TU``);
    ``dates`` every date it gives for this series, in order, in ``anchor_timezone``;
    ``instances`` the scheduled and cancelled occurrences (a date may have none: nothing could
    be scheduled). ``stamp`` is the DTSTAMP and the message's Date: the same invite always
    gives the same bytes.
    """

    uid: str
    sequence: int
    stamp: datetime
    title: str
    description: str | None
    location: str | None
    organizer_email: str
    organizer_name: str | None
    attendees: tuple[Attendee, ...]
    anchor_timezone: str
    rule: str
    dates: tuple[date, ...]
    instances: tuple[Instance, ...]
    reminder_minutes: int | None


@dataclass(frozen=True)
class Row:
    """One upcoming occurrence as the reader sees it: ``others`` are (who, IANA zone) of the
    other side(s); ``burden_minutes`` is the reader's (0: inside their working hours)."""

    start: datetime
    end: datetime
    others: tuple[tuple[str, str], ...]
    burden_minutes: int
    accept_url: str
    decline_url: str
    propose_url: str


@dataclass(frozen=True)
class Letter:
    """The message to one attendee: the next few occurrences in their own zone, their burden,
    the RSVP links (series-level and per row) and a one-click unsubscribe (RFC 8058)."""

    recipient: Attendee
    reader_timezone: str
    rows: tuple[Row, ...]
    total_burden_minutes: int
    accept_url: str
    decline_url: str
    propose_url: str
    unsubscribe_url: str
    message_id: str
    from_address: str
    subject: str


# ---------------------------------------------------------------------------------------------
# The calendars


def request_calendar(invite: SeriesInvite) -> bytes:
    """METHOD:REQUEST of the whole series: the VTIMEZONE, the master VEVENT (RRULE with UNTIL,
    an EXDATE for every date without a scheduled meeting) and one RECURRENCE-ID override for
    every meeting not at the master time. One series, so an attendee answers once; rotation
    makes overrides the normal case, and every client that reads RRULE reads these.

    Example: Tuesdays at 09:00 New York but 07:00 on 9 March and nothing on 16 March give
    ``DTSTART;TZID=America/New_York:…T090000``, ``EXDATE;TZID=…:20270316T090000`` and an
    override with ``RECURRENCE-ID;TZID=…:20270309T090000`` and ``DTSTART;TZID=…:…T070000``.
    """
    layout = _layout(invite)
    if layout is None:
        raise ValueError("the series has no scheduled meeting to invite to")
    calendar = _calendar("REQUEST")
    calendar.add_component(vtimezone(invite.anchor_timezone, *_local_span(invite, layout)))
    master = _event(invite, "CONFIRMED")
    _add_series(master, invite, layout)
    for day in layout.exdates:
        master.add("EXDATE", layout.start_on(day))
    _add_alarm(master, invite)
    calendar.add_component(master)
    for instance in layout.overrides:
        override = _event(invite, "CONFIRMED")
        override.add("RECURRENCE-ID", layout.start_on(instance.date))
        override.add("DTSTART", _written(instance.start, layout.zone))
        override.add("DTEND", _written(instance.end, layout.zone))
        _add_alarm(override, invite)
        calendar.add_component(override)
    ics: bytes = calendar.to_ical()
    return ics


def cancel_calendar(invite: SeriesInvite, only: date | None = None) -> bytes:
    """METHOD:CANCEL of the whole series, or with ``only`` of that one occurrence (a VEVENT
    with its RECURRENCE-ID, RFC 5546 §3.2.5).

    The RECURRENCE-ID is the master instant of ``only`` as :func:`request_calendar` wrote it
    while that occurrence was scheduled: the occurrence counts as scheduled here whether or
    not ``invite`` already marks it cancelled, so the master time does not move under it.
    An invite without instances (a deleted series) cancels by UID alone, without DTSTART.
    """
    layout = _layout(invite, scheduled=only)
    calendar = _calendar("CANCEL")
    event = _event(invite, "CANCELLED")
    if only is not None:
        if layout is None:
            raise ValueError(f"no meeting time is known for {only}: nothing to cancel")
        instance = next((i for i in invite.instances if i.date == only), None)
        recurrence = layout.start_on(only)
        start, end = (
            (instance.start, instance.end)
            if instance is not None
            else (recurrence, layout.end_of(recurrence))
        )
        calendar.add_component(
            vtimezone(invite.anchor_timezone, *_local_span(invite, layout, (only,)))
        )
        event.add("RECURRENCE-ID", recurrence)
        event.add("DTSTART", _written(start, layout.zone))
        event.add("DTEND", _written(end, layout.zone))
    elif layout is not None and invite.dates:
        calendar.add_component(vtimezone(invite.anchor_timezone, *_local_span(invite, layout)))
        _add_series(event, invite, layout)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


@dataclass(frozen=True)
class _Layout:
    """How the series is written: the master time of day and length, the dates written as
    EXDATE and the instances written as overrides."""

    zone: tzinfo
    time: time
    length: timedelta
    exdates: tuple[date, ...]
    overrides: tuple[Instance, ...]

    def start_on(self, day: date) -> datetime:
        """The master instant of ``day`` (an ambiguous or skipped wall time reads with
        ``fold=0``, the offset before the change, as RFC 5545 §3.3.5 says)."""
        return datetime.combine(day, self.time, tzinfo=self.zone)

    def end_of(self, start: datetime) -> datetime:
        return (start.astimezone(UTC) + self.length).astimezone(self.zone)

    def is_plain(self, start: datetime) -> bool:
        """True if every client reads the master occurrence at ``start`` alike: its wall
        times exist once, and no clock change falls inside it (clients disagree on whether
        the length is elapsed or wall-clock time)."""
        end = self.end_of(start)
        return _unambiguous(start) and _unambiguous(end) and start.utcoffset() == end.utcoffset()


def _layout(invite: SeriesInvite, scheduled: date | None = None) -> _Layout | None:
    """The master time is the most common local start of the scheduled instances (ties: the
    earliest) that exists exactly once on every date, its length the most common among those
    (ties: the shortest); None without a scheduled instance. ``scheduled`` names a date that
    counts as scheduled regardless."""
    _check(invite)
    tz = zone(invite.anchor_timezone)
    counted = [i for i in invite.instances if not i.cancelled or i.date == scheduled]
    if not counted:
        return None
    # Lengths in elapsed time: aware datetimes in one zone subtract by their wall clocks.
    local = [
        (i.start.astimezone(tz).time().replace(fold=0), _utc(i.end) - _utc(i.start))
        for i in counted
    ]
    starts = Counter(t for t, _ in local)
    master = _master_time(sorted(starts, key=lambda t: (-starts[t], t)), invite.dates, tz)
    lengths = Counter(length for t, length in local if t == master) or Counter(
        length for _, length in local
    )
    length = min(lengths, key=lambda d: (-lengths[d], d))
    plan = _Layout(tz, master, length, (), ())
    by_date = {i.date: i for i in invite.instances}
    exdates: list[date] = []
    overrides: list[Instance] = []
    for day in invite.dates:
        instance = by_date.get(day)
        if instance is None or (instance.cancelled and day != scheduled):
            exdates.append(day)
            continue
        start = plan.start_on(day)
        same = _utc(instance.start) == _utc(start) and _utc(instance.end) == _utc(
            plan.end_of(start)
        )
        if not (same and plan.is_plain(start)):
            overrides.append(instance)
    return _Layout(tz, master, length, tuple(exdates), tuple(overrides))


def _master_time(candidates: Sequence[time], dates: Sequence[date], tz: tzinfo) -> time:
    """The first candidate whose wall time exists exactly once on every date; else the first
    such quarter hour from noon on. libical reads a RECURRENCE-ID or EXDATE at a skipped or
    repeated wall time as another instant than the rule's own occurrence, so none is written.

    >>> sunday = [date(2027, 3, 14)]  # New York skips 02:00-03:00
    >>> _master_time([time(2, 30), time(9)], sunday, zone("America/New_York"))
    datetime.time(9, 0)
    """
    noon = [time(hour % 24, minute) for hour in range(12, 36) for minute in (0, 15, 30, 45)]
    for candidate in (*candidates, *noon):
        if all(_unambiguous(datetime.combine(day, candidate, tzinfo=tz)) for day in dates):
            return candidate
    raise ValueError("no time of day exists exactly once on every date")  # pragma: no cover


def _check(invite: SeriesInvite) -> None:
    """Refuse an invite that cannot be written as it says."""
    zone(invite.anchor_timezone)
    if invite.sequence < 0:
        raise ValueError("SEQUENCE cannot be negative")
    _aware(invite.stamp, "stamp")
    if any(a >= b for a, b in zip(invite.dates, invite.dates[1:], strict=False)):
        raise ValueError("dates must be in order, each once")
    known = set(invite.dates)
    seen: set[date] = set()
    for instance in invite.instances:
        if instance.date in seen:
            raise ValueError(f"two instances on {instance.date}")
        seen.add(instance.date)
        if instance.date not in known:
            raise ValueError(f"instance on {instance.date}, which is not a date of the rule")
        _aware(instance.start, "instance start")
        _aware(instance.end, "instance end")
        if _utc(instance.end) <= _utc(instance.start):
            raise ValueError(f"the instance on {instance.date} does not end after it starts")
    parts = _rule(invite.rule)
    if {"COUNT", "UNTIL", "DTSTART"} & set(parts):
        raise ValueError("the rule must not carry COUNT, UNTIL or DTSTART")


def _rule(text: str) -> vRecur:
    if "\n" in text or "\r" in text or ":" in text:
        raise ValueError(f"not a bare RRULE value: {text!r}")
    rule: vRecur = vRecur.from_ical(text)
    return rule


def _recur_text(rule: vRecur) -> str:
    text: bytes = rule.to_ical()  # type: ignore[no-untyped-call]
    return text.decode("ascii")


def _series_rule(invite: SeriesInvite, layout: _Layout) -> vRecur:
    """The rule with UNTIL at the last date's master instant (the latest reading of its wall
    time, so that no client drops the last occurrence), checked to give exactly ``dates``."""
    rule = _rule(invite.rule)
    last = layout.start_on(invite.dates[-1])
    rule["UNTIL"] = max(_utc(last), _utc(last.replace(fold=1)))
    expected = [layout.start_on(day) for day in invite.dates]
    given = list(rrulestr(_recur_text(rule), dtstart=expected[0]))
    if [_utc(t) for t in given] != [_utc(t) for t in expected]:
        raise ValueError(f"{invite.rule} from {invite.dates[0]} does not give exactly the dates")
    return rule


def _add_series(event: Event, invite: SeriesInvite, layout: _Layout) -> None:
    start = layout.start_on(invite.dates[0])
    event.add("DTSTART", start)
    if layout.is_plain(start):
        event.add("DTEND", layout.end_of(start))
    else:  # a clock change inside the first meeting: wall-clock DTEND would mean another length
        event.add("DURATION", layout.length)
    event.add("RRULE", _series_rule(invite, layout))


def _local_span(
    invite: SeriesInvite, layout: _Layout, days: Sequence[date] = ()
) -> tuple[date, date]:
    """The anchor-zone dates the calendar's times fall on (``days``, or the whole series)."""
    chosen = set(days)
    instants = [
        t for i in invite.instances if not chosen or i.date in chosen for t in (i.start, i.end)
    ]
    local = [t.astimezone(layout.zone).date() for t in instants]
    dates = list(days) or list(invite.dates)
    return min([*dates, *local]), max([*dates, *local]) + timedelta(days=1)


def _calendar(method: Method) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    return calendar


def _event(invite: SeriesInvite, status: Literal["CONFIRMED", "CANCELLED"]) -> Event:
    """The properties every VEVENT of the invitation repeats."""
    event = Event()
    event.add("UID", _text(invite.uid))
    event.add("SEQUENCE", invite.sequence)
    event.add("DTSTAMP", _utc(invite.stamp))
    event.add("SUMMARY", _text(invite.title))
    if invite.description and _text(invite.description):
        event.add("DESCRIPTION", _text(invite.description))
    if invite.location and _text(invite.location):
        event.add("LOCATION", _text(invite.location))
    organizer = vCalAddress(_mailto(invite.organizer_email))
    if invite.organizer_name and _parameter(invite.organizer_name):
        organizer.params["CN"] = _parameter(invite.organizer_name)
    event.add("ORGANIZER", organizer)
    for attendee in _attendees(invite.attendees):
        address = vCalAddress(_mailto(attendee.email))
        address.params["CUTYPE"] = "INDIVIDUAL"
        address.params["ROLE"] = "REQ-PARTICIPANT" if attendee.required else "OPT-PARTICIPANT"
        address.params["PARTSTAT"] = "NEEDS-ACTION"
        address.params["RSVP"] = "TRUE"
        if _parameter(attendee.name):
            address.params["CN"] = _parameter(attendee.name)
        event.add("ATTENDEE", address)
    event.add("STATUS", status)
    if status == "CONFIRMED":
        event.add("TRANSP", "OPAQUE")
    return event


def _attendees(attendees: Iterable[Attendee]) -> list[Attendee]:
    """Sorted by address, each address once (required wins over optional)."""
    chosen: dict[str, Attendee] = {}
    for attendee in sorted(attendees, key=lambda a: (a.email.lower(), not a.required, a.name)):
        chosen.setdefault(attendee.email.lower(), attendee)
    return list(chosen.values())


def _add_alarm(event: Event, invite: SeriesInvite) -> None:
    if invite.reminder_minutes is not None:
        event.add_component(valarm(invite.reminder_minutes))


def valarm(minutes: int) -> Alarm:
    """A display reminder ``minutes`` before the start (``TRIGGER:-PT15M``)."""
    if minutes < 0:
        raise ValueError("a reminder comes before the meeting: minutes must be 0 or more")
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "Reminder")
    alarm.add("TRIGGER", timedelta(minutes=-minutes))
    return alarm


def _written(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` as written: in the anchor zone, or in UTC where its wall time there is
    ambiguous (the repeated hour) or skipped, which a TZID time cannot say."""
    local = moment.astimezone(tz)
    return local if _unambiguous(local) else _utc(moment)


def _unambiguous(local: datetime) -> bool:
    return local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got {moment!r}")
    if moment.microsecond:
        raise ValueError(f"{what} has fractions of a second, which iCalendar cannot write")


def _text(value: str) -> Any:
    """User text as an iCalendar TEXT value, made safe exactly as the feeds make it."""
    # Imported here: the feeds import valarm from this module.
    from app.feeds.render import _clean_text, _Text

    return _Text(_clean_text(value))


def _parameter(value: str) -> str:
    """A CN parameter: cleaned as TEXT, on one line (icalendar quotes it, RFC 6868)."""
    return " ".join(str(_text(value)).split())


def _mailto(address: str) -> str:
    if "@" not in address or any(c.isspace() or ord(c) < 0x20 or c in '<>"' for c in address):
        raise ValueError(f"not an email address: {address!r}")
    return f"mailto:{address}"


# ---------------------------------------------------------------------------------------------
# VTIMEZONE


@dataclass(frozen=True)
class _Observance:
    """A STANDARD or DAYLIGHT block: from the wall time ``start`` (read with ``offset_from``)
    the offset is ``offset_to``, once or each year by ``rule``. Offsets in seconds east."""

    daylight: bool
    name: str
    offset_from: int
    offset_to: int
    start: datetime  # naive
    rule: vRecur | None = None

    def onsets(self, until: int) -> list[tuple[int, datetime]]:
        """(UTC minute, wall time) of each onset up to UTC minute ``until``, as dateutil reads
        the RRULE: from DTSTART on, DTSTART itself only if the rule gives it."""
        walls: Iterable[datetime] = [self.start]
        if self.rule is not None:
            walls = rrulestr(_recur_text(self.rule), dtstart=self.start)
        found = []
        for wall in walls:
            minute = utc_minute(wall.replace(tzinfo=UTC)) - self.offset_from // 60
            if minute > until:
                break
            found.append((minute, wall))
        return found


@dataclass(frozen=True)
class _Yearly:
    """One change of a POSIX TZ rule: each year, at the wall time ``at`` of the dates of
    ``rule`` (RRULE parts without DTSTART), from ``offset_from`` to ``offset_to``."""

    daylight: bool
    name: str
    offset_from: int
    offset_to: int
    rule: dict[str, Any]
    at: time

    def observance(self, start: datetime) -> _Observance:
        return _Observance(
            self.daylight, self.name, self.offset_from, self.offset_to, start, vRecur(self.rule)
        )

    def onsets(self, first_year: int, until: int) -> list[tuple[int, datetime]]:
        """(UTC minute, wall time) of each change from ``first_year`` up to ``until``."""
        return self.observance(datetime.combine(date(first_year, 1, 1), self.at)).onsets(until)


@dataclass(frozen=True)
class _Footer:
    """A zone's POSIX TZ rule (RFC 8536 §3.3.1): standard time and, with DST, its changes."""

    standard_name: str
    standard_offset: int
    changes: tuple[_Yearly, ...]


@dataclass(frozen=True)
class _Offsets:
    """A zone's UTC offset (minutes) at ``lo`` and its changes (UTC minute, offset after)."""

    start: int
    changes: tuple[tuple[int, int], ...]


def vtimezone(zone_name: str, first: date, last: date) -> Timezone:
    """The VTIMEZONE of ``zone_name`` for times from ``first`` to ``last`` (local dates),
    written with yearly RRULEs.

    The rules come from the POSIX TZ string at the end of the zone's TZif file (the same file
    ``zoneinfo`` reads): ``EST5EDT,M3.2.0,M11.1.0`` becomes a DAYLIGHT block with
    ``RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU`` and a STANDARD one with ``BYMONTH=11;BYDAY=1SU``;
    a zone without DST gets one STANDARD block. The result is checked against ``zoneinfo``
    from 1 January of ``first``'s year (of the day before it) to two days after ``last``.
    Where the rule only took effect inside that span (a zone that changed its rules), the
    changes before it are written one by one and the RRULEs start after them; where it does
    not hold at all or cannot be written as an RRULE (Cairo's "Friday after the last
    Thursday" may fall in November), every change is written one by one.

    >>> tz = vtimezone("America/Santiago", date(2027, 1, 5), date(2027, 12, 28))
    >>> [str(o["TZNAME"]) + " " + o["RRULE"].to_ical().decode() for o in tz.walk()[1:]]
    ['-04 FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=4', \
'-03 FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=9']
    """
    tz = zone(zone_name)
    if last < first:
        raise ValueError("last must not be before first")
    year_start = date((first - timedelta(days=1)).year, 1, 1)
    lo = utc_minute(datetime.combine(year_start, time(), tz))
    hi = utc_minute(datetime.combine(last + timedelta(days=2), time(), tz))
    actual = _zone_offsets(zone_name, lo, hi)
    component = Timezone()
    component.add("TZID", zone_name)
    observances = _observances(zone_name, tz, lo, hi, actual)
    for observance in sorted(observances, key=lambda o: (_onset(o), o.daylight)):
        block = TimezoneDaylight() if observance.daylight else TimezoneStandard()
        block.add("DTSTART", observance.start)
        block.add("TZOFFSETFROM", timedelta(seconds=observance.offset_from))
        block.add("TZOFFSETTO", timedelta(seconds=observance.offset_to))
        block.add("TZNAME", observance.name)
        if observance.rule is not None:
            block.add("RRULE", observance.rule)
        component.add_component(block)
    return component


def _onset(observance: _Observance) -> datetime:
    return observance.start - timedelta(seconds=observance.offset_from)


def _observances(
    zone_name: str, tz: tzinfo, lo: int, hi: int, actual: _Offsets
) -> list[_Observance]:
    """The blocks that give ``actual``: the footer's RRULEs from the earliest moment they
    hold on, the changes before that moment one by one."""
    history = _history(tz, lo, actual)
    footer = _footer(zone_name)
    if footer is None:
        return history
    for k in range(len(actual.changes) + 1):
        candidate = history[: k + 1] if k else []
        if k == 0 and not footer.changes:
            wall = utc_datetime(lo) + timedelta(seconds=footer.standard_offset)
            offset = footer.standard_offset
            candidate.append(
                _Observance(False, footer.standard_name, offset, offset, wall.replace(tzinfo=None))
            )
        since = lo if k == 0 else actual.changes[k - 1][0]
        for change in footer.changes:
            onsets = change.onsets(utc_datetime(lo).year - 1, hi + 366 * 24 * 60)
            # From lo, each block starts at its last change before lo; after a change written
            # one by one, at its first change after that one.
            chosen = (
                [wall for minute, wall in onsets if minute <= since][-1:]
                if k == 0
                else [wall for minute, wall in onsets if minute > since][:1]
            )
            candidate.extend(change.observance(wall) for wall in chosen)
        if _implied(candidate, lo, hi) == actual:
            return candidate
    return history


def _history(tz: tzinfo, lo: int, actual: _Offsets) -> list[_Observance]:
    """One block for the offset at ``lo``, then one for each change: always right."""

    def observance(minute: int, offset_from: int, offset_to: int) -> _Observance:
        local = utc_datetime(minute).astimezone(tz)
        wall = (utc_datetime(minute) + timedelta(minutes=offset_from)).replace(tzinfo=None)
        daylight = (local.dst() or timedelta(0)) > timedelta(0)
        return _Observance(daylight, local.tzname() or "", offset_from * 60, offset_to * 60, wall)

    blocks = [observance(lo, actual.start, actual.start)]
    before = actual.start
    for minute, after in actual.changes:
        blocks.append(observance(minute, before, after))
        before = after
    return blocks


def _zone_offsets(zone_name: str, lo: int, hi: int) -> _Offsets:
    span = zone_span(zone_name, lo, hi)
    transitions, offsets = span.transitions.tolist(), span.offsets.tolist()
    first, last = bisect_right(transitions, lo), bisect_right(transitions, hi)
    changes = tuple((transitions[j], offsets[j + 1]) for j in range(first, last))
    return _Offsets(offsets[first], changes)


def _implied(observances: Sequence[_Observance], lo: int, hi: int) -> _Offsets | None:
    """The offsets a client reads from ``observances`` over UTC minutes ``[lo, hi]``."""
    onsets = sorted((minute, o.offset_to // 60) for o in observances for minute, _ in o.onsets(hi))
    before = [offset for minute, offset in onsets if minute <= lo]
    if not before:
        return None
    current = start = before[-1]
    changes = []
    for minute, offset in onsets:
        if lo < minute <= hi and offset != current:
            changes.append((minute, offset))
            current = offset
    return _Offsets(start, tuple(changes))


_NAME = r"[A-Za-z]{3,}|<[+\-0-9A-Za-z]+>"
_CLOCK = r"[+-]?\d{1,3}(?::\d{1,2}){0,2}"
_CHANGE = rf"M(\d{{1,2}})\.([1-5])\.([0-6])(?:/({_CLOCK}))?"
_POSIX_TZ = re.compile(rf"({_NAME})({_CLOCK})(?:({_NAME})({_CLOCK})?,{_CHANGE},{_CHANGE})?")
_WEEKDAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # POSIX counts days from Sunday
_DAY = 24 * 3600


@lru_cache(maxsize=1024)
def _footer(zone_name: str) -> _Footer | None:
    """The zone's POSIX TZ rule as RRULE parts; None if it has none or one an RRULE cannot
    say (a ``Jn`` day, a change that can fall in the next month)."""
    text = _tzif_footer(zone_name)
    match = _POSIX_TZ.fullmatch(text or "")
    if match is None:
        return None
    std_name, std_clock, dst_name, dst_clock = match.group(1, 2, 3, 4)
    standard = -_seconds(std_clock)  # POSIX offsets count hours west of Greenwich
    if dst_name is None:
        return _Footer(std_name.strip("<>"), standard, ())
    daylight = standard + 3600 if dst_clock is None else -_seconds(dst_clock)
    start = _yearly_rule(*match.group(5, 6, 7, 8))
    end = _yearly_rule(*match.group(9, 10, 11, 12))
    if start is None or end is None:
        return None
    summer = daylight > standard  # Dublin's DST is negative: label blocks by the larger offset
    names = std_name.strip("<>"), dst_name.strip("<>")
    return _Footer(
        names[0],
        standard,
        (
            _Yearly(summer, names[1], standard, daylight, *start),
            _Yearly(not summer, names[0], daylight, standard, *end),
        ),
    )


def _yearly_rule(
    month_text: str, week_text: str, day_text: str, clock: str | None
) -> tuple[dict[str, Any], time] | None:
    """``Mm.w.d/t`` (day ``d`` of week ``w`` of month ``m``, 5 = the last, at ``t`` which may
    be negative or past 24 h) as RRULE parts and a wall time.

    >>> _yearly_rule("9", "1", "6", "24")  # Santiago: Saturday 24:00 is Sunday 00:00
    ({'FREQ': 'YEARLY', 'BYMONTH': 9, 'BYDAY': 'SU', 'BYMONTHDAY': [2, 3, 4, 5, 6, 7, 8]}, \
datetime.time(0, 0))
    """
    month, week, weekday = int(month_text), int(week_text), int(day_text)
    shift, second = divmod(2 * 3600 if clock is None else _seconds(clock), _DAY)
    at = time(second // 3600, second // 60 % 60, second % 60)
    day = _WEEKDAYS[(weekday + shift) % 7]
    rule: dict[str, Any] = {"FREQ": "YEARLY", "BYMONTH": month}
    if shift == 0:
        rule["BYDAY"] = f"{-1 if week == 5 else week}{day}"
        return rule, at
    shortest = 28 if month == 2 else monthrange(2001, month)[1]
    if week == 5:  # the last seven days, counted from the month's end, shifted
        days = list(range(-7 + shift, shift))
        fits = days[-1] <= -1 and days[0] >= -shortest
        if month != 2:  # a month of fixed length: from its start (ical.js misreads negatives)
            days = [shortest + 1 + d for d in days]
    else:
        days = list(range(7 * week - 6 + shift, 7 * week + 1 + shift))
        fits = days[0] >= 1 and days[-1] <= shortest
    if not fits:
        return None
    rule["BYDAY"] = day
    rule["BYMONTHDAY"] = days
    return rule, at


def _seconds(clock: str) -> int:
    sign = -1 if clock.startswith("-") else 1
    h, m, s = ([int(part) for part in clock.lstrip("+-").split(":")] + [0, 0])[:3]
    return sign * (h * 3600 + m * 60 + s)


def _tzif_footer(zone_name: str) -> str | None:
    """The POSIX TZ string ending a version 2+ TZif file (RFC 8536 §3.3), from the file
    ``zoneinfo`` itself reads: the first on ``zoneinfo.TZPATH``, else the tzdata package."""
    data = _tzif_bytes(zone_name)
    if data is None or data[:4] != b"TZif" or data[4:5] < b"2" or not data.endswith(b"\n"):
        return None
    footer = data[:-1].rpartition(b"\n")[2]
    return footer.decode("ascii", "replace") or None


def _tzif_bytes(zone_name: str) -> bytes | None:
    zone(zone_name)  # refuses names that are not keys (paths, "..")
    for base in zoneinfo.TZPATH:
        path = os.path.join(base, zone_name)
        if os.path.isfile(path):
            with open(path, "rb") as tzif:
                return tzif.read()
    try:
        return importlib.resources.files("tzdata").joinpath("zoneinfo", zone_name).read_bytes()
    except (ModuleNotFoundError, OSError):
        return None


# ---------------------------------------------------------------------------------------------
# The message


@dataclass(frozen=True)
class _Line:
    """One occurrence in the reader's words."""

    when: str
    others: tuple[str, ...]
    burden: str
    accept_url: str
    decline_url: str
    propose_url: str


@dataclass(frozen=True)
class _View:
    """What both bodies say."""

    subject: str
    headline: str
    location: str | None
    description: str | None
    answer: bool
    lines_title: str
    lines: tuple[_Line, ...]
    total: str | None
    letter: Letter


def message(letter: Letter, calendar: bytes, method: Method) -> EmailMessage:
    """The iMIP message: ``multipart/alternative`` of text, HTML and the calendar last
    (``text/calendar; method=…``, RFC 6047 §2.4), with one-click unsubscribe headers.

    The title, organizer and (for one cancelled occurrence) its time are read from
    ``calendar``; its DTSTAMP is the Date, so the same input gives the same bytes.
    """
    facts = _Facts.read(calendar, method)
    view = _view(letter, facts, method)
    text = _text_body(view)
    html = _environment().get_template("letter.html.j2").render(view=view)
    mail = EmailMessage()
    mail["From"] = letter.from_address
    mail["To"] = Address(
        display_name=_one_line(letter.recipient.name), addr_spec=letter.recipient.email
    )
    mail["Subject"] = _one_line(letter.subject)
    mail["Date"] = format_datetime(facts.stamp)
    mail["Message-ID"] = letter.message_id
    mail["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mail.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    mail.add_alternative(
        calendar,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": method, "charset": "utf-8"},
    )
    for part in mail.iter_parts():
        del part["MIME-Version"]  # set_content adds it to each part; it belongs on top only
    # "=_" occurs in neither quoted-printable nor base64: no body can contain the boundary.
    digest = hashlib.sha256(letter.message_id.encode() + b"\0" + calendar).hexdigest()
    mail.set_boundary(f"=_{digest[:40]}")
    return mail


@dataclass(frozen=True)
class _Facts:
    """What the message says that the calendar already knows."""

    stamp: datetime
    title: str
    organizer: str
    location: str | None
    description: str | None
    cancelled: tuple[datetime, datetime] | None  # the one occurrence a CANCEL names

    @classmethod
    def read(cls, calendar: bytes, method: Method) -> _Facts:
        parsed = Calendar.from_ical(calendar)
        if str(parsed.get("METHOD", "")) != method:
            raise ValueError(f"the calendar is not a METHOD:{method}")
        events = parsed.walk("VEVENT")
        if not events:
            raise ValueError("the calendar has no VEVENT")
        event = events[0]
        organizer = event.get("ORGANIZER")
        if organizer is None:
            raise ValueError("the calendar names no ORGANIZER")
        who = str(organizer.params.get("CN") or str(organizer).removeprefix("mailto:"))
        cancelled = None
        if method == "CANCEL" and "RECURRENCE-ID" in event:
            cancelled = (_instant(event, "DTSTART"), _instant(event, "DTEND"))
        return cls(
            stamp=_instant(event, "DTSTAMP"),
            title=str(event.get("SUMMARY", "")),
            organizer=who,
            location=str(event["LOCATION"]) if "LOCATION" in event else None,
            description=str(event["DESCRIPTION"]) if "DESCRIPTION" in event else None,
            cancelled=cancelled,
        )


def _instant(component: Component, name: str) -> datetime:
    found = component.decoded(name)
    if not isinstance(found, datetime):
        raise ValueError(f"{name} is not a DATE-TIME: {found!r}")
    return found


def burden_words(minutes: int) -> str:
    """``'inside your working hours'`` or ``'1.5 h outside your working hours'``."""
    return (
        "inside your working hours"
        if minutes <= 0
        else f"{hours(minutes)} outside your working hours"
    )


def _when(start: datetime, end: datetime, timezone: str) -> str:
    """``'Tue 12 Jan 2027, 07:00–08:00 New York, EST'`` in ``timezone``."""
    tz = zone(timezone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    return f"{day_label(local_start.date())}, " + local_range(
        local_start, local_end, weekday=False, timezone=timezone
    )


def _view(letter: Letter, facts: _Facts, method: Method) -> _View:
    reader = letter.reader_timezone
    lines = tuple(
        _Line(
            when=_when(row.start, row.end, reader),
            others=tuple(
                f"{_one_line(who)}: "
                + local_range(
                    row.start.astimezone(zone(tz)), row.end.astimezone(zone(tz)), timezone=tz
                )
                for who, tz in row.others
            ),
            burden=burden_words(row.burden_minutes),
            accept_url=row.accept_url,
            decline_url=row.decline_url,
            propose_url=row.propose_url,
        )
        for row in letter.rows
    )
    title = _one_line(facts.title)
    if method == "REQUEST":
        headline = f"{_one_line(facts.organizer)} invites you to “{title}”, a meeting series."
        lines_title = "Your next meetings, in your time zone"
    elif facts.cancelled is not None:
        headline = (
            f"The meeting of “{title}” on {_when(*facts.cancelled, reader)} is cancelled. "
            "The other meetings of the series stay as planned."
        )
        lines_title = "Still planned"
    else:
        headline = f"“{title}” is cancelled: none of its meetings take place."
        lines_title = "Still planned"
    total = None
    if method == "REQUEST" or lines:
        total = f"Over the whole series: {burden_words(letter.total_burden_minutes)}."
    return _View(
        subject=_one_line(letter.subject),
        headline=headline,
        location=_one_line(facts.location) if facts.location else None,
        description=facts.description,
        answer=method == "REQUEST",
        lines_title=f"{lines_title} ({reader}):",
        lines=lines,
        total=total,
        letter=letter,
    )


def _text_body(view: _View) -> str:
    out = [view.headline]
    if view.location:
        out.append(f"Where: {view.location}")
    if view.description:
        out += ["", view.description]
    if view.lines:
        out += ["", view.lines_title]
        for line in view.lines:
            out += ["", f"- {line.when}", f"  {line.burden[0].upper()}{line.burden[1:]}"]
            out += [f"  {other}" for other in line.others]
            if view.answer:
                out += [
                    f"  Accept: {line.accept_url}",
                    f"  Decline: {line.decline_url}",
                    f"  Propose another turn: {line.propose_url}",
                ]
    if view.total:
        out += ["", view.total]
    letter = view.letter
    if view.answer:
        out += [
            "",
            "Answer for the whole series:",
            f"Accept: {letter.accept_url}",
            f"Decline: {letter.decline_url}",
            f"Propose another turn: {letter.propose_url}",
        ]
    out += [
        "",
        "--",
        "You get this email as a member of this meeting series.",
        f"Unsubscribe from its invitations: {letter.unsubscribe_url}",
    ]
    return "\n".join(out) + "\n"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app.invitations", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _one_line(text: str) -> str:
    """Text for a header or a heading: controls and line breaks become single spaces."""
    return " ".join(
        "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text).split()
    )
