"""Big plans run in a bounded pool of child processes (app.serving.heavy): at most ``processes`` at
once and ``queue`` more waiting per worker, the rest refused at once; a request waiting on
the pool steps aside from its admission turn, so light requests go on meanwhile.

The pool's task here is a real child process blocked on a manager Event that the test sets,
so who is running, who waits and who was refused is observable exactly, with no timing.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.db import schedules
from app.services import services
from app.serving.admission import ArrivalOrder
from app.serving.heavy import HeavyWork
from app.views.plans import PlanOut
from tests.conftest import Client, make_participant, make_party, make_series


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


DAY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


@pytest.mark.parametrize("params", [{}, {"view": "compact"}, {"offset": 2, "limit": 3}])
def test_a_plan_computed_in_the_pool_is_answered_there_exactly_as_in_its_worker(
    app: FastAPI, api: Client, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    """The pool plans a big plan and makes its answer too (the worker only passes bytes on):
    the very bytes the worker would have made, names put in, and the plan kept for next time."""
    ny = make_party(api, name="NY", timezone="America/New_York", working_hours=DAY)
    mnl = make_party(
        api,
        name="MNL",
        role="vendor",
        timezone="Asia/Manila",
        working_hours=DAY,
        holiday_country="PH",
    )
    people = [make_participant(api, ny["id"], name="Dana")["id"]]
    people.append(make_participant(api, mnl["id"], name="Maria")["id"])
    series = make_series(
        api,
        people,
        recurrence="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        start_date="2027-12-20",
        count=12,
    )
    path = f"/v1/series/{series['id']}/plan"

    answers = {}
    real = services(app).heavy_work  # app.state is no monkeypatch target
    for where, pool in (("worker", 0), ("pool", 1)):
        monkeypatch.setattr(schedules, "PLANS", schedules.PlanMemo())
        heavy = HeavyWork(processes=pool, queue=1, wait_seconds=60, inline_seconds=0)
        services(app).heavy_work = heavy
        try:
            r = api.post(path, params=params)
        finally:
            services(app).heavy_work = real
            heavy.close()
        assert r.status_code == 200, r.text
        assert len(schedules.PLANS) == 1  # kept in the worker either way
        answers[where] = r.content
    assert answers["pool"] == answers["worker"]
    body = PlanOut.model_validate_json(answers["pool"])
    assert body.occurrence_count > 0
    assert any("Maria" in u.reason for u in body.unschedulable)  # Christmas in Manila, named
    assert not any(people[1] in u.reason for u in body.unschedulable)
