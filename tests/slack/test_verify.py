"""Every Slack request is verified over its raw body; anything else is 401 and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.api.conftest import error_of
from tests.conftest import Client, counting_rows, table_counts
from tests.slack.conftest import form_body, reply_of, signed

# `feed` writes a row when it runs, so "no rows changed" shows the command never ran.
WRITING_TEXT = "feed"


def _post(client: Client, body: bytes, headers: dict[str, str]) -> None:
    r = client.post("/slack/commands", content=body, headers=headers)
    body_json = error_of(r, 401, "unauthorized")
    assert "signed" in body_json["detail"]


def test_a_signed_request_runs(client: Client, engine: Engine, linked: dict[str, Any]) -> None:
    before = table_counts(engine)["feed"]
    body = form_body(WRITING_TEXT)
    reply = reply_of(client.post("/slack/commands", content=body, headers=signed(body)))
    assert reply["response_type"] == "ephemeral"
    assert table_counts(engine)["feed"] == before + 1


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature", "both"])
def test_missing_headers(
    client: Client, engine: Engine, linked: dict[str, Any], missing: str
) -> None:
    body = form_body(WRITING_TEXT)
    headers = signed(body)
    if missing == "both":
        headers = _without(_without(headers, "X-Slack-Request-Timestamp"), "X-Slack-Signature")
    else:
        headers = _without(headers, missing)
    with counting_rows(engine):
        _post(client, body, headers)


@pytest.mark.parametrize(
    "timestamp",
    ["", "abc", "12.5", "-5", " 1", "1e9", "0x10", "١٢٣٤٥", "9" * 5000],
    ids=["empty", "letters", "decimal", "negative", "space", "exponent", "hex", "arabic", "huge"],
)
def test_malformed_timestamp(
    client: Client, engine: Engine, linked: dict[str, Any], timestamp: str
) -> None:
    body = form_body(WRITING_TEXT)
    headers = signed(body, timestamp=timestamp)  # signed over the malformed value itself
    with counting_rows(engine):
        r = client.post(
            "/slack/commands",
            content=body,
            headers={k: v.encode("utf-8") for k, v in headers.items()},
        )
        error_of(r, 401, "unauthorized")


@pytest.mark.parametrize(
    "offset", [-301, 301, -3600, 86400], ids=["stale", "future", "hour", "day"]
)
def test_timestamp_outside_five_minutes(
    client: Client, engine: Engine, linked: dict[str, Any], offset: int
) -> None:
    body = form_body(WRITING_TEXT)
    with counting_rows(engine):
        _post(client, body, signed(body, timestamp=str(int(time.time()) + offset)))


@pytest.mark.parametrize("offset", [-290, 290])
def test_timestamp_inside_five_minutes(client: Client, linked: dict[str, Any], offset: int) -> None:
    body = form_body("help")
    r = client.post(
        "/slack/commands",
        content=body,
        headers=signed(body, timestamp=str(int(time.time()) + offset)),
    )
    reply_of(r)


@pytest.mark.parametrize(
    "signature",
    ["wrong-secret", "v1", "truncated", "empty", "garbage", "non-ascii"],
)
def test_wrong_signature(
    client: Client, engine: Engine, linked: dict[str, Any], signature: str
) -> None:
    body = form_body(WRITING_TEXT)
    headers = signed(body)
    good = headers["X-Slack-Signature"]
    headers["X-Slack-Signature"] = {
        "wrong-secret": signed(body, secret="another-apps-secret")["X-Slack-Signature"],
        "v1": "v1=" + good.removeprefix("v0="),
        "truncated": good[:-1],
        "empty": "",
        "garbage": "v0=" + "0" * 64,
        "non-ascii": good[:-1] + "é",
    }[signature]
    with counting_rows(engine):
        r = client.post(
            "/slack/commands",
            content=body,
            headers={k: v.encode("utf-8") for k, v in headers.items()},
        )
        error_of(r, 401, "unauthorized")


@pytest.mark.parametrize("change", ["text", "team", "appended", "not-utf8"])
def test_body_changed_after_signing(
    client: Client, engine: Engine, linked: dict[str, Any], change: str
) -> None:
    body = form_body("next")
    headers = signed(body)
    sent = {
        "text": form_body(WRITING_TEXT),
        "team": form_body("next", team_id="TOTHER"),
        "appended": body + b"&text=feed",
        "not-utf8": body.replace(b"next", b"n\xffxt"),
    }[change]
    with counting_rows(engine):
        _post(client, sent, headers)


def test_replayed_timestamp_of_another_body_is_rejected(
    client: Client, engine: Engine, linked: dict[str, Any]
) -> None:
    original = form_body("help")
    headers = signed(original)
    with counting_rows(engine):
        _post(client, form_body(WRITING_TEXT), headers)


def test_no_secret_configured_is_503(
    client: Client,
    engine: Engine,
    app: FastAPI,
    linked: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.settings, "slack_signing_secret", None)
    body = form_body(WRITING_TEXT)
    with counting_rows(engine):
        r = client.post("/slack/commands", content=body, headers=signed(body))
        body_json = error_of(r, 503, "slack_not_configured")
    assert "SCHEDULER_SLACK_SIGNING_SECRET" in body_json["detail"]


def test_oversized_body_is_refused_unread(
    client: Client, engine: Engine, linked: dict[str, Any]
) -> None:
    body = form_body(WRITING_TEXT, padding="x" * 70_000)
    with counting_rows(engine):
        r = client.post("/slack/commands", content=body, headers=signed(body))
        error_of(r, 413, "payload_too_large")


def test_signed_but_not_a_slash_command(
    client: Client, engine: Engine, linked: dict[str, Any]
) -> None:
    body = b"payload=%7B%7D"
    with counting_rows(engine):
        r = client.post("/slack/commands", content=body, headers=signed(body))
        error_of(r, 400, "bad_request")


def test_only_post(client: Client) -> None:
    error_of(client.get("/slack/commands"), 405)
