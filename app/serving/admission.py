"""Requests are worked on in the order they arrived, a few at a time per worker; one that
waits too long gets 503. The design and its measurements: docs/design.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import overloaded

log = logging.getLogger("app.serving.admission")

UNQUEUED = frozenset({"/healthz", "/readyz", "/metrics"})
# Where a request finds its turn (scope key), to step aside while it waits on other work.
TURN = "app.serving.admission.turn"


class Turn:
    """A request's place among the ``limit`` in the app. A request that waits for work done
    elsewhere (a plan in the heavy-work pool, app.serving.heavy) steps aside meanwhile, so the light
    requests queued behind it go on; it takes a turn again, in order, to finish."""

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._turns.release()

    @asynccontextmanager
    async def stepped_aside(self) -> AsyncIterator[None]:
        was_held = self.held
        self.release()
        try:
            yield
        finally:
            if was_held:
                await self._turns.acquire()
                self.held = True


class ArrivalOrder:
    """ASGI middleware: at most ``limit`` requests in the app at once, the rest in order."""

    def __init__(self, app: ASGIApp, limit: int, wait_seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._turns: asyncio.Semaphore | None = None  # made in the worker's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limit <= 0 or scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.limit)
        turns = self._turns
        try:
            async with asyncio.timeout(self.wait_seconds):
                await turns.acquire()
        except TimeoutError:
            log.warning("request waited %.1f s for its turn; answered 503", self.wait_seconds)
            await overloaded()(scope, receive, send)
            return
        turn = scope[TURN] = Turn(turns)

        async def send_then_release(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                turn.release()  # the response is out: what runs after it does not hold the turn

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            turn.release()
