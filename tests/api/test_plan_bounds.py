"""No plan can starve the others (issue 15 §3): a plan over the measured work limits is
refused at once with a 422 that says what to shrink and changes nothing; a plan too long to
list in one answer is offered compact or in pages; a plan whose solver ran out of time says
so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from app.services import services
from tests.conftest import (
    Client,
    clock_at,
    make_participant,
    make_party,
    make_series,
    table_counts,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EUROPE = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


@pytest.fixture
def pinned(app: FastAPI) -> Iterator[datetime]:
    with clock_at(app, NOW) as now:
        yield now


def _crowd(api: Client, size: int) -> list[str]:
    """``size`` people, half in New York and half in London."""
    ny = make_party(api, name="NY")
    london = make_party(
        api, name="London", timezone="Europe/London", working_hours=EUROPE, holiday_country="GB"
    )
    return [make_participant(api, (ny, london)[i % 2]["id"])["id"] for i in range(size)]


def _daily(api: Client, people: list[str], **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "recurrence": "FREQ=DAILY",
        "start_date": "2027-01-04",
        "count": 520,
        "step_minutes": 5,
    }
    values.update(overrides)
    return make_series(api, people, **values)


def test_a_plan_past_the_work_limit_is_refused_at_once_naming_what_to_shrink(
    api: Client, engine: Engine, pinned: datetime
) -> None:
    # 520 dates x 288 starts x 28 people = 4.2 million burden cells, over the 4 million.
    series = _daily(api, _crowd(api, 28))
    before = table_counts(engine)
    etag = api.get(f"/v1/series/{series['id']}").headers["etag"]
    for action in ("plan", "schedule"):
        r = api.post(f"/v1/series/{series['id']}/{action}")
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert "520 dates x 288 starts a day x 28 required participants" in detail
        assert "at most 4,000,000" in detail
        assert "count or until" in detail and "step_minutes (10 fits)" in detail
    assert table_counts(engine) == before  # nothing stored, nothing claimed
    assert api.get(f"/v1/series/{series['id']}").headers["etag"] == etag
    # What the sentence says fits, fits: a coarser grid is planned (in the heavy-work pool).
    patched = api.patch(f"/v1/series/{series['id']}", json={"step_minutes": 10, "count": 300})
    assert patched.status_code == 200, patched.text
    r = api.post(f"/v1/series/{series['id']}/plan", params={"view": "compact"})
    assert r.status_code == 200, r.text
    assert r.json()["occurrence_count"] > 0


def test_a_plan_too_long_to_list_is_offered_compact_or_in_pages(
    api: Client, pinned: datetime
) -> None:
    # 520 dates x 40 people on an hourly grid: little to compute, 20,800 participant times.
    series = _daily(api, _crowd(api, 40), step_minutes=60)
    plan = f"/v1/series/{series['id']}/plan"
    refused = api.post(plan)
    assert refused.status_code == 422
    assert "view=compact" in refused.json()["detail"]
    assert "limit=250" in refused.json()["detail"]

    compact = api.post(plan, params={"view": "compact"})
    assert compact.status_code == 200, compact.text
    whole = compact.json()
    assert whole["occurrence_count"] == len(whole["occurrences"]) > 300
    assert all(o["participants"] == [] for o in whole["occurrences"])
    assert whole["next_offset"] is None
    assert len(whole["burden"]) == 40  # the per-person totals are complete

    page = api.post(plan, params={"offset": 100, "limit": 100})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["next_offset"] == 200
    assert body["occurrence_count"] == whole["occurrence_count"]
    assert [o["start"] for o in body["occurrences"]] == [
        o["start"] for o in whole["occurrences"][100:200]
    ]
    assert all(len(o["participants"]) == 40 for o in body["occurrences"])
    last = api.post(plan, params={"offset": 300, "limit": 500, "view": "compact"}).json()
    assert len(last["occurrences"]) == whole["occurrence_count"] - 300
    assert last["next_offset"] is None


def test_a_plan_cut_short_says_optimal_false_with_the_reason(
    app: FastAPI, api: Client, pinned: datetime
) -> None:
    ny = make_party(api, name="NY")
    mnl = make_party(api, name="MNL", timezone="Asia/Manila", holiday_country="PH")
    people = [make_participant(api, ny["id"])["id"], make_participant(api, mnl["id"])["id"]]
    series = make_series(api, people)
    plan = f"/v1/series/{series['id']}/plan"
    proven = api.post(plan).json()
    assert proven["optimal"] is True and proven["optimal_reason"] is None

    real = services(app).settings
    services(app).settings = real.model_copy(update={"plan_time_budget_seconds": 1e-9})
    try:
        cut = api.post(plan)
    finally:
        services(app).settings = real
    assert cut.status_code == 200, cut.text
    body = cut.json()
    assert body["optimal"] is False
    assert "time budget" in body["optimal_reason"]
    assert len(body["occurrences"]) == len(proven["occurrences"])  # still a complete plan
