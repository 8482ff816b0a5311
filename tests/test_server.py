"""``python -m app serve --workers N`` as a process: the parent hands each new connection to
the worker holding the fewest, replaces a worker that dies, and stops cleanly.

Which worker holds a connection is read from Linux's own tables (``/proc``): the worker
processes are the server's children, and a connection belongs to the worker that has its
socket open.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import ROOT, Service, serve, tries_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def workers_of(service: Service) -> list[int]:
    """The worker processes of the server (its children that run the app)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == service.pid and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def holder_of(conn: http.client.HTTPConnection, workers: list[int]) -> int | None:
    """The worker that holds the server's end of ``conn``."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    server_end = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == client_port and fields[3] == "01":  # ESTABLISHED
            server_end = fields[9]
    holders = [pid for pid in workers if server_end in _socket_inodes(pid)]
    return holders[0] if len(holders) == 1 else None


def _connections_of(pid: int, service: Service) -> int:
    """Connections to the service's port (any state but LISTEN: a client that left shows as
    CLOSE_WAIT until the worker closes its end) whose server end ``pid`` holds."""
    port = int(service.base.rsplit(":", 1)[1])
    ends = {
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(fields[1].split(":")[1], 16) == port and fields[3] != "0A"
    }
    return len(ends & _socket_inodes(pid))


def connect(service: Service) -> http.client.HTTPConnection:
    """A keep-alive connection that has had one answer."""
    host, port = service.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return conn


def held(conns: list[http.client.HTTPConnection], workers: list[int]) -> dict[int, int]:
    """Connections per worker, once every connection has exactly one holder."""
    holders: list[int | None] = []

    def settled() -> bool:
        holders[:] = [holder_of(c, workers) for c in conns]
        return None not in holders

    tries_until(settled, 5)
    return {pid: holders.count(pid) for pid in workers}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve(
        f"sqlite:///{tmp_path / 'server.db'}", "t" * 40, tmp_path / "server.log", workers=2
    ) as svc:
        tries_until(lambda: len(workers_of(svc)) == 2, 10)
        # The readiness probes' connections are closed, and so counted as closed, before the
        # tests count where connections go (on a loaded machine a worker may see a probe
        # leave late and look busier than it is).
        tries_until(lambda: not any(_connections_of(pid, svc) for pid in workers_of(svc)), 10)
        yield svc


def test_new_connections_go_to_the_worker_holding_the_fewest(service: Service) -> None:
    workers = workers_of(service)
    conns = [connect(service) for _ in range(12)]
    try:
        # Even, whatever the order they came in (hashing them over the workers is not).
        assert sorted(held(conns, workers).values()) == [6, 6]
        # Four closed on one worker: the next four connections all go to that worker.
        first = workers[0]
        theirs = [c for c in conns if holder_of(c, workers) == first][:4]
        for c in theirs:
            c.close()
            conns.remove(c)
        time.sleep(0.2)  # the worker sees the clients leave
        fresh = [connect(service) for _ in range(4)]
        conns += fresh
        assert [holder_of(c, workers) for c in fresh] == [first] * 4
        assert held(conns, workers) == {workers[0]: 6, workers[1]: 6}
    finally:
        for c in conns:
            c.close()


def test_a_worker_that_dies_is_replaced_and_takes_new_connections(service: Service) -> None:
    workers = workers_of(service)
    pair = [connect(service), connect(service)]
    try:
        holders = held(pair, workers)
        assert holders == {workers[0]: 1, workers[1]: 1}
        doomed = holder_of(pair[0], workers)
        survivor = pair[1]
        assert doomed is not None
        os.kill(doomed, signal.SIGKILL)
        replaced: list[int] = []

        def restarted() -> bool:
            now = workers_of(service)
            replaced[:] = [pid for pid in now if pid not in workers]
            return len(now) == 2 and len(replaced) == 1

        tries_until(restarted, 10)
        # Meanwhile every request is answered: the survivor's connection still works, and
        # new connections go to the survivor until the new worker has started.
        survivor.request("GET", "/healthz")
        assert survivor.getresponse().status == 200
        conns = [connect(service)]

        # Once started, the new worker takes new connections (it holds the fewest).
        def new_worker_serves() -> bool:
            conns.append(connect(service))
            return holder_of(conns[-1], workers_of(service)) == replaced[0]

        tries_until(new_worker_serves, 30)
        for c in conns:
            c.close()
    finally:
        for c in pair:
            c.close()
    assert f"worker {doomed} exited with -9; restarting it" in service.log.read_text()


def test_the_port_is_refused_at_once_when_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, "SCHEDULER_DATABASE_URL": "sqlite://"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert "in use" in (done.stdout + done.stderr).lower()
