"""Serving HTTP: uvicorn, and with several workers one listening socket per worker.

uvicorn's own ``--workers`` shares one listening socket: the worker that wakes first accepts
every pending connection at once, so a load balancer's (or a load test's) keep-alive
connections pile onto one process. Measured with 64 connections on 2 workers: 46 and 18
connections, the busy worker saturated while the other idled, a third less throughput.
Here each worker binds its own socket with ``SO_REUSEPORT`` and the kernel spreads new
connections evenly across them. The parent only supervises: it restarts a worker that
dies, and stops all on SIGTERM/SIGINT (each worker shuts down gracefully).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("app.server")

APP = "app.main:create_app"
UVICORN_OPTIONS: dict[str, Any] = {"factory": True, "log_level": "warning", "proxy_headers": True}
# A worker that exits this soon after it started failed to start: do not restart it in a loop.
STARTUP_GRACE_SECONDS = 10.0


def serve(host: str, port: int, workers: int) -> int:
    """Serve until SIGTERM/SIGINT; the exit status of the whole server."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, host=host, port=port, workers=workers, **UVICORN_OPTIONS)
        return 0
    # Fail here, clearly, when the port is taken (our workers would each fail on their own).
    _listening_socket(host, port).close()
    return _Supervisor(host, port, workers).run()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(host: str, port: int) -> None:
    """One worker process: its own socket on the shared port, then uvicorn on it."""
    sock = _listening_socket(host, port)
    uvicorn.Server(uvicorn.Config(APP, **UVICORN_OPTIONS)).run(sockets=[sock])


class _Supervisor:
    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.workers = host, port, workers
        self.spawn = multiprocessing.get_context("spawn")
        self.stopping = False

    def _start(self) -> tuple[SpawnProcess, float]:
        process = self.spawn.Process(target=_worker, args=(self.host, self.port), daemon=False)
        process.start()
        return process, time.monotonic()

    def _stop(self, signum: int, _: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        running = [self._start() for _ in range(self.workers)]
        status = 0
        while not self.stopping:
            time.sleep(0.2)
            for i, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                if time.monotonic() - started < STARTUP_GRACE_SECONDS:
                    print(
                        f"error: worker {process.pid} exited with {process.exitcode} while "
                        "starting; stopping the server",
                        file=sys.stderr,
                    )
                    self.stopping, status = True, 1
                    break
                log.warning(
                    "worker %s exited with %s; restarting it", process.pid, process.exitcode
                )
                running[i] = self._start()
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        for process, _ in running:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        return status
