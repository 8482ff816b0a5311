"""The pairwise-swap pass of the rotation solver (app.scheduling.rotation._improve_by_swaps)
against a naive reference that recomputes every running sum from scratch."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.rotation import SWAP_PASSES, SWAP_WINDOW, _improve_by_swaps


def _objective(chosen: list[int], table: np.ndarray, prior: np.ndarray) -> tuple[int, int]:
    """(max_k spread(k), Σ_k spread(k)) of the running burdens, one date at a time."""
    if not chosen:
        return 0, 0
    running = prior + np.cumsum(table[chosen], axis=0)
    spread = running.max(axis=1) - running.min(axis=1)
    return int(spread.max()), int(spread.sum())


def _naive_swaps(
    chosen: list[int], offered: list[frozenset[int]], table: np.ndarray, prior: np.ndarray
) -> list[int]:
    """For each position in turn, the best swap with a later date (at most SWAP_WINDOW
    dates later) that offers both options, if it lowers the objective; ties go to the
    smaller option id, then the earlier date. Passes repeat while anything improved."""
    chosen = list(chosen)
    if len(chosen) < 2 or table.shape[1] < 2:
        return chosen
    for _ in range(SWAP_PASSES):
        improved = False
        for i in range(len(chosen) - 1):
            current = _objective(chosen, table, prior)
            options = []
            for j in range(i + 1, min(len(chosen), i + 1 + SWAP_WINDOW)):
                u, w = chosen[i], chosen[j]
                if w != u and w in offered[i] and u in offered[j]:
                    swapped = list(chosen)
                    swapped[i], swapped[j] = w, u
                    options.append((_objective(swapped, table, prior), w, j))
            if options:
                value, _, j = min(options)
                if value < current:
                    chosen[i], chosen[j] = chosen[j], chosen[i]
                    improved = True
        if not improved:
            break
    return chosen


@st.composite
def _swap_inputs(draw: st.DrawFn) -> tuple[list[int], list[frozenset[int]], np.ndarray, np.ndarray]:
    people = draw(st.integers(1, 3))
    vectors = draw(st.integers(1, 4))
    table = np.array(
        draw(
            st.lists(
                st.lists(st.integers(0, 60), min_size=people, max_size=people),
                min_size=vectors,
                max_size=vectors,
            )
        ),
        dtype=np.int64,
    )
    dates = draw(st.integers(0, SWAP_WINDOW + 4))
    chosen = draw(st.lists(st.integers(0, vectors - 1), min_size=dates, max_size=dates))
    offered = [
        frozenset({v, *draw(st.sets(st.integers(0, vectors - 1), max_size=vectors))})
        for v in chosen
    ]
    prior = np.array(
        draw(st.lists(st.integers(0, 90), min_size=people, max_size=people)), dtype=np.int64
    )
    return chosen, offered, table, prior


@settings(max_examples=60, deadline=None)
@given(_swap_inputs())
def test_swaps_equal_the_naive_reference(
    inputs: tuple[list[int], list[frozenset[int]], np.ndarray, np.ndarray],
) -> None:
    chosen, offered, table, prior = inputs
    got = _improve_by_swaps(chosen, offered, table, prior)
    assert got == _naive_swaps(chosen, offered, table, prior)
    assert sorted(got) == sorted(chosen)  # only whole choices move: totals never change
    assert _objective(got, table, prior) <= _objective(chosen, table, prior)


def test_a_swap_that_evens_the_running_burden_is_made() -> None:
    """Two hard turns for person 0, then two for person 1: spreads 60, 120, 60, 0. Moving
    one of person 1's turns first gives 60, 0, 60, 0; dates 2 and 3 tie, and the earlier
    one is taken. Nothing improves on that afterwards."""
    table = np.array([(60, 0), (0, 60)], dtype=np.int64)
    both, none = frozenset({0, 1}), np.zeros(2, dtype=np.int64)
    assert _improve_by_swaps([0, 0, 1, 1], [both] * 4, table, none) == [1, 0, 0, 1]
    # Dates 1 and 2 offer one option each: only the swap of dates 0 and 3 is open.
    fixed = [both, frozenset({0}), frozenset({1}), both]
    assert _improve_by_swaps([0, 0, 1, 1], fixed, table, none) == [1, 0, 1, 0]
