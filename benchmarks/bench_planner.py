"""Planner benchmark: rotate, 30 participants in 8 zones, weekly, 15-minute grid.

Prints the median wall time of ``plan_series`` (in-process, solver included, caches warm)
for 52 and 520 weekly dates and checks the goals: <= 150 ms for 52 dates, and 520 dates
within 12x the 52-date figure. Then the 52 dates with two weeks of leave for each member of
three parties, with quorum rules for them (New York 3 of 6, Kolkata 2 of 4, Manila 3 of 5;
the others required): within 1.5x of the same series without quorum (everyone required).
Exits non-zero on FAIL.

    .venv/bin/python benchmarks/bench_planner.py
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scheduling.model import Person, parse_working_hours
from app.scheduling.planner import Plan, Quorum, SeriesSpec, plan_series

GOAL_52_MS = 150.0
GOAL_RATIO = 12.0
GOAL_QUORUM_RATIO = 1.5
# Zone → how many of its people must attend (the zone's people are its quorum members).
QUORUMS = {"America/New_York": 3, "Asia/Kolkata": 2, "Asia/Manila": 3}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
NIGHTS = ["sun", "mon", "tue", "wed", "thu"]

# (zone, holiday country, people, day start, day end, days): a client in the Americas and
# Europe, vendors on night shifts in Kolkata and Manila.
TEAMS = [
    ("America/New_York", "US", 6, 9, 17, WEEKDAYS),
    ("America/Chicago", "US", 3, 8, 16, WEEKDAYS),
    ("America/Sao_Paulo", "BR", 3, 9, 18, WEEKDAYS),
    ("Europe/London", "GB", 4, 9, 17, WEEKDAYS),
    ("Europe/Berlin", "DE", 3, 9, 17, WEEKDAYS),
    ("Africa/Johannesburg", "ZA", 2, 8, 16, WEEKDAYS),
    ("Asia/Kolkata", "IN", 4, 18, 3, NIGHTS),
    ("Asia/Manila", "PH", 5, 21, 6, NIGHTS),
]


def participants() -> tuple[Person, ...]:
    people: list[Person] = []
    for zone_name, country, size, start, end, days in TEAMS:
        for i in range(size):
            shift = (i % 3 - 1) * 30  # starts 30 min earlier, on time, or 30 min later
            first, last = start * 60 + shift, end * 60 + shift
            hours = parse_working_hours(
                [
                    {
                        "days": days,
                        "start": f"{first // 60 % 24:02d}:{first % 60:02d}",
                        "end": f"{last // 60 % 24:02d}:{last % 60:02d}",
                    }
                ]
            )
            people.append(
                Person(
                    f"{zone_name.split('/')[-1].lower()}-{i}",
                    zone_name,
                    hours,
                    holiday_country=country,
                    max_stretch_minutes=(180, 240, 150)[i % 3],
                )
            )
    assert len(people) == 30 and len({p.timezone for p in people}) == 8
    return tuple(people)


def on_leave(people: tuple[Person, ...]) -> tuple[Person, ...]:
    """Each member of a quorum party away for two weeks, staggered through the year."""
    away = []
    for n, person in enumerate(people):
        if person.timezone in QUORUMS:
            first = date(2026, 1, 5) + timedelta(weeks=(5 * n) % 50)
            person = replace(person, time_off=((first, first + timedelta(days=13)),))
        away.append(person)
    return tuple(away)


def spec(count: int, quorum: bool | None = None) -> SeriesSpec:
    """The series; with ``quorum`` False or True, with leave, and quorum rules if True."""
    people = participants() if quorum is None else on_leave(participants())
    quorums = tuple(
        Quorum(zone_name, tuple(p for p in people if p.timezone == zone_name), k)
        for zone_name, k in QUORUMS.items()
    )
    return SeriesSpec(
        recurrence="FREQ=WEEKLY;BYDAY=TU",
        start_date=date(2026, 1, 6),
        count=count,
        until=None,
        anchor_timezone="America/New_York",
        duration_minutes=60,
        step_minutes=15,
        policy="rotate",
        required=tuple(p for p in people if not quorum or p.timezone not in QUORUMS),
        quorums=quorums if quorum else (),
    )


def median_ms(count: int, runs: int, quorum: bool | None = None) -> tuple[float, Plan]:
    series = spec(count, quorum)
    plan = plan_series(series)  # warm-up: holiday tables, zone transitions
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        plan = plan_series(series)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), plan


def main() -> int:
    small, plan_small = median_ms(52, 15)
    large, plan_large = median_ms(520, 5)
    ok_small = small <= GOAL_52_MS
    ok_large = large <= GOAL_RATIO * small
    for label, figure, plan, ok, goal in (
        ("52 dates", small, plan_small, ok_small, f"<= {GOAL_52_MS:.0f} ms"),
        ("520 dates", large, plan_large, ok_large, f"<= {GOAL_RATIO:.0f} x 52-date figure"),
    ):
        print(
            f"rotate, 30 people / 8 zones, {label}: median {figure:7.1f} ms "
            f"(goal {goal}) {'PASS' if ok else 'FAIL'}  "
            f"[{len(plan.occurrences)} planned, {len(plan.unschedulable)} unschedulable, "
            f"M={plan.max_burden_minutes}, total={plan.total_burden_minutes}]"
        )
    print(f"ratio 520/52: {large / small:.1f}x")
    without, plan_without = median_ms(52, 15, quorum=False)
    with_quorum, plan_quorum = median_ms(52, 15, quorum=True)
    ok_quorum = with_quorum <= GOAL_QUORUM_RATIO * without
    absent = sum(len(o.absent) for o in plan_quorum.occurrences)
    print(
        f"with leave, everyone required, 52 dates: median {without:7.1f} ms  "
        f"[{len(plan_without.occurrences)} planned, {len(plan_without.unschedulable)} "
        "unschedulable]"
    )
    print(
        f"with leave, quorum rules for 3 parties, 52 dates: median "
        f"{with_quorum:7.1f} ms (goal <= {GOAL_QUORUM_RATIO} x without quorum: "
        f"{with_quorum / without:.2f}x) {'PASS' if ok_quorum else 'FAIL'}  "
        f"[{len(plan_quorum.occurrences)} planned, {len(plan_quorum.unschedulable)} "
        f"unschedulable, {absent} absences, M={plan_quorum.max_burden_minutes}, "
        f"total={plan_quorum.total_burden_minutes}]"
    )
    return 0 if ok_small and ok_large and ok_quorum else 1


if __name__ == "__main__":
    sys.exit(main())
