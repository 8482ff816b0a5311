"""429 with Retry-After for hammered feed links, unknown tokens and failed API keys."""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.ratelimit import TokenBuckets
from tests.conftest import PUBLIC_BASE, Client, make_settings, new_workspace


@pytest.fixture
def strict(
    database_url: str, app: FastAPI, portal: anyio.from_thread.BlockingPortal
) -> Iterator[Client]:
    """An app on the same database with tiny limits (the ``app`` fixture cleans up rows)."""
    settings = make_settings(
        database_url,
        feed_burst=3,
        feed_per_minute=1,
        unknown_link_burst=2,
        unknown_link_per_minute=1,
        auth_failure_burst=3,
        auth_failure_per_minute=1,
    )
    strict_app = create_app(settings)
    yield Client(strict_app, portal)
    strict_app.state.engine.dispose()


def test_feed_link_is_limited_per_link(strict: Client) -> None:
    api, _ = new_workspace(strict)
    feed = api.post("/v1/feeds", json={"scope": "workspace"}).json()
    other = api.post("/v1/feeds", json={"scope": "workspace"}).json()
    path = feed["url"].removeprefix(PUBLIC_BASE)
    codes = [strict.get(path).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3:] == [429, 429]
    limited = strict.get(path)
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    # Another link is not affected by the first one's hammering.
    assert strict.get(other["url"].removeprefix(PUBLIC_BASE)).status_code == 200


def test_unknown_tokens_are_limited_per_address(strict: Client) -> None:
    codes = [strict.get(f"/feeds/{'x' * 40}{i}.ics").status_code for i in range(4)]
    assert codes == [404, 404, 429, 429]


def test_failed_api_keys_are_limited_per_address(strict: Client) -> None:
    bad = strict.with_headers(Authorization="Bearer sk_wrong")
    codes = [bad.get("/v1/workspace").status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]
    assert "Retry-After" in bad.get("/v1/workspace").headers


def test_buckets_refill_over_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(2, per_minute=60, clock=lambda: now[0])
    assert buckets.take("k") is None and buckets.take("k") is None
    assert buckets.take("k") == 1
    now[0] += 1.0
    assert buckets.take("k") is None
    assert buckets.take("other") is None


def test_share_page_is_limited_per_link(strict: Client) -> None:
    api, _ = new_workspace(strict)
    party = api.post(
        "/v1/parties",
        json={
            "name": "P",
            "role": "client",
            "timezone": "UTC",
            "working_hours": [{"days": ["mon"], "start": "09:00", "end": "17:00"}],
        },
    ).json()
    person = api.post("/v1/participants", json={"name": "A", "party_id": party["id"]}).json()
    series = api.post(
        "/v1/series",
        json={
            "title": "S",
            "duration_minutes": 30,
            "recurrence": "FREQ=WEEKLY;BYDAY=MO",
            "start_date": "2027-01-04",
            "count": 2,
            "anchor_timezone": "UTC",
            "participants": [{"participant_id": person["id"]}],
        },
    ).json()
    share = api.post(f"/v1/series/{series['id']}/share").json()
    path = share["url"].removeprefix(PUBLIC_BASE)
    codes = [strict.get(path).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
