"""A stand-in for Slack's Web API on loopback, used through the real slack_sdk.

    with SlackApi() as slack:                      # or the `slack_api` fixture
        client = WebClient(base_url=slack.url)     # or SCHEDULER_SLACK_API_URL=slack.url
        slack.grant("code-1", team_id="T1", team_name="Acme", token="xoxb-1")
        client.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code="code-1")
        WebClient(base_url=slack.url, token="xoxb-1").chat_postMessage(channel="C1", text="hi")
        [call] = slack.calls("chat.postMessage")   # call.params["text"] == "hi", call.token

Methods answered, with the JSON Slack documents (``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}``, HTTP 200 either way): ``oauth.v2.access`` (client credentials by HTTP
Basic or as parameters; only codes given to ``grant``, each once), ``chat.postMessage``
(a fresh ``ts`` each time), ``chat.update`` (of a message posted here) and ``auth.revoke``.
Bodies may be form-encoded or JSON, as slack_sdk sends them; any path outside ``/api/`` or
an unknown method is a 404 ``unknown_method``.

Tokens (``Authorization: Bearer`` or a ``token`` parameter) for chat.* and auth.revoke:
none is ``not_authed``; any ``xoxb-``/``xoxp-`` token is good until ``auth.revoke`` revokes
it (then ``token_revoked``); anything else is ``invalid_auth``.

Misbehaving on request: ``fail_next(method, error)`` answers the next call of ``method``
with that error; ``rate_limit_next(method, seconds)`` answers it HTTP 429 with
``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``, as Slack does; both queue up
in order. ``down()`` refuses connections (the listening socket is closed: slack_sdk raises
URLError, after its one retry); ``down(status=503)`` instead answers every call with that
status and an HTML body, as an outage at Slack's edge looks. ``up()`` ends either.

Every request that reaches the server is recorded (``calls``), those answered with an error
too (``Call.status``, ``Call.response``). ``reset()`` forgets calls, grants, queued
failures, messages and revocations and brings the server up; the fixture does it before
each test.

``bind_team(api, team_id, token=...)`` connects the API key's workspace to a Slack team as
an install would leave it, without Slack (tests run with ``environment="test"``, where
``PATCH /v1/workspace`` no longer binds teams).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import secrets
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.db.changes import touch
from app.db.engine import session_scope
from app.db.models import Workspace
from app.secret_box import secret_box
from app.services import services
from tests.conftest import Client

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "test-slack-client-secret"
APP_ID = "A0SCHEDULER"

_STASH_KEY = pytest.StashKey["SlackApi"]()
_METHODS = frozenset({"oauth.v2.access", "chat.postMessage", "chat.update", "auth.revoke"})
_TS = itertools.count(1)  # ts stay unique across resets in a session


@dataclass(frozen=True)
class Call:
    """One request as received: the method, its parameters (form values are strings, JSON
    values as sent), the bearer token (or None), what was answered, and the client
    credentials given by HTTP Basic (oauth.v2.access)."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any] | None
    basic_auth: tuple[str, str] | None = None


@dataclass
class _Grant:
    team_id: str
    team_name: str
    token: str
    bot_user_id: str
    scope: str
    authed_user_id: str
    enterprise: dict[str, str] | None
    redirect_uri: str | None
    used: bool = False


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    grants: dict[str, _Grant] = field(default_factory=dict)
    # Per method: ("error", name) or ("ratelimit", seconds), answered in turn.
    queued: dict[str, deque[tuple[str, Any]]] = field(default_factory=lambda: defaultdict(deque))
    revoked: set[str] = field(default_factory=set)
    bot_users: dict[str, str] = field(default_factory=dict)  # token -> bot user id
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    down_status: int | None = None


class SlackApi:
    """The fake Web API: a ThreadingHTTPServer in a thread on 127.0.0.1 (any free port).

    ``client_id``/``client_secret`` are the app credentials ``oauth.v2.access`` accepts.
    """

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give WebClient (``base_url``) or SCHEDULER_SLACK_API_URL."""
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> SlackApi:
        self._listen(self.port)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SlackApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _listen(self, port: int) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    # --- what tests set up -------------------------------------------------------------

    def grant(
        self,
        code: str,
        team_id: str,
        team_name: str = "Acme",
        token: str | None = None,
        *,
        bot_user_id: str = "UBOT0001",
        scope: str = "commands,chat:write",
        authed_user_id: str = "UINSTALLER",
        enterprise: dict[str, str] | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """Makes ``code`` good once for ``oauth.v2.access`` and returns the bot token it
        gives (``token``, or a fresh ``xoxb-…``). With ``redirect_uri`` the exchange must
        name that same URI (else ``bad_redirect_uri``), as Slack checks it against the
        authorize request."""
        token = token or f"xoxb-{team_id}-{secrets.token_hex(8)}"
        with self._lock:
            self._state.grants[code] = _Grant(
                team_id,
                team_name,
                token,
                bot_user_id,
                scope,
                authed_user_id,
                enterprise,
                redirect_uri,
            )
        return token

    def fail_next(self, method: str, error: str) -> None:
        """The next call of ``method`` gets ``{"ok": false, "error": error}``."""
        with self._lock:
            self._state.queued[method].append(("error", error))

    def rate_limit_next(self, method: str, retry_after_seconds: int = 1) -> None:
        """The next call of ``method`` gets HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._state.queued[method].append(("ratelimit", retry_after_seconds))

    def down(self, status: int | None = None) -> None:
        """No status: connections are refused until ``up()``. A status (e.g. 503): every
        request is answered with it and a non-JSON body."""
        if status is not None:
            with self._lock:
                self._state.down_status = status
        elif self._server is not None:
            port = self.port
            self.stop()
            self.port = port  # up() listens on the same port again

    def up(self) -> None:
        with self._lock:
            self._state.down_status = None
        if self._server is None:
            self._listen(self.port)

    def reset(self) -> None:
        with self._lock:
            self._state = _State()
        self.up()

    # --- what tests read ---------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (of ``method`` only, if given), oldest first."""
        with self._lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message as posted or last updated here, or None."""
        with self._lock:
            found = self._state.messages.get((channel, ts))
            return None if found is None else dict(found)

    # --- answering ---------------------------------------------------------------------

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        basic: tuple[str, str] | None,
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """Status, extra headers and JSON body (None: the outage's HTML body)."""
        headers: dict[str, str] = {}
        with self._lock:
            state = self._state
            if state.down_status is not None:
                status, body = state.down_status, None
            elif method not in _METHODS:
                status, body = 404, {"ok": False, "error": "unknown_method"}
            elif state.queued[method]:
                kind, value = state.queued[method].popleft()
                if kind == "ratelimit":
                    status, headers = 429, {"Retry-After": str(value)}
                    body = {"ok": False, "error": "ratelimited"}
                else:
                    status, body = 200, {"ok": False, "error": value}
            else:
                status, body = 200, self._method(state, method, params, token, basic)
            state.calls.append(Call(method, params, token, status, body, basic))
            return status, headers, body

    def _method(
        self,
        state: _State,
        method: str,
        params: dict[str, Any],
        token: str | None,
        basic: tuple[str, str] | None,
    ) -> dict[str, Any]:
        if method == "oauth.v2.access":
            return self._oauth_v2_access(state, params, basic)
        if token is None:
            return {"ok": False, "error": "not_authed"}
        if token in state.revoked:
            return {"ok": False, "error": "token_revoked"}
        if not token.startswith(("xoxb-", "xoxp-")):
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.revoke":
            if _truthy(params.get("test")):
                return {"ok": True, "revoked": False}
            state.revoked.add(token)
            return {"ok": True, "revoked": True}
        return _chat(state, method, params, state.bot_users.get(token, "UBOT0001"))

    def _oauth_v2_access(
        self, state: _State, params: dict[str, Any], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        client_id, client_secret = basic or (
            str(params.get("client_id", "")),
            str(params.get("client_secret", "")),
        )
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = state.grants.get(str(params.get("code", "")))
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        if grant.used:
            return {"ok": False, "error": "code_already_used"}
        if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
            return {"ok": False, "error": "bad_redirect_uri"}
        grant.used = True
        state.bot_users[grant.token] = grant.bot_user_id
        return {
            "ok": True,
            "access_token": grant.token,
            "token_type": "bot",
            "scope": grant.scope,
            "bot_user_id": grant.bot_user_id,
            "app_id": APP_ID,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": grant.enterprise,
            "authed_user": {"id": grant.authed_user_id},
            "is_enterprise_install": False,
        }


def _chat(state: _State, method: str, params: dict[str, Any], bot_user: str) -> dict[str, Any]:
    channel = str(params.get("channel") or "")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    text = params.get("text")
    blocks = params.get("blocks")
    if isinstance(blocks, str):  # form-encoded: a JSON string
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return {"ok": False, "error": "invalid_blocks"}
    if blocks is not None and not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks"}
    if method == "chat.postMessage":
        if not text and not blocks and not params.get("attachments"):
            return {"ok": False, "error": "no_text"}
        n = next(_TS)
        ts = f"{1_700_000_000 + n // 10_000}.{n % 10_000 * 100:06d}"
    else:
        ts = str(params.get("ts") or "")
        if (channel, ts) not in state.messages:
            return {"ok": False, "error": "message_not_found"}
    message: dict[str, Any] = {
        "type": "message",
        "user": bot_user,
        "bot_id": "B0SCHEDULER",
        "app_id": APP_ID,
        "text": text or "",
        "ts": ts,
    }
    if blocks is not None:
        message["blocks"] = blocks
    state.messages[(channel, ts)] = message
    if method == "chat.postMessage":
        return {"ok": True, "channel": channel, "ts": ts, "message": message}
    return {"ok": True, "channel": channel, "ts": ts, "text": text or "", "message": message}


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true")


def _handler_for(api: SlackApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            method = parts.path[len("/api/") :] if parts.path.startswith("/api/") else ""
            params: dict[str, Any] = dict(parse_qsl(parts.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            kind = self.headers.get_content_type()
            try:
                if kind == "application/json" and raw:
                    loaded = json.loads(raw)
                    if isinstance(loaded, dict):
                        params.update(loaded)
                elif raw:
                    params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except ValueError:
                params["_unparsed_body"] = raw.decode("utf-8", "replace")
            authorization = self.headers.get("Authorization") or ""
            token = str(params.pop("token", "")) or None
            basic = None
            if authorization.startswith("Bearer "):
                token = authorization.removeprefix("Bearer ").strip() or None
            elif authorization.startswith("Basic "):
                basic = _basic(authorization.removeprefix("Basic "))
            status, headers, body = api._answer(method, params, token, basic)
            if body is None:
                data, content_type = b"<html><body>Service Unavailable</body></html>", "text/html"
            else:
                data, content_type = json.dumps(body).encode(), "application/json; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _basic(value: str) -> tuple[str, str] | None:
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


@pytest.fixture(name="slack_api")
def slack_api_fixture(request: pytest.FixtureRequest) -> Iterator[SlackApi]:
    """One fake Slack API for the session (kept in the session's stash, whichever modules
    import this fixture), reset before each test.

    Use it with ``from tests.slack.fake_api import slack_api_fixture  # noqa: F401`` and a
    test parameter named ``slack_api``."""
    stash = request.config.stash
    if _STASH_KEY not in stash:
        server = SlackApi().start()
        stash[_STASH_KEY] = server
        request.config.add_cleanup(server.stop)
    server = stash[_STASH_KEY]
    server.reset()
    yield server
    server.up()


def bind_team(
    api: Client, team_id: str, token: str | None = None, bot_user_id: str = "UBOT0001"
) -> None:
    """Connects the workspace of ``api``'s key to Slack team ``team_id``, written directly
    as the install (app.slack.install) writes it: with ``token`` sealed as its bot token
    and ``bot_user_id`` when a token is given, else (like a development PATCH) without."""
    r = api.get("/v1/workspace")
    assert r.status_code == 200, r.text
    runs_on = services(api.app)
    with session_scope(runs_on.engine) as session:
        workspace = session.get(Workspace, uuid.UUID(r.json()["id"]))
        assert workspace is not None
        sealed = None if token is None else secret_box(runs_on.settings).seal(token)
        touch(
            session,
            workspace,
            {
                "slack_team_id": team_id,
                "slack_bot_token_sealed": sealed,
                "slack_bot_user_id": None if token is None else bot_user_id,
                "slack_installed_at": None if token is None else runs_on.clock(),
            },
        )
