"""How long one feed of 500 occurrences takes to render, with nothing cached.

Each run builds fresh FeedEvent objects (distinct descriptions, as real occurrences have:
every participant's local time and burden, and the running balance) and renders them once;
the renderer keeps nothing between calls. Prints the median CPU time of the runs (this
process's own, so other work on a shared machine does not count; wall time alongside), the
first call in the process, and PASS/FAIL against the 30 ms budget; exits 1 on FAIL.

    .venv/bin/python benchmarks/bench_feed_render.py
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.feeds.render import FeedCalendar, FeedEvent, render_feed

OCCURRENCES = 500
RUNS = 21
BUDGET_MS = 30.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)
# Four people, the description app/feeds/content.py writes for each occurrence.
PEOPLE = (
    ("Maria Lopez", "America/New_York"),
    ("Oliver Hughes", "Europe/London"),
    ("Jun Dela Cruz", "Asia/Manila"),
    ("Sita Shrestha", "Asia/Kathmandu"),
)
PARTIES = ("Acme Corp", "Manila CX Partners")
HOUR = timedelta(hours=1)
SERIES = (
    "Weekly operations review — Acme ↔ Manila CX",
    "Monthly business review",
    "Escalation desk sync; London, Manila",
    "Quarterly business review (QBR)",
)


def build_calendar(variant: int) -> FeedCalendar:
    created = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    events = []
    for n in range(OCCURRENCES):
        start = datetime(2026, 1, 5, 13, 0, tzinfo=UTC) + timedelta(hours=17 * n)
        lines = ["Local times and burden:"]
        for i, (name, zone) in enumerate(PEOPLE):
            local = start.astimezone(ZoneInfo(zone))
            lines.append(
                f"- {name}, {PARTIES[i % 2]}: {local:%a %d %b %H:%M}–{local + HOUR:%H:%M} "
                f"{zone} · burden {((n + i) % 4) * 0.5:.1f} h"
            )
        lines += ["", "Running balance after this meeting:"]
        lines += [
            f"- {name}: {(n + i) * 0.25 + variant:.2f} h" for i, (name, _) in enumerate(PEOPLE)
        ]
        events.append(
            FeedEvent(
                uid=f"occ-{n:06d}-{variant}@scheduler.example",
                start=start,
                end=start + HOUR,
                sequence=n % 3,
                status="cancelled" if n % 50 == 7 else "scheduled",
                summary=SERIES[n % len(SERIES)],
                description="\n".join(lines),
                location="https://meet.example.com/ops-review-acme",
                url=None,
                created=created,
                last_modified=created + timedelta(minutes=n),
            )
        )
    return FeedCalendar(name="Acme ↔ Manila governance", description="All series", events=events)


def main() -> int:
    calendars = [build_calendar(variant) for variant in range(RUNS + 1)]
    cpu_ms, wall_ms = [], []
    size = 0
    for calendar in calendars:
        cpu, wall = time.process_time(), time.perf_counter()
        size = len(render_feed(calendar, now=NOW))
        cpu_ms.append((time.process_time() - cpu) * 1000)
        wall_ms.append((time.perf_counter() - wall) * 1000)
    median = statistics.median(cpu_ms[1:])
    verdict = "PASS" if median <= BUDGET_MS else "FAIL"
    print(
        f"feed render, {OCCURRENCES} occurrences, {size / 1000:.0f} kB: "
        f"median {median:.1f} ms CPU of {RUNS} runs (min {min(cpu_ms[1:]):.1f}, "
        f"wall median {statistics.median(wall_ms[1:]):.1f}), first call {cpu_ms[0]:.1f} ms; "
        f"budget {BUDGET_MS:.0f} ms: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
