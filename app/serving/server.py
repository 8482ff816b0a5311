"""Serving HTTP: uvicorn, and with several workers a parent that hands each new connection to
the worker holding the fewest. The design and its measurements: docs/design.md.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("app.serving.server")

APP = "app.main:create_app"
UVICORN_OPTIONS: dict[str, Any] = {"factory": True, "log_level": "warning", "proxy_headers": True}
SUPERVISE_SECONDS = 0.2
# A worker that has not taken a connection off its channel in this long is skipped for it.
HANDOFF_TIMEOUT_SECONDS = 1.0
BACKLOG = 2048


def serve(host: str, port: int, workers: int) -> int:
    """Serve until SIGTERM/SIGINT; the exit status of the whole server."""
    if workers <= 1 or not hasattr(socket, "send_fds"):
        uvicorn.run(APP, host=host, port=port, workers=workers, **UVICORN_OPTIONS)
        return 0
    listener = _listening_socket(host, port)  # fails here, clearly, when the port is taken
    return _Supervisor(listener, workers).run()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


# --- the worker ----------------------------------------------------------------------------


class _HandedServer(uvicorn.Server):
    """uvicorn serving the connections the parent passes over ``channel`` instead of
    accepting its own. ``shared.ready[index]`` is set once the app has started; each
    closed connection adds one to ``shared.closed[index]``."""

    def __init__(
        self, config: uvicorn.Config, channel: socket.socket, shared: _Shared, index: int
    ) -> None:
        super().__init__(config)
        self.channel = channel
        self.closed = shared.closed
        self.ready = shared.ready
        self.index = index
        self.pending: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, no listening socket of its own
        if self.should_exit:
            return
        self.channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._take)
        self.ready[self.index] = 1

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets)

    def _protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            self.closed[self.index] += 1  # this process is the slot's only writer
            lost(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        return protocol

    def _take(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.channel, 1, 1)
            except (BlockingIOError, InterruptedError):
                return
            if not data and not fds:  # the parent is gone: finish what is open, then exit
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = loop.create_task(self._connect(loop, conn))
                self.pending.add(task)
                task.add_done_callback(self.pending.discard)

    async def _connect(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(self._protocol, conn)
        except OSError:  # the client left before the worker took its connection
            conn.close()
            self.closed[self.index] += 1


def _worker(channel: socket.socket, shared: _Shared, index: int) -> None:
    """One worker process: uvicorn on the connections the parent hands it."""
    _HandedServer(uvicorn.Config(APP, **UVICORN_OPTIONS), channel, shared, index).run()


# --- the parent ----------------------------------------------------------------------------


class _Shared:
    """Per worker, in shared memory: whether it has started, and how many connections it
    has closed. Each slot is written by its worker (and reset by the parent before it
    starts a worker in it)."""

    def __init__(self, workers: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.ready = spawn.RawArray("b", workers)
        self.closed = spawn.RawArray("q", workers)


@dataclass
class _Slot:
    process: SpawnProcess
    channel: socket.socket  # the parent's end
    handed: int = 0  # connections passed to this worker


class _Supervisor:
    def __init__(self, listener: socket.socket, workers: int) -> None:
        self.listener = listener
        self.workers = workers
        self.spawn = multiprocessing.get_context("spawn")
        self.shared = _Shared(workers)
        self.stopping = False

    def _start(self, index: int) -> _Slot:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.shared.ready[index] = 0
        self.shared.closed[index] = 0
        process = self.spawn.Process(
            target=_worker, args=(theirs, self.shared, index), daemon=False
        )
        process.start()
        theirs.close()
        ours.settimeout(HANDOFF_TIMEOUT_SECONDS)
        return _Slot(process, ours)

    def _stop(self, signum: int, _: FrameType | None) -> None:
        self.stopping = True

    def _hand_over(self, slots: list[_Slot], conn: socket.socket) -> None:
        """Pass ``conn`` to the live worker with the fewest open connections. One still
        starting takes it once it has started: preferring started workers would leave
        every keep-alive connection opened meanwhile on the others for good."""
        closed = self.shared.closed
        order = sorted(
            (i for i, slot in enumerate(slots) if slot.process.is_alive()),
            key=lambda i: slots[i].handed - closed[i],
        )
        for i in order:
            try:
                socket.send_fds(slots[i].channel, [b"c"], [conn.fileno()])
            except OSError as exc:
                log.warning("worker %s did not take a connection: %s", slots[i].process.pid, exc)
                continue
            slots[i].handed += 1
            break
        conn.close()  # the worker holds its own copy; none: the client sees the close

    def _accept(self, slots: list[_Slot]) -> None:
        for _ in range(BACKLOG):
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again shortly
                log.warning("accept failed: %s", exc)
                return
            self._hand_over(slots, conn)

    def _supervise(self, slots: list[_Slot]) -> int:
        for i, slot in enumerate(slots):
            if slot.process.is_alive():
                continue
            if not self.shared.ready[i]:  # it never started: restarting it would loop
                print(
                    f"error: worker {slot.process.pid} exited with {slot.process.exitcode} "
                    "while starting; stopping the server",
                    file=sys.stderr,
                )
                self.stopping = True
                return 1
            log.warning(
                "worker %s exited with %s; restarting it", slot.process.pid, slot.process.exitcode
            )
            slot.channel.close()
            slots[i] = self._start(i)
        return 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        slots = [self._start(i) for i in range(self.workers)]
        self.listener.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        status, next_check = 0, time.monotonic() + SUPERVISE_SECONDS
        try:
            while not self.stopping:
                if selector.select(SUPERVISE_SECONDS):
                    self._accept(slots)
                if time.monotonic() >= next_check:
                    status = self._supervise(slots)
                    next_check = time.monotonic() + SUPERVISE_SECONDS
        finally:
            selector.close()
            self.listener.close()  # new connections are refused from here on
            _stop_all(slots)
        return status


def _stop_all(slots: list[_Slot]) -> None:
    for slot in slots:
        if slot.process.is_alive():
            slot.process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
    for slot in slots:
        slot.channel.close()
    for slot in slots:
        slot.process.join(30)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join()
