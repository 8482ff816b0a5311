"""A demo-like series (New York client, Manila vendor on night shift, London partner) with a
share link, and the app's clock pinned before it starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.demo.people import PARTIES
from tests.conftest import Client, make_participant, make_party

NOW = datetime(2026, 10, 14, 12, 0, tzinfo=UTC)
# Tuesdays from 20 October 2026: New York leaves daylight saving time on 1 November, Manila
# never observes it, so the gap between them narrows from 12 to 13 hours mid-series.
FIRST_DATE = "2026-10-20"
OCCURRENCES = 10
PRIYA_OFF = ("2026-10-27", "2026-10-29")


@pytest.fixture
def pinned_now() -> datetime:
    """The app's clock stands at NOW in every test here (tests/conftest.py pins it)."""
    return NOW


@dataclass
class DemoSeries:
    api: Client
    series: dict[str, Any]
    people: dict[str, dict[str, Any]]
    share: dict[str, Any]

    @property
    def path(self) -> str:
        url: str = self.share["url"]
        return "/share/" + url.rsplit("/", 1)[-1]


def demo_people(api: Client) -> dict[str, dict[str, Any]]:
    """The parties and people of ``app.demo.people``, created through the API (as ``make run``'s
    weekly operations review has them: Sam Okafor and Priya Shah optional)."""
    people: dict[str, dict[str, Any]] = {}
    for spec in PARTIES:
        fields = {k: v for k, v in spec.items() if k != "people"}
        party = make_party(api, **fields)
        for person in spec["people"]:
            people[person["name"]] = make_participant(api, party["id"], **person)
    return people


def make_demo_series(api: Client, *, schedule: bool = True, **overrides: Any) -> DemoSeries:
    people = demo_people(api)
    required = {"Dana Whitfield", "Jun Reyes", "Maria Santos"}
    r = api.post(
        f"/v1/participants/{people['Priya Shah']['id']}/time-off",
        json={"start_date": PRIYA_OFF[0], "end_date": PRIYA_OFF[1], "note": "Conference"},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = {
        "title": "Weekly operations review",
        "description": "KPIs, escalations, staffing",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": FIRST_DATE,
        "count": OCCURRENCES,
        "anchor_timezone": "America/New_York",
        "policy": "rotate",
        "step_minutes": 30,
        "location": "https://meet.example.com/ops-review",
        "participants": [
            {"participant_id": p["id"], "required": name in required} for name, p in people.items()
        ],
    }
    body.update(overrides)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    series = r.json()
    if schedule:
        r = api.post(f"/v1/series/{series['id']}/schedule")
        assert r.status_code == 200, r.text
    r = api.post(f"/v1/series/{series['id']}/share")
    assert r.status_code == 201, r.text
    members = {m["participant_id"] for m in series["participants"]}
    in_series = {name: p for name, p in people.items() if p["id"] in members}
    return DemoSeries(api, series, in_series, r.json())


@pytest.fixture
def demo(api: Client) -> DemoSeries:
    return make_demo_series(api)
