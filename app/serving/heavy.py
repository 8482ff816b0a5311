"""Heavy work (big plans) in a small pool of low-priority processes per worker, so that one
tenant's CPU cannot take a worker's event loop (docs/bounds.md has the measurements).

A worker is one CPU's worth of Python: a plan computed in its threads holds the GIL and
every other request of that worker, a cached read or a feed poll answered in a millisecond,
waits behind it. Here a plan whose measured estimate (:mod:`app.scheduling.work`) is over
``inline_seconds`` runs in a child process instead:

* at most ``processes`` at once per worker, and ``queue`` more waiting, each at most
  ``wait_seconds``; past that the request gets 503 with Retry-After at once;
* the children run at a lower CPU priority (``os.nice``), so the worker's own requests win
  the CPU whenever both want it;
* each child does ``tasks_per_process`` tasks and exits, so the memory a big plan took
  goes back to the system instead of staying in a long-lived worker;
* while it waits, the request steps aside from its admission turn (:mod:`app.serving.admission`):
  the light requests queued behind it go on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeVar

import anyio.from_thread
from starlette.types import Scope

from app.errors import RETRY_AFTER_SECONDS, AppError
from app.serving.admission import TURN, Turn

log = logging.getLogger("app.serving.heavy")

T = TypeVar("T")
# Imported once by the fork server, so that a new child starts in milliseconds.
PRELOAD = ["app.scheduling.planner", "app.scheduling.search", "app.views.plans"]


def _start_child(niceness: int, owner: int) -> None:
    """In each pool process: a lower CPU priority, and an exit when the worker that owns the
    pool is gone (killed, it cannot tell its processes to stop; they would wait forever)."""
    os.nice(niceness)
    threading.Thread(target=_exit_without, args=(owner,), daemon=True).start()


def _exit_without(owner: int) -> None:
    while True:
        time.sleep(1)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)


def _ready() -> bool:
    return True


def _busy() -> AppError:
    return AppError(
        "overloaded",
        "Too many big plans are being computed right now; retry in a few seconds.",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class HeavyWork:
    """The pool of one worker process; made once per app, its processes on first use."""

    def __init__(
        self,
        processes: int,
        queue: int,
        wait_seconds: float,
        inline_seconds: float,
        niceness: int = 10,
        tasks_per_process: int = 4,
    ) -> None:
        self.processes = processes
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.inline_seconds = inline_seconds
        self.niceness = niceness
        self.tasks_per_process = tasks_per_process
        self.admitted = 0  # requests running or waiting here (read by the tests and metrics)
        self.peak_admitted = 0
        self._free: asyncio.Semaphore | None = None  # made in the worker's event loop
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def offload(self, estimated_seconds: float) -> bool:
        """Whether work of this estimated CPU time goes to the pool (else it runs inline)."""
        return self.processes > 0 and estimated_seconds > self.inline_seconds

    def warm(self) -> None:
        """Start the fork server and a first process in the background (the fork server
        imports numpy and scipy once, which takes seconds): the first big plan does not
        wait for it, and nothing of it runs in the event loop."""
        if self.processes > 0:
            threading.Thread(target=self._warm, name="heavy-work-warm-up", daemon=True).start()

    def _warm(self) -> None:
        try:
            self._executor().submit(_ready).result(timeout=120)
        except Exception:  # a failed warm-up only means a slower first plan
            log.warning("the heavy-work pool did not start; it is tried again on first use")

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._make_executor()

    def _make_executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=context,
                initializer=_start_child,
                initargs=(self.niceness, os.getpid()),
                max_tasks_per_child=self.tasks_per_process,
            )
        return self._pool

    async def run(self, scope: Scope | None, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a child process (both picklable), the request stepped aside."""
        if self.admitted >= self.processes + self.queue:
            raise _busy()
        if self._free is None:
            self._free = asyncio.Semaphore(self.processes)
        free = self._free
        turn = scope.get(TURN) if scope is not None else None
        aside: AbstractAsyncContextManager[None] = (
            turn.stepped_aside() if isinstance(turn, Turn) else nullcontext()
        )
        self.admitted += 1
        self.peak_admitted = max(self.peak_admitted, self.admitted)
        try:
            async with aside:
                try:
                    async with asyncio.timeout(self.wait_seconds):
                        await free.acquire()
                except TimeoutError:
                    raise _busy() from None
                try:
                    # submit() may start a process (and the fork server): not in the loop.
                    future = await asyncio.to_thread(self._executor().submit, fn, *args)
                    return await asyncio.wrap_future(future)
                except BrokenProcessPool:
                    log.warning("a heavy-work process died; the pool is made anew")
                    self.close()
                    raise _busy() from None
                finally:
                    free.release()
        finally:
            self.admitted -= 1

    def call(self, scope: Scope | None, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`run` from a route's worker thread (sync routes run in anyio's threads)."""
        return anyio.from_thread.run(self.run, scope, fn, *args)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
