"""Helpers for the REST tests: the error envelope and a small populated workspace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Client, make_participant, make_party
from tests.slack.fake_api import bind_team

MANILA_NIGHTS = [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]
# As the API returns it: weekdays in Monday-first order.
MANILA_NIGHTS_STORED = [
    {"days": ["mon", "tue", "wed", "thu", "sun"], "start": "21:00", "end": "06:00"}
]


def error_of(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The body of an error response, after checking status and the envelope's shape."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    assert set(body) <= {"error", "detail", "fields"}, body
    if code is not None:
        assert body["error"] == code, body
    if status == 422:
        assert body["error"] == "validation_error", body
        assert isinstance(body.get("fields"), list) and body["fields"], body
        for f in body["fields"]:
            assert isinstance(f["loc"], list) and isinstance(f["msg"], str) and f["msg"], f
    return body


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [f["loc"] for f in body["fields"]]


@dataclass
class World:
    """One workspace with a party, a participant, a time-off entry and a second API key."""

    api: Client
    party: dict[str, Any]
    participant: dict[str, Any]
    time_off: dict[str, Any]
    key: dict[str, Any]
    calendar: str

    def ids(self) -> dict[str, str]:
        return {
            "party": self.party["id"],
            "participant": self.participant["id"],
            "time_off": self.time_off["id"],
            "calendar": self.calendar,
            "key": self.key["id"],
        }


def populate(api: Client) -> World:
    party = make_party(
        api,
        name="OABPO Manila",
        role="vendor",
        timezone="Asia/Manila",
        working_hours=MANILA_NIGHTS,
        holiday_country="PH",
    )
    participant = make_participant(api, party["id"], name="Maria Santos")
    r = api.post(
        f"/v1/participants/{participant['id']}/time-off",
        json={"start_date": "2026-12-24", "end_date": "2026-12-26", "note": "Christmas"},
    )
    assert r.status_code == 201, r.text
    key = api.post("/v1/workspace/api-keys")
    assert key.status_code == 201, key.text
    # A calendar whose server is down (nothing listens on loopback port 9): stored, failing.
    calendar = api.post(
        f"/v1/participants/{participant['id']}/calendars",
        json={"kind": "ics", "url": "http://127.0.0.1:9/never-answered.ics"},
    )
    assert calendar.status_code == 201, calendar.text
    # Connected to a Slack team of its own (as the app's install does).
    bind_team(api, f"T{uuid.uuid4().hex[:10].upper()}")
    return World(api, party, participant, r.json(), key.json(), calendar.json()["id"])


@pytest.fixture
def world(api: Client) -> World:
    return populate(api)


def snapshot(world: World) -> dict[str, Any]:
    """Everything the owner can read about its objects, to assert that nothing changed."""
    a = world.api
    p = world.participant["id"]
    views = {
        "workspace": a.get("/v1/workspace"),
        "parties": a.get("/v1/parties"),
        "participants": a.get("/v1/participants"),
        "time_off": a.get(f"/v1/participants/{p}/time-off"),
    }
    for name, r in views.items():
        assert r.status_code == 200, (name, r.text)
    return {name: r.json() for name, r in views.items()}
