"""Slot search and burden-matrix timings against the goals of issue 3.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_search.py [--strict]``
(``--strict`` exits 1 on a FAIL). Prints each median, the ratios, and PASS/FAIL against
the goal. Figures are in-process wall-clock medians after one warm-up call (the
per-(zone, year) offset and holiday caches are warm, as in a running server); the cold
first call is printed too. Compared figures are measured interleaved.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np

from app.scheduling.burden import burden_matrix
from app.scheduling.model import Person, parse_working_hours
from app.scheduling.search import search_slots

WEEK = ["mon", "tue", "wed", "thu", "fri"]
# (zone, holiday country, subdivision): eight zones, with their public holidays.
ZONES = [
    ("America/Los_Angeles", "US", "CA"),
    ("America/New_York", "US", None),
    ("Europe/London", "GB", None),
    ("Europe/Berlin", "DE", "BE"),
    ("Asia/Kolkata", "IN", None),
    ("Asia/Manila", "PH", None),
    ("Asia/Tokyo", "JP", None),
    ("Australia/Sydney", "AU", "NSW"),
]
SHIFTS = [
    [{"days": WEEK, "start": "09:00", "end": "17:00"}],
    [{"days": WEEK, "start": "08:00", "end": "16:30"}],
    [{"days": WEEK, "start": "10:00", "end": "18:00"}],
    [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}],  # night
    [
        {"days": WEEK, "start": "07:00", "end": "11:00"},
        {"days": WEEK, "start": "15:00", "end": "19:00"},
    ],  # split
]
START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday; the week spans the EU DST change


def team(size: int, seed: int = 3) -> list[Person]:
    """``size`` participants spread over the eight zones, each with their own shift, stretch
    and (for one in four) a personal week of time off — few identical profiles."""
    rng = random.Random(seed)
    people = []
    for i in range(size):
        tz, country, subdivision = ZONES[i % len(ZONES)]
        away: tuple[tuple[date, date], ...] = ()
        if rng.random() < 0.25:
            first = START.date() + timedelta(days=rng.randrange(-10, 40))
            away = ((first, first + timedelta(days=rng.randrange(0, 7))),)
        people.append(
            Person(
                id=f"p{i:03d}",
                timezone=tz,
                working_hours=parse_working_hours(rng.choice(SHIFTS)),
                holiday_country=country,
                holiday_subdivision=subdivision,
                time_off=away,
                max_stretch_minutes=rng.choice([120, 180, 240]),
            )
        )
    return people


def medians_ms(calls: list[Callable[[], object]], repeat: int) -> list[tuple[float, float]]:
    """(cold first call, median of ``repeat`` warm calls) in ms for each call. The calls are
    interleaved so that a ratio between two of them is not skewed by a burst of load from
    other processes on the machine."""
    colds = []
    for call in calls:
        t0 = time.perf_counter()
        call()
        colds.append((time.perf_counter() - t0) * 1e3)
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, spent in zip(calls, times, strict=True):
            t0 = time.perf_counter()
            call()
            spent.append((time.perf_counter() - t0) * 1e3)
    return [(cold, statistics.median(spent)) for cold, spent in zip(colds, times, strict=True)]


def search(people: list[Person], days: int) -> Callable[[], object]:
    required, optional = people[: max(1, len(people) * 3 // 4)], people[len(people) * 3 // 4 :]
    end = START + timedelta(days=days)
    return lambda: search_slots(required, optional, START, end, 60, step_minutes=15, limit=10)


def matrix(people: list[Person], dates: int) -> Callable[[], object]:
    first = int((START - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) // 60
    weekly = first + 7 * 1440 * np.arange(dates, dtype=np.int64)
    starts = (weekly[:, None] + 15 * np.arange(96, dtype=np.int64)[None, :]).ravel()
    return lambda: burden_matrix(people, starts, 60)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    results: list[bool] = []

    def row(label: str, figure: str, goal: str, ok: bool | None) -> None:
        if ok is not None:
            results.append(ok)
        print(f"{label:<44} {figure:<34} {goal:<20} {'' if ok is None else verdict(ok)}")

    def report(
        label: str, cold: float, warm: float, goal: str = "", ok: bool | None = None
    ) -> None:
        row(label, f"median {warm:7.2f} ms (cold {cold:6.1f})", goal, ok)

    def ratio(label: str, value: float, limit: float) -> None:
        row(label, f"ratio {value:6.2f}×", f"≤ {limit:g}×", value <= limit)

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    twelve = team(12)
    assert len({p.timezone for p in twelve}) == 8
    (cold_w, week), (cold_m, month) = medians_ms([search(twelve, 7), search(twelve, 31)], 41)
    report("search 7 days, 12 people / 8 zones, 15-min", cold_w, week, "≤ 20 ms", week <= 20)
    report("search 31 days, 12 people / 8 zones, 15-min", cold_m, month)
    ratio("  31-day / 7-day", month / week, 4.5)

    (cold_10, ten), (cold_200, big) = medians_ms([search(team(10), 7), search(team(200), 7)], 31)
    report("search 7 days, 10 people", cold_10, ten)
    report("search 7 days, 200 people", cold_200, big)
    ratio("  200-people / 10-people", big / ten, 20)

    thirty = team(30, seed=7)
    (cold_y, year), (cold_d, decade) = medians_ms([matrix(thirty, 52), matrix(thirty, 520)], 11)
    report("burden_matrix 30 people × 52 dates × 96", cold_y, year, "< 50 ms", year < 50)
    report("burden_matrix 30 people × 520 dates × 96", cold_d, decade)
    ratio("  520-date / 52-date", decade / year, 10)

    print(f"overall: {verdict(all(results))}")
    return 0 if all(results) or "--strict" not in sys.argv else 1


if __name__ == "__main__":
    raise SystemExit(main())
