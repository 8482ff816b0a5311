"""The rotation solver alone (app.scheduling.rotation): tie-breaks, the greedy plan used when
the time budget runs out, and the sentences that say a plan is not proven fairest."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from scipy.sparse import csr_array

from app.scheduling.rotation import (
    SWAP_PASSES,
    SWAP_WINDOW,
    DayCandidates,
    Rotation,
    _binding_people,
    _cut_short,
    _exact_rotation,
    _greedy_counts,
    _improve_by_swaps,
    _minimise,
    _Options,
    _pick_times,
    _proven,
    _Run,
    _sequence,
    _solve,
    _spread_key,
    plan_rotation,
)

OUT_OF_TIME = (
    "The solver's time budget (0 s for the whole plan) ran out, so this is a quick "
    "deterministic plan, not proven fairest; fewer dates or participants plan exactly."
)


def day(
    options: Sequence[tuple[int, ...]], local: list[int] | None = None, k: int = 0
) -> DayCandidates:
    """Date ``k`` offering ``options`` (one burden vector per start), its starts 15 minutes
    apart from 09:00 UTC; ``local``: their anchor-local minutes of day, if not the same."""
    starts = np.arange(len(options), dtype=np.int64) * 15 + 540 + k * 1440
    minutes = np.array(local, dtype=np.int64) if local is not None else starts % 1440
    costs = np.array(options, dtype=np.int64).T.reshape(len(options[0]), len(options))
    return DayCandidates(costs, starts, minutes)


def totals(days: list[DayCandidates], rotation: Rotation, prior: list[int]) -> list[int]:
    picked = [d.costs[:, pick] for d, pick in zip(days, rotation.picks, strict=True)]
    return [int(x) for x in np.array(prior) + np.sum(picked, axis=0)]


def test_no_dates_is_an_empty_optimal_plan() -> None:
    assert plan_rotation([], [0, 0]) == Rotation([], True)


# --- tie-breaks ---------------------------------------------------------------------------


def test_the_time_serving_most_dates_is_fixed_first() -> None:
    """Nobody pays anything anywhere: only the times differ. 11:00 serves three dates, so it
    is fixed first; the date left over takes the earliest of its times, 08:00."""
    free = [(0,)] * 3
    days = [
        day(free, [480, 540, 600], 0),
        day(free[:2], [540, 660], 1),
        day(free[:2], [600, 660], 2),
        day(free[:2], [660, 720], 3),
    ]
    assert plan_rotation(days, [0]) == Rotation([0, 1, 1, 0], True)


def test_equally_served_times_go_to_the_earlier_and_a_repeated_time_to_its_first_start() -> None:
    """01:00 and 02:00 serve both dates; 01:00 is earlier. On the 25-hour date 01:00 comes
    twice, and the first pass (the earlier start) is taken."""
    free = [(0,)] * 3
    days = [day(free, [60, 60, 120], 0), day(free[:2], [60, 120], 1)]
    assert plan_rotation(days, [0]) == Rotation([0, 0], True)
    days = [day(free[:2], [120, 180], 0), day(free[:2], [60, 120], 1)]
    assert plan_rotation(days, [0]) == Rotation([0, 1], True)


@pytest.mark.parametrize(
    "options",
    [
        [(60, 0), (30, 30), (0, 60)],
        [(0, 60), (60, 0), (30, 30)],
        [(30, 30), (0, 60), (60, 0)],
    ],
)
def test_among_optimal_plans_the_even_one_is_preferred(options: list[tuple[int, int]]) -> None:
    """Two dates offering (60, 0), (0, 60) and (30, 30): one turn each and (30, 30) twice
    both give M = 60 and total 120. Sharing every meeting evenly never lets one person get
    ahead, so (30, 30) is taken on both dates."""
    days = [day(options, k=0), day(options, k=1)]
    even = options.index((30, 30))
    assert plan_rotation(days, [0, 0]) == Rotation([even, even], True)


def test_a_dominated_start_is_never_taken() -> None:
    """(40, 10) is worse than (30, 10) for both people; between (30, 10) and (10, 30) one
    turn each is fair (M = 40), and the earlier of the two goes first."""
    days = [day([(40, 10), (30, 10), (10, 30)], k=k) for k in range(2)]
    assert plan_rotation(days, [0, 0]) == Rotation([1, 2], True)


# --- the greedy plan when the time budget runs out ----------------------------------------


def test_out_of_time_the_plan_is_the_greedy_one_and_says_so() -> None:
    """(50, 50) has the least running max on each date, so the greedy plan takes it twice
    (M = 100), and no single change lowers M: one turn each (M = 60) is what the solver
    finds when it has time."""
    days = [day([(60, 0), (0, 60), (50, 50)], k=k) for k in range(2)]
    greedy = plan_rotation(days, [0, 0], time_budget_seconds=0)
    assert greedy == Rotation([2, 2], False, OUT_OF_TIME)
    exact = plan_rotation(days, [0, 0])
    assert exact.optimal and totals(days, exact, [0, 0]) == [60, 60]


def test_greedy_moves_earlier_choices_while_that_lowers_m() -> None:
    """Alone, three dates offering (30, 0) and (0, 40) take (30, 0), (0, 40), (30, 0) (least
    running max each time); the fourth date can only give person 0 another 100, so M = 160.
    Moving one (30, 0) to (0, 40) makes it 130, moving the other 120: the greedy plan makes
    both moves, one per round."""
    days = [*(day([(30, 0), (0, 40)], k=k) for k in range(3)), day([(100, 0)], k=3)]
    greedy = plan_rotation(days, [0, 0], time_budget_seconds=0)
    assert greedy == Rotation([1, 1, 1, 0], False, OUT_OF_TIME)
    assert totals(days, greedy, [0, 0]) == [100, 120]


def test_greedy_counts_per_class_and_option() -> None:
    """The counts themselves (class by class, options in table order): the plan above, and
    the same with one date of (30, 0) and (0, 40), where one move suffices and none is left."""
    table = np.array([(0, 40), (30, 0), (100, 0)], dtype=np.int64)
    prior = np.zeros(2, dtype=np.int64)
    counts = _greedy_counts(table, [(0, 1), (2,)], [3, 1], prior)
    assert counts.dtype == np.int64 and counts.tolist() == [3, 0, 1]
    assert _greedy_counts(table, [(0, 1), (2,)], [1, 1], prior).tolist() == [1, 0, 1]


def test_greedy_makes_no_move_that_changes_neither_m_nor_the_total() -> None:
    """After (40, 40, 0, 0), the second date's (0, 0, 30, 0) has the least running max; the
    third gives person 3 100. Trading it for (30, 0, 0, 0) or (0, 30, 0, 0) keeps M = 100
    and the total: not a move, so the first choice stays."""
    table = np.array(
        [(30, 0, 0, 0), (0, 30, 0, 0), (0, 0, 30, 0), (40, 40, 0, 0), (0, 0, 0, 100)],
        dtype=np.int64,
    )
    counts = _greedy_counts(table, [(3,), (0, 1, 2), (4,)], [1, 1, 1], np.zeros(4, dtype=np.int64))
    assert counts.tolist() == [1, 0, 0, 1, 1]


def test_greedy_moves_an_earlier_choice_when_that_lowers_the_total_at_the_same_m() -> None:
    """The first date alone prefers (20, 20, 0) (running max 20); the second gives person 2
    100 whatever happens, so M is 100 either way and (30, 0, 0) is cheaper in total."""
    days = [day([(20, 20, 0), (30, 0, 0)], k=0), day([(0, 0, 100)], k=1)]
    greedy = plan_rotation(days, [0, 0, 0], time_budget_seconds=0)
    assert greedy == Rotation([1, 0], False, OUT_OF_TIME)
    assert totals(days, greedy, [0, 0, 0]) == [30, 0, 100]


def test_greedy_counts_the_prior_burden() -> None:
    """Person 0 already carries 100: the first two dates give the hard turn to person 1
    (running max 100, then 120); on the third, 60 more for person 0 (160) beats (50, 50)
    (170 for person 1) and another 60 for person 1 (180)."""
    days = [day([(60, 0), (0, 60), (50, 50)], k=k) for k in range(3)]
    greedy = plan_rotation(days, [100, 0], time_budget_seconds=0)
    assert greedy.optimal is False and greedy.reason == OUT_OF_TIME
    assert totals(days, greedy, [100, 0]) == [160, 120]


# --- the sentences ------------------------------------------------------------------------


def test_cut_short_sentences() -> None:
    assert _cut_short("nodes", 2.0) == (
        "The solver's work budget (1000 branch-and-bound nodes) ran out before the fairest "
        "plan was proven; this is the fairest plan it found."
    )
    assert _cut_short("time", 2.0) == OUT_OF_TIME.replace("(0 s", "(2 s")
    assert _cut_short("time", 0.5) == OUT_OF_TIME.replace("(0 s", "(0.5 s")


# --- the optimality proof -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bound", "proven"),
    [
        (5, 5.0, True),
        (5, 4.01, True),  # every integer point is >= 4.01, so >= 5
        (5, 4.0000001, False),  # float noise above 4: 4 may still be reachable
        (5, 5.000004, True),  # noise above 5 is still 5
        (0, 0.0, True),
        (1, 0.0, False),
        (2_000_001, 2_000_000.5, False),  # the noise allowance grows with the bound
        (1, 0.000002, True),  # near zero the allowance is 1e-6
        (1, 0.0000005, False),
        (2_000_001, 2_000_003.0, True),
        (3, None, False),
        (3, math.inf, False),
        (3, -math.inf, False),
        (3, math.nan, False),
    ],
)
def test_a_value_is_proven_only_by_a_dual_bound_above_the_next_integer_down(
    value: int, bound: float | None, proven: bool
) -> None:
    assert _proven(value, bound) is proven


# --- one HiGHS run ------------------------------------------------------------------------

KNAPSACK_WEIGHTS = [52, 56, 77, 95, 13, 22]
KNAPSACK_VALUES = [84, 95, 32, 38, 88, 48]
KNAPSACK_CAPACITY = 157


def run(
    objective: Sequence[float],
    rows: Sequence[Sequence[float]],
    lo: Sequence[float],
    hi: Sequence[float],
    upper: Sequence[float],
    **kwargs: Any,
) -> _Run:
    """``_solve`` on plain lists."""
    return _solve(
        np.array(objective, dtype=np.float64),
        csr_array(np.array(rows, dtype=np.float64)),
        np.array(lo, dtype=np.float64),
        np.array(hi, dtype=np.float64),
        np.array(upper, dtype=np.float64),
        **kwargs,
    )


def test_a_run_returns_an_optimal_integer_point_and_the_optimum_as_its_bound() -> None:
    """A 0/1 knapsack whose LP relaxation is fractional (its bound, 320, is above the best
    packing): the run must still prove the best packing, found here by trying all 64."""
    best = max(
        sum(v for v, take in zip(KNAPSACK_VALUES, pick, strict=True) if take)
        for pick in itertools.product((0, 1), repeat=6)
        if sum(w for w, take in zip(KNAPSACK_WEIGHTS, pick, strict=True) if take)
        <= KNAPSACK_CAPACITY
    )
    found = run(
        [-v for v in KNAPSACK_VALUES], [KNAPSACK_WEIGHTS], [-math.inf], [KNAPSACK_CAPACITY], [1] * 6
    )
    assert found.z is not None and found.z.dtype == np.int64
    assert int(np.dot(KNAPSACK_WEIGHTS, found.z)) <= KNAPSACK_CAPACITY
    assert int(np.dot(KNAPSACK_VALUES, found.z)) == best
    assert found.bound == -best
    assert found.limit is None


def test_a_run_keeps_each_variable_within_its_upper_bound() -> None:
    """Maximising x + y with no row in the way: the variables' own bounds, 3 and 2, stop it."""
    found = run([-1, -1], [[1, 1]], [-math.inf], [math.inf], [3, 2])
    assert found.z is not None and found.z.tolist() == [3, 2]
    assert found.bound == -5.0 and found.limit is None


def test_an_infeasible_run_has_no_point_and_no_limit() -> None:
    assert run([1], [[1]], [2], [2], [1]) == _Run(None, None, None)


def test_a_run_past_the_deadline_does_not_solve_and_one_before_it_does() -> None:
    assert run([1], [[1]], [1], [1], [1], deadline=time.monotonic() - 1) == _Run(None, None, "time")
    found = run([1], [[1]], [1], [1], [1], deadline=time.monotonic() + 0.5)
    assert found.z is not None and found.z.tolist() == [1]
    assert (found.bound, found.limit) == (1.0, None)


def hard_knapsack() -> tuple[list[list[int]], list[int]]:
    """Three knapsack rows over 24 items (capacity half of each row's weights): HiGHS needs
    tens of thousands of nodes and seconds to prove the best packing."""
    weights = np.random.default_rng(6).integers(0, 100, (3, 24))
    return weights.tolist(), (weights.sum(axis=1) // 2).tolist()


def test_a_run_stopped_by_the_time_limit_returns_its_incumbent_and_says_so() -> None:
    weights, capacity = hard_knapsack()
    value = np.sum(weights, axis=0)
    found = run(
        (-value).tolist(),
        weights,
        [-math.inf] * 3,
        capacity,
        [1] * 24,
        node_limit=10**9,
        deadline=time.monotonic() + 0.05,
    )
    assert found.limit == "time"
    assert found.z is not None and (np.array(weights) @ found.z <= capacity).all()
    assert found.bound is not None and found.bound <= -int(value @ found.z)


def test_a_run_stopped_by_the_time_limit_before_any_point_has_none() -> None:
    """Four equality rows over 30 0/1 variables (a market-split problem with a planted
    solution): no point is found in 50 ms."""
    rng = np.random.default_rng(8)
    weights = rng.integers(0, 100, (4, 30))
    target = (weights @ rng.integers(0, 2, 30)).tolist()
    found = run(
        [0] * 30,
        weights.tolist(),
        target,
        target,
        [1] * 30,
        node_limit=10**9,
        deadline=time.monotonic() + 0.05,
    )
    assert found == _Run(None, None, "time")


@pytest.mark.parametrize(
    ("objective", "rows", "lo", "hi", "upper"),
    [
        # HiGHS accepts 1 - 5e-7 as integral, but 1 is above the bound
        ([-1], [[1]], [-math.inf], [math.inf], [1 - 5e-7]),
        ([-1, 0], [[0, 1]], [0], [0], [1 - 5e-7, 1]),
        # x + y within HiGHS's tolerance of the row's bounds, but not exactly in them
        ([1, 1], [[1, 1]], [1 + 5e-7], [1 + 5e-7], [5, 5]),
        ([1, 1], [[1, 1]], [1 + 5e-7], [math.inf], [5, 5]),
        ([-1, -1], [[1, 1]], [-math.inf], [1 - 5e-7], [5, 5]),
    ],
)
def test_a_point_feasible_only_within_tolerance_is_refused(
    objective: list[float],
    rows: list[list[float]],
    lo: list[float],
    hi: list[float],
    upper: list[float],
) -> None:
    with pytest.raises(
        RuntimeError, match=r"^HiGHS returned a point that is not integer-feasible$"
    ):
        run(objective, rows, lo, hi, upper)


# --- minimising an integer objective ------------------------------------------------------


def minimise(objective: list[int], start: list[int]) -> tuple[list[int], str | None]:
    """``_minimise`` over two 0/1 variables with x + y = 1, within a second (proofs here
    take milliseconds)."""
    z, limit = _minimise(
        np.array(objective, dtype=np.int64),
        csr_array(np.array([[1.0, 1.0]])),
        np.array([1.0]),
        np.array([1.0]),
        np.array([1.0, 1.0]),
        np.array(start, dtype=np.int64),
        time.monotonic() + 1,
    )
    return z.tolist(), limit


def test_minimise_improves_on_a_start_that_is_not_optimal() -> None:
    assert minimise([2, 3], [0, 1]) == ([1, 0], None)
    assert minimise([3, 2], [1, 0]) == ([0, 1], None)


@pytest.mark.parametrize("cost", [3, 1_000_000])
def test_minimise_keeps_the_start_when_nothing_is_better(cost: int) -> None:
    """Both points cost the same: only a strictly better point replaces the start."""
    assert minimise([cost, cost], [0, 1]) == ([0, 1], None)
    assert minimise([cost, cost], [1, 0]) == ([1, 0], None)


def test_minimise_proves_a_large_optimum_by_a_cut() -> None:
    """At a million the bound's noise allowance is a whole unit, so the bound cannot prove
    1 000 000: the cut ``objective <= 999 999`` must make the problem infeasible, which it
    does, so the optimum is proven without a limit."""
    assert minimise([1_000_000, 1_000_001], [0, 1]) == ([1, 0], None)
    assert minimise([1_000_001, 1_000_000], [1, 0]) == ([0, 1], None)


# --- distinct burden vectors and each date's options --------------------------------------


def test_no_vectors_is_an_empty_table_of_the_right_width() -> None:
    table = _Options(3).table()
    assert table.shape == (0, 3) and table.dtype == np.int64


def test_equal_vectors_share_one_id() -> None:
    options = _Options(2)
    first = options.vector_id(np.array([30, 10], dtype=np.int64))
    second = options.vector_id(np.array([10, 30], dtype=np.int64))
    assert options.vector_id(np.array([30, 10], dtype=np.int64)) == first != second
    assert options.table().tolist() == [[30, 10], [10, 30]]


def test_a_dates_options_are_its_undominated_vectors_with_their_starts() -> None:
    """(40, 10) is worse than (30, 10) for person 0 and no better for person 1: dropped.
    (30, 10) is offered by starts 1 and 3. A second date shares the (30, 10) vector; its
    (50, 50) is dominated by it and its (5, 60) is new."""
    options = _Options(2)
    first = options.of_day(day([(40, 10), (30, 10), (10, 30), (30, 10)]))
    second = options.of_day(day([(30, 10), (50, 50), (5, 60)], k=1))
    table = options.table()
    vectors = {tuple(table[v].tolist()): v for v in range(len(table))}
    assert sorted(vectors) == [(5, 60), (10, 30), (30, 10)]
    assert first.ids == tuple(sorted([vectors[(30, 10)], vectors[(10, 30)]]))
    assert first.positions == {vectors[(30, 10)]: [1, 3], vectors[(10, 30)]: [2]}
    assert second.ids == tuple(sorted([vectors[(30, 10)], vectors[(5, 60)]]))
    assert second.positions == {vectors[(30, 10)]: [0], vectors[(5, 60)]: [2]}


def test_dates_with_the_same_burdens_share_one_option_set() -> None:
    options = _Options(2)
    found = options.of_day(day([(30, 10), (10, 30)], k=0))
    assert options.of_day(day([(30, 10), (10, 30)], k=5)) is found
    assert options.of_day(day([(10, 30), (30, 10)], k=5)) is not found


# --- which people can bind the maximum ----------------------------------------------------


@pytest.mark.parametrize(
    ("people", "variables", "binding"),
    [
        (300, 1, [299]),
        (2000, 4, [1999]),  # 2000² × 5 columns = 20 000 000 comparisons: still pruned
        (2000, 5, list(range(2000))),  # 24 000 000: too many to compare, all kept
    ],
)
def test_only_people_no_one_else_covers_can_bind(
    people: int, variables: int, binding: list[int]
) -> None:
    """Person p has p minutes already and nothing more to pay: the last person's row,
    prior + burden <= M, implies everyone else's, so only they can bind, when the rows
    are few enough to compare pairwise."""
    prior = np.arange(people, dtype=np.int64)
    costs = np.zeros((people, variables), dtype=np.int64)
    assert _binding_people(costs, prior).tolist() == binding


def test_people_with_the_same_profile_bind_once_and_the_first_of_them_counts() -> None:
    """People 0 and 1 are the same row (the first stands for both); person 3 pays at least
    what person 2 pays everywhere, so person 2 never binds."""
    prior = np.array([5, 5, 3, 3], dtype=np.int64)
    costs = np.array([[1, 0], [1, 0], [0, 2], [2, 4]], dtype=np.int64)
    assert _binding_people(costs, prior).tolist() == [0, 3]


# --- the exact counts ---------------------------------------------------------------------

# Two classes of one date each: (30, 10) or (0, 50), then (30, 0) or (20, 40).
TWO_STEP_TABLE = np.array([(30, 10), (0, 50), (30, 0), (20, 40)], dtype=np.int64)
TWO_STEP_CLASSES: list[tuple[int, ...]] = [(0, 1), (2, 3)]


def test_the_total_is_minimised_even_where_no_single_change_lowers_it() -> None:
    """The greedy plan takes (30, 10), then (20, 40): M = 50, total 100, and changing either
    date alone raises M. Changing both, (0, 50) and (30, 0), keeps M = 50 at total 80."""
    prior = np.zeros(2, dtype=np.int64)
    greedy = _greedy_counts(TWO_STEP_TABLE, TWO_STEP_CLASSES, [1, 1], prior)
    assert greedy.tolist() == [1, 0, 0, 1]
    exact = _exact_rotation(TWO_STEP_TABLE, TWO_STEP_CLASSES, [1, 1], prior)
    assert exact == ({(0, 1): 1, (1, 2): 1}, None)
    days = [day([(30, 10), (0, 50)], k=0), day([(30, 0), (20, 40)], k=1)]
    plan = plan_rotation(days, [0, 0])
    assert plan == Rotation([1, 0], True) and totals(days, plan, [0, 0]) == [30, 50]


def test_out_of_time_the_counts_are_the_greedy_ones_and_say_time() -> None:
    prior = np.zeros(2, dtype=np.int64)
    past = time.monotonic() - 1
    assert _exact_rotation(TWO_STEP_TABLE, TWO_STEP_CLASSES, [1, 1], prior, past) == (
        {(0, 0): 1, (1, 3): 1},
        "time",
    )


# --- naive references for the heuristics, compared on seeded random inputs ----------------


def naive_spread_objective(
    chosen: list[int], table: np.ndarray, prior: np.ndarray
) -> tuple[int, int]:
    """(max_k spread(k), Σ_k spread(k)), recomputed from scratch."""
    running = prior + np.cumsum(table[chosen], axis=0)
    spreads = running.max(axis=1) - running.min(axis=1)
    return int(spreads.max()), int(spreads.sum())


def naive_swaps(
    chosen: list[int], offered: list[frozenset[int]], table: np.ndarray, prior: np.ndarray
) -> list[int]:
    """Per position i, the swap with a later date j (within the window, both offering both
    options) that lowers the spread objective most, the first such by (option, date) on
    ties; at most SWAP_PASSES passes, stopping after one without a swap."""
    chosen = list(chosen)
    if len(chosen) < 2 or table.shape[1] < 2:
        return chosen
    for _ in range(SWAP_PASSES):
        improved = False
        for i in range(len(chosen) - 1):
            current = naive_spread_objective(chosen, table, prior)
            u = chosen[i]
            later = [
                j
                for j in range(i + 1, min(len(chosen), i + 1 + SWAP_WINDOW))
                if chosen[j] != u and chosen[j] in offered[i] and u in offered[j]
            ]
            best: tuple[tuple[int, int], int] | None = None
            for j in sorted(later, key=lambda j: (chosen[j], j)):
                swapped = list(chosen)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                value = naive_spread_objective(swapped, table, prior)
                if value < current and (best is None or value < best[0]):
                    best = (value, j)
            if best is not None:
                j = best[1]
                chosen[i], chosen[j] = chosen[j], chosen[i]
                improved = True
        if not improved:
            break
    return chosen


@pytest.mark.parametrize("seed", [*range(12), 24, 42, 199, 350, 584])
def test_swaps_match_a_naive_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    people = int(rng.integers(2, 4))
    vectors = int(rng.integers(2, 5))
    dates = int(rng.integers(2, 12)) if seed % 4 else int(rng.integers(28, 36))
    table = rng.integers(0, 4, (vectors, people)).astype(np.int64) * 10
    prior = rng.integers(0, 3, people).astype(np.int64) * 10
    offered = [
        frozenset(int(v) for v in np.flatnonzero(rng.random(vectors) < 0.7))
        | {int(rng.integers(vectors))}
        for _ in range(dates)
    ]
    chosen = [int(rng.choice(sorted(offer))) for offer in offered]
    expected = naive_swaps(chosen, offered, table, prior)
    assert _improve_by_swaps(chosen, offered, table, prior) == expected
    assert naive_spread_objective(expected, table, prior) <= naive_spread_objective(
        chosen, table, prior
    )


def test_swaps_need_two_dates_and_two_people() -> None:
    table = np.array([[10, 0], [0, 10]], dtype=np.int64)
    both = frozenset({0, 1})
    prior = np.zeros(2, dtype=np.int64)
    assert _improve_by_swaps([0], [both], table, prior) == [0]
    # (10, 0), (10, 0), (0, 10), (0, 10): spreads 10, 20, 10, 0. Swapping the first date
    # with the third (the first of the two that help) makes them 10, 0, 10, 0.
    assert _improve_by_swaps([0, 0, 1, 1], [both] * 4, table, prior) == [1, 0, 0, 1]
    # two dates: (0, 10) first leaves person 1 20 ahead (spreads 20, 10); (10, 0) first
    # evens it (0, 10)
    assert _improve_by_swaps([1, 0], [both] * 2, table, np.array([0, 10])) == [0, 1]
    alone = np.array([[10], [0]], dtype=np.int64)
    assert _improve_by_swaps([0, 0, 1, 1], [both] * 4, alone, prior[:1]) == [0, 0, 1, 1]


def naive_greedy(
    table: np.ndarray, classes: list[tuple[int, ...]], sizes: list[int], prior: np.ndarray
) -> list[int]:
    """Each date the option of least (running max, total), first on ties; then rounds (at
    most 20) in which each class makes the single move v → w giving the least (max, total
    change), first by (v, w) on ties, if it lowers M or keeps M and lowers the total."""
    state = prior.copy()
    taken: list[list[int]] = []
    for a, ids in enumerate(classes):
        counts = [0] * len(ids)
        for _ in range(sizes[a]):
            i = min(
                range(len(ids)),
                key=lambda i: (int((state + table[ids[i]]).max()), int(table[ids[i]].sum()), i),
            )
            counts[i] += 1
            state = state + table[ids[i]]
        taken.append(counts)
    for _ in range(20):
        moved = False
        for a, ids in enumerate(classes):
            now = int(state.max())
            moves = []
            for v in range(len(ids)):
                for w in range(len(ids)):
                    if v != w and taken[a][v] > 0:
                        change = table[ids[w]] - table[ids[v]]
                        after = (int((state + change).max()), int(change.sum()))
                        if after[0] < now or (after[0] == now and after[1] < 0):
                            moves.append((after, v, w))
            if moves:
                _, v, w = min(moves)
                taken[a][v] -= 1
                taken[a][w] += 1
                state = state + table[ids[w]] - table[ids[v]]
                moved = True
        if not moved:
            break
    return [k for counts in taken for k in counts]


@pytest.mark.parametrize("seed", range(16))
def test_greedy_counts_match_a_naive_greedy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    people = int(rng.integers(1, 4))
    vectors = int(rng.integers(2, 7))
    table = rng.integers(0, 6, (vectors, people)).astype(np.int64) * 10
    prior = rng.integers(0, 4, people).astype(np.int64) * 10
    classes = [
        tuple(sorted(int(v) for v in rng.choice(vectors, int(rng.integers(1, vectors + 1)), False)))
        for _ in range(int(rng.integers(1, 4)))
    ]
    sizes = [int(rng.integers(1, 5)) for _ in classes]
    expected = naive_greedy(table, classes, sizes, prior)
    assert _greedy_counts(table, classes, sizes, prior).tolist() == expected


def naive_times(local: list[list[int]], choices: list[list[int]]) -> list[int]:
    """Greedy cover: the anchor-local time offered by most open dates (the earlier on
    ties) serves all of them, each at its first listed start at that time; repeat."""
    picked = [-1] * len(choices)
    while -1 in picked:
        open_days = [d for d, p in enumerate(picked) if p == -1]
        offered = {t for d in open_days for t in (local[d][pos] for pos in choices[d])}
        best = min(
            offered,
            key=lambda t: (-sum(t in [local[d][p] for p in choices[d]] for d in open_days), t),
        )
        for d in open_days:
            at = [pos for pos in choices[d] if local[d][pos] == best]
            if at:
                picked[d] = at[0]
    return picked


@pytest.mark.parametrize("seed", range(12))
def test_time_picks_match_a_naive_cover(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    days, choices, local = [], [], []
    for k in range(int(rng.integers(1, 9))):
        n = int(rng.integers(1, 6))
        minutes = (rng.integers(0, 6, n) * 60).tolist()
        local.append(minutes)
        days.append(day([(0,)] * n, minutes, k))
        choices.append(sorted(int(p) for p in rng.choice(n, int(rng.integers(1, n + 1)), False)))
    assert _pick_times(days, choices) == naive_times(local, choices)


def naive_sequence(
    day_class: list[int],
    counts: dict[tuple[int, int], int],
    table: np.ndarray,
    prior: np.ndarray,
    first_position: list[dict[int, int]],
) -> list[int]:
    """Date by date, the class's option still to use (count left > 0) whose addition gives
    the least (spread, n·Σx² − (Σx)²), then the earliest start, then the lowest id."""
    left = dict(counts)
    state = prior.copy()
    chosen = []
    for d, a in enumerate(day_class):

        def key(v: int, state: np.ndarray = state, d: int = d) -> tuple[int, int, int, int]:
            after = state + table[v]
            n, total = len(after), int(after.sum())
            spread = int(after.max() - after.min())
            return spread, n * int((after**2).sum()) - total * total, first_position[d][v], v

        best = min((v for (b, v), k in left.items() if b == a and k > 0), key=key)
        left[(a, best)] -= 1
        state = state + table[best]
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("seed", range(12))
def test_sequencing_matches_a_naive_greedy(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    people = int(rng.integers(1, 4))
    vectors = int(rng.integers(1, 6))
    table = rng.integers(0, 5, (vectors, people)).astype(np.int64) * 10
    prior = rng.integers(0, 3, people).astype(np.int64) * 10
    classes = [
        sorted(int(v) for v in rng.choice(vectors, int(rng.integers(1, vectors + 1)), False))
        for _ in range(int(rng.integers(1, 3)))
    ]
    day_class = [int(rng.integers(len(classes))) for _ in range(int(rng.integers(1, 10)))]
    counts: dict[tuple[int, int], int] = {}
    for a in day_class:
        v = int(rng.choice(classes[a]))
        counts[(a, v)] = counts.get((a, v), 0) + 1
    first_position = [
        {v: int(p) for v, p in zip(classes[a], rng.permutation(len(classes[a])), strict=True)}
        for a in day_class
    ]
    expected = naive_sequence(day_class, counts, table, prior, first_position)
    assert _sequence(day_class, dict(counts), table, prior, first_position) == expected


def test_the_spread_key_is_the_spread_then_the_spread_of_squares() -> None:
    # [3, 1, 2]: spread 2; 3 · (9 + 1 + 4) − 6² = 6
    assert _spread_key(np.array([30, 10, 20], dtype=np.int64)) == (20, 600)
    assert _spread_key(np.array([5, 5], dtype=np.int64)) == (0, 0)


def compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    """Every way to write ``total`` as ``parts`` non-negative integers, in order."""
    if parts == 1:
        return [(total,)]
    return [(k, *rest) for k in range(total + 1) for rest in compositions(total - k, parts - 1)]


def naive_optimum(
    table: np.ndarray, classes: list[tuple[int, ...]], sizes: list[int], prior: np.ndarray
) -> tuple[int, int, int]:
    """(M, total, imbalance) of the best count vector: every one is tried."""
    spread = table.max(axis=1) - table.min(axis=1)
    best: tuple[int, int, int] | None = None
    for choice in itertools.product(
        *(compositions(size, len(ids)) for ids, size in zip(classes, sizes, strict=True))
    ):
        state = prior.copy()
        imbalance = 0
        for ids, counts in zip(classes, choice, strict=True):
            for v, k in zip(ids, counts, strict=True):
                state = state + k * table[v]
                imbalance += k * int(spread[v])
        key = (int(state.max()), int(state.sum() - prior.sum()), imbalance)
        best = key if best is None or key < best else best
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(20))
def test_exact_counts_are_optimal_then_least_imbalanced(seed: int) -> None:
    """M, then the total, then Σ (max − min burden) over the chosen options: all three
    as low as an exhaustive search finds them."""
    rng = np.random.default_rng(400 + seed)
    people = int(rng.integers(2, 5))
    vectors = int(rng.integers(3, 7))
    table = rng.integers(0, 7, (vectors, people)).astype(np.int64) * 10
    prior = rng.integers(0, 4, people).astype(np.int64) * 10
    classes = [
        tuple(sorted(int(v) for v in rng.choice(vectors, int(rng.integers(2, 4)), False)))
        for _ in range(int(rng.integers(1, 4)))
    ]
    sizes = [int(rng.integers(1, 4)) for _ in classes]
    counts, limit = _exact_rotation(table, classes, sizes, prior)
    assert limit is None
    assert all(k > 0 for k in counts.values())
    assert {a: sum(k for (b, _), k in counts.items() if b == a) for a in range(len(classes))} == {
        a: size for a, size in enumerate(sizes)
    }
    assert all(v in classes[a] for a, v in counts)
    state = prior + sum((k * table[v] for (_, v), k in counts.items()), np.zeros_like(prior))
    spread = table.max(axis=1) - table.min(axis=1)
    imbalance = sum(k * int(spread[v]) for (_, v), k in counts.items())
    found = (int(state.max()), int(state.sum() - prior.sum()), imbalance)
    assert found == naive_optimum(table, classes, sizes, prior)


def test_among_equally_fair_counts_the_least_imbalanced_are_taken() -> None:
    """Person 1 already has 30. The greedy plan takes (60, 0), then (0, 60): M = 90, total
    120, and no single change helps. (30, 30) twice gives the same M and total with every
    meeting shared evenly, so the tie-break takes it."""
    table = np.array([(60, 0), (0, 60), (30, 30)], dtype=np.int64)
    prior = np.array([0, 30], dtype=np.int64)
    assert _greedy_counts(table, [(0, 1, 2)], [2], prior).tolist() == [1, 1, 0]
    assert _exact_rotation(table, [(0, 1, 2)], [2], prior) == ({(0, 2): 2}, None)
    days = [day([(60, 0), (0, 60), (30, 30)], k=k) for k in range(2)]
    assert plan_rotation(days, [0, 30]) == Rotation([2, 2], True)


def test_greedy_stops_moving_after_twenty_rounds() -> None:
    """60 dates of (10, 0) or (0, 11) alone alternate to 31 and 29 (310 and 319); a date
    giving person 0 another 1000 then makes every (10, 0) → (0, 11) move lower M, one per
    round. After 20 rounds (11 and 49: M = 1110) it stops, though a 21st would help."""
    table = np.array([(10, 0), (0, 11), (1000, 0)], dtype=np.int64)
    counts = _greedy_counts(table, [(0, 1), (2,)], [60, 1], np.zeros(2, dtype=np.int64))
    assert counts.tolist() == [11, 49, 1]
    assert (table.T @ counts).tolist() == [1110, 539]


def test_the_tie_break_weighs_each_option_by_its_own_spread() -> None:
    """Person 4 already has 100, so M = 120 and the total is 120 either way. (35, 35, 30,
    0, 20) spreads 35 between people, (40, 20, 20, 20, 20) only 20, though its largest
    burden is the larger: the tie-break takes it, where the greedy plan took the first."""
    table = np.array([(35, 35, 30, 0, 20), (40, 20, 20, 20, 20)], dtype=np.int64)
    prior = np.array([0, 0, 0, 0, 100], dtype=np.int64)
    assert _greedy_counts(table, [(0, 1)], [1], prior).tolist() == [1, 0]
    assert _exact_rotation(table, [(0, 1)], [1], prior) == ({(0, 1): 1}, None)


def test_swaps_reach_at_most_the_window_ahead() -> None:
    """Person 0 starts 10 ahead. Date 0 gives them 10 more, the last date gives person 1 10:
    swapping the two (both offer both) would even out every step, but the last date is
    ``SWAP_WINDOW + 1`` dates ahead, one too far; the dates between offer nothing else. With
    one date fewer between them the swap is made."""
    table = np.array([(10, 0), (0, 10), (0, 0)], dtype=np.int64)
    prior = np.array([10, 0], dtype=np.int64)
    for between, expected_first in ((SWAP_WINDOW, 0), (SWAP_WINDOW - 1, 1)):
        chosen = [0, *[2] * between, 1]
        offered = [frozenset({0, 1}), *[frozenset({2})] * between, frozenset({0, 1})]
        swapped = _improve_by_swaps(chosen, offered, table, prior)
        assert swapped == [expected_first, *[2] * between, 1 - expected_first]


def test_the_prior_burden_may_come_in_any_shape_with_one_entry_per_person() -> None:
    days = [day([(60, 0), (0, 60), (30, 30)], k=k) for k in range(2)]
    flat = plan_rotation(days, [0, 30])
    assert plan_rotation(days, np.array([[0], [30]], dtype=np.int64)) == flat
    assert plan_rotation(days, (0, 30)) == flat == Rotation([2, 2], True)


def test_a_single_date_gives_the_turn_to_whoever_has_paid_less() -> None:
    assert plan_rotation([day([(30, 10), (10, 30)])], [0, 20]) == Rotation([0], True)
    assert plan_rotation([day([(30, 10), (10, 30)])], [20, 0]) == Rotation([1], True)


def test_a_run_stopped_by_the_node_limit_says_so_and_is_not_read_as_infeasible() -> None:
    """Four equality rows over 30 yes/no variables, feasible by construction (the target is
    one chosen point's row sums): with 1000 nodes HiGHS stops without a point. That is the
    work budget running out, never a proof that no point exists."""
    rng = np.random.default_rng(8)
    weights = rng.integers(0, 100, (4, 30)).astype(np.float64)
    target = weights @ rng.integers(0, 2, 30)
    run = _solve(np.zeros(30), csr_array(weights), target, target, np.ones(30))
    assert run.limit == "nodes"
    assert run.z is None or (weights @ run.z == target).all()
