"""Slack test kit: signed form bodies (signed by slack_sdk itself), a demo-like workspace built
through the REST API, and a local HTTP server standing in for Slack's ``response_url``."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from slack_sdk.signature import SignatureVerifier

from app.services import services
from app.slack import delivery
from tests.conftest import SLACK_SECRET, Client, make_participant, make_party
from tests.slack.fake_api import bind_team

TEAM = "TDEMO0001"
# Monday 2026-11-23 12:00Z: the series below start the next day.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
NY_HOURS = [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}]
MANILA_NIGHTS = [{"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"}]
MANILA_DAYS = [{"days": WEEKDAYS, "start": "08:00", "end": "17:00"}]
LONDON_HOURS = [{"days": WEEKDAYS, "start": "08:00", "end": "16:30"}]
_TRIGGERS = itertools.count(1)


def form_body(text: str, *, team_id: str = TEAM, user_id: str = "UDANA", **extra: str) -> bytes:
    """A slash-command body as Slack sends it (form-encoded, every usual field). Like Slack's,
    each has a trigger_id of its own, so no two are the same signed request."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": "acme",
        "channel_id": "C0123456",
        "channel_name": "governance",
        "user_id": user_id,
        "user_name": "someone",
        "command": "/meet",
        "text": text,
        "api_app_id": "A0123456",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/TDEMO0001/1/abc",
        "trigger_id": f"{next(_TRIGGERS)}.{uuid.uuid4().hex}",
    }
    fields.update(extra)
    return urlencode(fields).encode()


def signed(
    body: bytes, *, secret: str = SLACK_SECRET, timestamp: str | None = None
) -> dict[str, str]:
    """Headers that slack_sdk's own signer produces for ``body``."""
    ts = str(int(time.time())) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash(client: Client, text: str, **fields: str) -> httpx.Response:
    body = form_body(text, **fields)
    return client.post("/slack/commands", content=body, headers=signed(body))


def reply_of(r: httpx.Response) -> dict[str, Any]:
    """A 200 Block Kit reply, after checking its shape."""
    assert r.status_code == 200, r.text
    payload: dict[str, Any] = r.json()
    check_payload(payload)
    return payload


def check_payload(payload: dict[str, Any]) -> None:
    assert payload["response_type"] in ("ephemeral", "in_channel"), payload
    assert isinstance(payload["text"], str) and payload["text"].strip(), payload
    assert isinstance(payload["blocks"], list) and 0 < len(payload["blocks"]) <= 50, payload
    for block in payload["blocks"]:
        assert block["type"] in ("header", "section", "context", "divider", "actions"), block
        if block["type"] == "actions":  # buttons (app.slack.interactions), Slack's limits
            assert 0 < len(block["elements"]) <= 25, block
            for button in block["elements"]:
                assert button["type"] == "button" and button["action_id"], button
                assert button["text"]["type"] == "plain_text", button
                assert len(button["text"]["text"]) <= 75 and len(button["value"]) <= 2000
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150


def mrkdwn(payload: dict[str, Any]) -> str:
    """Every mrkdwn / plain string of the blocks, one per line."""
    out = []
    for block in payload["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(
            e["text"] if isinstance(e["text"], str) else e["text"]["text"]
            for e in block.get("elements", [])
        )
    return "\n".join(out)


@pytest.fixture
def pinned_now() -> datetime:
    """The app's clock stands at NOW in every test here (tests/conftest.py pins it); Slack's
    signature window keeps the real clock."""
    return NOW


@dataclass
class Demo:
    api: Client
    people: dict[str, dict[str, Any]]
    parties: dict[str, dict[str, Any]]
    ops: dict[str, Any]  # scheduled weekly series
    staffing: dict[str, Any]  # not scheduled


def _series(
    api: Client, title: str, members: list[tuple[str, bool]], **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "start_date": "2026-11-24",
        "count": 4,
        "anchor_timezone": "America/New_York",
        "policy": "rotate",
        "step_minutes": 60,
        "location": "https://meet.example.com/ops-review",
        "participants": [{"participant_id": pid, "required": req} for pid, req in members],
    }
    body.update(extra)
    r = api.post("/v1/series", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def build_demo(api: Client) -> Demo:
    bind_team(api, TEAM)
    parties = {
        "ny": make_party(
            api,
            name="Acme Retail (New York)",
            role="client",
            timezone="America/New_York",
            working_hours=NY_HOURS,
            holiday_country="US",
        ),
        "mnl": make_party(
            api,
            name="OABPO Manila",
            role="vendor",
            timezone="Asia/Manila",
            working_hours=MANILA_NIGHTS,
            holiday_country="PH",
        ),
        "ldn": make_party(
            api,
            name="London escalation desk",
            role="partner",
            timezone="Europe/London",
            working_hours=LONDON_HOURS,
            holiday_country="GB",
        ),
    }
    people = {
        "dana": make_participant(
            api, parties["ny"]["id"], name="Dana Whitfield", slack_user_id="UDANA"
        ),
        "sam": make_participant(api, parties["ny"]["id"], name="Sam Okafor", slack_user_id="USAM"),
        "nobody": make_participant(api, parties["ny"]["id"], name="Not Linked"),
        "maria": make_participant(
            api,
            parties["mnl"]["id"],
            name="Maria Santos",
            working_hours=MANILA_DAYS,
            slack_user_id="UMARIA",
        ),
        "jun": make_participant(api, parties["mnl"]["id"], name="Jun Reyes", slack_user_id="UJUN"),
        "priya": make_participant(
            api, parties["ldn"]["id"], name="Priya Shah", slack_user_id="UPRIYA"
        ),
    }
    ops = _series(
        api,
        "Weekly operations review",
        [
            (people["dana"]["id"], True),
            (people["maria"]["id"], True),
            (people["priya"]["id"], False),
        ],
    )
    r = api.post(f"/v1/series/{ops['id']}/schedule")
    assert r.status_code == 200, r.text
    staffing = _series(
        api,
        "Weekly staffing sync",
        [(people["dana"]["id"], True), (people["jun"]["id"], True)],
        recurrence="FREQ=WEEKLY;BYDAY=TH",
        count=3,
        location=None,
    )
    return Demo(api, people, parties, ops, staffing)


@pytest.fixture
def demo(api: Client) -> Demo:
    return build_demo(api)


@pytest.fixture
def linked(api: Client) -> dict[str, Any]:
    """The least a command needs: a connected workspace and one linked participant (UDANA)."""
    bind_team(api, TEAM)
    party = make_party(api, timezone="America/New_York", working_hours=NY_HOURS)
    return make_participant(api, party["id"], name="Dana Whitfield", slack_user_id="UDANA")


# --- a stand-in for Slack's response_url ---------------------------------------------------


@dataclass
class ResponseCatcher:
    """Records the JSON bodies POSTed to it; answers with ``statuses`` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def record(self, body: dict[str, Any]) -> int:
        with self._arrived:
            self.received.append(body)
            self._arrived.notify_all()
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"expected {count} POSTs, got {len(self.received)}"
            )
            return list(self.received)


@pytest.fixture
def response_url(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResponseCatcher]:
    """A local HTTP server for delayed replies, and the app allowed to post (only) to it."""
    catcher = ResponseCatcher()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            assert self.headers.get("Content-Type", "").startswith("application/json")
            status = catcher.record(json.loads(self.rfile.read(length)))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    catcher.url = f"{base}commands/{TEAM}/1/secret"
    monkeypatch.setattr(services(app).settings, "slack_response_url_prefixes", [base])
    monkeypatch.setattr(delivery, "RETRY_DELAY_SECONDS", 0.0)
    try:
        yield catcher
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
