"""A populated workspace for hostile input: every kind of object exists, so ids in paths and
bodies can name real things, and spares stand ready for the deletes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from app.invitations import links
from app.services import services
from tests.conftest import Client, make_participant, make_party
from tests.slack.fake_api import bind_team

TEAM = "THOSTILE01"
SLACK_USER = "UHOSTILE01"
# Monday 2026-11-23 12:00Z; the series start the next day, so every occurrence is ahead.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NY_HOURS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
MANILA_NIGHTS = [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]


def created(r: Any) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


CALENDAR_URL = "http://127.0.0.1:9/never-answered.ics"


@dataclass
class World:
    """One workspace with a party, people, time off, a scheduled series, a feed and a share
    link; ``ids`` maps a path parameter's name to a real id (or token) of that kind."""

    api: Client
    ids: dict[str, str] = field(default_factory=dict)
    spares: dict[str, str] = field(default_factory=dict)

    @property
    def party(self) -> str:
        return self.ids["party_id"]

    @property
    def people(self) -> list[str]:
        return [self.ids["participant_id"], self.spares["vendor_participant"]]

    def series_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": "Weekly operations review",
            "duration_minutes": 60,
            "recurrence": "FREQ=WEEKLY;BYDAY=TU",
            "start_date": "2026-11-24",
            "count": 4,
            "anchor_timezone": "America/New_York",
            "policy": "rotate",
            "step_minutes": 60,
            "participants": [{"participant_id": p, "required": True} for p in self.people],
        }
        body.update(overrides)
        return body

    # Each ``make_*`` creates one object and returns its id (or token).
    def make_party(self) -> str:
        return str(make_party(self.api, name="Empty party")["id"])

    def make_participant(self) -> str:
        return str(make_participant(self.api, self.party, name="Not in a series")["id"])

    def make_time_off(self) -> str:
        r = self.api.post(
            f"/v1/participants/{self.ids['participant_id']}/time-off",
            json={"start_date": "2026-12-24", "end_date": "2026-12-26", "note": "Christmas"},
        )
        return str(created(r)["id"])

    def make_series(self) -> str:
        return str(created(self.api.post("/v1/series", json=self.series_body()))["id"])

    def make_calendar(self) -> str:
        # Nothing listens on loopback port 9: stored at once, failing (status "error").
        r = self.api.post(
            f"/v1/participants/{self.ids['participant_id']}/calendars",
            json={"kind": "ics", "url": CALENDAR_URL},
        )
        return str(created(r)["id"])

    def make_key(self) -> str:
        return str(created(self.api.post("/v1/workspace/api-keys"))["id"])

    def make_feed(self) -> tuple[str, str]:
        r = self.api.post(
            "/v1/feeds", json={"scope": "participant", "target_id": self.ids["participant_id"]}
        )
        body = created(r)
        return str(body["id"]), str(body["url"]).rsplit("/", 1)[1].removesuffix(".ics")

    def make_share(self) -> tuple[str, str]:
        body = created(self.api.post(f"/v1/series/{self.ids['series_id']}/share"))
        return str(body["id"]), str(body["url"]).rsplit("/", 1)[1]

    def replenish(self, name: str) -> None:
        """After a successful DELETE of the object ``name`` names, make a new one."""
        if name == "key_id":
            self.ids[name] = self.make_key()
        elif name == "feed_id":
            self.ids["feed_id"], self.ids["feed_token"] = self.make_feed()
        elif name == "share_id":
            self.ids["share_id"], self.ids["share_token"] = self.make_share()
        elif name == "time_off_id":
            self.ids[name] = self.make_time_off()
        elif name == "calendar_id":
            self.ids[name] = self.make_calendar()
        elif name == "series_id":
            self.ids[name] = self.make_series()
            created(self.api.post(f"/v1/series/{self.ids[name]}/schedule"))
            self.ids["occurrence_id"], self.spares["other_occurrence"] = self.occurrences()[:2]
            self.ids["share_id"], self.ids["share_token"] = self.make_share()
            self.make_links()
        elif name == "party_id":
            self.spares["empty_party"] = self.make_party()
        elif name == "participant_id":
            self.spares["free_participant"] = self.make_participant()

    def make_links(self) -> None:
        """The RSVP and unsubscribe tokens of the series' first member, as messages carry
        them (app.invitations.links)."""
        settings = services(self.api.app).settings
        series, member = uuid.UUID(self.ids["series_id"]), uuid.UUID(self.people[0])
        self.ids["rsvp_token"] = links.token(settings, links.Link("r", series, member, None, 0))
        self.ids["unsubscribe_token"] = links.token(
            settings, links.Link("u", series, member, None, 0)
        )

    def occurrences(self) -> list[str]:
        r = self.api.get(f"/v1/series/{self.ids['series_id']}/occurrences")
        return [str(o["id"]) for o in created(r)["items"]]


def build_world(api: Client) -> World:
    world = World(api)
    bind_team(api, TEAM)
    world.ids["party_id"] = make_party(api, name="Acme (New York)", working_hours=NY_HOURS)["id"]
    vendor = make_party(
        api,
        name="OABPO Manila",
        role="vendor",
        timezone="Asia/Manila",
        working_hours=MANILA_NIGHTS,
        holiday_country="PH",
    )
    world.ids["participant_id"] = make_participant(
        api, world.party, name="Dana Whitfield", slack_user_id=SLACK_USER
    )["id"]
    world.spares["vendor_participant"] = make_participant(api, vendor["id"], name="Maria")["id"]
    world.spares["empty_party"] = world.make_party()
    world.spares["free_participant"] = world.make_participant()
    world.ids["time_off_id"] = world.make_time_off()
    world.ids["calendar_id"] = world.make_calendar()
    world.ids["key_id"] = world.make_key()
    world.replenish("series_id")
    world.ids["feed_id"], world.ids["feed_token"] = world.make_feed()
    return world


@pytest.fixture
def pinned_now() -> datetime:
    """The app's clock stands at NOW in every test here (tests/conftest.py pins it); Slack's
    signature window keeps the real clock."""
    return NOW


@pytest.fixture
def world(api: Client) -> World:
    return build_world(api)


def coin(*parts: object) -> bool:
    """A fair, reproducible coin flip decided by the value it is about."""
    return hashlib.sha256(repr(parts).encode()).digest()[0] % 2 == 0
