"""Planning a series (docs/rules.md, "Planning a series"): dates, candidates, fair choice, notices.

1. **Dates** come from the RRULE (:func:`app.scheduling.recurrence.series_dates`); each keeps
   its position in the rule's full list as ``index``. Dates in ``exclude_dates`` (already
   held by kept occurrences) are skipped.
2. **Candidates of a date D** are the grid starts (``minute % step == 0``) whose local date in
   the anchor zone is D: 92 or 100 hours' worth of 15-minute starts on a 23- or 25-hour DST
   day. With ``not_before``, earlier starts are dropped; a date left with no start at all is
   wholly in the past and omitted, counted in ``Plan.skipped_past``, while a date left with
   starts none of which is feasible is *unschedulable*, with a reason naming who cannot
   meet and why.
3. **rotate** (:mod:`app.scheduling.rotation`) minimises, exactly,
   ``M = max_p (prior_p + Σ burden_p)`` and then the total burden over required people;
   among those optimal plans it prefers the smallest prefix spread (nobody pays much more
   than another at any point), then fewer distinct anchor-local times, then earlier starts.
   Each plan has a work budget (``time_budget_seconds``); only pathological inputs exhaust
   it, and then ``Plan.optimal`` is False, with ``Plan.optimal_reason`` saying which budget
   ran out. What a plan costs before it is computed: :mod:`app.scheduling.work`.
4. **fixed** picks one anchor-local time of day minimising (dates where it is infeasible,
   M, total, time of day), counting every occurrence as planned. A time is read on each date
   with ``fold=0`` (in a spring-forward gap it lands after the gap). Where it is infeasible
   the date takes its best candidate by (max, total, start) and carries a notice.
5. **Notices** per occurrence (:mod:`app.scheduling.notices`): the policy fell back;
   someone's local start differs from the previous occurrence's (with the clock change that
   caused it, if any); an optional participant is on holiday or time off.
6. **Determinism**: no dependence on set or hash order or wall time (see the work budget);
   HiGHS runs single-threaded with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.scheduling.burden import BurdenMatrix, burden_matrix
from app.scheduling.clock import (
    LocalClock,
    Minutes,
    ZoneSpan,
    day_number,
    require_aware,
    utc_datetime,
    utc_minute_ceil,
    zone_span,
)
from app.scheduling.limits import (
    DURATION_NOT_WHOLE_REFUSAL,
    DURATION_RANGE_REFUSAL,
    GRID_STEPS,
    MAX_DURATION_MINUTES,
    MAX_PARTICIPANTS,
    NO_REQUIRED_PARTICIPANT,
    PARTICIPANT_LISTED_TWICE,
    STEP_MINUTES_REFUSAL,
    TOO_MANY_PARTICIPANTS,
    quorum_refusal,
)
from app.scheduling.model import (
    MINUTES_PER_DAY,
    InvalidInput,
    Person,
    validate_timezone,
)
from app.scheduling.notices import (
    QuorumRows,
    absent_notice,
    away_notice,
    fallback_notice,
    local_time_notices,
    unschedulable_reason,
)
from app.scheduling.recurrence import series_dates
from app.scheduling.rotation import PLAN_TIME_BUDGET_SECONDS, Costs, DayCandidates, plan_rotation
from app.scheduling.search import Conflict, ParticipantTime
from app.scheduling.windows import unavailable_dates

Policy = Literal["rotate", "fixed"]
Attendance = Literal["required", "quorum", "optional"]


@dataclass(frozen=True)
class Quorum:
    """A party's quorum rule: at least ``min_attendees`` of ``members`` attend every
    occurrence. ``party`` names the party in reasons ("Manila team")."""

    party: str
    members: tuple[Person, ...]
    min_attendees: int


@dataclass(frozen=True)
class SeriesSpec:
    """What the planner needs of a series; ``required``/``optional`` in display order, and
    each party's quorum rule with its ``quorum`` members (docs/rules.md, "Quorum").
    """

    recurrence: str
    start_date: date
    count: int | None
    until: date | None
    anchor_timezone: str
    duration_minutes: int
    step_minutes: int
    policy: Policy
    required: tuple[Person, ...]
    optional: tuple[Person, ...] = ()
    quorums: tuple[Quorum, ...] = ()

    @property
    def counted(self) -> tuple[Person, ...]:
        """Everyone whose burden counts in fairness: required, then each quorum's members."""
        return self.required + tuple(p for q in self.quorums for p in q.members)


@dataclass
class PlannedOccurrence:
    """One planned date. ``participants``: every required, then every quorum member, then
    every optional participant. An optional one who cannot attend has ``burden_minutes == -1``
    and a ``conflicts`` entry; a quorum member who cannot attend has ``burden_minutes == -1``
    and an ``absent`` entry (they carry no burden for this occurrence).
    """

    index: int
    date: date
    start: datetime
    end: datetime
    participants: list[ParticipantTime]
    conflicts: list[Conflict]
    notices: list[str]
    absent: list[Conflict] = field(default_factory=list)


@dataclass
class Unschedulable:
    date: date
    reason: str


@dataclass
class PersonBurden:
    """Burden minutes of one participant: before this plan, in it, and both. Optional
    participants are listed too (``counted`` false) but never count in the plan's figures;
    quorum members count for the occurrences they attend."""

    participant_id: str
    prior_minutes: int
    planned_minutes: int
    total_minutes: int
    attendance: Attendance = "required"

    @property
    def counted(self) -> bool:
        return self.attendance != "optional"


@dataclass(frozen=True, slots=True)
class SkippedPast:
    """Dates of the series that had wholly passed (every start before ``not_before``) and
    were neither held (``exclude_dates``) nor planned; and the first date the plan kept,
    planned or unschedulable (None if it kept none).

    A weekly series from Tuesday 1 December 2026 planned on Wednesday 16 December skips
    1, 8 and 15 December and keeps 22 December onwards: ``SkippedPast(3, date(2026, 12, 22))``.
    """

    count: int = 0
    first_kept: date | None = None

    def sentence(self) -> str | None:
        """What a person reads, or None when nothing was skipped.

        >>> SkippedPast(3, date(2026, 12, 22)).sentence()
        '3 dates of this series have passed and are not planned; the plan starts on 2026-12-22.'
        """
        if not self.count:
            return None
        dates = (
            "1 date of this series has passed and is"
            if self.count == 1
            else f"{self.count} dates of this series have passed and are"
        )
        rest = (
            f"the plan starts on {self.first_kept}."
            if self.first_kept is not None
            else "no date is left to plan."
        )
        return f"{dates} not planned; {rest}"


@dataclass
class Plan:
    policy: Policy
    occurrences: list[PlannedOccurrence]
    unschedulable: list[Unschedulable]
    burden: list[PersonBurden]
    max_burden_minutes: int  # max over required of prior + planned
    total_burden_minutes: int  # sum over required of planned
    # False only when the solver's work budget ran out before (M, total) was proven optimal
    # (pathological inputs; real series are proven in milliseconds). Always True for fixed.
    optimal: bool = True
    # Why ``optimal`` is False, in a sentence (None when it is True).
    optimal_reason: str | None = None
    skipped_past: SkippedPast = SkippedPast()


# ---------------------------------------------------------------------------------------
# Candidates of every date.
# ---------------------------------------------------------------------------------------


@dataclass
class _Candidates:
    """Every grid start of every date (ascending) with the required people's burdens.

    Date k owns ``starts[bounds[k]:bounds[k + 1]]``; ``truncated[k]`` says ``not_before``
    removed some of its starts.
    """

    day_numbers: Minutes
    bounds: Minutes
    starts: Minutes
    local_minutes: Minutes
    truncated: npt.NDArray[np.bool_]
    span: ZoneSpan
    # Burdens of the counted people (required, then each quorum's members), -1 where one
    # cannot attend; ``costs`` the same with an absent quorum member's -1 read as 0.
    counted: BurdenMatrix
    costs: Costs
    feasible: npt.NDArray[np.bool_]

    def columns(self, k: int) -> range:
        return range(int(self.bounds[k]), int(self.bounds[k + 1]))

    def feasible_columns(self, k: int) -> Minutes:
        a, b = int(self.bounds[k]), int(self.bounds[k + 1])
        return a + np.flatnonzero(self.feasible[a:b])


def _candidates(spec: SeriesSpec, dates: list[date], not_before: datetime | None) -> _Candidates:
    step = spec.step_minutes
    days = np.array([day_number(d) for d in dates], dtype=np.int64)
    lo = int(days[0] - 2) * MINUTES_PER_DAY if len(days) else 0
    hi = int(days[-1] + 3) * MINUTES_PER_DAY if len(days) else MINUTES_PER_DAY
    span = zone_span(spec.anchor_timezone, lo, hi)
    # The first instant whose anchor-local date is D is D 00:00 read with fold=0 (after a
    # gap at midnight that is 01:00), so date D owns [start(D), start(D + 1)): 23 or 25
    # hours on DST days.
    day_start = span.to_utc(days * MINUTES_PER_DAY)
    day_end = span.to_utc((days + 1) * MINUTES_PER_DAY)
    first = -(-day_start // step) * step
    truncated = np.zeros(len(days), dtype=bool)
    if not_before is not None:
        earliest = utc_minute_ceil(not_before)
        earliest += -earliest % step
        truncated = first < earliest
        first = np.maximum(first, earliest)
    counts = np.maximum(0, -(-(day_end - first) // step))
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    offset_in_day = np.arange(int(bounds[-1]), dtype=np.int64) - np.repeat(bounds[:-1], counts)
    starts = np.repeat(first, counts) + offset_in_day * step
    local = span.to_wall(starts) % MINUTES_PER_DAY
    counted = burden_matrix(spec.counted, starts, spec.duration_minutes)
    feasible, costs = _feasible(spec, counted.minutes)
    return _Candidates(days, bounds, starts, local, truncated, span, counted, costs, feasible)


def quorum_rows(spec: SeriesSpec) -> list[QuorumRows]:
    """Each quorum with the rows of its members in the counted people
    (:attr:`SeriesSpec.counted`)."""
    found, at = [], len(spec.required)
    for quorum in spec.quorums:
        found.append(
            QuorumRows(quorum.party, quorum.min_attendees, range(at, at + len(quorum.members)))
        )
        at += len(quorum.members)
    return found


def _feasible(spec: SeriesSpec, minutes: Costs) -> tuple[npt.NDArray[np.bool_], Costs]:
    """Which starts are feasible (every required person can attend, and at least
    ``min_attendees`` of each quorum's members can), and the burdens that count there
    (an absent quorum member's -1 is 0)."""
    n = len(spec.required)
    feasible = np.asarray((minutes[:n] >= 0).all(axis=0), dtype=bool)
    for quorum in quorum_rows(spec):
        attending = (minutes[quorum.rows.start : quorum.rows.stop] >= 0).sum(axis=0)
        feasible &= attending >= quorum.min_attendees
    return feasible, (np.maximum(minutes, 0) if spec.quorums else minutes)


# ---------------------------------------------------------------------------------------
# Fixed time of day.
# ---------------------------------------------------------------------------------------


def _best_candidate(costs: Costs, starts: Minutes) -> int:
    """Position of the best start as slot search ranks them: (max, total, start)."""
    return int(np.lexsort((starts, costs.sum(axis=0), costs.max(axis=0)))[0])


@dataclass(frozen=True)
class _FixedChoice:
    time_of_day: int  # anchor-local minute of day
    columns: list[int]  # the chosen column of each schedulable date
    wanted: list[int]  # the column at the fixed time, -1 where that time is not a start
    fell_back: list[bool]


def _plan_fixed(cal: _Candidates, schedulable: list[int], prior: Costs) -> _FixedChoice:
    """One anchor-local time for every date, minimising (dates where it is infeasible, M,
    total, time of day); where it is infeasible the date takes its best candidate."""
    starts, minutes, feasible = cal.starts, cal.costs, cal.feasible
    fallback = np.empty(len(schedulable), dtype=np.int64)
    times: set[int] = set()
    for i, k in enumerate(schedulable):
        cols = cal.feasible_columns(k)
        fallback[i] = cols[_best_candidate(minutes[:, cols], starts[cols])]
        times.update(cal.local_minutes[cols].tolist())
    time_grid = np.array(sorted(times), dtype=np.int64)
    days = cal.day_numbers[schedulable]
    lo, hi = cal.bounds[schedulable], cal.bounds[np.array(schedulable) + 1]
    # Each time of day on each date, read with fold=0 as docs/rules.md says (a time in a DST gap
    # lands after the gap; a repeated time takes the first pass).
    instants = cal.span.to_utc(days[None, :] * MINUTES_PER_DAY + time_grid[:, None])
    pos = np.searchsorted(starts, instants)
    safe = np.minimum(pos, len(starts) - 1)
    is_start = (starts[safe] == instants) & (pos >= lo) & (pos < hi)
    ok = is_start & feasible[safe]
    chosen = np.where(ok, safe, fallback[None, :])
    planned = np.stack([minutes[:, row].sum(axis=1) for row in chosen], axis=1)  # people × T
    worst = (prior[:, None] + planned).max(axis=0)
    best = int(np.lexsort((time_grid, planned.sum(axis=0), worst, (~ok).sum(axis=1)))[0])
    return _FixedChoice(
        int(time_grid[best]),
        chosen[best].tolist(),
        np.where(is_start[best], safe[best], -1).tolist(),
        (~ok[best]).tolist(),
    )


# ---------------------------------------------------------------------------------------
# Occurrences.
# ---------------------------------------------------------------------------------------


def _occurrences(
    spec: SeriesSpec,
    cal: _Candidates,
    indexes: list[int],
    dates: list[date],
    schedulable: list[int],
    columns: list[int],
    fixed: _FixedChoice | None,
    previous_local: Mapping[str, str] | None,
    names: Mapping[str, str] | None,
) -> list[PlannedOccurrence]:
    counted = spec.counted
    people = [*counted, *spec.optional]
    n_counted = len(counted)
    quorums = quorum_rows(spec)
    duration = spec.duration_minutes
    by_id = {person.id: person for person in counted}
    chosen = cal.starts[columns]
    optional = burden_matrix(spec.optional, chosen, duration)
    costs = np.vstack([cal.counted.minutes[:, columns], optional.minutes])
    away: list[dict[date, str]] = []
    if schedulable:
        lo, hi = dates[schedulable[0]], dates[schedulable[-1]]
        away = [
            unavailable_dates(q, lo - timedelta(days=1), hi + timedelta(days=2))
            for q in spec.optional
        ]
    clock = LocalClock()
    previous = dict(previous_local or {})
    previous_start: int | None = None
    planned: list[PlannedOccurrence] = []
    for i, k in enumerate(schedulable):
        s = int(chosen[i])
        shown: list[ParticipantTime] = []
        conflicts: list[Conflict] = []
        absent: list[Conflict] = []
        notices: list[str] = []
        column = costs[:, i].tolist()
        for p, person in enumerate(people):
            tz, cost = person.timezone, int(column[p])
            shown.append(
                ParticipantTime(
                    person.id, clock(tz, s), clock(tz, s + duration), tz, cost, cost == 0
                )
            )
            if cost >= 0:
                continue
            if p < n_counted:  # a quorum member (required people are feasible here)
                absent.append(
                    Conflict(person.id, cal.counted.reason(p, columns[i]) or "unavailable")
                )
            else:
                conflicts.append(
                    Conflict(person.id, optional.reason(p - n_counted, i) or "unavailable")
                )
        if fixed is not None and fixed.fell_back[i]:
            notices.append(
                fallback_notice(
                    cal.counted,
                    fixed.wanted[i],
                    fixed.time_of_day,
                    int(cal.local_minutes[fixed.columns[i]]),
                    counted,
                    spec.anchor_timezone,
                    names,
                    quorums,
                )
            )
        gone = {a.participant_id for a in absent}
        notices += local_time_notices(
            [person for person in people if person.id not in gone],
            previous,
            previous_start,
            s,
            spec.anchor_timezone,
            clock,
            names,
        )
        notices += [absent_notice(by_id[a.participant_id], a.reason, names) for a in absent]
        for q, person in enumerate(spec.optional):
            seen = shown[n_counted + q]
            notice = away_notice(person, away[q], seen.local_start, seen.local_end, names)
            if notice is not None:
                notices.append(notice)
        planned.append(
            PlannedOccurrence(
                indexes[k],
                dates[k],
                utc_datetime(s),
                utc_datetime(s + duration),
                shown,
                conflicts,
                notices,
                absent,
            )
        )
        previous = {person.id: clock.hhmm(person.timezone, s) for person in people}
        previous_start = s
    return planned


# ---------------------------------------------------------------------------------------
# The entry point.
# ---------------------------------------------------------------------------------------


def check_spec(spec: SeriesSpec) -> None:
    """Refuse (:class:`InvalidInput`) a series the planner cannot plan as given."""
    if spec.policy not in ("rotate", "fixed"):
        raise InvalidInput(("policy",), "policy must be 'rotate' or 'fixed'.")
    if spec.step_minutes not in GRID_STEPS:
        raise InvalidInput(("step_minutes",), STEP_MINUTES_REFUSAL)
    duration = spec.duration_minutes
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise InvalidInput(("duration_minutes",), DURATION_NOT_WHOLE_REFUSAL)
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        raise InvalidInput(("duration_minutes",), DURATION_RANGE_REFUSAL)
    validate_timezone(spec.anchor_timezone, ("anchor_timezone",))
    if not spec.required and not spec.quorums:
        raise InvalidInput(("participants",), NO_REQUIRED_PARTICIPANT)
    for quorum in spec.quorums:
        if not 1 <= quorum.min_attendees <= len(quorum.members):
            raise InvalidInput(("quorum",), quorum_refusal(quorum.party, len(quorum.members)))
    people = [*spec.counted, *spec.optional]
    if len(people) > MAX_PARTICIPANTS:
        raise InvalidInput(("participants",), TOO_MANY_PARTICIPANTS)
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise InvalidInput(("participants",), PARTICIPANT_LISTED_TWICE)


def plan_series(
    spec: SeriesSpec,
    *,
    prior: Mapping[str, int] | None = None,
    exclude_dates: Collection[date] = (),
    not_before: datetime | None = None,
    previous_local: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    time_budget_seconds: float = PLAN_TIME_BUDGET_SECONDS,
) -> Plan:
    """Plan every date of a series (module docstring: the rules, policies and tie-breaks).

    ``prior``: burden minutes already carried per participant id (kept past occurrences).
    ``exclude_dates``: dates already held; neither planned nor reported. ``not_before``:
    starts before it are dropped (a date with none left is omitted). ``previous_local``:
    participant id → "HH:MM" local start of the last kept occurrence, for the first
    occurrence's notices. ``names``: participant id → display name for reasons and notices.
    ``time_budget_seconds``: all solver runs together (rotate); when it runs out the plan is
    a deterministic greedy one with ``optimal`` False and ``optimal_reason`` saying so.

    New York and Manila, both 09:00–17:00 on weekdays, weekly on Tuesday in October 2026
    (12 h apart, no start inside both days): rotate shares the burden evenly.

    >>> from app.scheduling.model import parse_working_hours
    >>> hours = parse_working_hours([{"days": ["mon", "tue", "wed", "thu", "fri"],
    ...                               "start": "09:00", "end": "17:00"}])
    >>> spec = SeriesSpec("FREQ=WEEKLY;BYDAY=TU", date(2026, 10, 6), 4, None,
    ...                   "America/New_York", 60, 60, "rotate",
    ...                   (Person("ny", "America/New_York", hours),
    ...                    Person("ph", "Asia/Manila", hours)))
    >>> plan = plan_series(spec)
    >>> [(b.participant_id, b.total_minutes) for b in plan.burden], plan.max_burden_minutes
    ([('ny', 600), ('ph', 600)], 600)
    """
    check_spec(spec)
    if not_before is not None:
        require_aware(not_before, "not_before")
    every = series_dates(
        spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count, spec.until
    )
    skip = frozenset(exclude_dates)
    indexes = [i for i, d in enumerate(every) if d not in skip]
    dates = [every[i] for i in indexes]
    cal = _candidates(spec, dates, not_before)
    carried = dict(prior or {})
    counted = spec.counted
    prior_counted = np.array([int(carried.get(p.id, 0)) for p in counted], dtype=np.int64)
    quorums = quorum_rows(spec)

    schedulable: list[int] = []
    unschedulable: list[Unschedulable] = []
    passed, first_kept = 0, None
    for k, day in enumerate(dates):
        cols = cal.columns(k)
        if not cols:
            passed += 1  # wholly before not_before: in the past, nothing to plan
            continue
        first_kept = day if first_kept is None else first_kept
        if cal.feasible[cols.start : cols.stop].any():
            schedulable.append(k)
        else:
            reason = unschedulable_reason(
                cal.counted, cols, bool(cal.truncated[k]), counted, names, quorums
            )
            unschedulable.append(Unschedulable(day, reason))

    fixed: _FixedChoice | None = None
    columns: list[int] = []
    optimal, optimal_reason = True, None
    if schedulable and spec.policy == "rotate":
        feasible_cols = [cal.feasible_columns(k) for k in schedulable]
        days = [
            DayCandidates(cal.costs[:, cols], cal.starts[cols], cal.local_minutes[cols])
            for cols in feasible_cols
        ]
        rotation = plan_rotation(days, prior_counted, time_budget_seconds)
        optimal, optimal_reason = rotation.optimal, rotation.reason
        del days  # per-date copies of the burden matrix: free them before the occurrences
        columns = [
            int(cols[pick]) for cols, pick in zip(feasible_cols, rotation.picks, strict=True)
        ]
    elif schedulable:
        fixed = _plan_fixed(cal, schedulable, prior_counted)
        columns = fixed.columns

    occurrences = _occurrences(
        spec, cal, indexes, dates, schedulable, columns, fixed, previous_local, names
    )
    planned = cal.costs[:, columns].sum(axis=1) if columns else 0 * prior_counted
    n_required = len(spec.required)
    burden = [
        PersonBurden(
            p.id,
            int(prior_counted[i]),
            int(planned[i]),
            int(prior_counted[i] + planned[i]),
            "required" if i < n_required else "quorum",
        )
        for i, p in enumerate(counted)
    ]
    for q, person in enumerate(spec.optional):
        mine = sum(max(0, o.participants[len(counted) + q].burden_minutes) for o in occurrences)
        before = int(carried.get(person.id, 0))
        burden.append(PersonBurden(person.id, before, mine, before + mine, "optional"))
    return Plan(
        spec.policy,
        occurrences,
        unschedulable,
        burden,
        int((prior_counted + planned).max()),
        int(np.sum(planned)),
        optimal,
        optimal_reason,
        SkippedPast(passed, first_kept),
    )
