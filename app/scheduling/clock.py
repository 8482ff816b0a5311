"""Time as whole minutes, and a zone's UTC offsets as arrays for vectorized conversion.

The core computes on integers: a *UTC minute* is a count of minutes since
1970-01-01T00:00Z; a *wall minute* is the same count on a zone's local wall clock
(``utc minute + UTC offset``), so ``wall // 1440`` is the local date as a day number.

Converting wall time to UTC follows PEP 495 with ``fold=0``, exactly as :mod:`zoneinfo` does:
an ambiguous wall time (autumn overlap) takes the earlier instant, and a wall time inside a
spring-forward gap is read with the offset in force before the gap.

>>> span = zone_span("America/New_York", utc_minute(datetime(2026, 3, 1, tzinfo=UTC)),
...                  utc_minute(datetime(2026, 3, 31, tzinfo=UTC)))
>>> wall = wall_minute(datetime(2026, 3, 8, 2, 30))  # in the gap: 02:00-03:00 never happens
>>> utc_datetime(int(span.to_utc(np.array([wall]))[0]))  # read with EST, the offset before
datetime.datetime(2026, 3, 8, 7, 30, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from app.scheduling.model import MINUTES_PER_DAY, InvalidInput, zone

Minutes = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US_PER_MINUTE = 60_000_000
# Far past / far future in minutes; safe to add a few days to without overflowing int64.
NEVER_BEFORE = -(2**60)
NEVER_AFTER = 2**60
# Probing step when discovering transitions; no zone has had two transitions within 6 h.
_PROBE_MINUTES = 6 * 60
_FIRST_YEAR, _LAST_YEAR = 1901, 9998


def require_aware(value: datetime, loc: str) -> None:
    """Raise :class:`InvalidInput` unless ``value`` is a timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise InvalidInput((loc,), f"{loc} must be a datetime with a UTC offset.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            (loc,), f"{loc} has no time zone; give an aware datetime such as 2026-10-06T13:00Z."
        )


def _microseconds(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def utc_minute(value: datetime) -> int:
    """The UTC minute containing an aware datetime (floor)."""
    return _microseconds(value) // _US_PER_MINUTE


def utc_minute_ceil(value: datetime) -> int:
    """The first UTC minute at or after an aware datetime."""
    return -(-_microseconds(value) // _US_PER_MINUTE)


def utc_datetime(minute: int) -> datetime:
    """UTC minute → aware UTC datetime."""
    return EPOCH + timedelta(minutes=int(minute))


def wall_minute(value: datetime) -> int:
    """A naive wall-clock datetime → wall minutes (seconds are dropped)."""
    naive = value.replace(tzinfo=None)
    return (naive.toordinal() - _EPOCH_ORDINAL) * MINUTES_PER_DAY + naive.hour * 60 + naive.minute


def day_number(value: date) -> int:
    """Date → days since 1970-01-01 (the ``wall // 1440`` of its midnight)."""
    return value.toordinal() - _EPOCH_ORDINAL


def day_date(number: int) -> date:
    return date.fromordinal(int(number) + _EPOCH_ORDINAL)


def _offset_minutes(tz: str, minute: int) -> int:
    delta = datetime.fromtimestamp(minute * 60, zone(tz)).utcoffset()
    assert delta is not None
    # Whole minutes: every offset since 1970 is; pre-1970 LMT seconds are truncated.
    return int(delta.total_seconds()) // 60


def _first_minute_of_year(year: int) -> int:
    return utc_minute(datetime(year, 1, 1, tzinfo=UTC))


# Caches wrap plain functions (not decorators) so that mutation testing reaches their bodies.
_year_start = lru_cache(maxsize=16384)(_first_minute_of_year)


def _find_year_transitions(tz: str, year: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(offset at the year's first UTC minute, ((transition minute, offset after), …)).

    Found by probing ``zoneinfo`` every 6 h and bisecting to the minute; cached per
    (zone, year) because it is the only per-zone work that is not vectorized.
    """
    lo, hi = _year_start(year), _year_start(year + 1)
    first = _offset_minutes(tz, lo)
    found: list[tuple[int, int]] = []
    prev_minute, prev_offset = lo, first
    probe = lo
    while probe < hi:
        probe = min(probe + _PROBE_MINUTES, hi)
        offset = _offset_minutes(tz, probe)
        if offset != prev_offset:
            a, b = prev_minute, probe  # offset(a) == prev_offset != offset(b)
            while b - a > 1:
                mid = (a + b) // 2  # pragma: no mutate: with / b ends in [t, t+1), stored as t
                if _offset_minutes(tz, mid) == prev_offset:
                    a = mid
                else:
                    b = mid
            # A change exactly at hi is the next year's starting offset (`<=` would add it
            # here instead, and the next year would then see no change: the same span).
            if b < hi:  # pragma: no mutate: `<=` gives the same span (see above)
                found.append((b, _offset_minutes(tz, b)))
        prev_minute, prev_offset = probe, offset
    return first, tuple(found)


_year_transitions = lru_cache(maxsize=8192)(_find_year_transitions)


@dataclass(frozen=True)
class ZoneSpan:
    """A zone's offsets over whole UTC years: ``offsets[i]`` holds from ``transitions[i-1]``
    (or the span's start) until ``transitions[i]``.

    ``wall_thresholds[i] = transitions[i] + max(offset before, offset after)``: the first
    wall minute read with the offset after transition ``i`` under ``fold=0`` (gap times and
    the first pass of an overlap keep the offset before).
    """

    transitions: Minutes
    offsets: Minutes
    wall_thresholds: Minutes

    def to_utc(self, wall: Minutes) -> Minutes:
        """Wall minutes → UTC minutes with PEP 495 ``fold=0``."""
        idx = np.searchsorted(self.wall_thresholds, wall, side="right")
        return wall - self.offsets[idx]

    def to_wall(self, utc: Minutes) -> Minutes:
        """UTC minutes → wall minutes (always unambiguous)."""
        return utc + self.offsets[np.searchsorted(self.transitions, utc, side="right")]

    def pieces(self) -> tuple[Minutes, Minutes, Minutes]:
        """(start, end, offset) of each stretch of constant offset; the ends are open."""
        starts = np.concatenate(([NEVER_BEFORE], self.transitions))
        ends = np.concatenate((self.transitions, [NEVER_AFTER]))
        return starts, ends, self.offsets


def _utc_year(minute: int) -> int:
    clamped = min(max(minute, _year_start(_FIRST_YEAR)), _year_start(_LAST_YEAR + 1) - 1)
    return utc_datetime(clamped).year


def _build_zone_span(tz: str, first_year: int, last_year: int) -> ZoneSpan:
    offsets: list[int] = []
    transitions: list[int] = []
    for year in range(first_year, last_year + 1):
        start_offset, changes = _year_transitions(tz, year)
        if not offsets:
            offsets.append(start_offset)
        elif offsets[-1] != start_offset:
            transitions.append(_year_start(year))
            offsets.append(start_offset)
        for minute, offset in changes:
            transitions.append(minute)
            offsets.append(offset)
    t = np.array(transitions, dtype=np.int64)
    o = np.array(offsets, dtype=np.int64)  # pragma: no mutate: never empty, ints are int64
    thresholds = t + np.maximum(o[:-1], o[1:])
    # Monotone by construction for real zones; enforce it so searchsorted stays valid.
    thresholds = np.maximum.accumulate(thresholds)  # pragma: no mutate: a no-op on real zones
    for array in (t, o, thresholds):
        array.flags.writeable = False  # pragma: no mutate: None clears the flag too
    return ZoneSpan(t, o, thresholds)


_zone_span_years = lru_cache(maxsize=1024)(_build_zone_span)


def zone_span(tz: str, lo: int, hi: int) -> ZoneSpan:
    """Offsets of ``tz`` covering UTC minutes ``[lo, hi]`` (whole years, a day of margin)."""
    first = _utc_year(lo - MINUTES_PER_DAY)
    last = _utc_year(hi + MINUTES_PER_DAY)
    if last - first > 400:
        raise InvalidInput(("start",), "The time range spans more than 400 years.")
    return _zone_span_years(tz, first, last)


class LocalClock:
    """UTC minute → aware local datetime (and "HH:MM"), memoized per (zone, minute) within
    one request: hundreds of participants share a handful of zones."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int], datetime] = {}
        self._text: dict[tuple[str, int], str] = {}

    def __call__(self, tz: str, minute: int) -> datetime:
        key = (tz, minute)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = utc_datetime(minute).astimezone(zone(tz))
        return found

    def hhmm(self, tz: str, minute: int) -> str:
        key = (tz, minute)
        found = self._text.get(key)
        if found is None:
            local = self(tz, minute)
            found = self._text[key] = f"{local.hour:02d}:{local.minute:02d}"
        return found
