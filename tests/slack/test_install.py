"""Installing the Slack app end to end (app.slack.install): the install link, Slack's redirect
back through the real slack_sdk against a local stand-in of Slack's Web API
(tests/slack/fake_api.py), the team bound to exactly one workspace, disconnecting, the
development-only PATCH, and the app manifest (slack/manifest.yml)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.from_thread
import httpx
import pytest
import yaml
from fastapi import FastAPI
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.db.models import SlackInstall, Workspace
from app.main import create_app
from app.secret_box import secret_box
from app.services import services
from app.slack import install
from tests.api.conftest import error_of
from tests.conftest import (
    PUBLIC_BASE,
    Client,
    clock_at,
    counting_rows,
    make_participant,
    make_party,
    make_settings,
    new_workspace,
    running,
)
from tests.slack.conftest import NOW, reply_of, slash
from tests.slack.fake_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    SlackApi,
    bind_team,
    slack_api_fixture,  # noqa: F401
)

TEAM = "TINSTALL01"
REDIRECT = f"{PUBLIC_BASE}/slack/oauth/callback"
MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


@contextmanager
def slack_app_with(
    database_url: str, portal: anyio.from_thread.BlockingPortal, **overrides: Any
) -> Iterator[FastAPI]:
    application = create_app(make_settings(database_url, **overrides))
    try:
        with running(application, portal):
            yield application
    finally:
        services(application).engine.dispose()


@pytest.fixture
def slack_app(
    database_url: str, portal: anyio.from_thread.BlockingPortal, app: FastAPI, slack_api: SlackApi
) -> Iterator[FastAPI]:
    """An app with the Slack app configured, talking to the fake Web API. It needs ``app``:
    the shared app's teardown wipes the tables this one writes."""
    with slack_app_with(
        database_url,
        portal,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_api_url=slack_api.url,
    ) as application:
        yield application


@pytest.fixture
def browser(slack_app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> Client:
    """Whoever follows Slack's redirect: no credentials."""
    return Client(slack_app, portal)


@pytest.fixture
def owner(browser: Client) -> Client:
    return new_workspace(browser, "Acme")[0]


@pytest.fixture
def rival(browser: Client) -> Client:
    return new_workspace(browser, "Rival tenant")[0]


@pytest.fixture
def slack_engine(slack_app: FastAPI) -> Engine:
    engine: Engine = services(slack_app).engine
    return engine


def new_link(api: Client) -> tuple[str, dict[str, Any]]:
    """The state of a fresh install link, and the link's answer."""
    r = api.post("/v1/workspace/slack/install-link")
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    [state] = parse_qs(urlsplit(body["url"]).query)["state"]
    return state, body


def callback(browser: Client, code: str, state: str) -> httpx.Response:
    return browser.get(install.CALLBACK_PATH, params={"code": code, "state": state})


def page(r: httpx.Response, status: int, words: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert words in r.text, r.text
    return r.text


def row_of(engine: Engine, api: Client) -> Workspace:
    with Session(engine) as session:
        row = session.get(Workspace, uuid.UUID(api.get("/v1/workspace").json()["id"]))
        assert row is not None
        session.expunge(row)
        return row


def installed(
    browser: Client, api: Client, slack_api: SlackApi, team: str = TEAM, name: str = "Acme"
) -> str:
    """Runs the whole install for ``api``'s workspace into ``team``; the bot token."""
    state, _ = new_link(api)
    code = f"code-{uuid.uuid4().hex}"
    token = slack_api.grant(code, team, name, redirect_uri=REDIRECT, bot_user_id="UBOT42")
    page(callback(browser, code, state), 200, "Slack is connected")
    return token


# --- the install link ------------------------------------------------------------------


def test_install_link_is_a_one_time_slack_authorize_url(
    owner: Client, slack_engine: Engine
) -> None:
    state, body = new_link(owner)
    url = urlsplit(body["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "slack.com", "/oauth/v2/authorize")
    query = parse_qs(url.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"][0].split(",") == ["commands", "chat:write"]
    assert query["redirect_uri"] == [REDIRECT]
    assert len(state) >= 22  # 128 bits and more, URL-safe base64
    assert body["expires_at"].replace("Z", "+00:00") == (NOW + timedelta(minutes=10)).isoformat()
    # Only the state's hash is kept.
    with slack_engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM slack_install"))]
    assert len(rows) == 1 and state not in repr(rows)
    assert new_link(owner)[0] != state


def test_install_needs_the_slack_app_configured(
    database_url: str, portal: anyio.from_thread.BlockingPortal, app: FastAPI
) -> None:
    with slack_app_with(
        database_url, portal, slack_client_id=None, slack_client_secret=None
    ) as bare:
        api = new_workspace(Client(bare, portal))[0]
        body = error_of(api.post("/v1/workspace/slack/install-link"), 503, "slack_not_configured")
        assert "SCHEDULER_SLACK_CLIENT_ID" in body["detail"]
        r = callback(Client(bare, portal), "code", "state")
        page(r, 503, "SCHEDULER_SLACK_CLIENT_SECRET")


def test_install_link_needs_an_api_key(browser: Client) -> None:
    error_of(browser.post("/v1/workspace/slack/install-link"), 401, "unauthorized")
    error_of(browser.delete("/v1/workspace/slack"), 401, "unauthorized")


# --- the callback ----------------------------------------------------------------------


def test_install_binds_the_team_with_the_bot_token_sealed(
    browser: Client,
    owner: Client,
    slack_api: SlackApi,
    slack_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: /meet from the team is told the team is not connected.
    assert "not connected" in reply_of(slash(browser, "next", team_id=TEAM))["text"]
    state, _ = new_link(owner)
    code = "4724469134.4644010092847.232b4e6d82c3"
    token = slack_api.grant(code, TEAM, "Acme <b>& Co", redirect_uri=REDIRECT, bot_user_id="UB1")
    with caplog.at_level(logging.DEBUG):
        html = page(callback(browser, code, state), 200, "Slack is connected")
    assert "Acme &lt;b&gt;&amp; Co" in html and "<b>" not in html
    [call] = slack_api.calls("oauth.v2.access")
    assert call.basic_auth == (CLIENT_ID, CLIENT_SECRET)
    assert call.params["code"] == code and call.params["redirect_uri"] == REDIRECT
    # The service logs neither the token, nor the code, nor the client secret (httpx's own
    # line is the test's client, standing in for the browser).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "slack app installed" in logged
    assert token not in logged and code not in logged and CLIENT_SECRET not in logged

    row = row_of(slack_engine, owner)
    assert (row.slack_team_id, row.slack_bot_user_id, row.slack_installed_at) == (TEAM, "UB1", NOW)
    assert row.slack_bot_token_sealed is not None
    assert secret_box(services(browser.app).settings).open(row.slack_bot_token_sealed) == token
    with slack_engine.connect() as conn:  # the token is nowhere in the database in clear
        for table in ("workspace", "slack_install"):
            assert token not in repr(conn.execute(text(f"SELECT * FROM {table}")).all())
    shown = owner.get("/v1/workspace").json()
    assert shown["slack_team_id"] == TEAM and shown["slack_installed_at"] is not None
    assert "token" not in repr(shown)

    # After: /meet from that team answers for this workspace.
    party = make_party(owner, timezone="America/New_York")
    make_participant(owner, party["id"], name="Dana Whitfield", slack_user_id="UDANA")
    reply = reply_of(slash(browser, "series", team_id=TEAM))
    assert "not connected" not in reply["text"] and "not linked" not in reply["text"]


def test_a_forged_or_missing_state_is_refused(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    new_link(owner)
    slack_api.grant("good-code", TEAM)
    with counting_rows(slack_engine):
        page(callback(browser, "good-code", "forged-" + uuid.uuid4().hex), 400, "does not work")
        page(browser.get(install.CALLBACK_PATH, params={"code": "good-code"}), 400, "not one")
        page(browser.get(install.CALLBACK_PATH), 400, "does not work")
    assert slack_api.calls() == []
    assert row_of(slack_engine, owner).slack_team_id is None


def test_a_used_state_is_refused(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    state, _ = new_link(owner)
    slack_api.grant("first", TEAM, redirect_uri=REDIRECT)
    page(callback(browser, "first", state), 200, "Slack is connected")
    slack_api.grant("second", "TOTHER01", redirect_uri=REDIRECT)
    with counting_rows(slack_engine):
        page(callback(browser, "second", state), 400, "already used")
    assert len(slack_api.calls("oauth.v2.access")) == 1
    assert row_of(slack_engine, owner).slack_team_id == TEAM


def test_an_expired_state_is_refused(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    stale, _ = new_link(owner)
    fresh, _ = new_link(owner)
    slack_api.grant("code", TEAM, redirect_uri=REDIRECT)
    with clock_at(browser.app, NOW + install.LINK_LIFETIME), counting_rows(slack_engine):
        page(callback(browser, "code", stale), 400, "expired")
    assert slack_api.calls() == []
    with clock_at(browser.app, NOW + install.LINK_LIFETIME - timedelta(seconds=1)):
        page(callback(browser, "code", fresh), 200, "Slack is connected")


def test_a_cancelled_install_leaves_the_link_usable(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    state, _ = new_link(owner)
    r = browser.get(install.CALLBACK_PATH, params={"error": "access_denied", "state": state})
    page(r, 400, "cancelled")
    slack_api.grant("code", TEAM, redirect_uri=REDIRECT)
    page(callback(browser, "code", state), 200, "Slack is connected")


@pytest.mark.parametrize("failure", ["invalid_code", "ratelimited", "503", "refused"])
def test_a_failed_code_exchange_stores_nothing_and_the_link_works_again(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine, failure: str
) -> None:
    state, _ = new_link(owner)
    if failure == "ratelimited":
        slack_api.rate_limit_next("oauth.v2.access", 30)
    elif failure == "503":
        slack_api.down(status=503)
    elif failure == "refused":
        slack_api.down()
    # invalid_code: the code was never granted.
    before = row_of(slack_engine, owner).model_dump()
    page(callback(browser, "bad-code", state), 502, "did not accept")
    assert row_of(slack_engine, owner).model_dump() == before
    slack_api.up()
    slack_api.grant("good-code", TEAM, redirect_uri=REDIRECT)
    page(callback(browser, "good-code", state), 200, "Slack is connected")
    assert row_of(slack_engine, owner).slack_team_id == TEAM


def test_a_team_connected_elsewhere_is_not_taken(
    browser: Client, owner: Client, rival: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    token = installed(browser, owner, slack_api)
    held = row_of(slack_engine, owner)
    state, _ = new_link(rival)
    slack_api.grant("rival-code", TEAM, "Acme", redirect_uri=REDIRECT)
    html = page(
        callback(browser, "rival-code", state),
        409,
        "This Slack workspace is already connected to another account.",
    )
    assert str(held.id) not in html and "Acme" not in html
    assert row_of(slack_engine, owner).model_dump() == held.model_dump()
    assert row_of(slack_engine, rival).slack_team_id is None
    assert rival.get("/v1/workspace").json()["slack_team_id"] is None
    assert slack_api.calls("auth.revoke") == []  # the holder's token is left alone
    assert secret_box(services(browser.app).settings).open(held.slack_bot_token_sealed or "") == (
        token
    )


def test_the_same_workspace_installing_again_gets_the_new_token(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    installed(browser, owner, slack_api)
    second = installed(browser, owner, slack_api)
    row = row_of(slack_engine, owner)
    assert row.slack_team_id == TEAM and row.slack_bot_token_sealed is not None
    assert secret_box(services(browser.app).settings).open(row.slack_bot_token_sealed) == second
    assert slack_api.calls("auth.revoke") == []


def test_moving_to_another_team_revokes_the_old_token(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    old = installed(browser, owner, slack_api)
    installed(browser, owner, slack_api, team="TNEWTEAM1")
    assert row_of(slack_engine, owner).slack_team_id == "TNEWTEAM1"
    assert [c.token for c in slack_api.calls("auth.revoke")] == [old]


def test_concurrent_callbacks_with_one_state_bind_once(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    state, _ = new_link(owner)
    slack_api.grant("code", TEAM, redirect_uri=REDIRECT)
    start = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def follow() -> None:
        start.wait()
        answers.append(callback(browser, "code", state))

    threads = [threading.Thread(target=follow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.status_code for r in answers) == [200, 400], [r.text for r in answers]
    page(next(r for r in answers if r.status_code == 400), 400, "already used")
    assert len(slack_api.calls("oauth.v2.access")) == 1
    assert row_of(slack_engine, owner).slack_team_id == TEAM
    with Session(slack_engine) as session:
        [row] = session.exec(select(SlackInstall)).all()
        assert row.used_at == NOW


# --- disconnecting ---------------------------------------------------------------------


def test_disconnect_revokes_the_token_and_unbinds(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    token = installed(browser, owner, slack_api)
    r = owner.delete("/v1/workspace/slack")
    assert r.status_code == 204, r.text
    [call] = slack_api.calls("auth.revoke")
    assert call.token == token and call.status == 200
    row = row_of(slack_engine, owner)
    assert (row.slack_team_id, row.slack_bot_token_sealed, row.slack_bot_user_id) == (
        None,
        None,
        None,
    )
    assert row.slack_installed_at is None
    assert owner.get("/v1/workspace").json()["slack_team_id"] is None
    assert "not connected" in reply_of(slash(browser, "next", team_id=TEAM))["text"]
    with counting_rows(slack_engine):
        error_of(owner.delete("/v1/workspace/slack"), 404, "not_found")
    assert len(slack_api.calls("auth.revoke")) == 1


def test_disconnect_unbinds_when_revoking_fails(
    browser: Client,
    owner: Client,
    slack_api: SlackApi,
    slack_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = installed(browser, owner, slack_api)
    slack_api.fail_next("auth.revoke", "invalid_auth")
    with caplog.at_level(logging.WARNING, logger="app.slack"):
        assert owner.delete("/v1/workspace/slack").status_code == 204
    assert row_of(slack_engine, owner).slack_team_id is None
    [warning] = [r for r in caplog.records if "auth.revoke" in r.getMessage()]
    assert "invalid_auth" in warning.getMessage() and token not in warning.getMessage()
    # The team is free for another install.
    installed(browser, owner, slack_api)


def test_a_team_bound_without_a_token_is_disconnected_without_slack(
    owner: Client, slack_api: SlackApi
) -> None:
    bind_team(owner, TEAM)
    assert owner.delete("/v1/workspace/slack").status_code == 204
    assert slack_api.calls() == []


# --- the PATCH that used to bind teams -------------------------------------------------


def test_patch_cannot_bind_a_team_outside_development(
    browser: Client, owner: Client, slack_api: SlackApi, slack_engine: Engine
) -> None:
    before = owner.get("/v1/workspace").json()
    with counting_rows(slack_engine):
        body = error_of(owner.patch("/v1/workspace", json={"slack_team_id": TEAM}), 422)
        assert body["fields"][0]["loc"] == ["body", "slack_team_id"]
        assert "/v1/workspace/slack/install-link" in body["detail"]
        error_of(owner.patch("/v1/workspace", json={"name": "X", "slack_team_id": TEAM}), 422)
    assert owner.get("/v1/workspace").json() == before
    # The current value is no change: a client sending back what it read is not refused.
    r = owner.patch("/v1/workspace", json={"name": "Renamed", "slack_team_id": None})
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    installed(browser, owner, slack_api)
    r = owner.patch("/v1/workspace", json={"slack_team_id": TEAM})
    assert r.status_code == 200, r.text
    error_of(owner.patch("/v1/workspace", json={"slack_team_id": None}), 422)
    assert row_of(slack_engine, owner).slack_team_id == TEAM


def test_patch_binds_a_team_in_development(
    owner: Client, slack_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services(owner.app).settings, "environment", "development")
    bind_team(owner, TEAM, token="xoxb-old-team")
    r = owner.patch("/v1/workspace", json={"slack_team_id": "TDEVTEAM1"})
    assert r.status_code == 200, r.text
    row = row_of(slack_engine, owner)
    # The old team's bot token does not follow the workspace to another team.
    assert (row.slack_team_id, row.slack_bot_token_sealed) == ("TDEVTEAM1", None)


# --- the manifest ----------------------------------------------------------------------


def test_the_manifest_matches_the_routes_and_the_scopes(slack_app: FastAPI) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    routes = {
        (method.upper(), path)
        for path, operations in slack_app.openapi()["paths"].items()
        for method in operations
    }

    def path(url: str, host: str = "YOUR-HOST") -> str:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.query) == ("https", host, ""), url
        return parts.path

    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/meet" and command["should_escape"] is True
    assert ("POST", path(command["url"])) in routes
    assert [path(u) for u in manifest["oauth_config"]["redirect_urls"]] == [install.CALLBACK_PATH]
    assert ("GET", install.CALLBACK_PATH) in routes
    assert manifest["oauth_config"]["scopes"]["bot"] == list(install.SCOPES)
    assert "user" not in manifest["oauth_config"]["scopes"]
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    # Buttons in replies (app.slack.interactions).
    assert ("POST", path(settings["interactivity"]["request_url"])) in routes
    assert settings["org_deploy_enabled"] is False
    assert settings["socket_mode_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    info = manifest["display_information"]
    assert len(info["description"]) <= 139 and 175 <= len(info["long_description"]) <= 4000


# --- the stand-in itself, as other Slack tests use it ----------------------------------


def test_the_fake_api_answers_as_slack_does(slack_api: SlackApi) -> None:
    bot = WebClient(base_url=slack_api.url, token="xoxb-1", timeout=5)
    posted = bot.chat_postMessage(channel="C1", text="hello")
    again = bot.chat_postMessage(channel="C1", text="hello")
    assert posted["ok"] and posted["channel"] == "C1" and posted["ts"] != again["ts"]
    assert bot.chat_update(channel="C1", ts=posted["ts"], text="edited")["text"] == "edited"
    assert slack_api.message("C1", posted["ts"])["text"] == "edited"  # type: ignore[index]
    slack_api.rate_limit_next("chat.postMessage", 7)
    with pytest.raises(SlackApiError) as limited:
        bot.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    slack_api.fail_next("chat.update", "message_not_found")
    with pytest.raises(SlackApiError) as failed:
        bot.chat_update(channel="C1", ts=posted["ts"], text="x")
    assert failed.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as unauthenticated:
        WebClient(base_url=slack_api.url, timeout=5).chat_postMessage(channel="C1", text="x")
    assert unauthenticated.value.response["error"] == "not_authed"
    assert [c.method for c in slack_api.calls()] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]
    assert [c.token for c in slack_api.calls("chat.update")] == ["xoxb-1", "xoxb-1"]
    assert slack_api.calls("chat.postMessage")[0].params == {"channel": "C1", "text": "hello"}
