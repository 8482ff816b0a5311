"""Busy-times benchmark (docs/rules.md, "Busy times").

1. Plan time of the planner benchmark's series (rotate, 30 people in 8 zones, 52 weekly
   dates, 15-minute grid) when every person has 2,000 busy intervals, against none: the
   ratio must stay at or below 1.5. Busy intervals are 30–90-minute meetings in each
   person's working day over 400 days: weekly recurring ones and one-offs (seeded).
2. Sync of a 5,000-event ICS file through the real API (a local HTTP server serves it; the
   service fetches, expands, stores): POST /v1/participants/{id}/calendars/{cid}/sync with
   a changed file each time, median under 2 s.

    .venv/bin/python benchmarks/bench_calendars.py

Exits non-zero on FAIL.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio.from_thread
import httpx

from app.scheduling.clock import utc_minute
from app.scheduling.model import BusyTimes, Person
from app.scheduling.planner import plan_series
from benchmarks.bench_planner import participants, spec

GOAL_RATIO = 1.5
GOAL_SYNC_S = 2.0
BUSY_EACH = 2000
EVENTS = 5000
START = datetime(2026, 1, 1, tzinfo=UTC)


def busy_for(person: Person, rng: random.Random) -> BusyTimes:
    """2,000 meetings of 30–90 minutes in the person's working day within 400 days, as a
    real calendar holds them: 30 weekly recurring meetings (one on Tuesdays, the series'
    day, for one person in four) and one-off meetings for the rest, few on a Tuesday."""
    base = utc_minute(START)
    first_window = person.working_hours[0]

    def at(day: int, local: int, length: int) -> tuple[int, int]:
        offset = person.zone.utcoffset(START + timedelta(days=day))
        assert offset is not None
        start = base + day * 1440 + local - int(offset.total_seconds()) // 60
        return start, start + length

    def some_time() -> tuple[int, int]:
        return first_window.start_minute + rng.randrange(0, 8 * 60, 30), rng.choice(
            (30, 45, 60, 90)
        )

    tuesday = 1 if rng.randrange(4) == 0 else 0  # a weekly Tuesday meeting: one in four
    weekly = [(1 if n < tuesday else rng.choice((0, 2, 3, 4)), *some_time()) for n in range(30)]
    intervals = [
        at(week * 7 + (weekday - START.weekday()) % 7, local, length)
        for week in range(57)
        for weekday, local, length in weekly
    ]
    while len(intervals) < BUSY_EACH:
        day = rng.randrange(400)
        if (START + timedelta(days=day)).weekday() == 1 and rng.randrange(10):
            continue
        intervals.append(at(day, *some_time()))
    return BusyTimes(intervals[:BUSY_EACH])


def scattered_busy_for(person: Person, rng: random.Random) -> BusyTimes:
    """For information: 2,000 one-off meetings and no recurring ones, so that no two weeks
    look alike to the planner (few on Tuesdays, or no Tuesday has an hour free for all)."""
    base = utc_minute(START)
    first_window = person.working_hours[0]
    intervals: list[tuple[int, int]] = []
    while len(intervals) < BUSY_EACH:
        day = rng.randrange(400)
        if (START + timedelta(days=day)).weekday() == 1 and rng.randrange(30):
            continue
        offset = person.zone.utcoffset(START + timedelta(days=day))
        assert offset is not None
        start = base + day * 1440 + first_window.start_minute + rng.randrange(0, 480, 30)
        start -= int(offset.total_seconds()) // 60
        intervals.append((start, start + rng.choice((30, 45, 60, 90))))
    return BusyTimes(intervals)


def median_ms(series: object, runs: int) -> float:
    plan_series(series)  # type: ignore[arg-type]  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        plan_series(series)  # type: ignore[arg-type]
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def plan_ratio() -> bool:
    rng = random.Random(20261206)
    plain = spec(52)
    people = participants()
    busy = {p.id: busy_for(p, rng) for p in people}
    pairs = [busy[p.id].intervals() for p in people]
    began = time.perf_counter()
    for person_pairs in pairs:  # what loading them from the database costs
        BusyTimes(person_pairs)
    built = (time.perf_counter() - began) * 1000
    busy_spec = replace(plain, required=tuple(replace(p, busy=busy[p.id]) for p in plain.required))
    without = median_ms(plain, 15)
    with_busy = median_ms(busy_spec, 15)
    plan = plan_series(busy_spec)
    ok = with_busy <= GOAL_RATIO * without
    print(
        f"plan, 52 dates x 30 people, no busy times: median {without:7.1f} ms\n"
        f"plan, 52 dates x 30 people, {BUSY_EACH} busy intervals each: median "
        f"{with_busy:7.1f} ms (goal <= {GOAL_RATIO} x: {with_busy / without:.2f}x) "
        f"{'PASS' if ok else 'FAIL'}  [{len(plan.occurrences)} planned, "
        f"{len(plan.unschedulable)} unschedulable; building the 30 BusyTimes: {built:.0f} ms]"
    )
    scattered = {p.id: scattered_busy_for(p, rng) for p in people}
    other = replace(plain, required=tuple(replace(p, busy=scattered[p.id]) for p in plain.required))
    figure = median_ms(other, 15)
    plan = plan_series(other)
    print(
        f"  for information, {BUSY_EACH} one-off busy intervals each, no two weeks alike: "
        f"median {figure:7.1f} ms ({figure / without:.2f}x)  [{len(plan.occurrences)} planned; "
        "identical weeks share the planner's per-day work, distinct ones do not]"
    )
    return ok


def ics_file(version: int) -> bytes:
    """5,000 events over 400 days: single meetings, and every tenth a weekly series."""
    rng = random.Random(version)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for n in range(EVENTS):
        start = START + timedelta(days=rng.randrange(400), minutes=rng.randrange(0, 1440, 15))
        end = start + timedelta(minutes=rng.choice((30, 60)))
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-{version}-{n}@example.com",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Meeting {n}",
        ]
        if n % 10 == 0:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=8")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class _Files(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def sync_time() -> bool:
    from app.main import create_app
    from app.services import services
    from app.settings import Settings

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/calendar.ics"
    with tempfile.TemporaryDirectory() as folder:
        from app.db import migrate

        database = f"sqlite:///{folder}/bench.db"
        migrate.upgrade(database)
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=database,
            admin_token="bench-admin-token-0123456789",
            calendar_allow_private_addresses=True,
            log_level="WARNING",
        )
        application = create_app(settings)
        services(application).clock = lambda: START
        times: list[float] = []
        with anyio.from_thread.start_blocking_portal() as portal:

            def call(method: str, path: str, **kw: Any) -> httpx.Response:
                async def go() -> httpx.Response:
                    transport = httpx.ASGITransport(app=application)
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
                        return await c.request(method, path, **kw)

                return portal.call(go)

            admin = {"X-Admin-Token": "bench-admin-token-0123456789"}
            ws = call("POST", "/v1/workspaces", json={"name": "b"}, headers=admin)
            key = {"Authorization": f"Bearer {ws.json()['api_key']}"}
            party = call(
                "POST",
                "/v1/parties",
                headers=key,
                json={
                    "name": "P",
                    "role": "client",
                    "timezone": "Europe/London",
                    "working_hours": [{"days": ["mon"], "start": "09:00", "end": "17:00"}],
                },
            ).json()
            who = call(
                "POST", "/v1/participants", headers=key, json={"name": "M", "party_id": party["id"]}
            ).json()
            _Files.body = ics_file(0)
            path = f"/v1/participants/{who['id']}/calendars"
            made = call("POST", path, headers=key, json={"kind": "ics", "url": url})
            assert made.status_code == 201, made.text
            busy = len(made.json()["busy_intervals"])
            for version in range(1, 6):
                _Files.body = ics_file(version)
                began = time.perf_counter()
                r = call("POST", f"{path}/{made.json()['id']}/sync", headers=key)
                times.append(time.perf_counter() - began)
                assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    server.shutdown()
    median = statistics.median(times)
    ok = median < GOAL_SYNC_S
    print(
        f"sync of a {EVENTS}-event ICS file ({len(_Files.body) // 1024} KiB, {busy} busy "
        f"intervals) through the API: median {median:.2f} s, max {max(times):.2f} s "
        f"(goal < {GOAL_SYNC_S:.0f} s) {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main() -> int:
    ok_plan = plan_ratio()
    ok_sync = sync_time()
    return 0 if ok_plan and ok_sync else 1


if __name__ == "__main__":
    sys.exit(main())
