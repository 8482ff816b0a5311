"""The core's vocabulary: people, their weekly working windows, and input errors.

Plain dataclasses on stdlib types; everything else in ``app.scheduling`` builds on these.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
    if len(raw) > 100:
        raise InvalidInput(base, "At most 100 working-hour windows are allowed.")
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


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(name: object, loc: Sequence[str | int] = ("timezone",)) -> str:
    """Return ``name`` if it is an IANA zone; otherwise say which names are close.

    >>> validate_timezone("Asia/Kathmandu")
    'Asia/Kathmandu'
    """
    if not isinstance(name, str) or not name:
        raise InvalidInput(loc, "Give an IANA time zone name such as 'Asia/Manila'.")
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
