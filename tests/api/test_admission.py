"""Requests are worked on in arrival order, ``limit`` at a time per worker (app.serving.admission).

The middleware is driven over HTTP (httpx's ASGI transport) in front of a small ASGI app
whose requests finish only when the test says so, so who is inside, in which order, and who
waits is observable exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from app.main import create_app
from app.services import services
from app.serving.admission import ArrivalOrder
from tests.conftest import make_settings


class Gates:
    """An ASGI app: each request records that it started, then waits for its gate."""

    def __init__(self, after_response: bool = False) -> None:
        self.started: list[str] = []
        self.inside = 0
        self.most_inside = 0
        self.gates: dict[str, asyncio.Event] = {}
        self.after_response = after_response  # answer first, then wait (background work)

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].strip("/")
        self.started.append(name)
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            if not self.after_response:
                await self.gate(name).wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": name.encode()})
            if self.after_response:
                await self.gate(name).wait()
        finally:
            self.inside -= 1


def _run(
    limit: int, wait: float, body: Callable[[httpx.AsyncClient, Gates], Awaitable[None]]
) -> Gates:
    inner = Gates()

    async def scenario() -> None:
        app = ArrivalOrder(inner, limit=limit, wait_seconds=wait)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await body(client, inner)

    asyncio.run(scenario())
    return inner


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out waiting")


def test_requests_start_in_the_order_they_arrived_and_no_more_than_the_limit_at_once() -> None:
    async def body(client: httpx.AsyncClient, inner: Gates) -> None:
        tasks = []
        for name in ["a", "b", "c", "d", "e"]:
            tasks.append(asyncio.create_task(client.get(f"/{name}")))
            await asyncio.sleep(0.01)  # arrival order a, b, c, d, e
        await _until(lambda: inner.started == ["a", "b"])
        for name in ["b", "a", "c", "d", "e"]:  # b finishes before a: c takes its turn
            inner.gate(name).set()
            await asyncio.sleep(0.02)
        answers = await asyncio.gather(*tasks)
        assert [r.text for r in answers] == ["a", "b", "c", "d", "e"]

    inner = _run(limit=2, wait=5.0, body=body)
    assert inner.started == ["a", "b", "c", "d", "e"]
    assert inner.most_inside == 2


def test_a_request_that_waits_too_long_gets_503_with_retry_after() -> None:
    async def body(client: httpx.AsyncClient, inner: Gates) -> None:
        first = asyncio.create_task(client.get("/slow"))
        await _until(lambda: inner.started == ["slow"])
        late = await client.get("/late")
        assert late.status_code == 503
        assert late.json()["error"] == "overloaded"
        assert "retry" in late.json()["detail"]
        assert int(late.headers["retry-after"]) >= 1
        inner.gate("slow").set()
        assert (await first).status_code == 200
        inner.gate("after").set()
        assert (await client.get("/after")).text == "after"  # the turn was given back

    inner = _run(limit=1, wait=0.05, body=body)
    assert inner.started == ["slow", "after"]  # the late request never reached the app


def test_probes_do_not_queue() -> None:
    async def body(client: httpx.AsyncClient, inner: Gates) -> None:
        busy = asyncio.create_task(client.get("/busy"))
        await _until(lambda: inner.started == ["busy"])
        inner.gate("healthz").set()
        assert (await client.get("/healthz")).text == "healthz"
        inner.gate("busy").set()
        await busy

    _run(limit=1, wait=0.05, body=body)


def test_work_after_the_response_does_not_hold_the_turn() -> None:
    inner = Gates(after_response=True)

    async def scenario() -> None:
        app = ArrivalOrder(inner, limit=1, wait_seconds=0.5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # httpx's ASGI transport returns when the app returns: run the app directly.
            sent: list[Message] = []

            async def receive() -> Message:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: Message) -> None:
                sent.append(message)

            scope: Scope = {"type": "http", "method": "GET", "path": "/background", "headers": []}
            background = asyncio.create_task(app(scope, receive, send))
            await _until(lambda: len(sent) == 2)  # answered; now busy after the response
            inner.gate("next").set()
            nxt = await client.get("/next")
            assert nxt.status_code == 200 and nxt.text == "next"
            inner.gate("background").set()
            await background

    asyncio.run(scenario())
    assert inner.started == ["background", "next"]


def test_the_service_queues_by_its_setting(database_url: str) -> None:
    app: FastAPI = create_app(make_settings(database_url, requests_in_flight=7))
    layers: list[object] = []
    stack: object = app.build_middleware_stack()
    while stack is not None:
        layers.append(stack)
        stack = getattr(stack, "app", None)
    gates = [layer for layer in layers if isinstance(layer, ArrivalOrder)]
    assert len(gates) == 1 and gates[0].limit == 7
    assert gates[0].wait_seconds == services(app).settings.database_connect_timeout
    services(app).engine.dispose()
