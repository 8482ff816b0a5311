"""Load test: the real service (2 uvicorn workers) on a fresh PostgreSQL database under a
day's mix of traffic from wrk on loopback.

    python benchmarks/load/run.py [--seconds 60] [--connections 64] [--workers 2]

1. Creates a database on the PostgreSQL server of ``--server`` (default: the server of
   ``SCHEDULER_TEST_DATABASE_URL``, else ``postgresql+psycopg://postgres@127.0.0.1:5432``),
   loads the demo (``python -m app demo``: it also migrates) and, through the API, a second,
   larger workspace (3 parties, 10 people, 4 series scheduled) with feeds of every scope.
2. Starts ``python -m app serve --workers N`` (which migrates to head first) with the access
   log (JSON lines, the production default) in a file.
3. Runs ``benchmarks/load/mixed.lua``: feed polls with and without If-None-Match, API reads
   (parties, participants, series, occurrences, balance), 7-day slot searches, plan
   previews, and a few writes (PATCH participant name, POST + DELETE time off). A short
   warm-up run first, then the measured run.
4. Prints requests/s, latency percentiles and errors (socket errors and non-2xx/3xx) as wrk
   saw them, and per request class the server-side figures from the access log; exits 0 when
   the goal holds (0 errors, p99 <= 250 ms), 1 when not, 2 when it cannot run.

The per-link feed rate limit is lifted for the run (``SCHEDULER_FEED_BURST``): wrk polls
a dozen links thousands of times a minute from one address, which the limit exists to stop.
Needs wrk (``make bench-tools``). The database is dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).with_name("mixed.lua")
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_P99_MS = 250.0

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

# The larger workspace, created through the API: a Chicago client, a Bengaluru vendor whose
# agents work the US day, a Bogotá nearshore team.
PARTIES = [
    {
        "name": "Globex (Chicago)",
        "role": "client",
        "timezone": "America/Chicago",
        "working_hours": [{"days": WEEKDAYS, "start": "08:00", "end": "17:00"}],
        "holiday_country": "US",
        "people": ["Ava Novak", "Ben Carter", "Chloe Dunn", "Diego Ramos"],
    },
    {
        "name": "Sutherland Bengaluru",
        "role": "vendor",
        "timezone": "Asia/Kolkata",
        "working_hours": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "18:30", "end": "03:30"}
        ],
        "holiday_country": "IN",
        "people": ["Anika Rao", "Vikram Iyer", "Meera Nair"],
    },
    {
        "name": "Nearshore Bogotá",
        "role": "partner",
        "timezone": "America/Bogota",
        "working_hours": [{"days": WEEKDAYS, "start": "07:00", "end": "16:00"}],
        "holiday_country": "CO",
        "people": ["Camila Ortiz", "Mateo Gómez", "Lucía Herrera"],
    },
]
# (title, rule, count, duration, policy, required people, optional people)
SERIES = [
    ("Weekly service review", "FREQ=WEEKLY;BYDAY=WE", 52, 60, "rotate", [0, 4, 7], [1, 5]),
    ("Staffing sync", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", 26, 30, "rotate", [1, 5, 8], []),
    ("Monthly business review", "FREQ=MONTHLY;BYDAY=1TH", 12, 60, "rotate", [0, 2, 4, 7], [9]),
    ("Quarterly business review", "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TU", 8, 90, "fixed", [0, 3, 4, 7],
     [6]),
]  # fmt: skip

# The access log's route templates, by request class.
CLASSES = {
    "/feeds/{token}.ics": "feed",
    "/v1/parties": "read",
    "/v1/participants": "read",
    "/v1/participants/{participant_id}": "read / write_name",
    "/v1/series": "read",
    "/v1/series/{series_id}": "read",
    "/v1/series/{series_id}/occurrences": "read",
    "/v1/series/{series_id}/balance": "read",
    "/v1/slots/search": "search",
    "/v1/series/{series_id}/plan": "plan",
    "/v1/participants/{participant_id}/time-off": "write_time_off",
    "/v1/participants/{participant_id}/time-off/{time_off_id}": "write_time_off",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_url(explicit: str | None) -> str:
    """A URL of the PostgreSQL server's maintenance database (where CREATE DATABASE runs)."""
    if explicit:
        return explicit
    test_url = os.environ.get("SCHEDULER_TEST_DATABASE_URL", "")
    if test_url.startswith("postgresql"):
        return make_url(test_url).set(database="postgres").render_as_string(hide_password=False)
    return DEFAULT_SERVER


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server: str, name: str) -> str:
    with psycopg.connect(libpq(server), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(libpq(server), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(base: str, server: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit("the server was not ready in time")


def next_monday(today: datetime) -> datetime:
    day = today.replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=7 - day.weekday())


def build_larger_workspace(api: httpx.Client, admin_token: str, today: datetime) -> dict[str, Any]:
    """Create the second workspace through the API; return its key, ids and feed URLs."""
    r = api.post(
        "/v1/workspaces",
        json={"name": "Globex ↔ Sutherland (load)"},
        headers={"X-Admin-Token": admin_token},
    )
    r.raise_for_status()
    key = r.json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    people: list[dict[str, Any]] = []
    party_ids = []
    for spec in PARTIES:
        body = {k: v for k, v in spec.items() if k != "people"}
        party = api.post("/v1/parties", json=body, headers=auth)
        party.raise_for_status()
        party_ids.append(party.json()["id"])
        for name in spec["people"]:
            p = api.post(
                "/v1/participants",
                json={"name": name, "party_id": party.json()["id"]},
                headers=auth,
            )
            p.raise_for_status()
            people.append(p.json())
    series_ids = []
    start = today.date() + timedelta(days=7)
    for title, rule, count, minutes, policy, required, optional in SERIES:
        members = [{"participant_id": people[i]["id"], "required": True} for i in required]
        members += [{"participant_id": people[i]["id"], "required": False} for i in optional]
        s = api.post(
            "/v1/series",
            json={
                "title": title,
                "duration_minutes": minutes,
                "recurrence": rule,
                "start_date": start.isoformat(),
                "count": count,
                "anchor_timezone": "America/Chicago",
                "policy": policy,
                "step_minutes": 30,
                "location": "https://meet.example.com/" + title.lower().replace(" ", "-"),
                "participants": members,
            },
            headers=auth,
        )
        s.raise_for_status()
        series_ids.append(s.json()["id"])
        api.post(f"/v1/series/{s.json()['id']}/schedule", headers=auth).raise_for_status()
    feeds = []
    targets = [("workspace", None)]
    targets += [("participant", p["id"]) for p in people]
    targets += [("party", i) for i in party_ids]
    targets += [("series", i) for i in series_ids]
    for scope, target in targets:
        f = api.post("/v1/feeds", json={"scope": scope, "target_id": target}, headers=auth)
        f.raise_for_status()
        feeds.append(f.json()["url"])
    return {
        "api_key": key,
        "participants": {p["name"]: p["id"] for p in people},
        "series": {title: i for (title, *_), i in zip(SERIES, series_ids, strict=True)},
        "feeds": feeds,
        "search_sets": [
            [people[0]["id"], people[4]["id"]],
            [people[0]["id"], people[4]["id"], people[7]["id"]],
            [people[1]["id"], people[5]["id"], people[8]["id"], people[2]["id"]],
        ],
    }


def lua(value: Any) -> str:
    """A Lua literal of a JSON-like value (strings as escaped bytes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for b in value.encode():
            ch = chr(b)
            out.append(ch if 32 <= b < 127 and ch not in '"\\' else f"\\{b:03d}")
        return '"' + "".join(out) + '"'
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def alt_name(name: str) -> str:
    return name + " (on call)"


def feed_entries(
    api: httpx.Client, urls: list[str], names: list[str], workspace_names: list[str]
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Each feed's path and current ETag; every calendar name it can have -> its index."""
    feeds: list[dict[str, str]] = []
    by_name: dict[str, int] = {}
    for url in urls:
        path = "/feeds/" + url.rsplit("/feeds/", 1)[1]
        r = api.get(path)
        r.raise_for_status()
        feeds.append({"path": path, "etag": r.headers["ETag"]})
        match = re.search(r"\r\nX-WR-CALNAME:([^\r]*)\r\n", r.text)
        assert match, "a feed without X-WR-CALNAME"
        calname = match.group(1)
        by_name[calname] = len(feeds)  # Lua indexes from 1
        # A participant's feed is named after them: PATCHes toggle the name.
        for ws_name in workspace_names:
            for name in names:
                if calname == f"{name} · {ws_name}":
                    by_name[f"{alt_name(name)} · {ws_name}"] = len(feeds)
    return feeds, by_name


def workspace_entry(
    key: str, participants: dict[str, str], series: list[str], search_sets: list[list[str]]
) -> dict[str, Any]:
    return {
        "key": key,
        "participants": [
            {"id": pid, "name": name, "alt_name": alt_name(name)}
            for name, pid in sorted(participants.items())
        ],
        "series": series,
        "search_sets": search_sets,
    }


def run_wrk(base: str, data: Path, seconds: int, connections: int, threads: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t", str(threads),
        "-c", str(connections),
        "-d", f"{seconds}s",
        "--timeout", "5s",
        "-s", str(LUA),
        base,
        "--",
        str(data),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    match = re.search(r"^LOAD-RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(match.group(1))
    return result


def access_log(path: Path, offset: int) -> list[dict[str, Any]]:
    entries = []
    with path.open("rb") as f:
        f.seek(offset)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "request":
                entries.append(entry)
    return entries


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def cpu_seconds(session: int | None) -> dict[str, float]:
    """CPU time used so far by the service (the processes of its session: the supervisor
    and its workers) and by PostgreSQL's processes (the server is shared, but nothing else
    uses it during a run), from /proc; empty where /proc is not there."""
    used = {"service": 0.0, "postgres": 0.0}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        entries = [e for e in Path("/proc").iterdir() if e.name.isdigit()]
    except OSError:
        return {}
    for entry in entries:
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if session is not None and int(fields[3]) == session:  # the session id
            used["service"] += seconds
        elif name == "postgres":
            used["postgres"] += seconds
    return used


def print_per_class(entries: list[dict[str, Any]], seconds: float) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        route = e.get("route", "?")
        name = CLASSES.get(route, "other")
        if route == "/feeds/{token}.ics":
            name = "feed 304" if e["status"] == 304 else "feed 200"
        elif route == "/v1/participants/{participant_id}":
            name = "write_name" if e["method"] == "PATCH" else "read"
        groups[(name, f"{e['method']} {route}")].append(e)
    print(
        "\nserver side, from the access log (time inside the app; queueing before it is not "
        "included):"
    )
    print(f"  {'class':<15}{'route':<62}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for (name, route), group in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        ms = [float(e["ms"]) for e in group]
        codes: dict[int, int] = defaultdict(int)
        for e in group:
            codes[int(e["status"])] += 1
        statuses = " ".join(f"{c}:{n}" for c, n in sorted(codes.items()))
        outcomes = [e["cache"] for e in group if "cache" in e]
        if outcomes:  # app.api.read_cache: answered from memory
            statuses += f"  cached {outcomes.count('hit') / len(outcomes):.0%}"
        print(
            f"  {name:<15}{route:<62}{len(group) / seconds:8.1f}"
            f"{pct(ms, 50):9.1f}{pct(ms, 99):9.1f}  {statuses}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load")
    parser.add_argument("--server", help="PostgreSQL URL whose server gets the database")
    parser.add_argument("--keep", action="store_true", help="keep the database and the log")
    parser.add_argument(
        "--only",
        help="send only these request classes, comma-separated, each with an optional "
        "weight (e.g. read,plan or read:34,write_name:0.4): to see what a class costs; "
        "the goal is judged on the full mix",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: run `make bench-tools`", file=sys.stderr)
        return 2
    server = server_url(args.server)
    db_name = f"sched_load_{int(time.time())}_{os.getpid()}"
    try:
        url = create_database(server, db_name)
    except psycopg.OperationalError as exc:
        print(f"cannot reach PostgreSQL at {make_url(server).host}: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="load-"))
    log_path = tmp / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "production",
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_PUBLIC_BASE_URL": base,
        "SCHEDULER_ADMIN_TOKEN": admin_token,
        "SCHEDULER_SECRET_KEY": Fernet.generate_key().decode(),  # production needs one
        "SCHEDULER_LOG_LEVEL": "INFO",
        # Lifted for the run: one client polls a dozen links thousands of times a minute.
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
        wait_ready(base, server_proc)
        now = datetime.now(UTC)
        with httpx.Client(base_url=base, timeout=60) as api:
            larger = build_larger_workspace(api, admin_token, now)
            names = [*demo["participants"], *larger["participants"]]
            ws_names = ["Acme Retail ↔ OABPO Manila (demo)", "Globex ↔ Sutherland (load)"]
            feeds, by_name = feed_entries(
                api, [*demo["feeds"].values(), *larger["feeds"]], names, ws_names
            )
        demo_people = demo["participants"]
        workspaces = [
            workspace_entry(
                demo["api_key"],
                demo_people,
                list(demo["series"].values()),
                [
                    [demo_people["Dana Whitfield"], demo_people["Maria Santos"]],
                    [demo_people["Dana Whitfield"], demo_people["Jun Reyes"]],
                    [
                        demo_people["Sam Okafor"],
                        demo_people["Maria Santos"],
                        demo_people["Priya Shah"],
                    ],
                ],
            ),
            workspace_entry(
                larger["api_key"],
                larger["participants"],
                list(larger["series"].values()),
                larger["search_sets"],
            ),
        ]
        workspace_of = {
            p["id"]: i + 1 for i, ws in enumerate(workspaces) for p in ws["participants"]
        }
        week = next_monday(now)
        data = {
            "seed": int(time.time()),
            "feeds": feeds,
            "feed_by_name": by_name,
            "workspaces": workspaces,
            "workspace_of": workspace_of,
            "search_start": week.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "search_end": (week + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_off_days": [(now.date() + timedelta(days=d)).isoformat() for d in (30, 61, 95)],
        }
        if args.only:
            data["weights"] = [
                [name, float(weight or 1)]
                for name, _, weight in (item.partition(":") for item in args.only.split(","))
            ]
        data_path = tmp / "data.lua"
        data_path.write_text("return " + lua(data) + "\n")
        print(
            f"service: {args.workers} workers on {base}, database {db_name}; "
            f"{len(feeds)} feeds, {sum(len(w['series']) for w in workspaces)} series"
        )
        if args.warmup:
            run_wrk(base, data_path, args.warmup, args.connections, args.threads)
        offset = log_path.stat().st_size
        load_before = loadavg()
        cpu_before = cpu_seconds(server_proc.pid)
        result = run_wrk(base, data_path, args.seconds, args.connections, args.threads)
        cpu_after = cpu_seconds(server_proc.pid)
        load_after = loadavg()
        time.sleep(0.5)  # the last access-log lines
        entries = access_log(log_path, offset)
    finally:
        if server_proc is not None:
            os.killpg(server_proc.pid, signal.SIGTERM)
            try:
                server_proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server_proc.pid, signal.SIGKILL)
                server_proc.wait()
        if not args.keep:
            drop_database(server, db_name)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept database {db_name} and {tmp}")

    seconds = result["duration_us"] / 1e6
    errors = result["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    error_count = socket_errors + errors["status"]
    p = result["latency_us"]["percentiles"]
    p50, p90, p99, p999 = (p[k] / 1000 for k in ("50", "90", "99", "99.9"))
    rps = result["requests"] / seconds
    print(
        f"\nmixed load: {args.connections} connections, {seconds:.0f} s, {args.workers} workers"
        f" (load average {load_before} before, {load_after} after; {os.cpu_count()} CPUs)"
    )
    print(f"  requests      {result['requests']} ({rps:.0f} req/s)")
    print(
        f"  latency       p50 {p50:.1f} ms  p90 {p90:.1f} ms  p99 {p99:.1f} ms  "
        f"p99.9 {p999:.1f} ms  max {result['latency_us']['max'] / 1000:.1f} ms"
    )
    print(
        f"  errors        {error_count} (non-2xx/3xx {errors['status']}; socket: connect "
        f"{errors['connect']}, read {errors['read']}, write {errors['write']}, "
        f"timeout {errors['timeout']})"
    )
    sent = result["sent"]
    total_sent = sum(sent.values()) or 1
    mix = sorted(sent.items(), key=lambda kv: -kv[1])
    print("  mix sent      " + ", ".join(f"{k} {v / total_sent:.1%}" for k, v in mix))
    print("  statuses      " + ", ".join(f"{k}: {v}" for k, v in sorted(result["status"].items())))
    if cpu_before and cpu_after and result["requests"]:
        # What a request costs, whatever else the machine does meanwhile: compare changes
        # by this when the machine's speed varies between runs.
        per = {k: (cpu_after[k] - cpu_before[k]) * 1000 / result["requests"] for k in cpu_after}
        print(
            f"  CPU/request   service {per['service']:.2f} ms, PostgreSQL "
            f"{per['postgres']:.2f} ms (CPU busy: service "
            f"{(cpu_after['service'] - cpu_before['service']) / seconds:.0%}, PostgreSQL "
            f"{(cpu_after['postgres'] - cpu_before['postgres']) / seconds:.0%})"
        )
    print_per_class(entries, seconds)
    ok = error_count == 0 and p99 <= GOAL_P99_MS
    print(
        f"\ngoal: 0 errors and p99 <= {GOAL_P99_MS:.0f} ms: "
        f"{'PASS' if ok else 'FAIL'} ({error_count} errors, p99 {p99:.1f} ms)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
