"""The core's vocabulary: people, their weekly working windows, and input errors.

Plain dataclasses on stdlib types; everything else in ``app.scheduling`` builds on these.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import numpy.typing as npt

from app.scheduling.limits import MAX_WORKING_WINDOWS, TOO_MANY_WORKING_WINDOWS

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class InvalidInput(ValueError):
    """Input a person must correct; ``loc`` points at the offending field.

    >>> InvalidInput(("working_hours", 0, "start"), "use HH:MM").loc
    ('working_hours', 0, 'start')
    """

    def __init__(self, loc: Sequence[str | int], msg: str) -> None:
        super().__init__(msg)
        self.loc: tuple[str | int, ...] = tuple(loc)
        self.msg = msg


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """One weekly working window in the owner's local wall time.

    ``days`` are the weekdays (0 = Monday … 6 = Sunday) on which the window *starts*.
    ``end_minute <= start_minute`` means the window runs past midnight into the next day:
    ``WeeklyWindow(frozenset({6}), 21 * 60, 6 * 60)`` starts Sunday 21:00, ends Monday 06:00.
    ``end_minute == 1440`` is "24:00".
    """

    days: frozenset[int]
    start_minute: int
    end_minute: int

    @property
    def overnight(self) -> bool:
        return self.end_minute <= self.start_minute

    @property
    def length_minutes(self) -> int:
        if self.overnight:
            return MINUTES_PER_DAY - self.start_minute + self.end_minute
        return self.end_minute - self.start_minute

    def to_json(self) -> dict[str, Any]:
        return {
            "days": [WEEKDAYS[d] for d in sorted(self.days)],
            "start": format_hhmm(self.start_minute),
            "end": format_hhmm(self.end_minute),
        }


class BusyTimes:
    """When a person's own calendar says they are busy: half-open intervals of UTC minutes
    (since 1970-01-01T00:00Z), sorted and disjoint; overlapping or touching ones are merged.

    Hashed and compared by a digest of its minutes, so a person with thousands of busy
    intervals is as cheap a cache key as one with none.

    >>> busy = BusyTimes([(100, 160), (0, 30), (30, 45), (150, 200)])
    >>> busy.intervals()
    [(0, 45), (100, 200)]
    >>> busy == BusyTimes([(0, 45), (100, 200)]), len(busy), bool(BusyTimes(()))
    (True, 2, False)
    """

    __slots__ = ("_digest", "ends", "starts")

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        given = intervals if isinstance(intervals, list | tuple) else list(intervals)
        pairs = np.array(given, dtype=np.int64).reshape(-1, 2)
        pairs = pairs[pairs[:, 1] > pairs[:, 0]]
        pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]  # merging below needs no more
        starts: npt.NDArray[np.int64] = np.ascontiguousarray(pairs[:, 0])
        ends: npt.NDArray[np.int64] = np.ascontiguousarray(pairs[:, 1])
        if len(starts):
            reach = np.maximum.accumulate(ends)
            opens = np.flatnonzero(np.concatenate(([True], starts[1:] > reach[:-1])))
            starts, ends = starts[opens], np.maximum.reduceat(ends, opens)
        starts.flags.writeable = ends.flags.writeable = False
        self.starts, self.ends = starts, ends
        self._digest = hashlib.blake2b(starts.tobytes() + ends.tobytes(), digest_size=16).digest()

    @property
    def digest(self) -> bytes:
        return self._digest

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self.starts.tolist(), self.ends.tolist(), strict=True))

    def between(self, lo: int, hi: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The intervals that meet UTC minutes ``[lo, hi)`` (unclipped)."""
        first = int(np.searchsorted(self.ends, lo, side="right"))
        last = int(np.searchsorted(self.starts, hi, side="left"))
        return self.starts[first:last], self.ends[first:last]

    def key(self, lo: int, hi: int) -> tuple[int, bytes]:
        """Equal for two people exactly when their intervals meeting ``[lo, hi)`` are equal
        (and, to stay cheap, their whole calendars are too)."""
        return len(self.between(lo, hi)[0]), self._digest

    def __len__(self) -> int:
        return len(self.starts)

    def __hash__(self) -> int:
        return hash(self._digest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BusyTimes) and other._digest == self._digest

    def __repr__(self) -> str:
        return f"BusyTimes({len(self)} intervals)"


NOT_BUSY = BusyTimes(())


@dataclass(frozen=True, slots=True)
class Person:
    """Everything the core needs to know about one participant (effective values)."""

    id: str
    timezone: str
    working_hours: tuple[WeeklyWindow, ...]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    time_off: tuple[tuple[date, date], ...] = field(default=())  # inclusive local dates
    max_stretch_minutes: int = 180
    busy: BusyTimes = NOT_BUSY  # from their own calendars (app.calendars)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)


def format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_hhmm(value: object, loc: Sequence[str | int]) -> int:
    """``"09:30"`` → 570; ``"24:00"`` → 1440. Anything else raises :class:`InvalidInput`."""
    if not isinstance(value, str) or not (m := _HHMM.match(value)):
        raise InvalidInput(loc, f"{value!r} is not a time of day; use HH:MM from 00:00 to 24:00.")
    minute = int(m.group(1)) * 60 + int(m.group(2))
    if minute > MINUTES_PER_DAY:
        raise InvalidInput(loc, f"{value!r} is past 24:00; use HH:MM from 00:00 to 24:00.")
    return minute


def parse_working_hours(
    raw: object, loc: Sequence[str | int] = ("working_hours",)
) -> tuple[WeeklyWindow, ...]:
    """Validate the JSON form of working hours and return windows.

    >>> parse_working_hours([{"days": ["sun"], "start": "21:00", "end": "06:00"}])[0].overnight
    True
    """
    base = tuple(loc)
    if not isinstance(raw, list):
        raise InvalidInput(base, "Working hours must be a list of {days, start, end} windows.")
    if len(raw) > MAX_WORKING_WINDOWS:
        raise InvalidInput(base, TOO_MANY_WORKING_WINDOWS)
    windows: list[WeeklyWindow] = []
    for i, item in enumerate(raw):
        here = (*base, i)
        if not isinstance(item, dict):
            raise InvalidInput(here, "Each window must be an object with days, start and end.")
        extra = set(item) - {"days", "start", "end"}
        if extra:
            raise InvalidInput(here, f"Unknown key(s) {sorted(extra)}; use days, start and end.")
        days_raw = item.get("days")
        if not isinstance(days_raw, list) or not days_raw:
            raise InvalidInput((*here, "days"), 'List at least one weekday, e.g. ["mon", "tue"].')
        days: set[int] = set()
        for j, d in enumerate(days_raw):
            if not isinstance(d, str) or d.lower() not in WEEKDAYS:
                raise InvalidInput(
                    (*here, "days", j),
                    f"{d!r} is not a weekday; use one of {', '.join(WEEKDAYS)}.",
                )
            days.add(WEEKDAYS.index(d.lower()))
        start = parse_hhmm(item.get("start"), (*here, "start"))
        end = parse_hhmm(item.get("end"), (*here, "end"))
        if start == MINUTES_PER_DAY:
            raise InvalidInput((*here, "start"), "A window cannot start at 24:00; use 00:00.")
        if start == end or (start == 0 and end == 0):
            raise InvalidInput(
                (*here, "end"),
                "start and end are equal; a whole day is 00:00 to 24:00.",
            )
        windows.append(WeeklyWindow(frozenset(days), start, end))
    return tuple(windows)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name already validated by :func:`validate_timezone`."""
    return ZoneInfo(name)


# Names zoneinfo knows that are not a place's civil time, each with what to write instead.
# "localtime" is whatever zone the server runs in, "Factory" a placeholder with no offset;
# the System V names read like a region's time but are fixed offsets (EST is UTC−5 in July
# too) or old spellings of a city's rules; GMT is UTC+0 all year (no British Summer Time);
# and UTC has one spelling here, "UTC" (or "Etc/UTC"). The explicit fixed offsets
# Etc/GMT+12 … Etc/GMT-14 stay for whoever really means one (note the POSIX sign:
# Etc/GMT+5 is UTC−5).
def _fixed(name: str, offset: int, zones: str) -> str:
    etc = f"Etc/GMT{-offset:+d}"
    return (
        f"{name!r} is UTC{offset:+d} all year, without daylight saving; use an IANA zone such "
        f"as {zones}, or {etc!r} if you really mean a fixed offset."
    ).replace("UTC-", "UTC−")


def _legacy(name: str, zones: str) -> str:
    return f"{name!r} is a legacy name; use {zones}."


_CENTRAL_EUROPE = "a city's zone such as 'Europe/Paris' or 'Europe/Berlin'"
_REFUSED: dict[str, str] = {
    "localtime": "'localtime' is whatever zone the server runs in, not a place's time zone; "
    "give an IANA name such as 'Asia/Manila'.",
    "Factory": "'Factory' is a placeholder with no offset, not a place's time zone; "
    "give an IANA name such as 'Asia/Manila'.",
    "EST": _fixed("EST", -5, "'America/New_York' (Eastern Time)"),
    "MST": _fixed("MST", -7, "'America/Denver' (Mountain Time) or 'America/Phoenix' (Arizona)"),
    "HST": _fixed("HST", -10, "'Pacific/Honolulu' (Hawaii)"),
    "EST5EDT": _legacy("EST5EDT", "'America/New_York'"),
    "CST6CDT": _legacy("CST6CDT", "'America/Chicago'"),
    "MST7MDT": _legacy("MST7MDT", "'America/Denver'"),
    "PST8PDT": _legacy("PST8PDT", "'America/Los_Angeles'"),
    "CET": _legacy("CET", _CENTRAL_EUROPE),
    "MET": _legacy("MET", _CENTRAL_EUROPE),
    "EET": _legacy("EET", "a city's zone such as 'Europe/Athens' or 'Europe/Helsinki'"),
    "WET": _legacy("WET", "a city's zone such as 'Europe/Lisbon'"),
    **{
        n: f"{n!r} is UTC+0 all year, without British Summer Time; use 'Europe/London' for UK "
        "time, or 'UTC' if you really mean a fixed offset."
        for n in ("GMT", "GMT+0", "GMT-0", "GMT0", "Greenwich")
        for n in (n, f"Etc/{n}")
    },
    **{
        n: f"{n!r} is another name for UTC; write 'UTC'."
        for n in ("UCT", "Universal", "Zulu")
        for n in (n, f"Etc/{n}")
    },
}
_REFUSED_BY_LOWER = {n.lower(): msg for n, msg in _REFUSED.items()}
REFUSED_TIMEZONES: frozenset[str] = frozenset(_REFUSED)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - REFUSED_TIMEZONES


def validate_timezone(name: object, loc: Sequence[str | int] = ("timezone",)) -> str:
    """Return ``name`` if it is an IANA zone of a place (or UTC, or an explicit ``Etc/GMT±N``
    offset); otherwise say what to write instead.

    Names that zoneinfo knows but that mislead are refused with the zone to use: ``EST`` is
    UTC−5 all year, so in July it is an hour off New York's time.

    >>> validate_timezone("Asia/Kathmandu")
    'Asia/Kathmandu'
    >>> validate_timezone("PST8PDT")
    Traceback (most recent call last):
    ...
    app.scheduling.model.InvalidInput: 'PST8PDT' is a legacy name; use 'America/Los_Angeles'.
    """
    if not isinstance(name, str) or not name:
        raise InvalidInput(loc, "Give an IANA time zone name such as 'Asia/Manila'.")
    refused = _REFUSED_BY_LOWER.get(name.lower())
    if refused is not None:
        raise InvalidInput(loc, refused)
    names = _zone_names()
    if name in names:
        try:
            zone(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return name
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        raise InvalidInput(
            loc, f"Unknown time zone {name!r}; did you mean {by_lower[name.lower()]!r}?"
        )
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise InvalidInput(
        loc, f"Unknown time zone {name[:80]!r}; use an IANA name such as 'Asia/Manila'.{hint}"
    )
