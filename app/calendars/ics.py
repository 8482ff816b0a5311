"""A person's calendar as iCalendar documents (one ICS file, or one per CalDAV resource) →
the UTC minutes they are busy. Only intervals come out: titles and descriptions are dropped.

Parsing is ``icalendar``'s, expansion ``recurring_ical_events``' and Google's X-WR-TIMEZONE
repair ``x_wr_timezone``'s. This module decides which lines matter, which zone a TZID
names and what counts as busy, and it bounds the work before doing it.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import rrulestr
from icalendar import Calendar, Component, Timezone, vDDDLists, vDDDTypes, vRecur
from icalendar.parser import Contentline
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events import ComponentsWithName, EventAdapter, Occurrence

from app.feeds.render import OWN_UID_SUFFIX
from app.scheduling.clock import require_aware, utc_minute, utc_minute_ceil
from app.scheduling.model import zone

MAX_INSTANCES = 50_000
# The work bound: dateutil generates every repetition from a series' first start, so "every
# minute since 1990" would take 19 million steps before the window even begins.
MAX_REPETITIONS = 1_000_000
# The library runs this much wider than the window: it compares floating and all-day times
# as if they were UTC, and no zone is 26 h from another. Clipped to the window afterwards.
_MARGIN = timedelta(days=2)
_ERROR_DETAIL_CHARS = 200
_ROUGH_DAYS = timedelta(days=4)


class Unreadable(Exception):
    """The documents cannot be read into busy times; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def busy_intervals(
    documents: Sequence[bytes],
    *,
    timezone: str,
    emails: Collection[str],
    start: datetime,
    end: datetime,
) -> list[tuple[int, int]]:
    """The participant's busy intervals in ``[start, end)``: half-open UTC minutes since
    1970-01-01T00:00Z, sorted, with overlapping or touching intervals merged.

    Busy: every VEVENT instance (RRULE, RDATE, EXDATE and RECURRENCE-ID overrides expanded)
    unless it is ``TRANSP:TRANSPARENT`` (or Outlook's ``X-MICROSOFT-CDO-BUSYSTATUS:FREE``),
    ``STATUS:CANCELLED`` (a cancelled override removes its instance), declined (every
    ATTENDEE naming the participant says ``PARTSTAT=DECLINED``; ``emails`` match without
    case or ``mailto:``, by value or EMAIL parameter; never when they are the ORGANIZER), or
    one of our own meetings (UID ending ``OWN_UID_SUFFIX``). ``STATUS:TENTATIVE`` is busy.
    Without DTEND an event lasts its DURATION, else one day from a DATE start and nothing
    from a DATE-TIME start. VTODO, VJOURNAL and VFREEBUSY are ignored.

    Times: an all-day (DATE) event covers whole local days in ``timezone`` (DTEND
    exclusive). A floating time is read in the calendar's X-WR-TIMEZONE if it has one, else
    in ``timezone``, with PEP 495 ``fold=0``: an ambiguous wall time is the earlier instant,
    one in a spring-forward gap is read with the offset before the gap. A TZID is an IANA
    name, a Windows name ("W. Europe Standard Time", CLDR's table in icalendar), or a zone
    the document defines in a VTIMEZONE; one that none of these knows is read as floating.

    >>> doc = (b"BEGIN:VCALENDAR\\r\\nBEGIN:VEVENT\\r\\nDTSTART:20270314T023000\\r\\n"
    ...        b"DTEND:20270314T040000\\r\\nEND:VEVENT\\r\\nEND:VCALENDAR\\r\\n")
    >>> [(a, b)] = busy_intervals([doc], timezone="America/New_York", emails=(),
    ...     start=datetime(2027, 3, 1, tzinfo=UTC), end=datetime(2027, 4, 1, tzinfo=UTC))
    >>> [datetime.fromtimestamp(m * 60, UTC).strftime("%H:%M") for m in (a, b)]
    ['07:30', '08:00']

    (02:30 never happens in New York that day: it is read with EST, as 07:30Z; 04:00 EDT is
    08:00Z.) Raises :class:`Unreadable` for data that is not iCalendar, for more than
    ``MAX_INSTANCES`` instances in the window, and for repeating events that would take more
    than ``MAX_REPETITIONS`` repetitions, counted from each series' start, to expand.
    """
    if isinstance(documents, (bytes, bytearray, str)):
        raise TypeError("documents is a sequence of documents; wrap a single one in a list.")
    require_aware(start, "start")
    require_aware(end, "end")
    lo, hi = utc_minute(start), utc_minute_ceil(end)
    if hi <= lo:
        return []
    addresses = frozenset(filter(None, map(_address, emails)))
    reading = _Reading(
        participant=zone(timezone),
        span_start=start.astimezone(UTC) - _MARGIN,
        span_end=end.astimezone(UTC) + _MARGIN,
        days=-(-(end - start) // timedelta(days=1)),
    )
    intervals: list[tuple[int, int]] = []
    for document in documents:
        for calendar in _calendars(document, addresses, (start.date(), end.date())):
            for first, last in reading.busy(calendar):
                a, b = max(first, lo), min(last, hi)
                if b > a:
                    intervals.append((a, b))
    return _merged(intervals)


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _address(value: object) -> str:
    text = str(value).strip().lower()
    return text.removeprefix("mailto:").strip()


def _detail(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= _ERROR_DETAIL_CHARS else text[:_ERROR_DETAIL_CHARS] + "…"


# --- From bytes to components ----------------------------------------------------------------
# icalendar parses about 27 µs a line and a provider writes 15 to 40 lines an event, so only
# the lines that say when an event happens reach it. Whether it is busy is read here, on the
# lines, and marked; what is never parsed is never kept.

_TIMING_PROPERTIES = frozenset(
    {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
)
_STATUS_PROPERTIES = frozenset({"STATUS", "TRANSP", "X-MICROSOFT-CDO-BUSYSTATUS", "ORGANIZER"})
_NOT_BUSY_VALUES = frozenset(
    {("STATUS", "CANCELLED"), ("TRANSP", "TRANSPARENT"), ("X-MICROSOFT-CDO-BUSYSTATUS", "FREE")}
)
# Added to a VEVENT that is not busy (no X- property of the source passes the filter).
_NOT_BUSY = "X-MEETING-SCHEDULER-NOT-BUSY"
_PARENTS = {
    "VCALENDAR": "",
    "VEVENT": "VCALENDAR",
    "VTIMEZONE": "VCALENDAR",
    "STANDARD": "VTIMEZONE",
    "DAYLIGHT": "VTIMEZONE",
}
_NAME = re.compile(r"[A-Za-z0-9-]*")


def _calendars(
    document: bytes, addresses: frozenset[str], window: tuple[date, date]
) -> list[Calendar]:
    # Text values are never used, so undecodable bytes cannot matter.
    lines = _unfolded(bytes(document).decode("utf-8", errors="replace").lstrip("\ufeff"))
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.upper() != "BEGIN:VCALENDAR":
        if not first:
            raise Unreadable("The calendar is empty: its address answered with no data.")
        raise Unreadable(
            f"The calendar is not iCalendar data: it starts with {first[:60]!r}, "
            "not BEGIN:VCALENDAR."
        )
    relevant = _Lines(addresses, window)
    for line in lines:
        relevant.add(line)
    try:
        components = Calendar.from_ical(relevant.text(), multiple=True)
    except (ValueError, OverflowError) as error:
        raise Unreadable(f"The calendar is not iCalendar data: {_detail(error)}") from error
    return [c for c in components if isinstance(c, Calendar)]


def _unfolded(text: str) -> list[str]:
    """The content lines, unfolded: a line break and a space or tab continue a line (RFC 5545
    3.1). icalendar's ``Contentlines.from_ical`` takes 0.7 s on a 9 MB export, 0.5 s of it in
    one regular expression; this takes 0.09 s. icalendar still parses every line kept."""
    return text.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "").split("\n")


@dataclass
class _Event:
    timing: list[str]  # BEGIN, the timing lines, and END
    status: list[str]  # UID and the lines that say whether it is busy
    identity: list[str]  # UID and SEQUENCE
    uid: str | None = None
    days: list[date] = field(default_factory=list)  # of DTSTART and DTEND, roughly
    parse: bool = False  # whatever its dates: it repeats, or its end is not read here

    def outside(self, window: tuple[date, date]) -> bool:
        """Whether a single event certainly misses the window (a calendar's years of
        history): its DTSTART and DTEND dates, read from their digits, both fall more than
        four days before it or after it (a day for the time of day, a day for the zone, and
        the two days the library is asked for around the window)."""
        if self.parse or not self.days:
            return False
        first, last = min(self.days), max(self.days)
        return last < window[0] - _ROUGH_DAYS or first > window[1] + _ROUGH_DAYS


class _Lines:
    """The unfolded content lines icalendar needs: VCALENDAR and VTIMEZONE whole, and of each
    VEVENT its timing lines, and UID and SEQUENCE when other VEVENTs share its UID (an
    override, or an older copy), and :data:`_NOT_BUSY` when it is not busy.

    Other components (VTODO, VJOURNAL, VFREEBUSY, VALARM, X-…) are dropped whole; lines
    outside any component are kept, for icalendar to refuse. A VCALENDAR's VTIMEZONEs are
    moved before its events: icalendar parses a whole document again when one follows.
    """

    def __init__(self, addresses: frozenset[str], window: tuple[date, date]) -> None:
        self._addresses = addresses
        self._window = window
        # Any line that may name the participant (their address, in any case).
        self._mentions = re.compile("|".join(map(re.escape, addresses)) or "(?!)", re.I)
        self._out: list[str] = []
        self._head: list[str] = []  # the current VCALENDAR's own lines
        self._zones: list[str] = []  # its VTIMEZONEs
        self._events: list[_Event] = []
        self._stack: list[str] = []
        self._skipped = 0  # depth inside a dropped component

    def add(self, line: str) -> None:
        name = _NAME.match(line).group().upper()  # type: ignore[union-attr]
        stack = self._stack
        if self._skipped:
            self._skipped += (name == "BEGIN") - (name == "END")
            return
        if not line:
            return
        if name not in ("BEGIN", "END") and stack and stack[-1] == "VEVENT":  # most lines
            self._add_to_event(self._events[-1], name, line)
            return
        if name == "BEGIN":
            component = line.partition(":")[2].strip().upper()
            if _PARENTS.get(component) != (stack[-1] if stack else ""):
                self._skipped = 1
                return
            stack.append(component)
            if component == "VCALENDAR":
                self._head, self._zones, self._events = [], [], []
            elif component == "VEVENT":
                self._events.append(_Event(timing=[], status=[], identity=[]))
        place = stack.pop() if name == "END" and stack else stack[-1] if stack else ""
        if place == "VEVENT":
            self._add_to_event(self._events[-1], name, line)
        elif place == "VCALENDAR":
            self._head.append(line)
            if name == "END":
                self._out += self._head[:-1] + self._zones
                self._out += self._event_lines() + self._head[-1:]
        elif place:
            self._zones.append(line)
        else:
            self._out.append(line)

    def _add_to_event(self, event: _Event, name: str, line: str) -> None:
        if name in ("DTSTART", "DTEND") and (day := _rough_day(line)) is not None:
            event.days.append(day)
        elif name in _TIMING_PROPERTIES:
            event.parse = True
        if name in _TIMING_PROPERTIES or name in ("BEGIN", "END"):
            if name == "END" and _not_busy(event.status, self._addresses):
                event.timing.append(f"{_NOT_BUSY}:TRUE")
            event.timing.append(line)
        elif name == "UID":
            event.uid = _value(line, name).strip()
            event.status.append(line)
            event.identity.append(line)
        elif name == "SEQUENCE":
            event.identity.append(line)
        elif name in _STATUS_PROPERTIES or (name == "ATTENDEE" and self._mentions.search(line)):
            event.status.append(line)

    def _event_lines(self) -> list[str]:
        """UID and SEQUENCE only group a series' components: a unique UID needs neither."""
        shared: dict[str | None, int] = {}
        for event in self._events:
            shared[event.uid] = shared.get(event.uid, 0) + 1
        lines: list[str] = []
        for event in self._events:
            if event.uid is not None and shared[event.uid] > 1:
                lines += event.timing[:1] + event.identity + event.timing[1:]
            elif not event.outside(self._window):
                lines += event.timing
        return lines

    def text(self) -> str:
        if self._stack:
            raise Unreadable(
                f"The calendar ends inside {self._stack[-1]}, before END:VCALENDAR: the data "
                "is cut off."
            )
        return "\r\n".join(self._out)


def _rough_day(line: str) -> date | None:
    """The date of a DTSTART or DTEND line from the first eight digits of its value."""
    value = line.rpartition(":")[2].strip()
    if not value[:8].isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def _not_busy(lines: list[str], addresses: frozenset[str]) -> bool:
    """Whether a VEVENT with these UID and status lines is not busy (see busy_intervals)."""
    organizer = False
    answers: list[str] = []  # PARTSTAT of each ATTENDEE that names the participant
    # Parsing an ATTENDEE line is slow, and only a DECLINED one can change the answer.
    declined = any("declined" in line.lower() for line in lines)
    for line in lines:
        name = _NAME.match(line).group().upper()  # type: ignore[union-attr]
        if name in ("ATTENDEE", "ORGANIZER"):
            if declined:
                attendee = _attendee(line, addresses)
                if attendee is not None and name == "ORGANIZER":
                    organizer = True
                elif attendee is not None:
                    answers.append(attendee)
            continue
        value = _value(line, name).strip()
        if name == "UID" and value.endswith(OWN_UID_SUFFIX):
            return True
        if (name, value.upper()) in _NOT_BUSY_VALUES:
            return True
    # With two of their addresses invited, one acceptance is attendance.
    return not organizer and bool(answers) and all(a == "DECLINED" for a in answers)


def _attendee(line: str, addresses: frozenset[str]) -> str | None:
    """The PARTSTAT of an ATTENDEE or ORGANIZER line that names the participant."""
    try:
        _, params, value = _parts(line)
    except ValueError:
        return None
    if _address(value) in addresses or _address(params.get("EMAIL", "")) in addresses:
        return str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return None


def _value(line: str, name: str) -> str:
    if line[len(name) : len(name) + 1] == ":":  # no parameters, nothing to unquote
        return line[len(name) + 1 :]
    try:
        return _parts(line)[2]
    except ValueError:
        return ""


def _parts(line: str) -> tuple[str, Any, str]:
    """icalendar's reading of one content line: name, parameters and unescaped value."""
    return Contentline(line).parts()  # type: ignore[no-untyped-call]


# --- Time zones ------------------------------------------------------------------------------

# Names zoneinfo knows that are no place's time: the server's own zone, and a placeholder.
_NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})
_MICROSOFT = "tzone://microsoft/"
_NUMBERED = re.compile(r"(.*\S)\s+\d+")  # Outlook's "Eastern Standard Time 1"


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_PLACES


@lru_cache(maxsize=4096)
def _named_zone(tzid: str) -> tzinfo | None:
    """The zone a TZID names: an IANA name, a Windows name, a "globally unique" TZID such as
    ``/mozilla.org/20050126_1/Europe/Berlin``, or Exchange's ``tzone://Microsoft/Utc``."""
    name = tzid.strip().strip("/")
    if name.lower().startswith(_MICROSOFT):
        name = name[len(_MICROSOFT) :]
        if name.lower() == "utc":
            return UTC
    names = _iana_names()
    if name in names:
        return zone(name)
    olson = WINDOWS_TO_OLSON.get(name)
    if olson in names:
        return zone(olson)
    parts = name.split("/")
    for i in range(1, len(parts)):
        if (suffix := "/".join(parts[i:])) in names:
            return zone(suffix)
    return None


class _Zones:
    """TZID → tzinfo for one document, which is read with its own VTIMEZONEs only.

    icalendar caches the first VTIMEZONE it ever parses under a TZID for the whole process
    and uses it for every later document, so one person's "Customized Time Zone" would
    otherwise decide another's times. The TZID's wall time is kept, its zone found again.
    """

    def __init__(self, calendar: Calendar) -> None:
        self._definitions = {
            str(c["TZID"]): c
            for c in calendar.subcomponents
            if isinstance(c, Timezone) and "TZID" in c
        }
        self._found: dict[str, tzinfo | None] = {}
        self._built = 0

    def __call__(self, tzid: str) -> tzinfo | None:
        if tzid not in self._found:
            found = _named_zone(tzid)
            definition = self._definitions.get(tzid)
            if found is None and definition is not None and self._built < _MAX_DEFINED_ZONES:
                self._built += 1
                found = _defined_zone(definition)
            if found is None and (numbered := _NUMBERED.fullmatch(tzid.strip())):
                found = _named_zone(numbered.group(1))
            self._found[tzid] = found
        return self._found[tzid]


class _DefinedZone(tzinfo):
    """A zone a document defines in its own VTIMEZONE, under a TZID no table names (Outlook's
    "Customized Time Zone"), read like zoneinfo: with ``fold=0`` an ambiguous wall time is
    the earlier instant and a wall time in a gap takes the offset before the gap.

    ``offsets[i]`` holds before ``transitions[i]`` (naive UTC), the last one after the last.
    dateutil's ``tzical``, which icalendar builds, reads a gap with the offset after it and
    takes about 130 µs for each offset.
    """

    def __init__(self, name: str, transitions: list[datetime], offsets: list[timedelta]) -> None:
        self._name = name
        self._utc = transitions
        self._offsets = offsets
        pairs = list(itertools.pairwise(offsets))
        self._fold0 = [t + max(pair) for t, pair in zip(transitions, pairs, strict=True)]
        self._fold1 = [t + min(pair) for t, pair in zip(transitions, pairs, strict=True)]

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        thresholds = self._fold1 if dt.fold else self._fold0
        return self._offsets[bisect_right(thresholds, dt.replace(tzinfo=None))]

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return self._name

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=None)
        i = bisect_right(self._utc, utc)
        wall = utc + self._offsets[i]
        # The second pass of a wall time the clock already showed before the change.
        fold = int(i > 0 and wall < self._utc[i - 1] + self._offsets[i - 1])
        return wall.replace(tzinfo=self, fold=fold)

    def __repr__(self) -> str:
        return f"<zone {self._name!r} from a VTIMEZONE>"


# A defined zone is built only from a few yearly rules (Outlook writes two, from 1601):
# icalendar expands each from its start to 2038, or to its COUNT.
_VTIMEZONE_RULE_PARTS = frozenset(
    {"FREQ", "INTERVAL", "BYMONTH", "BYDAY", "BYMONTHDAY", "BYSETPOS", "UNTIL", "COUNT", "WKST"}
)
_MAX_VTIMEZONE_RULES = 10
_MAX_VTIMEZONE_COUNT = 1000
_MAX_DEFINED_ZONES = 20  # in one document; a TZID beyond them is read as floating


def _defined_zone(component: Timezone) -> tzinfo | None:
    """The zone of a VTIMEZONE whose rules are yearly and few, or None."""
    rules = component.subcomponents
    if not 0 < len(rules) <= _MAX_VTIMEZONE_RULES:
        return None
    for rule in rules:
        recur = rule.get("RRULE")
        if recur is not None and not (
            isinstance(recur, vRecur)
            and set(recur) <= _VTIMEZONE_RULE_PARTS
            and recur.get("FREQ") == ["YEARLY"]
            and len(recur.get("BYMONTHDAY", ())) <= 7
            and (_part(recur, "COUNT") or 0) <= _MAX_VTIMEZONE_COUNT
        ):
            return None
    try:
        times, infos = component.get_transitions()
        earliest = min(rules, key=lambda rule: _naive(_property(rule, "DTSTART").dt))
        offsets = [_property(earliest, "TZOFFSETFROM").td, *(info[0] for info in infos)]
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None
    if not times or any(abs(offset) >= timedelta(hours=24) for offset in offsets):
        return None
    return _DefinedZone(str(component["TZID"]), [_naive(t) for t in times], offsets)


def _naive(value: date) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time())


# --- Events ----------------------------------------------------------------------------------

_MOMENTS = ("DTSTART", "DTEND", "RECURRENCE-ID")
_REPEATING = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
# Dates beyond these make the library's span arithmetic overflow; no real event has them.
_FIRST_YEAR, _LAST_YEAR = 1000, 8000
_LONGEST = timedelta(days=1000 * 366)


def _localized(event: Component, zones: _Zones) -> bool:
    """Puts each TZID-bearing time of the event in the zone ``zones`` finds for it (floating
    when none); False for an event whose times are missing, broken or absurd (skipped)."""
    if not isinstance(event.get("DTSTART"), vDDDTypes):
        return False
    for name in _MOMENTS:
        prop = event.get(name)
        if prop is None:
            continue
        if not isinstance(prop, vDDDTypes) or not isinstance(prop.dt, date):
            return False
        moment: date = _in_zone(prop.dt, prop.params, zones)
        prop.dt = moment
        if not _plausible(moment):
            return False
    start = _property(event, "DTSTART").dt
    for name in ("DTEND", "RECURRENCE-ID"):
        other = _property(event, name)
        if other is not None and abs(_rough_utc(other.dt) - _rough_utc(start)) > _LONGEST:
            return False
    duration = event.get("DURATION")
    if duration is not None and not (
        isinstance(duration, vDDDTypes)
        and isinstance(duration.dt, timedelta)
        and abs(duration.dt) <= _LONGEST
    ):
        return False
    for name in ("RDATE", "EXDATE"):
        props = event.get(name)
        for prop in props if isinstance(props, list) else [props] if props else []:
            if not isinstance(prop, vDDDLists):
                return False
            for value in prop.dts:
                value.dt = _in_zone(value.dt, prop.params, zones)
                moments = value.dt if isinstance(value.dt, tuple) else (value.dt,)
                if not all(isinstance(m, date) and _plausible(m) for m in moments[:1]):
                    return False
    return True


def _plausible(value: date) -> bool:
    return _FIRST_YEAR <= value.year <= _LAST_YEAR


def _in_zone(value: Any, params: Any, zones: _Zones) -> Any:
    tzid = params.get("TZID")
    if not tzid:
        return value
    if isinstance(value, tuple):  # an RDATE period: (start, end or duration)
        return tuple(_in_zone(part, params, zones) for part in value)
    if not isinstance(value, datetime):
        return value
    if str(params.get("VALUE", "")).upper() == "DATE":
        return value.date()  # icalendar reads a DATE with a TZID as that zone's midnight
    return value.replace(tzinfo=zones(str(tzid)))


def _rough_utc(value: date) -> datetime:
    """An instant within 14 h of the value's: floating and all-day values read as UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Adapter(EventAdapter):  # type: ignore[misc]
    """recurring_ical_events' VEVENT adapter, with whether the event is busy."""

    def __init__(self, component: Component) -> None:
        super().__init__(component)
        self.busy = _NOT_BUSY not in component
        duration = component.get("DURATION")
        self.stated_duration: timedelta | None = None
        if "DTEND" not in component and duration is not None and duration.dt >= timedelta(0):
            self.stated_duration = duration.dt


@dataclass
class _Reading:
    """One call: the window, the participant's zone, and the work done so far."""

    participant: tzinfo
    span_start: datetime
    span_end: datetime
    days: int
    instances: int = 0
    repetitions: int = 0

    def __post_init__(self) -> None:
        self._first, self._last = utc_minute(self.span_start), utc_minute(self.span_end)

    def busy(self, calendar: Calendar) -> Iterator[tuple[int, int]]:
        """(first, last) UTC minutes of each busy instance in the widened window."""
        zones = _Zones(calendar)
        declared = calendar.pop("X-WR-TIMEZONE", None)
        floating = zones(str(declared)) if declared is not None else None
        groups: dict[str, list[Component]] = {}
        for event in calendar.subcomponents:
            if event.name == "VEVENT" and _localized(event, zones):
                groups.setdefault(str(event.get("UID", id(event))), []).append(event)
        repeating: list[Component] = []
        for group in groups.values():
            if len(group) == 1 and not any(name in group[0] for name in _REPEATING):
                adapter = _Adapter(group[0])
                if not adapter.busy:
                    continue
                minutes = self._minutes(adapter, adapter.start, adapter.end, floating)
                if minutes is not None:
                    if minutes[1] > self._first and minutes[0] < self._last:
                        self._count_instance()  # as the library counts them: in the window
                    yield minutes
            else:
                repeating += group
        if repeating:
            yield from self._expanded(calendar, repeating, floating)

    def _expanded(
        self, calendar: Calendar, events: list[Component], floating: tzinfo | None
    ) -> Iterator[tuple[int, int]]:
        """Repeating events and overrides, expanded by recurring_ical_events."""
        calendar.subcomponents = events
        if floating is not None:
            # Google writes a repeating event's start in UTC and means its wall time in
            # X-WR-TIMEZONE; a single event's instant needs no repair.
            calendar = x_wr_timezone.to_standard(calendar, timezone=floating)
        calendar.subcomponents = [e for e in calendar.subcomponents if self._bounded(e)]
        try:
            query = recurring_ical_events.of(
                calendar, skip_bad_series=True, components=[self._selection()]
            )
            instances = query.between(self.span_start, self.span_end)
        except (recurring_ical_events.InvalidCalendar, ValueError, OverflowError) as error:
            raise Unreadable(f"The calendar cannot be read: {_detail(error)}") from error
        for instance in instances:
            minutes = self._minutes(instance.adapter, instance.start, instance.end, floating)
            if instance.adapter.busy and minutes is not None:
                yield minutes

    def _selection(self) -> ComponentsWithName:
        """The library's classes with two changes: an instance is counted as it is made, so
        that the limit stops the work, and it is returned as itself, not copied."""
        count_instance = self._count_instance

        class Instance(Occurrence):  # type: ignore[misc]
            def __init__(self, adapter: _Adapter, *args: Any, **kwargs: Any) -> None:
                count_instance()
                super().__init__(adapter, *args, **kwargs)
                self.adapter = adapter

            def as_component(self, keep_recurrence_attributes: bool) -> Instance:
                return self

        return ComponentsWithName("VEVENT", adapter=_Adapter, occurrence=Instance)

    def _count_instance(self) -> None:
        self.instances += 1
        if self.instances > MAX_INSTANCES:
            raise Unreadable(
                f"The calendar has more than {MAX_INSTANCES:,} events in the next {self.days} "
                "days (each repetition of a repeating event counts); share a calendar with "
                "fewer events."
            )

    def _minutes(
        self, adapter: _Adapter, start: date, end: date, floating: tzinfo | None
    ) -> tuple[int, int] | None:
        """The UTC minutes of one instance, or None for an instant (no time at all).

        A DURATION's days are added on the wall clock and its hours, minutes and seconds as
        elapsed time (RFC 5545 3.3.6), so "PT2H" from 01:00 lasts two hours across a clock
        change; the library adds all of it on the wall clock.
        """
        last = self._instant(end, floating)
        duration = adapter.stated_duration
        if duration is not None and isinstance(start, datetime) and end == start + duration:
            nominal = timedelta(days=duration.days)
            last = self._instant(start + nominal, floating).astimezone(UTC)
            last += duration - nominal
        a, b = utc_minute(self._instant(start, floating)), utc_minute_ceil(last)
        return (a, b) if b > a else None

    def _instant(self, value: date, floating: tzinfo | None) -> datetime:
        if not isinstance(value, datetime):
            return datetime.combine(value, time(), tzinfo=self.participant)
        if value.tzinfo is None:
            return value.replace(tzinfo=floating or self.participant)
        return value

    # --- Bounding the work -------------------------------------------------------------------

    def _bounded(self, event: Component) -> bool:
        """Checks each RRULE (dropping the event if dateutil cannot read one), counts its
        repetitions towards ``MAX_REPETITIONS`` and ends it with the window: an UNTIL beyond
        the window, or none, becomes the window's end, and so does a COUNT whose last
        repetition falls after it. A rule that never matches is dropped."""
        rules = event.get("RRULE")
        if rules is None:
            return True
        rules = rules if isinstance(rules, list) else [rules]
        if not all(isinstance(rule, vRecur) for rule in rules):
            return False
        start = _property(event, "DTSTART").dt
        try:
            bounded = [self._bounded_rule(rule, start) for rule in rules]
        except (ValueError, TypeError, KeyError, OverflowError):
            return False
        kept = [rule for rule in bounded if rule is not None]
        if kept:
            event["RRULE"] = kept if len(kept) > 1 else kept[0]
        else:
            del event["RRULE"]  # the event happens at its DTSTART only
        return True

    def _bounded_rule(self, rule: vRecur, start: date) -> vRecur | None:
        frequency = _part(rule, "FREQ")
        if frequency not in _FREQUENCY_SECONDS:
            raise ValueError(f"FREQ={frequency} is not a frequency")
        first = start if isinstance(start, datetime) else datetime.combine(start, time())
        if not self._ever_matches(rule, frequency, first, start):
            return None
        window_end = _until_like(self.span_end, start)
        bounded = vRecur(rule)
        count = _part(rule, "COUNT")
        if count is not None and count < 1:
            del bounded["COUNT"]
            count = None
        if (until := _part(rule, "UNTIL")) is not None:
            bounded["UNTIL"] = [min(_until_like(until, start), window_end)]
        elif count is None:
            bounded["UNTIL"] = [window_end]
        last = min(_rough_utc(bounded["UNTIL"][0]), self.span_end) if until else self.span_end
        steps = _repetitions(rule, frequency, _rough_utc(start), last)
        self._count_repetitions(steps * (1 if "UNTIL" in bounded else 2), rule, start)
        if "UNTIL" in bounded:
            return bounded
        # COUNT alone: when the window ends before the COUNT-th repetition, ending the rule
        # with the window instead keeps every repetition that matters.
        ended = vRecur(bounded)
        del ended["COUNT"]
        ended["UNTIL"] = [window_end]
        repetitions = rrulestr(_rule_text(ended), dtstart=first)
        return ended if sum(1 for _ in itertools.islice(repetitions, count)) < count else bounded

    def _ever_matches(self, rule: vRecur, frequency: str, first: datetime, start: date) -> bool:
        """Whether the rule has a repetition after its start.

        dateutil searches a rule that never matches ("30 February") to the year 9999, and
        neither UNTIL nor COUNT stop it: 3 s for a daily rule, 7 s for a minutely one. The
        Gregorian calendar repeats every 400 years, so the same rule from the same date
        moved to 9600-9999 has a repetition exactly when the rule has one, and there the
        search stops at 9999. Its length is counted towards ``MAX_REPETITIONS``.
        """
        wall = first.replace(tzinfo=None)
        moved = wall.replace(year=wall.year + 400 * ((9600 - wall.year + 399) // 400))
        unbounded = vRecur(rule)
        unbounded.pop("COUNT", None)
        unbounded.pop("UNTIL", None)
        # dateutil finds some rules broken only as it iterates (BYHOUR=25 is a TypeError).
        found = next(iter(rrulestr(_rule_text(unbounded), dtstart=moved)), None)
        years = (found.year if found is not None else MAXYEAR + 1) - moved.year
        self._count_repetitions(years * _SEARCH_STEPS_A_YEAR[frequency], rule, start)
        return found is not None

    def _count_repetitions(self, steps: int, rule: vRecur, start: date) -> None:
        self.repetitions += steps
        if self.repetitions <= MAX_REPETITIONS:
            return
        until = f"{self.span_end - _MARGIN:%Y-%m-%d}"
        if steps > MAX_REPETITIONS:
            raise Unreadable(
                f"The calendar has a repeating event ({_rule_text(rule)}, from "
                f"{start:%Y-%m-%d}) that would repeat more than {MAX_REPETITIONS:,} times "
                f"before {until}; end that series (or start it later) and try again."
            )
        raise Unreadable(
            f"The calendar's repeating events would take more than {MAX_REPETITIONS:,} "
            f"repetitions to expand, counting each from its first date to {until} (and 400 "
            "years for a rule that never matches, such as 30 February); end old series and "
            "try again."
        )


# What dateutil's search for a match costs a year, in repetitions (about 1.1 µs each here):
# measured on a rule that never matches. Sub-daily rules skip non-matching days whole.
_SEARCH_STEPS_A_YEAR = {"YEARLY": 60, "MONTHLY": 60, "WEEKLY": 150, "DAILY": 500}
_SEARCH_STEPS_A_YEAR |= dict.fromkeys(("SECONDLY", "MINUTELY", "HOURLY"), 1000)
_FREQUENCY_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}


def _property(component: Component, name: str) -> Any:
    """A property of a component (icalendar types it as any of its property classes)."""
    return component.get(name)


def _rule_text(rule: vRecur) -> str:
    return rule.to_ical().decode()  # type: ignore[no-untyped-call,no-any-return]


def _part(rule: vRecur, name: str) -> Any:
    values = rule.get(name)
    return values[0] if values else None


def _until_like(value: date, start: date) -> date:
    """An UNTIL in the form dateutil needs with ``start``, reading a mismatched one as
    recurring_ical_events does: a DATE-TIME by its date for a DATE start, a floating or DATE
    UNTIL as UTC for a zoned start."""
    if not isinstance(start, datetime):
        return value.date() if isinstance(value, datetime) else value
    moment = value if isinstance(value, datetime) else datetime.combine(value, time())
    if start.tzinfo is None:
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _repetitions(rule: vRecur, frequency: str, first: datetime, last: datetime) -> int:
    """An upper bound on the repetitions dateutil generates from ``first`` to ``last``."""
    interval = _part(rule, "INTERVAL")
    step = _FREQUENCY_SECONDS[frequency] * max(1, interval if isinstance(interval, int) else 1)
    periods = max(0, int((last - first).total_seconds())) // step + 1

    def n(name: str) -> int:
        return len(rule.get(name) or ())

    days = 1
    if frequency == "WEEKLY":
        days = n("BYDAY") or 1
    elif frequency == "MONTHLY":
        days = n("BYMONTHDAY") or 5 * n("BYDAY") or 1
    elif frequency == "YEARLY" and n("BYYEARDAY"):
        days = n("BYYEARDAY")
    elif frequency == "YEARLY" and n("BYWEEKNO"):
        days = n("BYWEEKNO") * (n("BYDAY") or 7)
    elif frequency == "YEARLY":
        within = n("BYMONTHDAY") or 5 * n("BYDAY")
        days = (n("BYMONTH") or 12) * within if within else n("BYMONTH") or 1
    for name, seconds in (("BYHOUR", 3600), ("BYMINUTE", 60), ("BYSECOND", 1)):
        if _FREQUENCY_SECONDS[frequency] > seconds:
            days *= n(name) or 1
    return periods * max(1, min(days, n("BYSETPOS")) if n("BYSETPOS") else days)
