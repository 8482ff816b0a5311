"""Admission to the database: at most ``SCHEDULER_DATABASE_POOL_SIZE`` requests of a worker
use it at once (app.db.engine.ConnectionSlots); the rest wait, then get 503."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from app.db.engine import ConnectionSlots
from app.services import services
from tests.conftest import Client


def test_slots_admit_at_most_their_size_and_time_out() -> None:
    async def scenario() -> None:
        slots = ConnectionSlots(2, wait_seconds=0.05)
        assert await slots.acquire()
        assert await slots.acquire()
        assert not await slots.acquire()  # none came free within 50 ms
        slots.release()
        assert await slots.acquire()

    asyncio.run(scenario())


def test_a_waiter_gets_the_slot_released_before_its_deadline() -> None:
    async def scenario() -> None:
        slots = ConnectionSlots(1, wait_seconds=1.0)
        assert await slots.acquire()
        asyncio.get_running_loop().call_later(0.05, slots.release)
        assert await slots.acquire()

    asyncio.run(scenario())


def test_without_a_free_slot_requests_get_503_and_liveness_stays_up(
    api: Client, client: Client, app: FastAPI
) -> None:
    assert api.get("/v1/parties").status_code == 200
    real = services(app).connection_slots
    services(app).connection_slots = ConnectionSlots(0, wait_seconds=0.05)
    try:
        for r in (api.get("/v1/parties?limit=7"), client.get("/readyz")):
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "database_unavailable"
            assert int(r.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200
        # The feed poll holds its connection within one call (no session across thread
        # hops), so it cannot starve the pool and takes no slot: polls keep being answered.
        assert client.get("/feeds/nope.ics").status_code == 404
        # Likewise a repeated read answered by app.api.read_cache: one query, one call.
        assert api.get("/v1/parties").status_code == 200
    finally:
        services(app).connection_slots = real
