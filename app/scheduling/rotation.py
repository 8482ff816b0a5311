"""The exact rotation solver: one start per date, the burden shared as evenly as it can be.

The rotation minimises, exactly, ``M = max_p (prior_p + Σ burden_p)`` and then the total
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
speed mid-search) and ``Rotation.optimal`` is False, with ``Rotation.reason`` saying
which budget ran out. What a plan costs before it is computed: :mod:`app.scheduling.work`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array, vstack

from app.scheduling.clock import Minutes

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
class DayCandidates:
    """The feasible starts of one date, ascending: each required person's burden at each
    (``costs``, people × starts, all ≥ 0) and each start's anchor-local minute of day."""

    costs: Costs
    starts: Minutes
    local_minutes: Minutes


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
        # Every date has ``self.people`` rows, so the bytes alone fix the shape too.
        key = day.costs.tobytes()
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
    if result.status == 1:  # a time or iteration limit
        nodes = getattr(result, "mip_node_count", None)
        limit = "nodes" if nodes is not None and nodes >= node_limit else "time"
    elif result.status not in (0, 2):
        # Neither proven nor infeasible: HiGHS stopping at the node limit comes back as
        # status 4 ("Solution limit reached"), with or without a point and no node count.
        limit = "nodes"
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
