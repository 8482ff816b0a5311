"""The rotation solver alone (app.scheduling.rotation): tie-breaks, the greedy plan used when
the time budget runs out, and the sentences that say a plan is not proven fairest."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from app.scheduling.rotation import (
    DayCandidates,
    Rotation,
    _cut_short,
    _greedy_counts,
    _proven,
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
    assert _greedy_counts(table, [(0, 1), (2,)], [3, 1], prior).tolist() == [3, 0, 1]
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
