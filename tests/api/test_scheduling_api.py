"""GET /v1/overlap and POST /v1/slots/search through HTTP, against independent arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Client, counting_rows, make_participant, make_party

DAY = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


def _pair(api: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    ny = make_party(api, timezone="America/New_York", working_hours=DAY, holiday_country="US")
    ldn = make_party(
        api,
        role="vendor",
        timezone="Europe/London",
        working_hours=DAY,
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
    return make_participant(api, ny["id"], name="Dana"), make_participant(
        api, ldn["id"], name="Priya"
    )


def test_overlap_new_york_london(api: Client) -> None:
    dana, priya = _pair(api)
    # Wednesday 2027-01-13: New York is UTC-5, London UTC+0. Overlap is 14:00–17:00Z.
    r = api.get(
        "/v1/overlap",
        params={
            "participant_ids": f"{dana['id']},{priya['id']}",
            "start": "2027-01-13T00:00:00Z",
            "end": "2027-01-14T00:00:00Z",
        },
    )
    assert r.status_code == 200, r.text
    windows = r.json()["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [
        ("2027-01-13T14:00:00Z", "2027-01-13T17:00:00Z")
    ]
    local = windows[0]["local"][dana["id"]]
    assert local["timezone"] == "America/New_York"
    assert datetime.fromisoformat(local["start"]).hour == 9


def test_slot_search_ranks_by_burden(api: Client) -> None:
    dana, priya = _pair(api)
    r = api.post(
        "/v1/slots/search",
        json={
            "participant_ids": [dana["id"], priya["id"]],
            "duration_minutes": 60,
            "start": "2027-01-13T00:00:00Z",
            "end": "2027-01-14T00:00:00Z",
            "step_minutes": 30,
            "limit": 50,
        },
    )
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    # Inside both working days: 14:00–16:00Z starts, cost 0, ranked first by start.
    zero = [s["start"] for s in slots if s["max_burden_minutes"] == 0]
    assert zero == [
        f"2027-01-13T{h}Z" for h in ("14:00:00", "14:30:00", "15:00:00", "15:30:00", "16:00:00")
    ]
    keys = [(s["max_burden_minutes"], s["total_burden_minutes"], s["start"]) for s in slots]
    assert keys == sorted(keys)
    for s in slots:
        start = datetime.fromisoformat(s["start"])
        for p in s["participants"]:
            assert datetime.fromisoformat(p["local_start"]) == start
            assert p["burden"] == round(p["burden_minutes"] / 60, 2)
        assert s["max_burden_minutes"] == max(p["burden_minutes"] for p in s["participants"])
    # 13:00Z is 08:00 New York: an hour early for Dana costs 60 weighted minutes.
    thirteen = next(s for s in slots if s["start"] == "2027-01-13T13:00:00Z")
    assert {p["participant_id"]: p["burden_minutes"] for p in thirteen["participants"]} == {
        dana["id"]: 60,
        priya["id"]: 0,
    }


def test_optional_participant_on_holiday_is_a_conflict_not_a_block(api: Client) -> None:
    dana, priya = _pair(api)
    # 2026-12-28 is a bank holiday in England (Boxing Day substitute); Dana works.
    r = api.post(
        "/v1/slots/search",
        json={
            "participant_ids": [dana["id"]],
            "optional_participant_ids": [priya["id"]],
            "duration_minutes": 30,
            "start": "2026-12-28T14:00:00Z",
            "end": "2026-12-28T16:00:00Z",
        },
    )
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    assert slots
    assert all(c["participant_id"] == priya["id"] for s in slots for c in s["conflicts"])
    assert all(s["conflicts"] for s in slots)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"end": "2027-03-01T00:00:00Z"}, "31"),
        ({"duration_minutes": 1500}, "1440"),
        ({"duration_minutes": 0}, "duration"),
        ({"start": "2027-01-13T00:00:00"}, "timezone"),
        ({"end": "2027-01-13T00:00:00Z"}, "end"),
        ({"step_minutes": 7}, "step"),
        ({"participant_ids": []}, "participant_ids"),
    ],
)
def test_search_limits_are_422(
    api: Client, engine: Any, change: dict[str, Any], needle: str
) -> None:
    dana, _ = _pair(api)
    body = {
        "participant_ids": [dana["id"]],
        "duration_minutes": 60,
        "start": "2027-01-13T00:00:00Z",
        "end": "2027-01-20T00:00:00Z",
    }
    body.update(change)
    with counting_rows(engine):
        r = api.post("/v1/slots/search", json=body)
    assert r.status_code == 422, r.text
    assert needle.lower() in (r.json()["detail"] + str(r.json().get("fields"))).lower()


def test_201_participants_is_422(api: Client) -> None:
    dana, _ = _pair(api)
    start = datetime(2027, 1, 13, tzinfo=ZoneInfo("UTC"))
    r = api.post(
        "/v1/slots/search",
        json={
            "participant_ids": [dana["id"]] * 201,
            "duration_minutes": 60,
            "start": start.isoformat(),
            "end": (start + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 422


def test_other_workspace_participants_are_rejected(api: Client, other_api: Client) -> None:
    dana, _priya = _pair(api)
    r = other_api.get(
        "/v1/overlap",
        params={
            "participant_ids": dana["id"],
            "start": "2027-01-13T00:00:00Z",
            "end": "2027-01-14T00:00:00Z",
        },
    )
    assert r.status_code == 422
    assert "does not name a participant" in r.json()["detail"]
