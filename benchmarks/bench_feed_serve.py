"""Feed polling under load: one uvicorn worker, wrk on loopback, feed vs /healthz.

Goals (issue 5): the cached feed reaches >= 70% of /healthz requests per second on the same
server in the same run, and 304 answers (If-None-Match) >= 85%.

    python benchmarks/bench_feed_serve.py [--seconds 10] [--connections 16] [--database-url URL]

Needs wrk (`make bench-tools`). Runs on a temporary SQLite database loaded with the demo, or
on the empty database given with --database-url (PostgreSQL, as in production).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wrk(url: str, seconds: int, connections: int, header: str | None = None) -> float:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if header:
        cmd[1:1] = ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk saw {non2xx.group(1)} error responses from {url}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--database-url",
        help="an empty database to use instead of a temporary SQLite file "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_feed)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: run `make bench-tools`", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="bench-feed-")
    port = _free_port()
    env = {
        **os.environ,
        "SCHEDULER_DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
        "SCHEDULER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SCHEDULER_LOG_LEVEL": "WARNING",
        # wrk hammers one link on purpose: lift the per-link rate limit for this measurement.
        "SCHEDULER_FEED_BURST": "100000000",
    }
    py = sys.executable
    demo = json.loads(
        subprocess.run(
            [py, "-m", "app", "demo"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    feed_url = demo["feeds"]["Maria Santos"]
    server = subprocess.Popen(
        [py, "-m", "app", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(feed_url, timeout=5) as r:
            body = r.read()
            etag = r.headers["ETag"]
        print(f"feed: {len(body)} bytes, ETag {etag}")
        _wrk(base + "/healthz", 2, args.connections)  # warm-up
        healthz = _wrk(base + "/healthz", args.seconds, args.connections)
        feed = _wrk(feed_url, args.seconds, args.connections)
        not_modified = _wrk(feed_url, args.seconds, args.connections, f"If-None-Match: {etag}")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"/healthz            {healthz:9.0f} req/s")
    ok = True
    for label, rate, goal in (
        ("feed 200 (cached)", feed, 0.70),
        ("feed 304         ", not_modified, 0.85),
    ):
        ratio = rate / healthz
        ok &= ratio >= goal
        verdict = "PASS" if ratio >= goal else "FAIL"
        print(
            f"{label}   {rate:9.0f} req/s  = {ratio:.0%} of /healthz (goal >= {goal:.0%}) "
            + verdict
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
