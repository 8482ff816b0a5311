"""Big plans run in a bounded pool of child processes (app.heavy): at most ``processes`` at
once and ``queue`` more waiting per worker, the rest refused at once; a request waiting on
the pool steps aside from its admission turn, so light requests go on meanwhile.

The pool's task here is a real child process blocked on a manager Event that the test sets,
so who is running, who waits and who was refused is observable exactly, with no timing.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable

import httpx
from starlette.types import Receive, Scope, Send

from app.admission import ArrivalOrder
from app.heavy import HeavyWork


class HeavyAndLight:
    """/heavy waits in the pool on ``release`` (a manager Event); /light answers at once."""

    def __init__(self, heavy: HeavyWork, release: Callable[[float], bool]) -> None:
        self.heavy = heavy
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body = 200, b"light"
        if scope["path"].startswith("/heavy"):
            try:
                done = await self.heavy.run(scope, self.release, 60.0)
                body = b"heavy done" if done else b"heavy timed out"
            except Exception as exc:  # the AppError the real app turns into its envelope
                status, body = getattr(exc, "status", 500), str(exc).encode()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(6000):  # a fresh fork server imports numpy and scipy first
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting")


def test_heavy_requests_queue_past_the_pool_are_refused_and_light_requests_go_on() -> None:
    heavy = HeavyWork(processes=1, queue=1, wait_seconds=60, inline_seconds=0)
    with multiprocessing.Manager() as manager:
        gate = manager.Event()

        async def scenario() -> None:
            # One request in the app at a time: without stepping aside, /light would wait
            # behind the heavy ones for as long as they run.
            app = ArrivalOrder(HeavyAndLight(heavy, gate.wait), limit=1, wait_seconds=60)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                first = asyncio.create_task(client.get("/heavy/1"))
                second = asyncio.create_task(client.get("/heavy/2"))
                await _until(lambda: heavy.admitted == 2)
                refused = await client.get("/heavy/3")
                assert refused.status_code == 503
                assert "retry" in refused.text
                light = await asyncio.wait_for(client.get("/light"), 60)
                assert light.status_code == 200 and light.text == "light"
                assert not first.done() and not second.done()  # both still in the pool
                gate.set()
                answers = await asyncio.gather(first, second)
                assert [r.text for r in answers] == ["heavy done", "heavy done"]
                assert (await client.get("/light")).status_code == 200

        try:
            asyncio.run(scenario())
        finally:
            heavy.close()
    assert heavy.peak_admitted == 2  # processes + queue, never more
    assert heavy.admitted == 0


def test_without_a_pool_nothing_is_offloaded() -> None:
    assert not HeavyWork(processes=0, queue=0, wait_seconds=1, inline_seconds=0).offload(10.0)
    pooled = HeavyWork(processes=1, queue=0, wait_seconds=1, inline_seconds=0.5)
    assert pooled.offload(0.6) and not pooled.offload(0.4)
