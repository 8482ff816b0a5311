"""429 with Retry-After for hammered feed links, unknown tokens and failed API keys; only the
failures are refused, never a valid link or key from the same address."""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.services import services
from app.serving.ratelimit import TokenBuckets
from tests.conftest import PUBLIC_BASE, Client, make_settings, new_workspace, statements


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
    services(strict_app).engine.dispose()


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


def _share_path(api: Client) -> str:
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
    return str(share["url"]).removeprefix(PUBLIC_BASE)


def test_share_page_is_limited_per_link(strict: Client) -> None:
    api, _ = new_workspace(strict)
    path = _share_path(api)
    codes = [strict.get(path).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_valid_links_are_served_to_an_address_throttled_for_unknown_ones(strict: Client) -> None:
    """A calendar server polling a few revoked URLs keeps its live ones."""
    api, _ = new_workspace(strict)
    feed = api.post("/v1/feeds", json={"scope": "workspace"}).json()["url"]
    feed_path = feed.removeprefix(PUBLIC_BASE)
    share_path = _share_path(api)
    codes = [strict.get(f"/feeds/{'x' * 40}{i}.ics").status_code for i in range(3)]
    assert codes == [404, 404, 429]
    assert strict.get(feed_path).status_code == 200
    assert strict.head(feed_path).status_code == 200
    assert strict.get(share_path).status_code == 200
    assert strict.get(f"/share/{'y' * 43}").status_code == 429  # the failures stay throttled
    assert strict.get(f"/feeds/{'x' * 43}.ics").status_code == 429


def test_a_valid_api_key_works_from_an_address_throttled_for_bad_ones(strict: Client) -> None:
    """Anyone behind the same NAT sending bad keys cannot lock the others out."""
    good, _ = new_workspace(strict)
    bad = strict.with_headers(Authorization="Bearer sk_wrong")
    codes = [bad.get("/v1/workspace").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert good.get("/v1/workspace").status_code == 200
    assert good.patch("/v1/workspace", json={"name": "Still mine"}).status_code == 200
    assert bad.get("/v1/workspace").status_code == 429
    assert bad.post("/v1/parties", json={}).status_code == 429


def test_a_throttled_guess_costs_at_most_one_lookup(strict: Client) -> None:
    """The throttle still protects the database: a guess of the right shape is one indexed
    query, anything that cannot be a token none."""
    engine = services(strict.app).engine
    for i in range(3):
        strict.get(f"/feeds/{'x' * 40}{i}.ics")
    with statements(engine) as sql:
        assert strict.get(f"/feeds/{'z' * 43}.ics").status_code == 429
    assert len(sql) == 1
    with statements(engine) as sql:
        assert strict.get(f"/feeds/{'z' * 500}.ics").status_code == 429
        assert strict.get(f"/feeds/{'é' * 43}.ics").status_code == 429
    assert sql == []
    bad = strict.with_headers(Authorization="Bearer sk_wrong")
    for _ in range(4):
        bad.get("/v1/workspace")
    with statements(engine) as sql:
        assert bad.post("/v1/parties", json={}).status_code == 429
    assert len(sql) == 1
    with statements(engine) as sql:
        junk = strict.with_headers(Authorization="Bearer " + "k" * 5000)
        assert junk.get("/v1/workspace").status_code == 429
    assert sql == []
