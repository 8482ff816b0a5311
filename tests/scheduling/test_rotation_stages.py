"""The three MILP stages of the exact rotation (app.scheduling.rotation._exact_rotation) on
small hand-made option tables, against the optimum worked out by hand or by trying every
count vector: stage 1 the least M, stage 2 the least total at that M, stage 3 the least
per-occurrence imbalance among the plans that keep both. Then the pairwise swaps on burdens
of single minutes, where a swap can change the spread objective by one."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from app.scheduling.rotation import (
    SWAP_WINDOW,
    DayCandidates,
    _exact_rotation,
    _greedy_counts,
    _improve_by_swaps,
    _pick_times,
    plan_rotation,
)
from tests.scheduling.test_rotation import naive_swaps

Counts = dict[tuple[int, int], int]


def compositions(n: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to write ``n`` as ``parts`` non-negative integers, in order."""
    if parts == 1:
        yield (n,)
        return
    for first in range(n + 1):
        for rest in compositions(n - first, parts - 1):
            yield (first, *rest)


def every_plan(classes: list[tuple[int, ...]], sizes: list[int]) -> Iterator[Counts]:
    """Every choice of how many dates of each class take each of its options."""
    per_class = [
        list(compositions(size, len(ids))) for ids, size in zip(classes, sizes, strict=True)
    ]
    for combo in itertools.product(*per_class):
        yield {
            (a, v): k
            for a, (ids, split) in enumerate(zip(classes, combo, strict=True))
            for v, k in zip(ids, split, strict=True)
            if k
        }


def burdens(table: np.ndarray, counts: Counts, prior: np.ndarray) -> np.ndarray:
    """Everyone's burden after the plan: prior plus each taken option times its count."""
    total = prior.copy()
    for (_, v), k in counts.items():
        total = total + k * table[v]
    return total


def measure(table: np.ndarray, counts: Counts, prior: np.ndarray) -> tuple[int, int, int]:
    """(M, total, imbalance): the largest burden with prior, the burden the plan adds, and
    Σ over occurrences of (largest − smallest burden of that occurrence)."""
    after = burdens(table, counts, prior)
    added = sum(k * int(table[v].sum()) for (_, v), k in counts.items())
    imbalance = sum(k * int(table[v].max() - table[v].min()) for (_, v), k in counts.items())
    return int(after.max()), added, imbalance


def exact(
    table: Sequence[tuple[int, ...]],
    classes: list[tuple[int, ...]],
    sizes: list[int],
    prior: list[int],
) -> tuple[Counts, str | None]:
    return _exact_rotation(
        np.array(table, dtype=np.int64), classes, sizes, np.array(prior, dtype=np.int64)
    )


# --- stage 3: the even plan among (M, total) ties -----------------------------------------


def test_of_two_equally_fair_options_the_more_even_one_is_taken() -> None:
    """Person 2 already carries 20. One date: A = (30, 20, 0) or B = (10, 30, 10). Either
    way M = 30 (person 0 after A, persons 1 and 2 after B) and the total is 50; A's turn
    runs from 0 to 30 (imbalance 30), B's from 10 to 30 (20), so B."""
    table = [(30, 20, 0), (10, 30, 10)]
    assert exact(table, [(0, 1)], [1], [0, 0, 20]) == ({(0, 1): 1}, None)
    # The same options the other way round in the table: still B, now id 0.
    assert exact(table[::-1], [(0, 1)], [1], [0, 0, 20]) == ({(0, 0): 1}, None)


def test_a_prior_nobody_can_reach_fixes_m_and_the_even_option_is_taken_twice() -> None:
    """Person 2 already carries 100 and pays nothing here, so M = 100 for every plan that
    keeps persons 0 and 1 at most 100: A + B, A + C, B + C and C + C (A twice or B twice
    gives someone 120). Every option costs 60 in total, so all four tie; the per-occurrence
    imbalance is 60 for A and B and 30 for C (person 2's 0 is the smallest), so C twice."""
    table = [(60, 0, 0), (0, 60, 0), (30, 30, 0)]
    assert exact(table, [(0, 1, 2)], [2], [0, 0, 100]) == ({(0, 2): 2}, None)


def test_an_equally_even_plan_does_not_replace_the_one_found() -> None:
    """Two dates of A = (20, 0, 20) or B = (20, 20, 0) with prior (20, 0, 30): A twice puts
    person 2 at 70, A + B and B twice both give M = 60 and total 80, each occurrence with
    imbalance 20. The first date's least running max is B (40), the second's a tie between
    A and B (60): A, the first option, so the start is A + B, already optimal in all three,
    and no stage replaces it with an equal plan such as B twice."""
    table = [(20, 0, 20), (20, 20, 0)]
    assert exact(table, [(0, 1)], [2], [20, 0, 30]) == ({(0, 0): 1, (0, 1): 1}, None)


# --- all three stages against every plan --------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_the_counts_are_the_best_plan_of_all(seed: int) -> None:
    """Small random tables (distinct vectors, costs in tens, prior up to 60): the counts
    are a plan (each class's dates split over its own options), with the least M, then the
    least total at that M, then the least imbalance among those, as found by trying every
    count vector; the proof is complete (no limit)."""
    rng = np.random.default_rng(500 + seed)
    people = int(rng.integers(1, 4))
    vectors = int(rng.integers(2, 6))
    rows = {tuple(int(x) for x in rng.integers(0, 5, people) * 10) for _ in range(vectors)}
    table = np.array(sorted(rows), dtype=np.int64).reshape(-1, people)
    classes = [
        tuple(sorted(int(v) for v in rng.choice(len(table), int(rng.integers(1, 4)), False)))
        if len(table) >= 3
        else tuple(range(len(table)))
        for _ in range(int(rng.integers(1, 4)))
    ]
    sizes = [int(rng.integers(1, 4)) for _ in classes]
    prior = (rng.integers(0, 7, people) * 10).astype(np.int64)

    counts, limit = _exact_rotation(table, classes, sizes, prior)
    assert limit is None
    for a, size in enumerate(sizes):
        assert sum(k for (b, _), k in counts.items() if b == a) == size
    assert all(v in classes[a] and k > 0 for (a, v), k in counts.items())
    best = min(measure(table, plan, prior) for plan in every_plan(classes, sizes))
    assert measure(table, counts, prior) == best


# --- the time budget running out in stage 2 -----------------------------------------------


def knapsack_rotation() -> tuple[np.ndarray, list[tuple[int, ...]], list[int], np.ndarray]:
    """A rotation whose M is settled at once and whose total is a hard knapsack. Date i
    either puts item i in the knapsack, (w0, w1, w2, 0, 0), or leaves it out, (0, 0, 0, c,
    0) with c twice the item's weight. Person 4 already carries P, all the c together, and
    pays nothing, so M = P (everything left out reaches it). Persons 0-2 start at P minus
    half their weights, so "everyone at most M" is three knapsack rows, and the least total
    is the heaviest packing (24 items, three rows: seconds of branch and bound)."""
    weights = np.random.default_rng(6).integers(0, 100, (3, 24))
    leave_out = 2 * weights.sum(axis=0)
    big = int(leave_out.sum())
    table = np.array(
        [row for i in range(24) for row in ((*weights[:, i], 0, 0), (0, 0, 0, leave_out[i], 0))],
        dtype=np.int64,
    )
    classes: list[tuple[int, ...]] = [(2 * i, 2 * i + 1) for i in range(24)]
    prior = np.array([*(big - weights.sum(axis=1) // 2), 0, big], dtype=np.int64)
    return table, classes, [1] * 24, prior


def test_out_of_time_in_the_total_the_counts_are_the_greedy_ones_and_say_time() -> None:
    """Stage 1 proves M = P in milliseconds; the knapsack of stage 2 is still open when the
    0.1 s budget ends. The best packing found so far would depend on the machine's speed,
    so the deterministic greedy plan is returned, flagged "time"."""
    table, classes, sizes, prior = knapsack_rotation()
    greedy = _greedy_counts(table, classes, sizes, prior).tolist()
    expected = {(a, v): 1 for a, ids in enumerate(classes) for v in ids if greedy[v]}
    assert len(expected) == 24
    counts, limit = _exact_rotation(table, classes, sizes, prior, time.monotonic() + 0.1)
    assert (counts, limit) == (expected, "time")


def test_a_tie_break_cut_short_by_the_time_budget_changes_nothing() -> None:
    """M is settled by person 4's prior and every option costs the same in total (leaving
    an item out costs its weight), so stages 1 and 2 keep the greedy plan in milliseconds;
    the least imbalance is a knapsack over 40 items that the 0.1 s budget cuts short. What
    it found so far would depend on the machine's speed, so the plan stays the greedy one,
    still proven optimal in (M, total)."""
    weights = np.random.default_rng(6).integers(0, 100, (3, 40))
    leave_out = weights.sum(axis=0)
    big = int(leave_out.sum())
    table = np.array(
        [row for i in range(40) for row in ((*weights[:, i], 0, 0), (0, 0, 0, leave_out[i], 0))],
        dtype=np.int64,
    )
    classes: list[tuple[int, ...]] = [(2 * i, 2 * i + 1) for i in range(40)]
    prior = np.array([*(big - weights.sum(axis=1) // 2), 0, big], dtype=np.int64)
    greedy = _greedy_counts(table, classes, [1] * 40, prior).tolist()
    expected = {(a, v): 1 for a, ids in enumerate(classes) for v in ids if greedy[v]}
    counts, limit = _exact_rotation(table, classes, [1] * 40, prior, time.monotonic() + 0.1)
    assert (counts, limit) == (expected, None)


# --- pairwise swaps -----------------------------------------------------------------------

A, B, NOTHING = 0, 1, 2
SWAP_TABLE = np.array([(10, 0), (0, 10), (0, 0)], dtype=np.int64)


def test_two_dates_swap_when_that_evens_them_out() -> None:
    """Person 0 already carries 10. (10, 0) then (0, 10) runs at (20, 0), (20, 10): spreads
    20 and 10. The other way round, (10, 10) then (20, 10): spreads 0 and 10, better."""
    both = frozenset({A, B})
    prior = np.array([10, 0], dtype=np.int64)
    assert _improve_by_swaps([A, B], [both, both], SWAP_TABLE, prior) == [B, A]
    assert _improve_by_swaps([B, A], [both, both], SWAP_TABLE, prior) == [B, A]


@pytest.mark.parametrize(("between", "swapped"), [(SWAP_WINDOW - 1, True), (SWAP_WINDOW, False)])
def test_swaps_reach_at_most_the_window_ahead(between: int, swapped: bool) -> None:
    """The first and last dates offer (10, 0) and (0, 10), the dates between only a free
    start. With person 0 at 10, (0, 10) first keeps everyone level until the last date, so
    swapping the two is better; it is tried only when the last date is within SWAP_WINDOW
    of the first."""
    both, free = frozenset({A, B}), frozenset({NOTHING})
    chosen = [A, *[NOTHING] * between, B]
    offered = [both, *[free] * between, both]
    found = _improve_by_swaps(chosen, offered, SWAP_TABLE, np.array([10, 0], dtype=np.int64))
    assert found == ([B, *[NOTHING] * between, A] if swapped else chosen)


@pytest.mark.parametrize("seed", [4, 27, 56, 119, 2634])
def test_swaps_on_single_minutes_match_a_naive_search(seed: int) -> None:
    """Burdens of 0-3 minutes (not tens), so a swap may change the maximum or the sum of
    the spreads by exactly one minute: the result is the naive search's."""
    rng = np.random.default_rng(seed)
    people, vectors = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    dates = int(rng.integers(2, 9))
    table = rng.integers(0, 4, (vectors, people)).astype(np.int64)
    prior = rng.integers(0, 3, people).astype(np.int64)
    offered = [
        frozenset(int(v) for v in np.flatnonzero(rng.random(vectors) < 0.7))
        | {int(rng.integers(vectors))}
        for _ in range(dates)
    ]
    chosen = [int(rng.choice(sorted(offer))) for offer in offered]
    assert _improve_by_swaps(chosen, offered, table, prior) == naive_swaps(
        chosen, offered, table, prior
    )


# --- the greedy fallback --------------------------------------------------------------------


def test_the_greedy_plan_makes_at_most_twenty_rounds_of_moves() -> None:
    """44 dates of (10, 0) or (0, 10) alternate, 22 each (ties to the first option), then a
    date gives person 0 1000: (1220, 220). Every move of a (10, 0) date to (0, 10) lowers M
    by 10, one move per round, but the moves stop after 20 rounds: 2 dates keep (10, 0)."""
    table = np.array([(10, 0), (0, 10), (1000, 0)], dtype=np.int64)
    counts = _greedy_counts(table, [(0, 1), (2,)], [44, 1], np.zeros(2, dtype=np.int64))
    assert counts.dtype == np.int64
    assert counts.tolist() == [2, 42, 1]


def test_each_move_starts_from_the_burdens_after_the_last_one() -> None:
    """Prior (20, 30), two dates of six options. The first date takes (40, 30) (running
    max 60), the second (0, 40) (max 100, the least total of the two at 100): (60, 100).
    Moving (40, 30) to (50, 0) gives (70, 70), the best move. From (70, 70) every move
    raises M above 70, so there are no more."""
    table = np.array([(0, 40), (10, 50), (50, 20), (50, 0), (40, 30), (40, 50)], dtype=np.int64)
    counts = _greedy_counts(table, [(0, 1, 2, 3, 4, 5)], [2], np.array([20, 30], dtype=np.int64))
    assert counts.tolist() == [1, 0, 0, 1, 0, 0]


# --- plan_rotation's inputs -------------------------------------------------------------------


def test_the_prior_may_be_any_array_of_one_number_per_person() -> None:
    """A column or a row of priors is the same prior; a number too many is an error."""
    day = DayCandidates(
        np.array([[180, 120], [120, 180]]), np.array([360, 1140]), np.array([360, 1140])
    )
    flat = plan_rotation([day, day], [120, 0])
    assert flat.picks == [1, 1]  # person 0 is 120 ahead: the 19:00 start twice, 360 each
    assert plan_rotation([day, day], np.array([[120], [0]], dtype=np.int64)) == flat
    assert plan_rotation([day, day], np.array([[120, 0]], dtype=np.int64)) == flat
    with pytest.raises(ValueError, match="cannot reshape"):
        plan_rotation([day, day], [120, 0, 0])


def test_times_need_one_choice_per_date() -> None:
    """01:00 serves both dates; a list of choices short of a date is an error, not a plan
    for fewer dates."""
    day = DayCandidates(np.zeros((1, 2), dtype=np.int64), np.array([0, 60]), np.array([0, 60]))
    assert _pick_times([day, day], [[1], [0, 1]]) == [1, 1]
    with pytest.raises(ValueError, match="zip"):
        _pick_times([day, day], [[0]])
