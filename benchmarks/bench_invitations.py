"""Invitations benchmark: what the outbox adds to scheduling (docs/rules.md, "Invitations").

POST /v1/series/{id}/schedule of a 52-occurrence weekly series for 30 members (all with an
email; New York and Manila), through the real API on a temporary SQLite database, with
``send_invitations`` on against off. With it on, the schedule also writes one outbox row per
member in its transaction. Goal: on is at most 1.2 x off (median of fresh series each).
The dispatcher's sustained rate is benchmarks/bench_dispatch.py.

    .venv/bin/python benchmarks/bench_invitations.py

Exits non-zero on FAIL.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio.from_thread
import httpx

from app.db import migrate
from app.main import create_app
from app.services import services
from app.settings import Settings

GOAL_RATIO = 1.2
RUNS = 7
NOW = datetime(2026, 10, 1, tzinfo=UTC)
ADMIN = "bench-admin-token-0123456789"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
NIGHTS = ["sun", "mon", "tue", "wed", "thu"]


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        migrate.upgrade(database)
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=database,
            admin_token=ADMIN,
            log_level="WARNING",
            heavy_processes=0,  # the plan in the request's thread: the same work either way
        )
        application = create_app(settings)
        services(application).clock = lambda: NOW
        with anyio.from_thread.start_blocking_portal() as portal:

            def call(method: str, path: str, **kw: Any) -> httpx.Response:
                async def go() -> httpx.Response:
                    transport = httpx.ASGITransport(app=application)
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
                        return await c.request(method, path, **kw)

                return portal.call(go)

            made = call(
                "POST", "/v1/workspaces", json={"name": "b"}, headers={"X-Admin-Token": ADMIN}
            )
            key = {"Authorization": f"Bearer {made.json()['api_key']}"}
            parties = [
                call("POST", "/v1/parties", headers=key, json=body).json()["id"]
                for body in (
                    {
                        "name": "New York",
                        "role": "client",
                        "timezone": "America/New_York",
                        "working_hours": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}],
                    },
                    {
                        "name": "Manila",
                        "role": "vendor",
                        "timezone": "Asia/Manila",
                        "working_hours": [{"days": NIGHTS, "start": "21:00", "end": "06:00"}],
                    },
                )
            ]
            people = [
                call(
                    "POST",
                    "/v1/participants",
                    headers=key,
                    json={
                        "name": f"Person {n}",
                        "email": f"person{n}@example.com",
                        "party_id": parties[n % 2],
                    },
                ).json()["id"]
                for n in range(30)
            ]

            def schedule_ms(invitations: bool) -> tuple[float, int]:
                series = call(
                    "POST",
                    "/v1/series",
                    headers=key,
                    json={
                        "title": "Weekly review",
                        "duration_minutes": 60,
                        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
                        "start_date": "2027-01-05",
                        "count": 52,
                        "anchor_timezone": "America/New_York",
                        "participants": [{"participant_id": p} for p in people],
                        "send_invitations": invitations,
                    },
                ).json()
                began = time.perf_counter()
                r = call("POST", f"/v1/series/{series['id']}/schedule", headers=key)
                spent = (time.perf_counter() - began) * 1000
                assert r.status_code == 200, r.text
                queued = call(
                    "GET", "/v1/deliveries", headers=key, params={"series_id": series["id"]}
                ).json()["items"]
                return spent, len(queued)

            schedule_ms(False), schedule_ms(True)  # warm-up
            off, on, rows = [], [], 0
            for _ in range(RUNS):  # interleaved: the machine's load hits both alike
                off.append(schedule_ms(False)[0])
                spent, rows = schedule_ms(True)
                on.append(spent)
    median_off, median_on = statistics.median(off), statistics.median(on)
    ok = median_on <= GOAL_RATIO * median_off
    print(
        f"schedule 52 occurrences x 30 members, invitations off: median {median_off:7.1f} ms\n"
        f"schedule 52 occurrences x 30 members, invitations on ({rows} outbox rows): median "
        f"{median_on:7.1f} ms (goal <= {GOAL_RATIO} x off: {median_on / median_off:.2f}x) "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
