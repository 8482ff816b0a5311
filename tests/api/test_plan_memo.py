"""Plan previews are memoised by their exact inputs (app.db.schedules.PlanMemo): the same
inputs reuse the plan, any change to them plans again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from app.db import schedules
from app.scheduling import planner
from app.services import services
from tests.conftest import Client, make_participant, make_party, make_series

DAY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts real planner runs, with an empty memo."""
    runs: list[int] = []
    real = planner.plan_series  # what app.db.schedules imported

    def counting(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(schedules, "plan_series", counting)
    monkeypatch.setattr(schedules, "PLANS", schedules.PlanMemo())
    return runs


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Callable[[str], None]]:
    """Sets the service's clock (restored afterwards; app.state is no monkeypatch target)."""
    real = services(app).clock

    def at(when: str) -> None:
        services(app).clock = lambda: datetime.fromisoformat(when).astimezone(UTC)

    yield at
    services(app).clock = real


def _new_york_and_manila(api: Client) -> tuple[dict[str, Any], str]:
    """Maria (Manila) and the plan route of her weekly series with Dana (New York)."""
    ny = make_party(api, name="NY", timezone="America/New_York", working_hours=DAY)
    mnl = make_party(api, name="MNL", role="vendor", timezone="Asia/Manila", working_hours=DAY)
    dana = make_participant(api, ny["id"], name="Dana")
    maria = make_participant(api, mnl["id"], name="Maria")
    series = make_series(api, [dana["id"], maria["id"]])
    return maria, f"/v1/series/{series['id']}/plan"


def test_same_inputs_reuse_the_plan_and_changes_replan(
    api: Client, planned: list[int], clock: Callable[[str], None]
) -> None:
    clock("2026-11-02T10:05:00+00:00")
    maria, plan = _new_york_and_manila(api)

    first = api.post(plan).json()
    clock("2026-11-02T10:25:00+00:00")  # the same 30-minute grid step
    assert api.post(plan).json() == first
    assert len(planned) == 1

    day = first["occurrences"][0]["date"]  # New York's date; Manila's day and the next
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    off = api.post(
        f"/v1/participants/{maria['id']}/time-off", json={"start_date": day, "end_date": after}
    )
    assert off.status_code == 201
    with_time_off = api.post(plan).json()
    assert len(planned) == 2
    assert day in [u["date"] for u in with_time_off["unschedulable"]]

    assert api.delete(f"/v1/participants/{maria['id']}/time-off/{off.json()['id']}").status_code
    assert api.post(plan).json() == first  # the inputs of the first plan again
    assert len(planned) == 2

    clock("2026-11-02T10:35:00+00:00")  # the next grid step
    api.post(plan)
    assert len(planned) == 3


def test_a_rename_plans_nothing_again_and_shows_the_new_name(
    api: Client,
    planned: list[int],
    clock: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Names are not an input of the plan, but every notice and reason shows the current
    one: exactly as a plan made from scratch with that name (the memo emptied)."""
    clock("2026-11-02T10:05:00+00:00")
    maria, plan = _new_york_and_manila(api)
    day = api.post(plan).json()["occurrences"][0]["date"]
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    off = api.post(
        f"/v1/participants/{maria['id']}/time-off", json={"start_date": day, "end_date": after}
    )
    assert off.status_code == 201
    before = api.post(plan).json()
    reason = next(u["reason"] for u in before["unschedulable"] if u["date"] == day)
    assert "Maria" in reason and maria["id"] not in reason
    runs = len(planned)

    api.patch(f"/v1/participants/{maria['id']}", json={"name": "María S."})
    renamed = api.post(plan).json()
    assert len(planned) == runs  # the plan itself was kept
    reason = next(u["reason"] for u in renamed["unschedulable"] if u["date"] == day)
    assert "María S." in reason and "Maria " not in reason
    monkeypatch.setattr(schedules, "PLANS", schedules.PlanMemo())  # from scratch
    assert api.post(plan).json() == renamed
    assert len(planned) == runs + 1


def test_plan_start_is_the_next_grid_start() -> None:
    at = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
    assert schedules.plan_start(at, 15) == at
    assert schedules.plan_start(at.replace(second=1), 15) == at.replace(minute=15)
    assert schedules.plan_start(at.replace(minute=44, second=59), 15) == at.replace(minute=45)
