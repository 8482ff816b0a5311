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
3. **rotate** minimises, exactly, ``M = max_p (prior_p + Σ burden_p)`` and then the total
   burden over required people, with :func:`scipy.optimize.milp` (HiGHS). Dates that offer
   the same Pareto-pruned burden vectors are aggregated into one class with integer counts
   ("how many of this class's dates take option v"), which removes the solver's symmetry:
   52 identical weeks are one class, not 52 copies. The optimum is proven to the unit: an
   integer objective value is accepted only when it equals the ceiling of HiGHS's dual bound;
   otherwise a cut ``objective <= value - 1`` is added and the solver runs again.

   Among (M, total)-optimal plans the preferences, in order, are:

   * **smallest prefix spread.** With ``S_p(k) = prior_p +`` burden of required person p in
     the first k planned occurrences and ``spread(k) = max_p S_p(k) − min_p S_p(k)``, prefer
     the plan with the smaller ``(max_k spread(k), Σ_k spread(k))``: at no point has one
     person paid much more than another, so nobody takes two hard turns in a row while
     someone else takes none. Pursued by (i) a third MILP stage that, holding M and total at
     their optimum, minimises the per-occurrence imbalance ``Σ_k (max_p − min_p burden)``,
     (ii) sequencing the chosen options greedily in date order (each date takes the option
     that keeps ``spread(k)`` smallest) and (iii) pairwise swaps of options between dates
     that offer both, kept when they lower the spread objective. Steps (ii) and (iii) only
     move whole per-date choices, so everyone's total, M and the total never change.
   * **fewer distinct anchor-local times**: where the chosen option is offered at several
     starts of a date, the time of day serving the most dates is fixed first (greedy cover,
     ties to the earlier time), and so on;
   * **earlier starts**: remaining ties go to the earliest start.

   These tie-breaks are deterministic heuristics; only (M, total) are guaranteed optimal.

   Work budget: each solver run has a node limit (deterministic) and a 2-second time limit
   as a safety net, and all runs of one plan together at most ``time_budget_seconds``.
   Real series aggregate into a few classes and are proven optimal in a few nodes and
   milliseconds; only inputs with hundreds of unrelated dates and many people
   (min-max is NP-hard) can exhaust it. Then the plan is the best one found (or, if the time
   limit tripped, a deterministic greedy plan, so the result never depends on machine
   speed mid-search) and ``Plan.optimal`` is False, with ``Plan.optimal_reason`` saying
   which budget ran out. What a plan costs before it is computed: :mod:`app.scheduling.work`.
4. **fixed** picks one anchor-local time of day minimising (dates where it is infeasible,
   M, total, time of day), counting every occurrence as planned. A time is read on each date
   with ``fold=0`` (in a spring-forward gap it lands after the gap). Where it is infeasible
   the date takes its best candidate by (max, total, start) and carries a notice.
5. **Notices** per occurrence: the policy fell back; someone's local start differs from
   the previous occurrence's (with the clock change that caused it, if any); an optional
   participant is on holiday or time off.
6. **Determinism**: no dependence on set or hash order or wall time (see the work budget);
   HiGHS runs single-threaded with a fixed seed.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array, vstack

from app.scheduling.burden import BurdenMatrix, burden_matrix, profile_key
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
from app.scheduling.model import (
    MINUTES_PER_DAY,
    InvalidInput,
    Person,
    format_hhmm,
    validate_timezone,
)
from app.scheduling.recurrence import series_dates
from app.scheduling.search import (
    GRID_STEPS,
    MAX_DURATION_MINUTES,
    MAX_PARTICIPANTS,
    Conflict,
    ParticipantTime,
)
from app.scheduling.windows import unavailable_dates

Policy = Literal["rotate", "fixed"]
Costs = npt.NDArray[np.int64]

# Pairwise-swap search: how far apart two swapped dates may be, and how many passes.
SWAP_WINDOW = 26
SWAP_PASSES = 3
# Solver work budget per stage: a node limit (deterministic) and, only as a safety net for
# pathological inputs, a time limit. Real series aggregate into a few classes and are
# proven optimal in a handful of nodes.
NODE_BUDGET = 1000
TIME_BUDGET_SECONDS = 2.0
# All solver runs of one plan together (stages 1-3 and their cuts) get at most this long.
PLAN_TIME_BUDGET_SECONDS = 2.0
PRESOLVE_MAX_NONZEROS = 20_000
TIE_BREAK_NODES = 200


@dataclass(frozen=True)
class SeriesSpec:
    """What the planner needs of a series; ``required``/``optional`` in display order."""

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


@dataclass
class PlannedOccurrence:
    """One planned date. ``participants``: every required then every optional participant;
    an optional one who cannot attend has ``burden_minutes == -1`` and a ``conflicts`` entry.
    """

    index: int
    date: date
    start: datetime
    end: datetime
    participants: list[ParticipantTime]
    conflicts: list[Conflict]
    notices: list[str]


@dataclass
class Unschedulable:
    date: date
    reason: str


@dataclass
class PersonBurden:
    """Burden minutes of one participant: before this plan, in it, and both. Optional
    participants are listed too (``required`` false) but never count in the plan's figures."""

    participant_id: str
    prior_minutes: int
    planned_minutes: int
    total_minutes: int
    required: bool = True


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


@dataclass(frozen=True)
class DayCandidates:
    """The feasible starts of one date, ascending: each required person's burden at each
    (``costs``, people × starts, all ≥ 0) and each start's anchor-local minute of day."""

    costs: Costs
    starts: Minutes
    local_minutes: Minutes


# ---------------------------------------------------------------------------------------
# Exact rotation: aggregated MILP, then tie-breaks that keep every person's total.
# ---------------------------------------------------------------------------------------


@dataclass
class _DayOptions:
    """A date's Pareto-optimal burden vectors (global ids, ascending) and, per vector, the
    positions of the starts offering it."""

    ids: tuple[int, ...]
    positions: dict[int, list[int]]


class _Options:
    """Distinct burden vectors over all dates, and each date's Pareto-pruned options."""

    def __init__(self, people: int) -> None:
        self.people = people
        self._ids: dict[bytes, int] = {}
        self._vectors: list[Costs] = []
        self._by_day_key: dict[bytes, _DayOptions] = {}

    def vector_id(self, vector: Costs) -> int:
        key = vector.tobytes()
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._vectors)
            self._vectors.append(vector)
        return found

    def table(self) -> Costs:
        if not self._vectors:
            return np.zeros((0, self.people), dtype=np.int64)
        return np.stack(self._vectors)

    def of_day(self, day: DayCandidates) -> _DayOptions:
        key = day.costs.tobytes() + np.int64(day.costs.shape[0]).tobytes()
        found = self._by_day_key.get(key)
        if found is None:
            found = self._by_day_key[key] = self._prune(day.costs)
        return found

    def _prune(self, costs: Costs) -> _DayOptions:
        unique, inverse = np.unique(costs.T, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        # i is dominated when some other (distinct) vector is <= it everywhere. A dominated
        # option is never in an optimal plan: swapping it out lowers the total.
        below = np.asarray((unique[None, :, :] <= unique[:, None, :]).all(axis=2), dtype=bool)
        np.fill_diagonal(below, False)
        kept = np.flatnonzero(~below.any(axis=1))
        positions: dict[int, list[int]] = {}
        for u in kept.tolist():
            positions[self.vector_id(np.ascontiguousarray(unique[u]))] = np.flatnonzero(
                inverse == u
            ).tolist()
        return _DayOptions(tuple(sorted(positions)), positions)


@dataclass(frozen=True)
class _Run:
    """One HiGHS run: the rounded solution (None if none), its dual bound, and whether a
    work limit stopped it (``"nodes"``, deterministic, or ``"time"``, the safety net)."""

    z: npt.NDArray[np.int64] | None
    bound: float | None
    limit: Literal["nodes", "time"] | None


def _solve(
    objective: npt.NDArray[np.float64],
    rows: csr_array,
    row_lo: npt.NDArray[np.float64],
    row_hi: npt.NDArray[np.float64],
    upper: npt.NDArray[np.float64],
    node_limit: int = NODE_BUDGET,
    deadline: float = math.inf,
) -> _Run:
    """One HiGHS run over non-negative integer variables: single thread, fixed seed; at most
    :data:`TIME_BUDGET_SECONDS`, and never past ``deadline`` (``time.monotonic()``)."""
    seconds = min(TIME_BUDGET_SECONDS, deadline - time.monotonic())
    if seconds <= 0:
        return _Run(None, None, "time")
    options = {
        "mip_rel_gap": 0.0,
        # HiGHS's presolve ignores the time limit and takes seconds on dense models of
        # hundreds of distinct dates; real series give models far below this size.
        "presolve": rows.nnz <= PRESOLVE_MAX_NONZEROS,
        "disp": False,
        "node_limit": node_limit,
        "time_limit": seconds,
        "threads": 1,  # passed to HiGHS verbatim (scipy warns that it does not know it)
        "random_seed": 0,
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        result = milp(
            objective,
            integrality=np.ones(len(objective)),
            bounds=Bounds(np.zeros(len(objective)), upper),
            constraints=LinearConstraint(rows, row_lo, row_hi),
            options=options,
        )
    limit: Literal["nodes", "time"] | None = None
    if result.status == 1:
        nodes = getattr(result, "mip_node_count", None)
        limit = "nodes" if nodes is not None and nodes >= node_limit else "time"
    if result.x is None:
        return _Run(None, None, limit)
    z = np.rint(result.x).astype(np.int64)
    # The data are integers, so feasibility of the rounded point is checked exactly.
    lhs = rows @ z
    if (z < 0).any() or (z > upper).any() or (lhs < row_lo).any() or (lhs > row_hi).any():
        raise RuntimeError("HiGHS returned a point that is not integer-feasible")
    bound = getattr(result, "mip_dual_bound", None)
    return _Run(z, float(bound) if bound is not None else None, limit)


def _proven(value: int, bound: float | None) -> bool:
    """An integer objective value is optimal when it is at most the ceiling of a dual bound
    (tolerance-sized float noise on the bound is allowed for)."""
    if bound is None or not math.isfinite(bound):
        return False
    return value <= math.ceil(bound - 1e-6 * max(1.0, abs(bound)))


def _minimise(
    objective: Costs,
    rows: csr_array,
    row_lo: npt.NDArray[np.float64],
    row_hi: npt.NDArray[np.float64],
    upper: npt.NDArray[np.float64],
    start: npt.NDArray[np.int64],
    deadline: float = math.inf,
) -> tuple[npt.NDArray[np.int64], Literal["nodes", "time"] | None]:
    """Integer ``z`` minimising ``objective @ z`` (integer coefficients), and which work limit
    (if any) stopped the proof; ``start`` is a known feasible point.

    A solution is accepted as optimal when its exact integer value is at most ``ceil`` of
    HiGHS's dual bound (every integer point is >= the bound), so no tolerance can pass off a
    near-optimal point; otherwise the cut ``objective @ z <= value - 1`` is added and HiGHS
    runs again, until the cut makes the problem infeasible, which proves the last value.
    """
    best = start
    c = objective.astype(np.float64)
    all_rows, lo, hi = rows, row_lo, row_hi
    while True:
        run = _solve(c, all_rows, lo, hi, upper, deadline=deadline)
        if run.z is not None and int(objective @ run.z) < int(objective @ best):
            best = run.z
        if run.limit is not None:
            return best, run.limit
        if run.z is None:  # infeasible under the last cut: best is optimal
            return best, None
        if _proven(int(objective @ run.z), run.bound):
            return best, None
        all_rows = vstack([all_rows, csr_array(c[None, :])], format="csr")
        lo = np.concatenate([lo, [-np.inf]])
        hi = np.concatenate([hi, [float(int(objective @ best) - 1)]])


def _binding_people(costs: Costs, prior: Costs) -> npt.NDArray[np.int64]:
    """Rows of ``prior_p + costs_p · y <= M`` that no other row implies (people with the
    same or a dominated profile add nothing to the max)."""
    rows = np.hstack([prior[:, None], costs])
    _, first = np.unique(rows, axis=0, return_index=True)
    keep = np.sort(first)
    if len(keep) ** 2 * rows.shape[1] <= 20_000_000:
        r = rows[keep]
        covers = np.asarray((r[:, None, :] >= r[None, :, :]).all(axis=2), dtype=bool)  # q ⇒ p
        np.fill_diagonal(covers, False)
        keep = keep[~covers.any(axis=0)]
    return keep


def _greedy_counts(
    table: Costs, classes: list[tuple[int, ...]], sizes: list[int], prior: Costs
) -> npt.NDArray[np.int64]:
    """A deterministic feasible choice (the fallback when the solver's safety net trips):
    each date takes the option with the least (running max, total); then, class by class,
    the single move v → w that lowers (M, total) most is applied while one exists."""
    y_by_class: list[npt.NDArray[np.int64]] = []
    state = prior.copy()
    for a, ids in enumerate(classes):
        options = table[list(ids)]
        sums = options.sum(axis=1)
        taken = np.zeros(len(ids), dtype=np.int64)
        for _ in range(sizes[a]):
            i = int(np.lexsort((sums, (state + options).max(axis=1)))[0])
            taken[i] += 1
            state = state + options[i]
        y_by_class.append(taken)
    for _ in range(20):
        moved = False
        for a, ids in enumerate(classes):
            taken = y_by_class[a]
            options = table[list(ids)]
            change = options[None, :, :] - options[:, None, :]  # [v, w]: v → w
            after_max = (state + change).max(axis=2)
            after_sum = change.sum(axis=2)
            allowed = (taken > 0)[:, None] & ~np.eye(len(ids), dtype=bool)
            better = allowed & (
                (after_max < state.max()) | ((after_max == state.max()) & (after_sum < 0))
            )
            if better.any():
                v, w = np.argwhere(better)[
                    np.lexsort((after_sum[better], after_max[better]))[0]
                ].tolist()
                taken[v] -= 1
                taken[w] += 1
                state = state + change[v, w]
                moved = True
        if not moved:
            break
    return np.concatenate(y_by_class)


def _exact_rotation(
    table: Costs,
    classes: list[tuple[int, ...]],
    sizes: list[int],
    prior: Costs,
    deadline: float = math.inf,
) -> tuple[dict[tuple[int, int], int], Literal["nodes", "time"] | None]:
    """How many dates of each class take each option, with (M, total) exactly optimal, and
    which work limit, if any, stopped the proof (None: the optimum is proven).

    Variables ``y[a, v]`` (class a, option v), integer in ``[0, n_a]``, ``Σ_v y[a, v] = n_a``.
    Stage 1 minimises M subject to ``prior_p + Σ cost_p(v)·y <= M``; stage 2 minimises the
    total with M fixed at its optimum; stage 3 (a tie-break that keeps both) minimises the
    per-occurrence imbalance ``Σ y·(max_p cost_p(v) − min_p cost_p(v))``. If the time safety
    net trips, the deterministic greedy choice is used instead of a time-dependent incumbent.
    """
    pairs = [(a, v) for a, ids in enumerate(classes) for v in ids]
    n = len(pairs)
    var_class = np.array([a for a, _ in pairs], dtype=np.int64)
    costs = table[np.array([v for _, v in pairs], dtype=np.int64)].T  # people × variables
    totals = costs.sum(axis=0)
    upper_y = np.array([sizes[a] for a, _ in pairs], dtype=np.float64)
    class_size = np.array(sizes, dtype=np.float64)
    binding = _binding_people(costs, prior)
    b_costs, b_prior = costs[binding], prior[binding]
    no_lower = np.full(len(binding), -np.inf)
    fallback = _greedy_counts(table, classes, sizes, prior)

    def counts(y: npt.NDArray[np.int64]) -> dict[tuple[int, int], int]:
        return {pair: int(k) for pair, k in zip(pairs, y.tolist(), strict=True) if k}

    # Stage 1: variables (y, M); class rows Σ y = n_a; person rows cost·y − M <= −prior.
    with_m = vstack(
        [
            csr_array(
                (np.ones(n), (var_class, np.arange(n))),
                shape=(len(classes), n + 1),
                dtype=np.float64,
            ),
            csr_array(np.hstack([b_costs, -np.ones((len(binding), 1), dtype=np.int64)])),
        ],
        format="csr",
    ).astype(np.float64)
    objective = np.zeros(n + 1, dtype=np.int64)
    objective[-1] = 1
    start = np.append(fallback, int((prior + costs @ fallback).max()))
    z, limit = _minimise(
        objective,
        with_m,
        np.concatenate([class_size, no_lower]),
        np.concatenate([class_size, -b_prior.astype(np.float64)]),
        np.concatenate([upper_y, [np.inf]]),
        start,
        deadline,
    )
    if limit == "time":
        return counts(fallback), "time"
    y = z[:n]
    best_max = int((prior + costs @ y).max())

    # Stage 2: minimise the total with everyone at most M* (stage 1's point is feasible).
    rows = vstack(
        [
            csr_array((np.ones(n), (var_class, np.arange(n))), shape=(len(classes), n)),
            csr_array(b_costs.astype(np.float64)),
        ],
        format="csr",
    )
    lo = np.concatenate([class_size, no_lower])
    hi = np.concatenate([class_size, (best_max - b_prior).astype(np.float64)])
    y, limit2 = _minimise(totals, rows, lo, hi, upper_y, y, deadline)
    if limit2 == "time":
        return counts(fallback), "time"
    stopped = limit or limit2
    best_total = int(totals @ y)

    # Stage 3 (tie-break): least per-occurrence imbalance among (M*, total*) plans. Any
    # feasible point keeps both optima, so a small node budget is enough.
    imbalance = costs.max(axis=0) - costs.min(axis=0)
    if int(imbalance @ y) > 0:
        tie = _solve(
            imbalance.astype(np.float64),
            vstack([rows, csr_array(totals[None, :].astype(np.float64))], format="csr"),
            np.concatenate([lo, [-np.inf]]),
            np.concatenate([hi, [float(best_total)]]),
            upper_y,
            node_limit=TIE_BREAK_NODES,
            deadline=deadline,
        )
        if tie.limit != "time" and tie.z is not None and imbalance @ tie.z < imbalance @ y:
            y = tie.z
    return counts(y), stopped


def _spread_key(state: Costs) -> tuple[int, int]:
    """(spread, spread of squares): smaller is more even; integers, so ties are exact."""
    total = int(state.sum())
    return int(state.max() - state.min()), len(state) * int((state * state).sum()) - total * total


def _sequence(
    day_class: list[int],
    counts: dict[tuple[int, int], int],
    table: Costs,
    prior: Costs,
    first_position: list[dict[int, int]],
) -> list[int]:
    """Give each date one option of its class, keeping the running spread small (greedy)."""
    left: dict[int, dict[int, int]] = {}
    for (a, v), k in counts.items():
        left.setdefault(a, {})[v] = k
    state = prior.copy()
    chosen: list[int] = []
    for d, a in enumerate(day_class):
        mine = left[a]
        best = min(
            (v for v, k in mine.items() if k > 0),
            key=lambda v: (*_spread_key(state + table[v]), first_position[d][v], v),
        )
        mine[best] -= 1
        state = state + table[best]
        chosen.append(best)
    return chosen


def _improve_by_swaps(
    chosen: list[int], offered: list[frozenset[int]], table: Costs, prior: Costs
) -> list[int]:
    """Pairwise swaps of options between dates (both must offer both) that lower
    ``(max_k spread(k), Σ_k spread(k))``; deterministic first-best per position."""
    chosen = list(chosen)
    k_count = len(chosen)
    if k_count < 2 or table.shape[1] < 2:
        return chosen
    for _ in range(SWAP_PASSES):
        improved = False
        running = prior[None, :] + np.cumsum(table[chosen], axis=0)
        spread = running.max(axis=1) - running.min(axis=1)
        for i in range(k_count - 1):
            head = np.maximum.accumulate(spread)
            tail = np.maximum.accumulate(spread[::-1])[::-1]
            sums = np.concatenate([[0], np.cumsum(spread)])
            current = (int(head[-1]), int(sums[-1]))
            best: tuple[tuple[int, int], int] | None = None
            stop = min(k_count, i + 1 + SWAP_WINDOW)
            u = chosen[i]
            by_vector: dict[int, list[int]] = {}
            for j in range(i + 1, stop):
                w = chosen[j]
                if w != u and w in offered[i] and u in offered[j]:
                    by_vector.setdefault(w, []).append(j)
            for w in sorted(by_vector):
                shifted = running[i:stop] + (table[w] - table[u])
                new = shifted.max(axis=1) - shifted.min(axis=1)
                new_head = np.maximum.accumulate(new)
                new_sums = np.cumsum(new)
                for j in by_vector[w]:
                    width = j - i
                    worst = max(
                        int(head[i - 1]) if i else 0,
                        int(new_head[width - 1]),
                        int(tail[j]),
                    )
                    total = int(sums[-1] - (sums[j] - sums[i]) + new_sums[width - 1])
                    if (worst, total) < current and (best is None or (worst, total) < best[0]):
                        best = ((worst, total), j)
            if best is not None:
                j = best[1]
                chosen[i], chosen[j] = chosen[j], chosen[i]
                running = prior[None, :] + np.cumsum(table[chosen], axis=0)
                spread = running.max(axis=1) - running.min(axis=1)
                improved = True
        if not improved:
            break
    return chosen


def _pick_times(days: Sequence[DayCandidates], choices: list[list[int]]) -> list[int]:
    """One start per date among ``choices[d]`` (positions): fewest distinct anchor-local
    times by greedy cover (the time serving most open dates first, ties to the earlier
    time), then the earliest start at that time."""
    by_time: list[dict[int, int]] = []
    for day, positions in zip(days, choices, strict=True):
        times: dict[int, int] = {}
        for pos in positions:  # ascending start: the first at a time is the earliest
            times.setdefault(int(day.local_minutes[pos]), pos)
        by_time.append(times)
    picked = [-1] * len(days)
    open_days = list(range(len(days)))
    while open_days:
        served = Counter(t for d in open_days for t in by_time[d])
        time_of_day = min(served, key=lambda t: (-served[t], t))
        still_open: list[int] = []
        for d in open_days:
            if time_of_day in by_time[d]:
                picked[d] = by_time[d][time_of_day]
            else:
                still_open.append(d)
        open_days = still_open
    return picked


@dataclass(frozen=True)
class Rotation:
    """One start per date (a position into each date's candidates); ``optimal`` is False
    only if the solver's work budget ran out before (M, total) was proven optimal, and then
    ``reason`` says which budget."""

    picks: list[int]
    optimal: bool
    reason: str | None = None


def _cut_short(limit: Literal["nodes", "time"], seconds: float) -> str:
    if limit == "nodes":
        return (
            f"The solver's work budget ({NODE_BUDGET} branch-and-bound nodes) ran out before "
            "the fairest plan was proven; this is the fairest plan it found."
        )
    return (
        f"The solver's time budget ({seconds:g} s for the whole plan) ran out, so this is a "
        "quick deterministic plan, not proven fairest; fewer dates or participants plan "
        "exactly."
    )


def plan_rotation(
    days: Sequence[DayCandidates],
    prior: Sequence[int] | Costs,
    time_budget_seconds: float = PLAN_TIME_BUDGET_SECONDS,
) -> Rotation:
    """Choose one start per date minimising, exactly and in this order,
    ``M = max_p (prior_p + Σ burden_p)`` and the total burden, then the tie-breaks of the
    module docstring. All solver runs together take at most ``time_budget_seconds``.

    Two people 12 h apart, two dates each offering (180, 120) at 06:00 and (120, 180) at
    19:00: one hard turn each, the earlier time first.

    >>> day = DayCandidates(np.array([[180, 120], [120, 180]]), np.array([360, 1140]),
    ...                     np.array([360, 1140]))
    >>> plan_rotation([day, day], [0, 0])
    Rotation(picks=[0, 1], optimal=True, reason=None)
    """
    if not days:
        return Rotation([], True)
    people = days[0].costs.shape[0]
    prior_vec = np.asarray(prior, dtype=np.int64).reshape(people)
    options = _Options(people)
    day_options = [options.of_day(day) for day in days]
    table = options.table()

    class_index: dict[tuple[int, ...], int] = {}
    day_class: list[int] = []
    for found in day_options:
        day_class.append(class_index.setdefault(found.ids, len(class_index)))
    classes = list(class_index)
    sizes = Counter(day_class)
    deadline = time.monotonic() + time_budget_seconds
    counts, limit = _exact_rotation(
        table, classes, [sizes[a] for a in range(len(classes))], prior_vec, deadline
    )

    first_position = [{v: pos[0] for v, pos in found.positions.items()} for found in day_options]
    chosen = _sequence(day_class, counts, table, prior_vec, first_position)
    offered = [frozenset(found.ids) for found in day_options]
    chosen = _improve_by_swaps(chosen, offered, table, prior_vec)
    picks = _pick_times(
        days, [found.positions[v] for found, v in zip(day_options, chosen, strict=True)]
    )
    if limit is None:
        return Rotation(picks, True)
    return Rotation(picks, False, _cut_short(limit, time_budget_seconds))


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
    required: BurdenMatrix
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
    required = burden_matrix(spec.required, starts, spec.duration_minutes)
    feasible = np.asarray((required.minutes >= 0).all(axis=0), dtype=bool)
    return _Candidates(days, bounds, starts, local, truncated, span, required, feasible)


def _display(names: Mapping[str, str] | None, person: Person) -> str:
    return names.get(person.id, person.id) if names else person.id


def _city(tz: str) -> str:
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unschedulable_reason(
    cal: _Candidates, k: int, required: Sequence[Person], names: Mapping[str, str] | None
) -> str:
    """Who cannot meet on date k and why: the people infeasible at every start of the date,
    or else a general sentence plus whoever is away for part of it. People of one zone with
    the same reasons share a sentence.

    e.g. "Ana (America/New_York) is unavailable: public holiday in US: Thanksgiving Day."
    """
    cols = cal.columns(k)
    rows = cal.required.minutes[:, cols.start : cols.stop]
    span_start = int(cal.starts[cols.start])
    span_end = int(cal.starts[cols.stop - 1]) + cal.required.duration_minutes

    def away(person: Person) -> dict[date, str]:
        first = utc_datetime(span_start).astimezone(person.zone).date()
        last = utc_datetime(span_end - 1).astimezone(person.zone).date()
        return unavailable_dates(person, first, last)

    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    blocked = np.flatnonzero((rows < 0).all(axis=1)).tolist()
    if blocked:
        by_profile: dict[tuple[object, ...], tuple[str, tuple[str, ...]]] = {}
        for p in blocked:
            person = required[p]
            key = profile_key(person)
            if key not in by_profile:  # same profile, same reasons: ask once
                reasons = cal.required.reasons(p, cols)
                off = set(away(person).values())
                verb = "unavailable" if all(r in off for r in reasons) else "unable to meet"
                by_profile[key] = (verb, tuple(reasons))
            verb, why_all = by_profile[key]
            groups.setdefault((person.timezone, verb, why_all), []).append(_display(names, person))
        said = " ".join(
            f"{_join(who)} ({tz}) {'is' if len(who) == 1 else 'are'} {verb}: {'; '.join(why)}."
            for (tz, verb, why), who in groups.items()
        )
        return f"In what is left of the day: {said}" if cal.truncated[k] else said
    text = "No time fits every required participant's working hours within their max stretch"
    if cal.truncated[k]:
        text += " in what is left of the day"
    sentences = [text + "."]
    for p in np.flatnonzero((rows < 0).any(axis=1)).tolist():
        person = required[p]
        off_reasons = tuple(dict.fromkeys(away(person).values()))
        if off_reasons:
            key2 = (person.timezone, "unavailable part of the day", off_reasons)
            groups.setdefault(key2, []).append(_display(names, person))
    sentences += [
        f"{_join(who)} ({tz}) {'is' if len(who) == 1 else 'are'} {verb}: {'; '.join(why)}."
        for (tz, verb, why), who in groups.items()
    ]
    return " ".join(sentences)


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
    starts, minutes, feasible = cal.starts, cal.required.minutes, cal.feasible
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


def _fallback_notice(
    cal: _Candidates,
    fixed: _FixedChoice,
    i: int,
    required: Sequence[Person],
    anchor: str,
    names: Mapping[str, str] | None,
) -> str:
    wanted, column = fixed.wanted[i], fixed.columns[i]
    planned_time = format_hhmm(int(cal.local_minutes[column]))
    fixed_time = format_hhmm(fixed.time_of_day)
    head = f"Fell back from {fixed_time} to {planned_time} {_city(anchor)} time"
    if wanted < 0:
        return f"{head}: {fixed_time} is not an available start on this date."
    why = [
        f"{_display(names, person)} ({person.timezone}): "
        f"{cal.required.reason(p, wanted) or 'unavailable'}"
        for p, person in enumerate(required)
        if cal.required.minutes[p, wanted] < 0
    ]
    return f"{head}: at {fixed_time} {'; '.join(why)}."


# ---------------------------------------------------------------------------------------
# Occurrences and notices.
# ---------------------------------------------------------------------------------------


def _clock_change(tz: str, before: datetime, after: datetime) -> str | None:
    """ "London changed clocks (BST→GMT)" when the zone's offset differs, else None."""
    if before.utcoffset() == after.utcoffset():
        return None
    return f"{_city(tz)} changed clocks ({before.tzname()}→{after.tzname()})"


def _local_time_notices(
    people: Sequence[Person],
    previous: Mapping[str, str],
    previous_start: int | None,
    start: int,
    anchor: str,
    clock: LocalClock,
    names: Mapping[str, str] | None,
) -> list[str]:
    """One notice per (zone, old time, new time) naming who and why.

    "Local start moves from 14:00 to 13:00 for Ana (London): London changed clocks
    (BST→GMT) but New York did not."
    """
    groups: dict[tuple[str, str, str], list[str]] = {}
    for person in people:
        old = previous.get(person.id)
        if old is None:
            continue
        new = clock.hhmm(person.timezone, start)
        if old != new:
            groups.setdefault((person.timezone, old, new), []).append(_display(names, person))
    notices: list[str] = []
    for (tz, old, new), who in groups.items():
        head = f"Local start moves from {old} to {new} for {_join(who)} ({_city(tz)})"
        if previous_start is None:
            notices.append(f"{head} since the last held occurrence.")
            continue
        own = _clock_change(tz, clock(tz, previous_start), clock(tz, start))
        theirs = _clock_change(anchor, clock(anchor, previous_start), clock(anchor, start))
        anchor_before, anchor_after = clock.hhmm(anchor, previous_start), clock.hhmm(anchor, start)
        if anchor_before != anchor_after:
            why = f"the meeting moves from {anchor_before} to {anchor_after} {_city(anchor)} time"
            changes = [c for c in (theirs, own if tz != anchor else None) if c]
            if changes:
                why += "; " + " and ".join(changes)
        elif own and not theirs:
            why = f"{own} but {_city(anchor)} did not"
        elif theirs and not own:
            why = f"{theirs} but {_city(tz)} did not"
        else:
            why = f"{_city(anchor)} and {_city(tz)} changed clocks by different amounts"
        notices.append(f"{head}: {why}.")
    return notices


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
    people = [*spec.required, *spec.optional]
    n_required = len(spec.required)
    duration = spec.duration_minutes
    chosen = cal.starts[columns]
    optional = burden_matrix(spec.optional, chosen, duration)
    costs = np.vstack([cal.required.minutes[:, columns], optional.minutes])
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
        notices: list[str] = []
        column = costs[:, i].tolist()
        for p, person in enumerate(people):
            tz, cost = person.timezone, int(column[p])
            shown.append(
                ParticipantTime(
                    person.id, clock(tz, s), clock(tz, s + duration), tz, cost, cost == 0
                )
            )
            if cost < 0:
                conflicts.append(
                    Conflict(person.id, optional.reason(p - n_required, i) or "unavailable")
                )
        if fixed is not None and fixed.fell_back[i]:
            notices.append(
                _fallback_notice(cal, fixed, i, spec.required, spec.anchor_timezone, names)
            )
        notices += _local_time_notices(
            people, previous, previous_start, s, spec.anchor_timezone, clock, names
        )
        for q, person in enumerate(spec.optional):
            seen = shown[n_required + q]
            day, last = seen.local_start.date(), (seen.local_end - timedelta(minutes=1)).date()
            reasons: list[str] = []
            while day <= last:
                if day in away[q] and away[q][day] not in reasons:
                    reasons.append(away[q][day])
                day += timedelta(days=1)
            if reasons:
                notices.append(
                    f"{_display(names, person)} (optional) is unavailable: {'; '.join(reasons)}."
                )
        planned.append(
            PlannedOccurrence(
                indexes[k],
                dates[k],
                utc_datetime(s),
                utc_datetime(s + duration),
                shown,
                conflicts,
                notices,
            )
        )
        previous = {person.id: clock.hhmm(person.timezone, s) for person in people}
        previous_start = s
    return planned


# ---------------------------------------------------------------------------------------
# The entry point.
# ---------------------------------------------------------------------------------------


def _check_spec(spec: SeriesSpec) -> None:
    if spec.policy not in ("rotate", "fixed"):
        raise InvalidInput(("policy",), "policy must be 'rotate' or 'fixed'.")
    if spec.step_minutes not in GRID_STEPS:
        raise InvalidInput(
            ("step_minutes",), f"step_minutes must be one of {', '.join(map(str, GRID_STEPS))}."
        )
    duration = spec.duration_minutes
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise InvalidInput(("duration_minutes",), "duration_minutes must be a whole number.")
    if not 1 <= duration <= MAX_DURATION_MINUTES:
        raise InvalidInput(
            ("duration_minutes",),
            f"duration_minutes must be from 1 to {MAX_DURATION_MINUTES}.",
        )
    validate_timezone(spec.anchor_timezone, ("anchor_timezone",))
    if not spec.required:
        raise InvalidInput(("participants",), "Mark at least one participant as required.")
    people = [*spec.required, *spec.optional]
    if len(people) > MAX_PARTICIPANTS:
        raise InvalidInput(("participants",), f"At most {MAX_PARTICIPANTS} participants.")
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise InvalidInput(("participants",), "A participant is listed twice; list each once.")


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
    _check_spec(spec)
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
    prior_required = np.array([int(carried.get(p.id, 0)) for p in spec.required], dtype=np.int64)

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
            reason = _unschedulable_reason(cal, k, spec.required, names)
            unschedulable.append(Unschedulable(day, reason))

    fixed: _FixedChoice | None = None
    columns: list[int] = []
    optimal, optimal_reason = True, None
    if schedulable and spec.policy == "rotate":
        feasible_cols = [cal.feasible_columns(k) for k in schedulable]
        days = [
            DayCandidates(cal.required.minutes[:, cols], cal.starts[cols], cal.local_minutes[cols])
            for cols in feasible_cols
        ]
        rotation = plan_rotation(days, prior_required, time_budget_seconds)
        optimal, optimal_reason = rotation.optimal, rotation.reason
        del days  # per-date copies of the burden matrix: free them before the occurrences
        columns = [
            int(cols[pick]) for cols, pick in zip(feasible_cols, rotation.picks, strict=True)
        ]
    elif schedulable:
        fixed = _plan_fixed(cal, schedulable, prior_required)
        columns = fixed.columns

    occurrences = _occurrences(
        spec, cal, indexes, dates, schedulable, columns, fixed, previous_local, names
    )
    planned = cal.required.minutes[:, columns].sum(axis=1) if columns else 0 * prior_required
    burden = [
        PersonBurden(
            p.id, int(prior_required[i]), int(planned[i]), int(prior_required[i] + planned[i])
        )
        for i, p in enumerate(spec.required)
    ]
    for q, person in enumerate(spec.optional):
        mine = sum(
            max(0, o.participants[len(spec.required) + q].burden_minutes) for o in occurrences
        )
        before = int(carried.get(person.id, 0))
        burden.append(PersonBurden(person.id, before, mine, before + mine, required=False))
    return Plan(
        spec.policy,
        occurrences,
        unschedulable,
        burden,
        int((prior_required + planned).max()),
        int(np.sum(planned)),
        optimal,
        optimal_reason,
        SkippedPast(passed, first_kept),
    )
