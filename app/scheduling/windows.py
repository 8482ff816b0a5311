"""When a person works: weekly windows laid out in UTC, and the dates they are away.

Rules (docs/rules.md, "Working hours"):

* Each weekly window starts on its listed weekdays at ``start`` local time and ends at
  ``end`` the same day, or the next day when ``end <= start`` (a night shift); ``24:00`` is
  the next midnight.
* Wall times become instants with PEP 495 ``fold=0``: an ambiguous time takes the earlier
  instant; a time in a spring-forward gap is read with the offset in force before the gap.
  So a window may be an hour shorter or longer than written on a DST day, and a window lying
  wholly inside a gap can come out empty (then it is dropped).
* A window is dropped when its *start* date is a public holiday (``holidays`` package,
  country + subdivision) or a time-off date of its owner. An overnight shift that starts the
  evening before a holiday is kept; the burden rules then mark the holiday minutes
  unavailable.
* Overlapping or touching windows merge into one.
* Busy times from the person's own calendars (``Person.busy``) leave the windows as they
  are: only those minutes are unavailable, with the reason :data:`BUSY`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays
import numpy as np

from app.scheduling.clock import (
    Minutes,
    day_number,
    require_aware,
    utc_datetime,
    utc_minute,
    utc_minute_ceil,
    zone_span,
)
from app.scheduling.model import MINUTES_PER_DAY, InvalidInput, Person

_EMPTY: Minutes = np.zeros(0, dtype=np.int64)
_EMPTY.flags.writeable = False
BUSY = "busy (calendar)"


def _load_public_holidays(
    country: str, subdivision: str | None, year: int
) -> tuple[tuple[date, str], ...]:
    """The public holidays of one calendar year, cached per (country, subdivision, year)."""
    try:
        with warnings.catch_warnings():
            # Lunar-calendar holidays are tabulated for a limited range of years (India's
            # for 2001–2035) and `holidays` warns outside it; the known ones still apply.
            warnings.simplefilter("ignore", UserWarning)
            calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except (NotImplementedError, KeyError) as exc:
        where = f"{country}-{subdivision}" if subdivision else country
        raise InvalidInput(
            ("holiday_country",),
            f"No holiday calendar for {where!r}; use an ISO 3166 country code such as 'PH' "
            "and, optionally, one of its subdivisions.",
        ) from exc
    return tuple(sorted(calendar.items()))


# The cache wraps a plain function (not a decorator) so that mutation testing reaches its body.
_public_holidays = lru_cache(maxsize=4096)(_load_public_holidays)


def unavailable_dates(person: Person, first: date, last: date) -> dict[date, str]:
    """The person's local dates in ``[first, last]`` (inclusive) that are public holidays of
    their calendar or time off, each with a human reason, in date order.

    A public holiday's reason wins over time off on the same date.

    >>> ana = Person("ana", "America/New_York", (), holiday_country="US",
    ...              time_off=((date(2026, 11, 25), date(2026, 11, 27)),))
    >>> for day, why in unavailable_dates(ana, date(2026, 11, 24), date(2026, 11, 30)).items():
    ...     print(day, why)
    2026-11-25 time off
    2026-11-26 public holiday in US: Thanksgiving Day
    2026-11-27 time off
    """
    found: dict[date, str] = {}
    if last < first:
        return found
    if person.holiday_country:
        country, subdivision = person.holiday_country, person.holiday_subdivision
        label = f"{country}-{subdivision}" if subdivision else country
        for year in range(first.year, last.year + 1):
            for day, name in _public_holidays(country, subdivision, year):
                if first <= day <= last:
                    found[day] = f"public holiday in {label}: {name}"
    for away_first, away_last in person.time_off:
        day, stop = max(away_first, first), min(away_last, last)
        while day <= stop:
            found.setdefault(day, "time off")
            day += timedelta(days=1)
    return dict(sorted(found.items()))


def merge_intervals(starts: Minutes, ends: Minutes) -> tuple[Minutes, Minutes]:
    """Merge half-open intervals that overlap or touch; the result is sorted and disjoint."""
    if len(starts) == 0:
        return _EMPTY, _EMPTY
    order = np.argsort(starts)  # any order of equal starts gives the same groups
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    # An interval opens a group when it starts after everything before it has ended.
    idx = np.flatnonzero(np.concatenate(([True], starts[1:] > reach[:-1])))
    return starts[idx], np.maximum.reduceat(ends, idx)


@dataclass(frozen=True)
class WorkingTimeline:
    """One person's working windows and unavailable stretches as sorted UTC minutes.

    Built by :func:`working_timeline` for a UTC range and exact for everything intersecting
    it: ``starts``/``ends`` are the merged windows; ``off_starts``/``off_ends`` are the
    stretches whose local date is a holiday or time off (disjoint, sorted), ``off_days`` the
    local day number of each and ``off_reasons`` the reason per day number;
    ``busy_starts``/``busy_ends`` the person's busy times from their calendars that meet the
    range (disjoint, sorted; they may overlap the stretches).
    """

    starts: Minutes
    ends: Minutes
    off_starts: Minutes
    off_ends: Minutes
    off_days: Minutes
    off_reasons: dict[int, str]
    busy_starts: Minutes
    busy_ends: Minutes


def timeline_dates(lo: int, hi: int) -> tuple[date, date]:
    """The local dates whose windows or holidays can touch UTC minutes ``[lo, hi)`` in any
    zone: offsets are within ±1 day and a window ends by the second midnight after its
    start date. Time off outside these dates cannot matter."""
    two_days = timedelta(days=2)
    return utc_datetime(lo).date() - two_days, utc_datetime(hi).date() + two_days


def working_timeline(person: Person, lo: int, hi: int) -> WorkingTimeline:
    """Windows and unavailable stretches of ``person`` exact over UTC minutes ``[lo, hi)``.

    Everything is vectorized over the local days of the range; nothing is per minute.
    """
    span = zone_span(person.timezone, lo - 3 * MINUTES_PER_DAY, hi + 3 * MINUTES_PER_DAY)
    first, last = timeline_dates(lo, hi)
    first_day, last_day = day_number(first), day_number(last)
    away = unavailable_dates(person, first, last)
    away_days = np.array([day_number(d) for d in away], dtype=np.int64)

    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    working_day = np.ones(len(days), dtype=bool)
    working_day[away_days - first_day] = False
    start_walls: list[Minutes] = []
    end_walls: list[Minutes] = []
    for window in person.working_hours:
        midnight = days[np.isin(weekday, list(window.days)) & working_day] * MINUTES_PER_DAY
        start_walls.append(midnight + window.start_minute)
        end_walls.append(
            midnight + window.end_minute + (MINUTES_PER_DAY if window.overnight else 0)
        )
    if start_walls:
        starts = span.to_utc(np.concatenate(start_walls))
        ends = span.to_utc(np.concatenate(end_walls))
        real = ends > starts  # a window wholly inside a spring-forward gap vanishes
        starts, ends = merge_intervals(starts[real], ends[real])
    else:
        starts, ends = _EMPTY, _EMPTY

    off_starts, off_ends, off_days = _EMPTY, _EMPTY, _EMPTY
    if len(away_days):
        # The UTC minutes whose local date is day n: per stretch of constant offset o,
        # [n·1440 − o, (n+1)·1440 − o) clipped to the stretch. Every minute has one local
        # date, so the pieces are disjoint.
        piece_starts, piece_ends, offsets = span.pieces()
        n = away_days[:, None]
        a = np.maximum(n * MINUTES_PER_DAY - offsets, piece_starts)
        b = np.minimum((n + 1) * MINUTES_PER_DAY - offsets, piece_ends)
        real = b > a
        order = np.argsort(a[real])  # disjoint and non-empty: no ties
        off_starts = a[real][order]
        off_ends = b[real][order]
        off_days = np.broadcast_to(n, a.shape)[real][order]
    reasons = {day_number(d): why for d, why in away.items()}
    busy_starts, busy_ends = person.busy.between(lo, hi)
    return WorkingTimeline(
        starts, ends, off_starts, off_ends, off_days, reasons, busy_starts, busy_ends
    )


def _aware_utc(value: datetime, loc: str) -> datetime:
    require_aware(value, loc)
    return value.astimezone(UTC)


def working_windows(
    person: Person, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The person's merged working windows as aware UTC datetimes, clipped to ``[start, end)``.

    Overnight shift across a DST change — Saturday 22:00–06:00 in New York on the night
    clocks spring forward lasts 7 hours (22:00 EST = 03:00Z, 06:00 EDT = 10:00Z):

    >>> from app.scheduling.model import parse_working_hours
    >>> def show(windows): return [f"{a:%a %H:%M}–{b:%a %H:%M}Z" for a, b in windows]
    >>> night = Person("ana", "America/New_York",
    ...                parse_working_hours([{"days": ["sat"], "start": "22:00", "end": "06:00"}]))
    >>> show(working_windows(night, datetime(2026, 3, 7, tzinfo=UTC),
    ...                      datetime(2026, 3, 9, tzinfo=UTC)))
    ['Sun 03:00–Sun 10:00Z']

    Kathmandu is UTC+05:45, so 09:00–17:00 there is 03:15Z–11:15Z:

    >>> ram = Person("ram", "Asia/Kathmandu",
    ...              parse_working_hours([{"days": ["mon"], "start": "09:00", "end": "17:00"}]))
    >>> show(working_windows(ram, datetime(2026, 6, 1, tzinfo=UTC),
    ...                      datetime(2026, 6, 2, tzinfo=UTC)))
    ['Mon 03:15–Mon 11:15Z']

    A spring-forward gap inside a window shortens it: 00:00–08:00 on 2026-03-08 in New York
    is 05:00Z–12:00Z (7 h). A window *starting* in the gap reads the start with the offset
    before the gap: 02:30–09:00 is 07:30Z–13:00Z.

    >>> early = Person("bo", "America/New_York", parse_working_hours(
    ...     [{"days": ["sun"], "start": "00:00", "end": "08:00"}]))
    >>> gap = Person("cy", "America/New_York", parse_working_hours(
    ...     [{"days": ["sun"], "start": "02:30", "end": "09:00"}]))
    >>> for p in (early, gap):
    ...     print(show(working_windows(p, datetime(2026, 3, 8, tzinfo=UTC),
    ...                                datetime(2026, 3, 9, tzinfo=UTC))))
    ['Sun 05:00–Sun 12:00Z']
    ['Sun 07:30–Sun 13:00Z']
    """
    start, end = _aware_utc(start, "start"), _aware_utc(end, "end")
    if end <= start:
        return []
    lo, hi = utc_minute(start), utc_minute_ceil(end)
    timeline = working_timeline(person, lo, hi)
    # The windows that end after minute lo and start before minute hi: exactly those that
    # meet [start, end), so none of them clips to nothing.
    first = int(np.searchsorted(timeline.ends, lo, side="right"))
    last = int(np.searchsorted(timeline.starts, hi))  # side="left": starts < hi
    starts, ends = timeline.starts[first:last], timeline.ends[first:last]
    pairs = zip(starts, ends, strict=True)  # pragma: no mutate: the two slices have one length
    return _clipped(pairs, start, end)


def _clipped(
    intervals: Iterable[tuple[np.int64, np.int64]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Intervals of UTC minutes that meet ``[start, end)``, clipped to it."""
    return [
        (max(utc_datetime(int(a)), start), min(utc_datetime(int(b)), end)) for a, b in intervals
    ]
