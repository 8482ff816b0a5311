"""Starvation benchmark (issue 15 §3): worst-case plans against the real service (2 workers,
PostgreSQL on loopback) while another workspace's cached reads and feed polls go on.

    python benchmarks/bench_starvation.py [--rounds 3] [--workers 2] [--keep]
    python benchmarks/bench_starvation.py --calibrate     # the work estimate's constants

1. Creates a database on the PostgreSQL server of ``--server`` (default: the server of
   ``SCHEDULER_TEST_DATABASE_URL``, else 127.0.0.1:5432), loads the demo workspace (the
   other tenant) and starts ``python -m app serve --workers N``.
2. Through the API, a heavy tenant: 200 participants in 8 zones (Americas, Europe,
   Africa; 32 distinct working-hour profiles) and series ``FREQ=DAILY``:
   * at the API's own limits: 200 people, count 520, step_minutes 5 (30 million burden
     cells) — must be refused at once (422 naming what to shrink);
   * the worst accepted: 50 people, count 520, step_minutes 10 (3.7 million cells, 26,000
     participant-occurrences: both limits of app.scheduling.work nearly reached), asked
     three at a time, ``--rounds`` times, as ``view=compact`` and as a 200-occurrence page.
3. Meanwhile 4 client processes poll the other tenant (GET parties, series: cached reads;
   its feeds), one request every 20 ms each; first alone (idle), then during the heavy
   rounds. Processes, not threads: the heavy side's reading of big answers in this process
   would otherwise hold up their timings (the GIL).
4. Prints the worst request's wall time, the other tenant's p50/p99 and errors idle and
   during, and each worker's RSS (and the heavy-work children's peak) before, at the peak
   and after. Exits 0 when the goals hold, 1 when not, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "load"))

import run as load  # noqa: E402  (benchmarks/load/run.py: database and server helpers)

GOAL_WALL_SECONDS = 5.0
GOAL_P99_RATIO = 2.0
GOAL_PEAK_MB = 300.0
GOAL_RETURN_MB = 50.0
LIGHT_CLIENTS = 4  # processes
LIGHT_PAUSE_SECONDS = 0.02
IDLE_SECONDS = 8.0

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
ZONES = [
    ("America/New_York", "US"),
    ("America/Chicago", "US"),
    ("America/Sao_Paulo", "BR"),
    ("America/Bogota", "CO"),
    ("Europe/London", "GB"),
    ("Europe/Berlin", "DE"),
    ("Europe/Lisbon", "PT"),
    ("Africa/Lagos", "NG"),
]
SHIFTS = [0, 30, 60, 90]  # minutes after 09:00: four profiles per zone


def _hours(shift: int) -> list[dict[str, Any]]:
    start, end = 9 * 60 + shift, 17 * 60 + shift
    return [
        {
            "days": WEEKDAYS,
            "start": f"{start // 60:02d}:{start % 60:02d}",
            "end": f"{end // 60:02d}:{end % 60:02d}",
        }
    ]


# --- the heavy tenant ----------------------------------------------------------------------


def heavy_tenant(api: httpx.Client, admin_token: str, size: int) -> tuple[str, list[str]]:
    r = api.post(
        "/v1/workspaces", json={"name": "Heavy tenant"}, headers={"X-Admin-Token": admin_token}
    )
    r.raise_for_status()
    key = r.json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    parties = []
    for zone, country in ZONES:
        for shift in SHIFTS:
            body = {
                "name": f"{zone.split('/')[-1]} +{shift}",
                "role": "vendor",
                "timezone": zone,
                "working_hours": _hours(shift),
                "holiday_country": country,
            }
            p = api.post("/v1/parties", json=body, headers=auth)
            p.raise_for_status()
            parties.append(p.json()["id"])
    people = []
    for i in range(size):
        body = {
            "name": f"Person {i:03d}",
            "party_id": parties[i % len(parties)],
            "max_stretch_minutes": (180, 240, 150)[i % 3],
        }
        r = api.post("/v1/participants", json=body, headers=auth)
        r.raise_for_status()
        people.append(r.json()["id"])
    return key, people


def daily_series(
    api: httpx.Client, key: str, people: list[str], count: int, step: int, start: date
) -> str:
    body = {
        "title": f"Daily stand-up of {len(people)}",
        "duration_minutes": 60,
        "recurrence": "FREQ=DAILY",
        "start_date": start.isoformat(),
        "count": count,
        "anchor_timezone": "America/New_York",
        "step_minutes": step,
        "participants": [{"participant_id": p} for p in people],
    }
    r = api.post("/v1/series", json=body, headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    series_id: str = r.json()["id"]
    return series_id


@dataclass
class Answer:
    what: str
    status: int
    seconds: float
    size: int
    detail: str = ""


def timed_post(base: str, key: str, path: str, params: dict[str, Any], what: str) -> Answer:
    began = time.perf_counter()
    with httpx.Client(base_url=base, timeout=120) as client:
        r = client.post(path, params=params, headers={"Authorization": f"Bearer {key}"})
    seconds = time.perf_counter() - began
    detail = ""
    if r.status_code != 200:
        detail = r.json().get("detail", "")
    elif "optimal" in r.text:
        body = r.json()
        detail = f"{body['occurrence_count']} occurrences, optimal={body['optimal']}"
    return Answer(what, r.status_code, seconds, len(r.content), detail)


def at_once(
    base: str, key: str, series_ids: list[str], params: dict[str, Any], what: str
) -> list[Answer]:
    """POST every series' plan at the same time; their answers."""
    results: list[Answer] = []

    def post(series_id: str) -> None:
        path = f"/v1/series/{series_id}/plan"
        results.append(timed_post(base, key, path, params, what))

    group = [threading.Thread(target=post, args=(s,)) for s in series_ids]
    for t in group:
        t.start()
    for t in group:
        t.join()
    return results


# --- the other tenant ---------------------------------------------------------------------


@dataclass
class Light:
    """Latencies of the other tenant's requests, by phase."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, records: list[tuple[float, float, str | None]], phases: list[tuple[str, float]]
    ) -> Light:
        """Sort (began, seconds, error) records into the phase that was on when each began
        (``phases``: names with their monotonic start times, in order)."""
        light = cls()
        for began, seconds, error in records:
            phase = next((name for name, since in reversed(phases) if began >= since), None)
            if phase is None:
                continue
            if error is None:
                light.samples.setdefault(phase, []).append(seconds)
            else:
                light.errors.setdefault(phase, []).append(error)
        return light


def light_client(base: str, key: str, feeds: list[str], offset: int, stop: Any, out: Any) -> None:
    """One client of the other tenant, in a process of its own: the heavy side's reading and
    parsing of big answers in the benchmark's process cannot hold up its timings (the GIL).
    Puts its (began, seconds, error) records, on the system-wide monotonic clock, on ``out``."""
    paths = ["/v1/parties", "/v1/series", *feeds]
    auth = {"Authorization": f"Bearer {key}"}
    records: list[tuple[float, float, str | None]] = []
    i = offset
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            began = time.monotonic()
            try:
                r = client.get(path, headers=auth if path.startswith("/v1") else {})
                error = None if r.status_code == 200 else f"{r.status_code} {path}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__} {path}"
            records.append((began, time.monotonic() - began, error))
            time.sleep(LIGHT_PAUSE_SECONDS)
    out.put(records)


def pct(values: list[float], p: float) -> float:
    return load.pct(values, p) if values else float("nan")


# --- memory -------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def service_cpu(session: int) -> float:
    """CPU seconds of the service's session so far, with its reaped children (the heavy-work
    processes, reaped by the fork server), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:
            total += sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Memory:
    workers: list[int]
    before: dict[int, float] = field(default_factory=dict)
    peak: dict[int, float] = field(default_factory=dict)
    after: dict[int, float] = field(default_factory=dict)
    pool_peak: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        while not self.stop.is_set():
            for pid in self.workers:
                self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
                for child in children(pid):  # the fork server and the heavy-work processes
                    for grandchild in [child, *children(child)]:
                        self.pool_peak = max(self.pool_peak, rss_mb(grandchild))
            time.sleep(0.05)


# --- calibration --------------------------------------------------------------------------


def calibrate() -> int:
    """Fit CPU = a x cells + b x participant-occurrences over in-process plans."""
    import numpy as np

    from app.scheduling.model import Person, parse_working_hours
    from app.scheduling.planner import SeriesSpec, plan_series
    from app.scheduling.work import PlanWork

    def people(n: int) -> tuple[Person, ...]:
        out = []
        for i in range(n):
            zone = ZONES[i % len(ZONES)][0]
            hours = parse_working_hours(_hours(SHIFTS[(i // len(ZONES)) % len(SHIFTS)]))
            out.append(Person(f"p{i}", zone, hours, max_stretch_minutes=(180, 240, 150)[i % 3]))
        return tuple(out)

    rows, seconds = [], []
    for size, count, step in [(20, 520, 5), (50, 520, 15), (100, 260, 15), (200, 520, 60)]:
        spec = SeriesSpec(
            "FREQ=DAILY", date(2027, 1, 4), count, None, "America/New_York", 60, step,
            "rotate", people(size),
        )  # fmt: skip
        plan_series(spec)  # warm: zone transitions, holiday tables
        began = time.process_time()
        plan_series(spec)
        cpu = time.process_time() - began
        work = PlanWork(count, step, size)
        rows.append([work.cells, work.participant_occurrences])
        seconds.append(cpu)
        print(
            f"{size:4d} people x {count} dates, step {step:2d}: {work.cells:>11,} cells, "
            f"{work.participant_occurrences:>7,} participant-occurrences: {cpu:6.2f} s CPU "
            f"(estimate {work.cpu_seconds:5.2f} s)"
        )
    (a, b), *_ = np.linalg.lstsq(np.array(rows, dtype=float), np.array(seconds), rcond=None)
    print(f"fit: {a * 1e9:.0f} ns per burden cell, {b * 1e6:.1f} µs per participant-occurrence")
    return 0


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", help="PostgreSQL URL whose server gets the database")
    parser.add_argument("--keep", action="store_true", help="keep the database and the log")
    parser.add_argument("--calibrate", action="store_true", help="fit the work constants")
    args = parser.parse_args()
    if args.calibrate:
        return calibrate()
    server = load.server_url(args.server)
    db_name = f"sched_starve_{int(time.time())}_{os.getpid()}"
    try:
        url = load.create_database(server, db_name)
    except psycopg.OperationalError as exc:
        print(f"cannot reach PostgreSQL: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="starve-"))
    log_path = tmp / "server.log"
    port = load.free_port()
    base = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "production",
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_PUBLIC_BASE_URL": base,
        "SCHEDULER_ADMIN_TOKEN": admin_token,
        "SCHEDULER_SECRET_KEY": Fernet.generate_key().decode(),  # production needs one
        "SCHEDULER_LOG_LEVEL": "WARNING",
        "SCHEDULER_FEED_BURST": "1000000000",
    }
    py = sys.executable
    server_proc: subprocess.Popen[bytes] | None = None
    try:
        demo = json.loads(
            subprocess.run(
                [py, "-m", "app", "demo"], env=env, cwd=ROOT, capture_output=True, check=True
            ).stdout
        )
        with log_path.open("ab") as log:
            server_proc = subprocess.Popen(
                [py, "-m", "app", "serve", "--port", str(port), "--workers", str(args.workers)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        load.wait_ready(base, server_proc)
        return run(args, base, admin_token, demo, server_proc.pid)
    finally:
        if server_proc is not None and server_proc.poll() is None:
            os.killpg(server_proc.pid, 15)
            try:
                server_proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server_proc.pid, 9)
        if not args.keep:
            load.drop_database(server, db_name)
        else:
            print(f"kept: database {db_name}, log {log_path}")


def run(
    args: argparse.Namespace, base: str, admin_token: str, demo: dict[str, Any], supervisor: int
) -> int:
    today = datetime.now(UTC).date()
    start = date(today.year + 1, 1, 4)
    with httpx.Client(base_url=base, timeout=120) as api:
        print("building the heavy tenant (200 participants, 8 zones) ...", flush=True)
        key, people = heavy_tenant(api, admin_token, 200)
        at_limits = daily_series(api, key, people, 520, 5, start)
        worst = [daily_series(api, key, people[:50], 520, 10, start) for _ in range(3)]
    feeds = [u.removeprefix(base) for u in demo["feeds"].values()]
    # The supervisor's children but multiprocessing's resource tracker: the workers.
    workers = [
        pid
        for pid in children(supervisor)
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    memory = Memory(workers)
    time.sleep(2)
    for pid in workers:
        memory.before[pid] = rss_mb(pid)

    fork = multiprocessing.get_context("fork")  # before any thread of ours is started
    stop, out = fork.Event(), fork.Queue()
    clients = [
        fork.Process(target=light_client, args=(base, demo["api_key"], feeds, i, stop, out))
        for i in range(LIGHT_CLIENTS)
    ]
    for c in clients:
        c.start()
    phases = [("idle", time.monotonic())]
    sampler = threading.Thread(target=memory.sample)
    sampler.start()
    answers: list[Answer] = []
    cpu: dict[str, float] = {}
    try:
        idle_from, idle_cpu = time.perf_counter(), service_cpu(supervisor)
        time.sleep(IDLE_SECONDS)
        cpu["idle per second"] = (service_cpu(supervisor) - idle_cpu) / (
            time.perf_counter() - idle_from
        )
        phases.append(("heavy", time.monotonic()))
        began = time.perf_counter()
        for action in ("plan", "schedule"):
            answers.append(
                timed_post(
                    base, key, f"/v1/series/{at_limits}/{action}", {}, f"{action} at API limits"
                )
            )
        # One alone first: what a worst plan costs without company.
        path = f"/v1/series/{worst[0]}/plan"
        alone_from, alone_cpu = time.perf_counter(), service_cpu(supervisor)
        answers.append(timed_post(base, key, path, {"view": "compact"}, "worst plan, alone"))
        cpu["worst plan alone"] = (
            service_cpu(supervisor)
            - alone_cpu
            - cpu["idle per second"] * (time.perf_counter() - alone_from)
        )
        for round_ in range(args.rounds):
            params: dict[str, Any] = (
                {"view": "compact"} if round_ % 2 == 0 else {"limit": 200, "offset": 0}
            )
            label = "compact" if "view" in params else "page of 200"
            answers += at_once(base, key, worst, params, f"worst plan, {label}")
        heavy_seconds = time.perf_counter() - began
        phases.append(("after", time.monotonic()))
        time.sleep(5)
    finally:
        stop.set()
        memory.stop.set()
        records = [r for _ in clients for r in out.get(timeout=60)]
        for c in clients:
            c.join()
        sampler.join()
    light = Light.of(records, phases)
    time.sleep(3)
    for pid in workers:
        memory.after[pid] = rss_mb(pid)
    return report(answers, light, memory, heavy_seconds, cpu)


def report(
    answers: list[Answer],
    light: Light,
    memory: Memory,
    heavy_seconds: float,
    cpu: dict[str, float],
) -> int:
    ok = True

    def goal(text: str, holds: bool) -> None:
        nonlocal ok
        ok = ok and holds
        print(f"  {'PASS' if holds else 'FAIL'}  {text}")

    print("\nheavy requests (wall time, status, body):")
    for a in answers:
        print(f"  {a.what:<28} {a.seconds:6.2f} s  {a.status}  {a.size / 1e6:6.2f} MB  {a.detail}")
    worst = max(answers, key=lambda a: a.seconds)
    refused = [a for a in answers if "API limits" in a.what]
    print(f"worst request: {worst.what}, {worst.seconds:.2f} s")
    print(f"heavy phase: {heavy_seconds:.1f} s; load average {load.loadavg()}")
    print(
        f"service CPU: {cpu['idle per second']:.2f} s per second for the other tenant's "
        f"traffic; {cpu['worst plan alone']:.2f} s more for one worst plan (the machine-speed"
        " figure: wall times above stretch with the machine's other load)\n"
    )
    print("the other tenant (cached reads and feed polls):")
    rows: dict[str, tuple[float, float]] = {}
    for phase in ("idle", "heavy", "after"):
        values = [v * 1000 for v in light.samples.get(phase, [])]
        errors = light.errors.get(phase, [])
        rows[phase] = (pct(values, 50), pct(values, 99))
        print(
            f"  {phase:<6} {len(values):5d} ok, {len(errors)} errors: p50 {rows[phase][0]:6.1f} ms,"
            f" p99 {rows[phase][1]:6.1f} ms, max {max(values, default=0):6.1f} ms"
            + (f"  ({', '.join(errors[:5])})" if errors else "")
        )
    print("\nworker RSS (MB): before, peak, after")
    for pid in memory.workers:
        print(
            f"  worker {pid}: {memory.before[pid]:6.1f} {memory.peak.get(pid, 0):6.1f} "
            f"{memory.after[pid]:6.1f}"
        )
    print(f"  heavy-work children (fork server, pool processes): peak {memory.pool_peak:.1f}")
    print("\ngoals:")
    goal(
        "requests at the API's limits are refused at once with 422",
        all(a.status == 422 and a.seconds < 1.0 for a in refused),
    )
    goal(
        f"every request answers within {GOAL_WALL_SECONDS:g} s (worst {worst.seconds:.2f} s)",
        worst.seconds <= GOAL_WALL_SECONDS and all(a.status in (200, 422) for a in answers),
    )
    idle_p99, heavy_p99 = rows["idle"][1], rows["heavy"][1]
    goal(
        f"other tenant: no errors, p99 {heavy_p99:.1f} ms <= {GOAL_P99_RATIO:g} x idle "
        f"{idle_p99:.1f} ms",
        not light.errors and heavy_p99 <= GOAL_P99_RATIO * idle_p99,
    )
    peak = max(memory.peak.values(), default=0.0)
    back = max(memory.after[p] - memory.before[p] for p in memory.workers)
    goal(f"worker RSS at most {GOAL_PEAK_MB:g} MB (peak {peak:.1f})", peak <= GOAL_PEAK_MB)
    goal(f"worker RSS back within {GOAL_RETURN_MB:g} MB (+{back:.1f})", back <= GOAL_RETURN_MB)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
