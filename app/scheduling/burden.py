"""How much a meeting hurts each participant (docs/rules.md, "The burden of a meeting").

For a meeting ``[s, s + duration)`` in whole UTC minutes, every minute ``[t, t+1)`` inside
one of the person's working windows costs 0 and every minute outside costs ``1 + d // 60``,
``d`` being the distance to the nearest window: ``a - (t+1)`` to a window starting at ``a``
after ``t``, ``t - b`` to a window that ended at ``b`` before. A minute with
``d >= max_stretch_minutes`` makes the person infeasible, and so does any minute on a local
date that is a public holiday or time off, or inside one of their busy times (their own
calendar, minute by minute). The burden is the integer sum ("weighted
minutes"). For someone working 09:00–17:00 (default stretch 180):

=============  ======  ============================================
meeting        burden  why
=============  ======  ============================================
08:00–09:00      60    d = 59 … 0, one per minute
07:00–08:00     120    d = 119 … 60, two per minute
06:00–07:00     180    d = 179 … 120, three per minute
07:00–09:00     180    120 + 60
05:30–06:30     —      minute 05:30 has d = 209 ≥ 180: infeasible
17:00–20:00     360    60 + 120 + 180; the last feasible end is 20:00
=============  ======  ============================================

The cost is measured against the person's own shift: a Manila agent on 21:00–06:00 pays
nothing at 02:00 and pays at 14:00.

How it is computed: never minute by minute. Between two windows (a gap of ``g`` minutes)
the cost of a minute is a tent ``1 + min(i, g-1-i) // 60``, whose running sum has a closed
form, so the cumulative cost ``F(x)`` of all minutes before ``x`` is known at every window
boundary and anywhere in between; a meeting costs ``F(s + duration) - F(s)``, evaluated for
all starts at once with :func:`numpy.searchsorted`. Feasibility is one more lookup: minute
``t`` has ``d < stretch`` exactly when ``t`` lies in some window widened by ``stretch`` on
both sides, so a meeting is feasible when it fits inside one merged widened window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from app.scheduling.clock import Minutes, require_aware, utc_minute
from app.scheduling.limits import DURATION_NOT_WHOLE_REFUSAL
from app.scheduling.model import InvalidInput, Person
from app.scheduling.windows import (
    BUSY,
    WorkingTimeline,
    merge_intervals,
    timeline_dates,
    working_timeline,
)

INFEASIBLE = -1
NO_WORKING_HOURS = "has no working hours"
_FEASIBLE, _NO_HOURS, _UNAVAILABLE, _TOO_FAR, _BUSY = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Burden:
    """One person's burden for one meeting. ``minutes is None`` means infeasible, and then
    ``reason`` says why; ``inside_hours`` is true when every minute is inside a window."""

    minutes: int | None
    reason: str | None
    inside_hours: bool


@dataclass
class BurdenMatrix:
    """Burden of every person (rows) at every start (columns): weighted minutes, or
    ``-1`` (:data:`INFEASIBLE`) where the person cannot take the meeting."""

    minutes: npt.NDArray[np.int64]
    starts: Minutes = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    duration_minutes: int = 0
    # Per person, the row it shares with equal profiles (columns in sorted-start order),
    # and each start's column in that order (None: starts were given sorted).
    rows: list[_Row] = field(default_factory=list, repr=False, compare=False)
    sorted_column: Minutes | None = field(default=None, repr=False, compare=False)

    def reason(self, p: int, n: int) -> str | None:
        """Why person ``p`` cannot take the meeting at ``starts[n]`` (None when they can).

        The unavailable reason ("public holiday in US: Thanksgiving Day", "time off") wins
        over the stretch reason when both apply.
        """
        column = n if self.sorted_column is None else int(self.sorted_column[n])
        return self.rows[p].reason(column)

    def reasons(self, p: int, columns: range) -> list[str]:
        """The distinct reasons (first seen first) why person ``p`` cannot take the meeting
        at the starts ``columns`` (a feasible start adds "unavailable"), as
        ``[self.reason(p, n) or "unavailable" for n in columns]`` without repeats, but one
        lookup per distinct cause instead of one per start."""
        cols = np.arange(columns.start, columns.stop)
        if len(cols) == 0:
            return []
        row = self.rows[p]
        sorted_cols = cols if self.sorted_column is None else self.sorted_column[cols]
        # A cause is a status and, for a holiday or time off, which one (``away``): look
        # up the first start with each cause only, in column order.
        causes = np.stack((row.status[sorted_cols], row.away[sorted_cols]))
        first = np.unique(causes, axis=1, return_index=True)[1]
        found: list[str] = []
        for i in np.sort(first).tolist():
            text = row.reason(int(sorted_cols[i])) or "unavailable"
            if text not in found:
                found.append(text)
        return found

    @property
    def inside_hours(self) -> npt.NDArray[np.bool_]:
        """True where the meeting lies wholly inside the person's working windows."""
        inside: npt.NDArray[np.bool_] = self.minutes == 0
        return inside


def _cost_of_first(n: Minutes) -> Minutes:
    """Σ_{j<n} (1 + j // 60): the cost of the first ``n`` minutes moving away from a window."""
    q, r = n // 60, n % 60
    cost: Minutes = n + 30 * q * (q - 1) + r * q
    return cost


def _gap_cost(gap: Minutes) -> Minutes:
    """Cost of all minutes of a gap of ``gap`` minutes between two windows: minute ``j``
    costs ``1 + min(j, gap-1-j) // 60``, a tent rising for ``h = (gap+1) // 2`` minutes."""
    h = (gap + 1) // 2
    return _cost_of_first(h) + _cost_of_first(gap - h)


def _build_cost_table(size: int) -> Minutes:
    """``G(0 … size-1)`` of :func:`_cost_of_first`, for lookups instead of arithmetic."""
    table = _cost_of_first(np.arange(size))
    table.setflags(write=False)
    return table


# G for every distance up to about 11 days (128 KiB, shared and read-only): costs of minutes
# further out, only met with stretches that long, fall back to arithmetic. A cache around a
# plain function (not a decorator) so that mutation testing reaches its body.
_TABLE_SIZE = 1 << 14
_cost_table = lru_cache(maxsize=1)(_build_cost_table)


def _count_at_or_before(bounds: Minutes, queries: Minutes) -> Minutes:
    """For sorted ``queries``: how many of the sorted ``bounds`` are ``<= q``, for each q.

    Equal to ``searchsorted(bounds, queries, "right")`` but linear in the number of queries:
    each bound marks the first query it is at or before, and a running sum counts them.
    """
    first_query = np.searchsorted(queries, bounds)
    return np.cumsum(np.bincount(first_query, minlength=len(queries))[: len(queries)])


@dataclass(frozen=True)
class _CostCurve:
    """``F(x)`` up to a constant: the total cost of the minutes before ``x``."""

    window_starts: Minutes  # the windows and a sentinel at each end
    window_ends: Minutes  # their ends, but for the last sentinel's (never read)
    at_window_start: Minutes  # F at each window start (= F at the previous window end)

    @classmethod
    def build(cls, timeline: WorkingTimeline, lo: int, hi: int, stretch: int) -> _CostCurve:
        """The curve over minutes ``[lo, hi)``, where lookups happen."""
        # Empty sentinel windows more than `stretch` from every minute of [lo, hi): a minute
        # within reach of a real window is nearer to it than to a sentinel. Real windows may
        # lie beyond a sentinel; lookups of x in [lo, hi] never see the difference.
        far = stretch + 1  # pragma: no mutate: `far >= stretch - 1` and `>= 1` are all it needs
        a = np.concatenate(([lo - far], timeline.starts, [hi + far]))
        b = np.concatenate(([lo - far], timeline.ends))
        return cls(a, b, np.concatenate(([0], np.cumsum(_gap_cost(a[1:] - b)))))

    def at(self, x: Minutes) -> Minutes:
        """F at each of the sorted, non-empty ``x`` within the sentinels. In the gap after
        window ``k``, ``i`` minutes past its end and ``j`` before the next start:
        ``F(a_k) + G(i)`` on the rising half of the tent, ``F(a_{k+1}) - G(j)`` on the
        falling half (``G`` = :func:`_cost_of_first`)."""
        k = _count_at_or_before(self.window_starts, x) - 1
        past = np.maximum(x - self.window_ends[k], 0)  # 0 inside window k
        before = self.window_starts[k + 1] - x
        # i <= (gap + 1) // 2. Both halves are exact where |2i - gap| <= 1, so `<` or `- 1`
        # would do as well.
        rising = past <= before + 1  # pragma: no mutate: slack at the peak by design
        steps = np.where(rising, past, before)
        table = _cost_table(_TABLE_SIZE)
        # The table only saves time (pragma): _cost_of_first is exact everywhere.
        g = table[steps] if steps.max() < len(table) else _cost_of_first(steps)  # pragma: no mutate
        return np.where(rising, self.at_window_start[k] + g, self.at_window_start[k + 1] - g)


def _stretch_reason(stretch: int) -> str:
    hours, minutes = divmod(stretch, 60)
    text = " ".join(
        part
        for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "")
        if part
    )
    return f"{text or '0 min'} or more outside working hours (max stretch)"


def profile_key(person: Person) -> tuple[object, ...]:
    """Everything but the id: people with equal keys have equal burdens."""
    return (
        person.timezone,
        person.working_hours,
        person.holiday_country,
        person.holiday_subdivision,
        person.time_off,
        person.max_stretch_minutes,
        person.busy,
    )


def _timeline_key(person: Person, first: date, last: date, lo: int, hi: int) -> tuple[object, ...]:
    """What a person's timeline over the dates ``[first, last]`` (UTC minutes ``[lo, hi)``)
    depends on: their stretch does not, nor does time off outside those dates."""
    # The dates have slack at both ends (timeline_dates), so `<` and `>` would do as well.
    touching = [(a, b) for a, b in person.time_off if a <= last and b >= first]  # pragma: no mutate
    away = tuple(touching)
    return (
        person.timezone,
        person.working_hours,
        person.holiday_country,
        person.holiday_subdivision,
        away,
        person.busy.key(lo, hi),
    )


@dataclass(frozen=True)
class _Row:
    """One profile's burdens for sorted starts, and what is needed to explain a -1."""

    minutes: Minutes
    status: Minutes
    away: Minutes  # where _UNAVAILABLE: index into timeline.off_* of the first stretch met
    timeline: WorkingTimeline | None
    stretch: int = 0  # read for _TOO_FAR only, never for a row without working hours

    def reason(self, i: int) -> str | None:
        code = self.status[i]
        if code == _NO_HOURS:
            return NO_WORKING_HOURS
        if code == _UNAVAILABLE and self.timeline is not None:
            return self.timeline.off_reasons[int(self.timeline.off_days[self.away[i]])]
        if code == _BUSY:
            return BUSY
        return _stretch_reason(self.stretch) if code == _TOO_FAR else None


def _person_row(
    person: Person,
    timeline: WorkingTimeline | None,
    starts: Minutes,
    ends: Minutes,
    lo: int,
    hi: int,
) -> _Row:
    """Burdens of one person for sorted ``starts`` (``ends`` = starts + duration), given
    their timeline exact over ``[lo - stretch - 2, hi + stretch + 2)``."""
    stretch = person.max_stretch_minutes
    n = len(starts)
    # NumPy's default integer is int64 (on every platform since NumPy 2).
    if timeline is None:
        none = np.full(n, INFEASIBLE)
        return _Row(none, np.full(n, _NO_HOURS), none, None)

    status = np.full(n, _TOO_FAR)
    # Within reach: the whole meeting inside one window widened by `stretch` both sides.
    reach_starts, reach_ends = merge_intervals(timeline.starts - stretch, timeline.ends + stretch)
    if len(reach_starts):
        k = _count_at_or_before(reach_starts, starts) - 1
        status[(k >= 0) & (reach_ends[np.maximum(k, 0)] >= ends)] = _FEASIBLE
    # Busy: the first busy time ending after s starts before s + duration. Holidays and
    # time off (below) give their reason instead when both apply.
    if len(timeline.busy_starts):
        last = len(timeline.busy_starts) - 1
        idx = _count_at_or_before(timeline.busy_ends, starts)
        status[(idx <= last) & (timeline.busy_starts[np.minimum(idx, last)] < ends)] = _BUSY
    # Unavailable: the first stretch ending after s starts before s + duration.
    away = np.zeros_like(starts)
    if len(timeline.off_starts):
        last = len(timeline.off_starts) - 1
        idx = _count_at_or_before(timeline.off_ends, starts)
        hit = (idx <= last) & (timeline.off_starts[np.minimum(idx, last)] < ends)
        away[hit] = idx[hit]
        status[hit] = _UNAVAILABLE

    minutes = np.full(n, INFEASIBLE)
    feasible = np.flatnonzero(status == _FEASIBLE)
    if len(feasible):
        curve = _CostCurve.build(timeline, lo, hi, stretch)
        minutes[feasible] = curve.at(ends[feasible]) - curve.at(starts[feasible])
    return _Row(minutes, status, away, timeline, stretch)


def _check_duration(duration_minutes: object) -> int:
    if isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int | np.integer):
        raise InvalidInput(("duration_minutes",), DURATION_NOT_WHOLE_REFUSAL)
    if duration_minutes <= 0:
        raise InvalidInput(("duration_minutes",), "duration_minutes must be at least 1.")
    return int(duration_minutes)


def burden_matrix(
    people: Sequence[Person], starts: np.ndarray, duration_minutes: int
) -> BurdenMatrix:
    """Burden of each person at each start (int64 UTC minutes since 1970-01-01T00:00Z).

    Starts may be scattered over years and need not be sorted. Work is per distinct
    person profile (zone, hours, calendars, stretch) and vectorized over starts; the only
    arrays are per start and per working window, never per minute of the span.

    >>> from datetime import UTC
    >>> from app.scheduling.model import parse_working_hours
    >>> hours = parse_working_hours([{"days": ["tue"], "start": "09:00", "end": "17:00"}])
    >>> ny = Person("ny", "America/New_York", hours)
    >>> ph = Person("ph", "Asia/Manila", hours)
    >>> at_10z = utc_minute(datetime(2026, 10, 6, 10, 0, tzinfo=UTC))  # 06:00 NY, 18:00 Manila
    >>> m = burden_matrix([ny, ph], np.array([at_10z, at_10z - 60]), 60)
    >>> m.minutes.tolist()
    [[180, -1], [120, 60]]
    >>> m.reason(0, 1)
    '3 h or more outside working hours (max stretch)'
    """
    duration = _check_duration(duration_minutes)
    starts = np.asarray(starts)
    if starts.ndim != 1 or not (len(starts) == 0 or np.issubdtype(starts.dtype, np.integer)):
        raise InvalidInput(("starts",), "starts must be a 1-D array of whole UTC minutes.")
    starts = starts.astype(np.int64)  # a copy: the matrix does not change with the caller's
    minutes = np.empty((len(people), len(starts)), dtype=np.int64)
    if len(starts) == 0 or not people:
        return BurdenMatrix(minutes, starts, duration)
    # Work on sorted starts (lookups become linear merges); scatter rows back at the end.
    order: Minutes | None = None
    if np.any(starts[1:] < starts[:-1]):  # pragma: no mutate: `<=` sorts equal starts, same rows
        order = np.argsort(starts)
    ordered = starts if order is None else starts[order]
    sorted_column = None if order is None else np.argsort(order)
    ends = ordered + duration
    lo, hi = int(ordered[0]), int(ordered[-1]) + duration

    # One timeline per (zone, hours, calendar, relevant time off), exact over the range the
    # largest stretch needs; one row per distinct profile.
    for person in people:
        if person.max_stretch_minutes < 0:
            raise InvalidInput(("max_stretch_minutes",), "max_stretch_minutes cannot be negative.")
    reach = max(person.max_stretch_minutes for person in people)
    t_lo, t_hi = lo - reach - 2, hi + reach + 2  # pragma: no mutate: slack; needs lo - reach
    first, last = timeline_dates(t_lo, t_hi)
    timelines: dict[tuple[object, ...], WorkingTimeline | None] = {}
    rows: dict[tuple[object, ...], _Row] = {}
    person_rows: list[_Row] = []
    for p, person in enumerate(people):
        t_key = _timeline_key(person, first, last, t_lo, t_hi)
        key = (t_key, person.max_stretch_minutes)
        if key not in rows:
            if t_key not in timelines:
                timelines[t_key] = (
                    working_timeline(person, t_lo, t_hi) if person.working_hours else None
                )
            rows[key] = _person_row(person, timelines[t_key], ordered, ends, lo, hi)
        row = rows[key]
        if order is None:
            minutes[p] = row.minutes
        else:
            minutes[p, order] = row.minutes
        person_rows.append(row)
    return BurdenMatrix(minutes, starts, duration, person_rows, sorted_column)


def burden_minutes(person: Person, start: datetime, duration_minutes: int) -> Burden:
    """Burden of one meeting ``[start, start + duration)`` for one person.

    ``start`` must be aware and on a whole minute.

    >>> from datetime import UTC
    >>> from app.scheduling.model import parse_working_hours
    >>> maria = Person("maria", "Europe/Madrid",
    ...                parse_working_hours([{"days": ["mon"], "start": "09:00", "end": "17:00"}]))
    >>> burden_minutes(maria, datetime(2026, 6, 1, 5, 0, tzinfo=UTC), 60)  # 07:00 in Madrid
    Burden(minutes=120, reason=None, inside_hours=False)
    """
    require_aware(start, "start")
    if start.second or start.microsecond:
        raise InvalidInput(("start",), "start must be on a whole minute.")
    matrix = burden_matrix([person], np.array([utc_minute(start)]), duration_minutes)
    value = int(matrix.minutes[0, 0])
    if value < 0:
        return Burden(None, matrix.reason(0, 0), False)
    return Burden(value, None, value == 0)


# A forced turn: a member agreed to a time past their max stretch. Their burden grows by the
# same rule (1 + d // 60 a minute) as far as a week from their nearest working window.
FORCE_STRETCH_MINUTES = 7 * 1440


def forced_burden(person: Person, start: datetime, duration_minutes: int) -> Burden:
    """Burden of a meeting ``person`` agreed to take although it is past their max stretch.

    Holidays and time off are never forced: there the answer stays infeasible, with the
    reason. e.g. 04:00–05:00 in New York, five hours before a 09:00 start, with the
    default 3-hour stretch: infeasible, forced 60 minutes at 1 + 4 = 5 each.

    >>> from datetime import UTC
    >>> from app.scheduling.model import parse_working_hours
    >>> ana = Person("ana", "America/New_York",
    ...              parse_working_hours([{"days": ["mon"], "start": "09:00", "end": "17:00"}]))
    >>> at_four = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    >>> burden_minutes(ana, at_four, 60).reason
    '3 h or more outside working hours (max stretch)'
    >>> forced_burden(ana, at_four, 60)
    Burden(minutes=300, reason=None, inside_hours=False)
    """
    stretch = max(person.max_stretch_minutes, FORCE_STRETCH_MINUTES)
    return burden_minutes(replace(person, max_stretch_minutes=stretch), start, duration_minutes)
