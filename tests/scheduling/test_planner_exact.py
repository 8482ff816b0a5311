"""The planner's (M, total) against exhaustive search, on costs from a naive reference.

The reference is written from docs/rules.md alone, minute by minute, with its own candidate
generation (``datetime.fromtimestamp`` per grid start) and its own working windows; it shares
no code with ``burden.py`` or the planner. Exhaustive search enumerates every combination of
candidates (as the set of reachable per-person sums, which is the same thing, only without
repeating equal sums).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.model import Person, WeeklyWindow
from app.scheduling.planner import Plan, SeriesSpec, plan_series
from app.scheduling.recurrence import series_dates
from app.scheduling.rotation import DayCandidates, plan_rotation

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Manila",
    "Australia/Sydney",
    "Pacific/Auckland",
]
# Start dates around the 2026 DST changes (US 03-08 and 11-01, EU 03-29 and 10-25,
# Sydney 04-05 and 10-04, Auckland 04-05 and 09-27).
STARTS = [
    date(2026, 3, 3),
    date(2026, 3, 24),
    date(2026, 4, 1),
    date(2026, 9, 22),
    date(2026, 10, 1),
    date(2026, 10, 20),
    date(2026, 10, 28),
    date(2026, 11, 19),
    date(2026, 12, 21),
]
RULES = ["FREQ=DAILY", "FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=DAILY;INTERVAL=3"]


# --- the reference -------------------------------------------------------------------------


def _minute(value: datetime) -> int:
    return int(value.timestamp()) // 60


def _away(person: Person, first: date, last: date) -> set[date]:
    days: set[date] = set()
    if person.holiday_country:
        table = holidays.country_holidays(
            person.holiday_country, years=range(first.year, last.year + 1)
        )
        days |= {d for d in table if first <= d <= last}
    for a, b in person.time_off:
        d = a
        while d <= b:
            days.add(d)
            d += timedelta(days=1)
    return days


def _windows(person: Person, first: date, last: date) -> list[tuple[int, int]]:
    tz = ZoneInfo(person.timezone)
    away = _away(person, first, last)
    found: list[tuple[int, int]] = []
    d = first
    while d <= last:
        if d not in away:
            for w in person.working_hours:
                if d.weekday() not in w.days:
                    continue
                start = datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(0)
                start = start.replace(hour=w.start_minute // 60, minute=w.start_minute % 60)
                end_day = d + timedelta(days=1) if w.overnight or w.end_minute == 1440 else d
                end_min = w.end_minute % 1440
                end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz).replace(
                    hour=end_min // 60, minute=end_min % 60
                )
                a, b = _minute(start), _minute(end)
                if b > a:
                    found.append((a, b))
        d += timedelta(days=1)
    found.sort()
    merged: list[tuple[int, int]] = []
    for a, b in found:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class Reference:
    """Naive burden per docs/rules.md, minute by minute."""

    def __init__(self, people: list[Person], first: date, last: date) -> None:
        self.people = people
        lo, hi = first - timedelta(days=3), last + timedelta(days=3)
        self.windows = [_windows(p, lo, hi) for p in people]
        self.away = [_away(p, lo, hi) for p in people]

    def cost(self, p: int, start: int, duration: int) -> int | None:
        person, tz = self.people[p], ZoneInfo(self.people[p].timezone)
        total = 0
        for t in range(start, start + duration):
            if datetime.fromtimestamp(t * 60, tz).date() in self.away[p]:
                return None
            if any(a <= t < b for a, b in self.windows[p]):
                continue
            gaps = [a - (t + 1) for a, _ in self.windows[p] if a > t]
            gaps += [t - b for _, b in self.windows[p] if b <= t]
            if not gaps or min(gaps) >= person.max_stretch_minutes:
                return None
            total += 1 + min(gaps) // 60
        return total


def reference_candidates(day: date, anchor: str, step: int) -> list[int]:
    tz = ZoneInfo(anchor)
    lo = _minute(datetime(day.year, day.month, day.day, tzinfo=UTC)) - 15 * 60
    lo -= lo % step
    return [
        s for s in range(lo, lo + 54 * 60, step) if datetime.fromtimestamp(s * 60, tz).date() == day
    ]


def reference_costs(spec: SeriesSpec, dates: list[date]) -> dict[date, dict[int, list[int]]]:
    """date → {start: [cost per required person]} over the feasible starts only."""
    ref = Reference(list(spec.required), dates[0], dates[-1])
    table: dict[date, dict[int, list[int]]] = {}
    for d in dates:
        feasible: dict[int, list[int]] = {}
        for s in reference_candidates(d, spec.anchor_timezone, spec.step_minutes):
            costs = [ref.cost(p, s, spec.duration_minutes) for p in range(len(spec.required))]
            if all(c is not None for c in costs):
                feasible[s] = [c for c in costs if c is not None]
        table[d] = feasible
    return table


def exhaustive_rotation(vectors: list[list[list[int]]], prior: list[int]) -> tuple[int, int]:
    """min (max_p (prior_p + sum_p), total) over every combination of one vector per date.

    After each date a running sum that another one matches or beats for every person is
    dropped: the same later choices keep it no better in both max and total, so the minimum
    over all combinations is unchanged (and seed 6 of the quorum test takes 0.1 s, not 16)."""
    reachable: list[tuple[int, ...]] = [tuple(prior)]
    for options in vectors:
        sums = {tuple(a + b for a, b in zip(s, v, strict=True)) for s in reachable for v in options}
        reachable = _undominated(sums)
    return min((max(s), sum(s) - sum(prior)) for s in reachable)


def _undominated(sums: set[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The sums no other sum is <= in every place (a dominating one has a smaller total, so it
    is kept before any sum it dominates is looked at)."""
    kept: list[tuple[int, ...]] = []
    for s in sorted(sums, key=sum):
        if not any(all(k <= x for k, x in zip(other, s, strict=True)) for other in kept):
            kept.append(s)
    return kept


_VECTOR = st.lists(st.integers(0, 40), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(_VECTOR, min_size=1, max_size=4), min_size=1, max_size=4),
    st.lists(st.integers(0, 60), min_size=3, max_size=3),
)
def test_pruned_exhaustive_search_equals_trying_every_combination(
    vectors: list[list[list[int]]], prior: list[int]
) -> None:
    every = [
        [p + sum(column) for p, column in zip(prior, zip(*choice, strict=True), strict=True)]
        for choice in itertools.product(*vectors)
    ]
    assert exhaustive_rotation(vectors, prior) == min((max(s), sum(s) - sum(prior)) for s in every)


# --- random small series -------------------------------------------------------------------


def random_person(rng: random.Random, name: str) -> Person:
    def window(days: Iterable[int]) -> WeeklyWindow:
        start = rng.randrange(0, 24 * 60, 30)
        length = rng.randrange(7 * 60, 12 * 60 + 1, 30)
        return WeeklyWindow(frozenset(days), start, (start + length) % 1440 or 1440)

    shape = rng.random()
    windows: tuple[WeeklyWindow, ...]
    if shape < 0.55:
        windows = (window(range(7)),)
    elif shape < 0.8:  # different hours on alternate days: a fixed time must fall back
        windows = (window([0, 2, 4, 6]), window([1, 3, 5]))
    else:
        windows = (window(range(5)),)
    return Person(
        name,
        rng.choice(ZONES),
        windows,
        holiday_country=rng.choice([None, None, None, "US", "GB", "PH"]),
        time_off=((date(2026, 10, 29), date(2026, 10, 30)),) if rng.random() < 0.15 else (),
        max_stretch_minutes=rng.choice([180, 240, 300]),
    )


def random_spec(seed: int, policy: str) -> tuple[SeriesSpec, dict[str, int]]:
    rng = random.Random(seed)
    people = tuple(random_person(rng, f"p{i}") for i in range(rng.randint(2, 4)))
    spec = SeriesSpec(
        recurrence=rng.choice(RULES),
        start_date=rng.choice(STARTS),
        count=rng.randint(2, 6),
        until=None,
        anchor_timezone=rng.choice(ZONES),
        duration_minutes=rng.choice([30, 45, 60, 90]),
        step_minutes=rng.choice([30, 60]),
        policy=policy,  # type: ignore[arg-type]
        required=people,
    )
    prior = {p.id: rng.choice([0, 0, 60, 240]) for p in people}
    return spec, prior


def check_occurrence_costs(plan: Plan, table: dict[date, dict[int, list[int]]]) -> None:
    """Every planned start is feasible in the reference, with the reference's burdens."""
    for occ in plan.occurrences:
        start = _minute(occ.start)
        assert start in table[occ.date], f"{occ.date} {occ.start} is infeasible"
        assert [p.burden_minutes for p in occ.participants] == table[occ.date][start]


@pytest.mark.parametrize("seed", range(16))
def test_rotate_matches_exhaustive_search(seed: int) -> None:
    spec, prior = random_spec(seed, "rotate")
    plan = plan_series(spec, prior=prior)
    dates = series_dates(spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count)
    table = reference_costs(spec, dates)
    assert [u.date for u in plan.unschedulable] == [d for d in dates if not table[d]]
    check_occurrence_costs(plan, table)
    vectors = [list(table[d].values()) for d in dates if table[d]]
    prior_list = [prior[p.id] for p in spec.required]
    if vectors:
        assert (plan.max_burden_minutes, plan.total_burden_minutes) == exhaustive_rotation(
            vectors, prior_list
        )


@pytest.mark.parametrize("seed", range(112, 130))  # 117, 118, 119, 126, 129 fall back
def test_fixed_matches_exhaustive_search(seed: int) -> None:
    spec, prior = random_spec(seed, "fixed")
    plan = plan_series(spec, prior=prior)
    dates = series_dates(spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count)
    table = reference_costs(spec, dates)
    check_occurrence_costs(plan, table)
    usable = [d for d in dates if table[d]]
    if not usable:
        return
    tz = ZoneInfo(spec.anchor_timezone)
    prior_list = np.array([prior[p.id] for p in spec.required])

    def best_of(d: date) -> int:
        return min(table[d], key=lambda s: (max(table[d][s]), sum(table[d][s]), s))

    def objective(time_of_day: int) -> tuple[int, int, int]:
        missed, sums = 0, prior_list.copy()
        for d in usable:
            wall = datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(0)
            wall = wall.replace(hour=time_of_day // 60, minute=time_of_day % 60)  # fold=0
            s = _minute(wall)
            if s not in table[d]:
                missed, s = missed + 1, best_of(d)
            sums += table[d][s]
        return missed, int(sums.max()), int(sums.sum() - prior_list.sum())

    best = min(objective(t) for t in range(0, 1440, 15))
    planned = np.array([[p.burden_minutes for p in o.participants] for o in plan.occurrences])
    fell_back = sum(any(n.startswith("Fell back") for n in o.notices) for o in plan.occurrences)
    assert (fell_back, plan.max_burden_minutes, plan.total_burden_minutes) == best
    assert plan.total_burden_minutes == int(planned.sum())


# --- the optimiser alone, on synthetic burden matrices -------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_plan_rotation_on_synthetic_matrices(seed: int) -> None:
    rng = random.Random(seed)
    people, dates = rng.randint(1, 4), rng.randint(1, 6)
    values = [0, 30, 60, 90, 120, 180, rng.randint(0, 300)]
    days = []
    for k in range(dates):
        width = rng.randint(1, 6)
        costs = np.array(
            [[rng.choice(values) for _ in range(width)] for _ in range(people)], dtype=np.int64
        )
        starts = np.arange(width, dtype=np.int64) * 15 + k * 1440
        days.append(DayCandidates(costs, starts, starts % 1440))
    prior = [rng.choice([0, 0, 100, rng.randint(0, 400)]) for _ in range(people)]
    picks = plan_rotation(days, prior).picks
    sums = np.array(prior) + sum(day.costs[:, c] for day, c in zip(days, picks, strict=True))
    every = itertools.product(*[range(day.costs.shape[1]) for day in days])
    best = min(
        (
            int(s.max()),
            int(s.sum() - sum(prior)),
        )
        for s in (
            np.array(prior) + sum(day.costs[:, c] for day, c in zip(days, combo, strict=True))
            for combo in every
        )
    )
    assert (int(sums.max()), int(sums.sum() - sum(prior))) == best
