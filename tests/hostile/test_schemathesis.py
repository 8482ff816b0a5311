"""Property-based fuzzing of every operation in ``/openapi.json`` with schemathesis, in-process
through ASGI, as a real workspace whose objects exist.

Checks: no 5xx, every status code documented, every response (errors included) valid against
its declared schema, content types and headers as declared, and invalid input rejected.
Deterministic: a fixed seed and Hypothesis' derandomize, so a failure reproduces.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from slack_sdk.signature import SignatureVerifier

from app.main import create_app
from tests.conftest import ADMIN_TOKEN, SLACK_SECRET, make_settings
from tests.hostile.conftest import CALENDAR_URL, SLACK_USER, TEAM, World, coin
from tests.slack.fake_api import bind_team

# One generated request, of any operation in the schema.
Case: TypeAlias = schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]]

SEED = 20261123
MAX_EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]


class CurrentApp:
    """An ASGI app that forwards to the app of the running test, so the schema is loaded once
    and each backend's app (SQLite, PostgreSQL) answers its own test's requests."""

    target: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the real apps' lifespans belong to conftest
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.target is not None, "no test is running"
        await self.target(scope, receive, send)


CURRENT = CurrentApp()


def _load_schema() -> schemathesis.BaseSchema:
    document = create_app(make_settings("sqlite://")).openapi()
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": "http://testserver",
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                # Unknown query parameters are ignored, as HTTP servers do; not an error.
                "allow-extra-parameters": False,
            },
        }
    )
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = CURRENT
    return loaded


schema = _load_schema()


@dataclass
class Fuzzing:
    world: World
    statuses: list[int] = field(default_factory=list)
    details: Counter[str] = field(default_factory=Counter)


@pytest.fixture
def fuzzing(request: pytest.FixtureRequest, app: FastAPI, world: World) -> Iterator[Fuzzing]:
    """The running test's app and world. Requests are shaped in a ``before_call`` hook, where
    schemathesis re-checks which parts are still schema-violating after the edits."""
    run = Fuzzing(world)

    def before_call(_: schemathesis.HookContext, case: Case, kwargs: Any) -> None:
        _real_path_parameters(case, world)
        _make_plausible(case, world)

    schemathesis.hook(before_call)
    CURRENT.target = app
    try:
        yield run
    finally:
        CURRENT.target = None
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)
    # A harness that stops reaching real work (ids, auth) would pass on 4xx alone. The OAuth
    # callback is the exception: its 2xx needs Slack itself to grant a code, which
    # tests/slack/test_install.py does with a local stand-in of Slack's Web API.
    if request.node.name.startswith(NO_2XX_HERE):
        return
    assert any(200 <= s < 300 for s in run.statuses), (
        f"{request.node.name}: no 2xx in {len(run.statuses)} requests; the fuzzing no longer "
        f"gets past validation and lookups. Answers: {run.details.most_common(8)}"
    )


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


NO_2XX_HERE = "test_contract[GET /slack/oauth/callback]"
TOKENS = {"feeds": "feed_token", "rsvp": "rsvp_token", "unsubscribe": "unsubscribe_token"}


def _real_path_parameters(case: Case, world: World, force: bool = False) -> None:
    """Where the fuzzer made a well-formed id, name a real object (half the time; always
    with ``force``, for the cases made plausible)."""
    path = case.operation.path
    for name, value in list((case.path_parameters or {}).items()):
        if name == "answer":  # an RSVP link's answer: one of the three, mostly
            if coin(path, value):
                case.path_parameters[name] = _pick(("accept", "decline", "propose"), value)
            continue
        if name == "token":
            real = world.ids[TOKENS.get(path.split("/")[1], "share_token")]
            if coin(path, value):
                case.path_parameters[name] = real
            continue
        if not _is_uuid(value) or not (force or coin(path, name, value)):
            continue
        real = world.ids[name]
        if case.method == "DELETE" and path.endswith(f"{{{name}}}"):
            real = {
                "party_id": world.spares["empty_party"],
                "participant_id": world.spares["free_participant"],
            }.get(name, real)
        case.path_parameters[name] = real


ZONES = ("America/New_York", "Asia/Manila", "Europe/London", "Asia/Kathmandu", "UTC")
RULES = ("FREQ=WEEKLY;BYDAY=TU", "FREQ=MONTHLY;BYDAY=1WE", "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH")
DATES = ("2026-11-24", "2027-03-09", "2027-10-26")


def _pick(options: tuple[str, ...], value: object) -> str:
    return options[hashlib.sha256(repr(value).encode()).digest()[1] % len(options)]


def _instant(value: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None and 2000 < parsed.year < 2900 else None


def _plausible(values: dict[str, Any], world: World) -> None:
    """Swap fuzzed values that cannot name anything real (ids, zones, rules, dates, ranges)
    for ones that do, so the request gets past lookups into the code behind them."""
    for key, value in list(values.items()):
        if key in ("party_id", "target_id") and _is_uuid(value):
            values[key] = world.ids["party_id" if key == "party_id" else "participant_id"]
        elif key == "participant_ids" and isinstance(value, list):
            values[key] = world.people[: max(1, min(len(value), 2))]
        elif key == "participant_ids" and isinstance(value, str):
            values[key] = ",".join(world.people)
        elif key == "optional_participant_ids" and isinstance(value, list):
            values[key] = []
        elif key == "participants" and isinstance(value, list):
            values[key] = [
                {"participant_id": person, "required": i == 0 or bool(len(value) % 2)}
                for i, person in enumerate(world.people[: max(1, min(len(value), 2))])
            ]
        elif key == "with" and _is_uuid(value):  # a swap: the series' other occurrence
            values[key] = world.spares["other_occurrence"]
        elif key in ("timezone", "anchor_timezone") and isinstance(value, str):
            values[key] = _pick(ZONES, value)
        elif key == "recurrence" and isinstance(value, str):
            values[key] = _pick(RULES, value)
        elif key == "holiday_country" and isinstance(value, str):
            values[key] = _pick(("US", "PH", "GB"), value)
            values.pop("holiday_subdivision", None)
        elif key in ("start_date", "until") and isinstance(value, str):
            values[key] = _pick(DATES, value) if key == "start_date" else "2028-12-31"
    if "count" in values and "until" in values:
        values["until"] = None
    _plausible_target(values, world)
    _plausible_times(values)
    _plausible_calendar(values)
    # A fuzzed Slack user id may be another participant's (a 409, rightly): keep the world's.
    for key in ("slack_user_id", "slack_team_id"):
        values.pop(key, None)


FEED_TARGETS = {"participant": "participant_id", "party": "party_id", "series": "series_id"}


def _plausible_target(values: dict[str, Any], world: World) -> None:
    """A feed's ``target_id`` names an object of its ``scope`` (none for a workspace feed)."""
    scope = values.get("scope")
    if isinstance(scope, str) and scope in FEED_TARGETS:
        values["target_id"] = world.ids[FEED_TARGETS[scope]]
    elif scope == "workspace" and "target_id" in values:
        values["target_id"] = None


def _plausible_calendar(values: dict[str, Any]) -> None:
    """A calendar source the server can store without leaving loopback (it fails to read)."""
    if "kind" in values and "url" in values:
        values["kind"] = _pick(("ics", "caldav"), values["kind"])
        values["url"] = CALENDAR_URL
        # Credentials are for CalDAV; nothing fuzzed is removed (it may be the invalid part).
        if "username" in values or "password" in values:
            values["kind"] = "caldav"
        if values["kind"] == "caldav" and ("username" in values) != ("password" in values):
            values.setdefault("username", "fuzzed")
            values.setdefault("password", "fuzzed")


def _plausible_times(values: dict[str, Any]) -> None:
    """Instants and date ranges within the date horizon, in order."""
    start, end = _instant(values.get("start")), _instant(values.get("end"))
    if start is not None and end is not None:
        # Within the date horizon (10 years of the pinned clock): keep all but the year.
        year = 2026 + start.year % 2
        start = start.replace(year=year, day=min(start.day, 28) if start.month == 2 else start.day)
        values["start"] = start.isoformat()
        hours = hashlib.sha256(repr(end).encode()).digest()[2] % 200 + 1
        values["end"] = (start + timedelta(hours=hours)).isoformat()
    elif start is not None:  # an occurrence's move: a future time within the horizon
        values["start"] = start.replace(
            year=2027, month=1, day=5, second=0, microsecond=0
        ).isoformat()
    if "end_date" in values and isinstance(values.get("start_date"), str):
        values["end_date"] = values["start_date"]


def _make_plausible(case: Case, world: World) -> None:
    """Half of the cases (a reproducible coin) are made plausible; the rest go as fuzzed."""
    # NOT_SET (a GET's body) has a repr with a memory address: it must not decide the coin.
    body = None if case.body is NOT_SET else case.body
    if not coin(case.operation.label, repr(body), repr(case.query)):
        return
    # A plausible request names real objects: schemathesis may reuse one fuzzed id for all
    # of an operation's bodies, and a coin on that id alone would then decide them all.
    _real_path_parameters(case, world, force=True)
    for values in (case.body, case.query):
        if isinstance(values, dict):
            _plausible(values, world)
    if case.operation.path == "/v1/occurrences/{occurrence_id}" and isinstance(case.body, dict):
        # A change to a future occurrence (the world's are all ahead): a move or a pin, not
        # a correction of the past (held, attended), which is a 422 there.
        for key in ("held", "attended", "force"):
            case.body.pop(key, None)
        if "start" in case.body:
            case.body.pop("pinned", None)
        else:
            case.body["pinned"] = True
    if case.operation.path == "/slack/commands" and isinstance(case.body, dict):
        case.body["team_id"], case.body["user_id"] = TEAM, SLACK_USER
    if case.operation.path == "/slack/interactions" and isinstance(case.body, dict):
        case.body["payload"] = _button_press(world, case.body.get("payload"))
    if case.operation.path == "/v1/workspaces":
        headers = CaseInsensitiveDict(case.headers or {})
        headers["X-Admin-Token"] = ADMIN_TOKEN
        case.headers = headers


def _button_press(world: World, fuzzed: object) -> str:
    """A press of one of the linked user's buttons (half the time; else what was fuzzed).
    Its response_url is no allowed prefix: the answer is posted nowhere."""
    if not coin("press", fuzzed):
        return fuzzed if isinstance(fuzzed, str) else json.dumps(fuzzed)
    value = {"p": world.ids["participant_id"], "o": world.ids["occurrence_id"]}
    action = _pick(("turns.show", "occurrence.swap", "occurrence.decline"), fuzzed)
    return json.dumps(
        {
            "type": "block_actions",
            "user": {"id": SLACK_USER, "team_id": TEAM},
            "team": {"id": TEAM},
            "actions": [{"action_id": action, "value": json.dumps(value)}],
            "response_url": "http://127.0.0.1:9/not-an-allowed-prefix",
        }
    )


class SlackSigner(requests.auth.AuthBase):
    """Signs the body as sent, as Slack would (half the bodies; the rest must get 401)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body.encode() if isinstance(r.body, str) else r.body or b""
        assert isinstance(body, bytes), type(r.body)
        if coin("slack", body):
            ts = str(int(time.time()))
            signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)
            r.headers["X-Slack-Request-Timestamp"] = ts
            r.headers["X-Slack-Signature"] = str(signature)
        return r


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_contract(case: Case, fuzzing: Fuzzing) -> None:
    world = fuzzing.world
    session = requests.Session()
    if case.operation.path in ("/slack/commands", "/slack/interactions"):
        session.auth = SlackSigner()
    headers = {"Authorization": world.api.headers["Authorization"]}
    response = case.call_and_validate(session=session, headers=headers, checks=CHECKS)
    fuzzing.statuses.append(response.status_code)
    fuzzing.details[f"{response.status_code} {response.text[:160]}"] += 1
    if case.method == "DELETE" and response.status_code == 204:
        if case.operation.path == "/v1/workspace/slack":  # disconnected: connect it again
            bind_team(world.api, TEAM)
        else:
            world.replenish(case.operation.path.rsplit("{", 1)[1].rstrip("}"))
