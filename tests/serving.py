"""Real parts for tests that need them: the service in a process of its own (``python -m
app serve``: several workers, a lifespan, a database cut from under it) and a fresh
PostgreSQL database.

PostgreSQL is the server of ``SCHEDULER_TEST_DATABASE_URL`` when set (CI), else
127.0.0.1:5432; a test that needs it fails, saying so, when neither answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_server() -> URL:
    configured = os.environ.get("SCHEDULER_TEST_DATABASE_URL")
    url = make_url(configured or LOCAL_SERVER)
    try:
        with psycopg.connect(libpq(url), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        where = "SCHEDULER_TEST_DATABASE_URL" if configured else "127.0.0.1:5432"
        pytest.fail(
            f"this test needs PostgreSQL and none answers at {where} ({exc}). Start one "
            "(e.g. `pg_ctlcluster 15 main start`) or point SCHEDULER_TEST_DATABASE_URL at one.",
            pytrace=False,
        )
    return url


@contextmanager
def fresh_postgres(purpose: str) -> Iterator[URL]:
    """An empty database of its own on the server; dropped afterwards."""
    server = postgres_server()
    name = f"sched_{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name)
    finally:
        with psycopg.connect(libpq(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Service:
    base: str
    log: Path
    pid: int  # the serving process (with several workers: their supervisor)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    database_url: str, admin_token: str, log: Path, *, workers: int = 1, **settings: str
) -> Iterator[Service]:
    """Start the service on a free port and wait for ``/readyz``; stop it afterwards.

    ``settings`` are extra ``SCHEDULER_*`` variables, named without the prefix.
    """
    port = free_port()
    env = {
        **os.environ,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_DATABASE_URL": database_url,
        "SCHEDULER_ADMIN_TOKEN": admin_token,
        "SCHEDULER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SCHEDULER_LOG_LEVEL": "WARNING",
        **{f"SCHEDULER_{name.upper()}": value for name, value in settings.items()},
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    svc = Service(f"http://127.0.0.1:{port}", log, proc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the service exited:\n{svc.log_tail()}"
            # A probe waits for its answer, however slowly a worker starts: one given up
            # while its connection is still on its way to a starting worker would be
            # counted as that worker's for a while, and skew which worker the next
            # connection goes to (tests/test_server.py counts exactly that).
            try:
                wait = max(1.0, deadline - time.monotonic())
                if httpx.get(svc.base + "/readyz", timeout=wait).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"not ready in 60 s:\n{svc.log_tail()}"
            time.sleep(0.2)
        yield svc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tries_until(check: Callable[[], bool], within: float) -> int:
    """How many tries until ``check()`` held (1: at once); fails after ``within`` seconds."""
    started, tries = time.monotonic(), 1
    while not check():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.005)
        tries += 1
    return tries
