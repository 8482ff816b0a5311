"""Installing the Slack app (OAuth v2): a one-time install link, Slack's redirect back with a
code that becomes the workspace's bot token, and disconnecting. Slack itself says which team
installed the app, so a team is bound to whoever installs the app from inside it.

Routes: ``POST /v1/workspace/slack/install-link``, ``GET /slack/oauth/callback``,
``DELETE /v1/workspace/slack``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.api.deps import (
    CHANGE_ATTEMPTS,
    DatabaseSlot,
    NowDep,
    SessionDep,
    SettingsDep,
    WorkspaceDep,
    check_if_match,
    retry_lost_race,
)
from app.db.changes import LostRace, touch
from app.db.engine import session_scope
from app.db.models import SlackInstall, Workspace
from app.errors import AUTHENTICATED, AppError, error_responses
from app.secret_box import secret_box
from app.services import services
from app.settings import Settings
from app.share.html import page_headers, render_message
from app.slack.web import WEB_API_FAILURES, web_client

log = logging.getLogger("app.slack")

router = APIRouter()

AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
CALLBACK_PATH = "/slack/oauth/callback"
# `commands` for /meet; `chat:write` for reminders and re-plan posts in a series' channel.
# Not `chat:write.public` (posting to public channels the bot was not invited to): inviting
# the bot is how a channel agrees to its posts, and membership is needed anyway in private
# channels, which that scope does not cover (a Slack Connect channel may be private on one side).
SCOPES = ("commands", "chat:write")
LINK_LIFETIME = timedelta(minutes=10)
# Links stay known this long after they expire, so a late click hears "expired".
FORGOTTEN_AFTER = timedelta(days=1)


class InstallLink(BaseModel):
    url: str
    expires_at: datetime


def redirect_uri(settings: Settings) -> str:
    return settings.public_base + CALLBACK_PATH


def _configured(settings: Settings) -> bool:
    return bool(settings.slack_client_id) and settings.slack_client_secret is not None


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@router.post(
    "/v1/workspace/slack/install-link",
    tags=["workspaces"],
    status_code=201,
    response_model=InstallLink,
    responses={**AUTHENTICATED, **error_responses(503)},
)
def install_link(
    workspace: WorkspaceDep, session: SessionDep, settings: SettingsDep, now: NowDep
) -> InstallLink:
    """A link to Slack's page that installs the app into a Slack workspace and connects it
    to this one. It works once, for 10 minutes; whoever opens it chooses the Slack workspace
    (an admin of it, or a member allowed to install apps). 503 when the server has no Slack
    app configured."""
    if not _configured(settings):
        raise AppError(
            "slack_not_configured",
            "Installing Slack is off: set SCHEDULER_SLACK_CLIENT_ID and "
            "SCHEDULER_SLACK_CLIENT_SECRET to the Slack app's credentials.",
            503,
        )
    state = secrets.token_urlsafe(32)  # 256 bits; only its hash is stored
    expires_at = now + LINK_LIFETIME
    session.execute(
        delete(SlackInstall).where(col(SlackInstall.expires_at) < now - FORGOTTEN_AFTER)
    )
    session.add(
        SlackInstall(
            workspace_id=workspace.id, state_hash=_state_hash(state), expires_at=expires_at
        )
    )
    query = urlencode(
        {
            "client_id": settings.slack_client_id,
            "scope": ",".join(SCOPES),
            "redirect_uri": redirect_uri(settings),
            "state": state,
        }
    )
    return InstallLink(url=f"{AUTHORIZE_URL}?{query}", expires_at=expires_at)


def _page(title: str, message: str, status: int) -> HTMLResponse:
    # The address holds the code and the state: no-store, and no referrer (page_headers).
    headers = {**page_headers(), "Cache-Control": "no-store"}
    return HTMLResponse(render_message(title, message), status_code=status, headers=headers)


_PAGE = {"text/html": {"schema": {"type": "string"}}}
# The page route's JSON errors (rate limit, database), documented by hand: a model here
# would be documented as text/html, the route's media type.
_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_ERROR_DOC = {
    status: {k: v for k, v in doc.items() if k != "model"}
    for status, doc in error_responses(429, 503).items()
}
NEW_LINK = "Get a new install link from the scheduler and open it."
NOT_CONNECTED = "Slack was not connected"


@router.get(
    CALLBACK_PATH,
    tags=["slack"],
    response_class=HTMLResponse,
    responses={
        400: {"description": "The link is unknown, expired or used.", "content": _PAGE},
        409: {"description": "The Slack workspace is connected elsewhere.", "content": _PAGE},
        429: {**_ERROR_DOC[429], "content": _ERROR_JSON},
        502: {"description": "Slack did not accept the code.", "content": _PAGE},
        503: {
            **_ERROR_DOC[503],
            "description": "No Slack app configured (a page), or the database is away.",
            "content": {**_PAGE, **_ERROR_JSON},
        },
    },
)
def oauth_callback(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    background: BackgroundTasks,
    _: Annotated[None, DatabaseSlot],
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """Where Slack sends the browser back after the install (OAuth v2 redirect). Public: the
    one-time ``state`` of the install link says which workspace is being connected. A short
    page says how it went: 200 connected; 400 the link is unknown, expired, used or the
    install was cancelled; 409 the Slack workspace is connected to another account; 502
    Slack did not accept the code; 503 the server has no Slack app configured."""
    if not _configured(settings):
        return _page(
            "Slack is not set up on this server",
            "Set SCHEDULER_SLACK_CLIENT_ID and SCHEDULER_SLACK_CLIENT_SECRET, then get a new "
            "install link.",
            503,
        )
    if error is not None:  # e.g. access_denied: the person cancelled on Slack's page
        return _page(NOT_CONNECTED, f"The install was cancelled in Slack. {NEW_LINK}", 400)
    if not code or not state or len(state) > 200:
        return _unknown_link(request)
    engine: Engine = services(request.app).engine
    claim = _claim(engine, _state_hash(state), now)
    if claim is None:
        return _unknown_link(request)
    if isinstance(claim, str):
        return _claim_refused(claim)
    install_id, workspace_id = claim
    answer = _exchange(settings, code)
    if answer is None:
        _release(engine, install_id, now)
        return _page(
            NOT_CONNECTED,
            "Slack did not accept the install just now. Open the same install link again to "
            f"retry (it works for {LINK_LIFETIME.seconds // 60} minutes after it was made), or "
            "get a new one.",
            502,
        )
    team_id, team_name, token, bot_user_id = answer
    replaced = _bind(
        engine, workspace_id, team_id, secret_box(settings).seal(token), bot_user_id, now
    )
    if replaced is False:
        return _page(
            NOT_CONNECTED, "This Slack workspace is already connected to another account.", 409
        )
    if isinstance(replaced, str):  # the workspace moved from another team: that token goes
        background.add_task(_revoke, settings, replaced, workspace_id)
    log.info("slack app installed: team %s connected to workspace %s", team_id, workspace_id)
    return _page(
        "Slack is connected",
        f"The scheduler is installed in {team_name or team_id}. Type /meet help in Slack to "
        "begin; invite the app to a channel (/invite) before a series posts there.",
        200,
    )


def _unknown_link(request: Request) -> HTMLResponse:
    client = request.client.host if request.client else "unknown"
    services(request.app).public_links.unknown(client)  # 429 past the address's budget
    return _page(
        "This install link does not work", f"It is not one this service made. {NEW_LINK}", 400
    )


def _claim_refused(reason: str) -> HTMLResponse:
    if reason == "used":
        return _page(
            "This install link was already used",
            f"Each install link works once. If Slack is not connected yet: {NEW_LINK}",
            400,
        )
    return _page(
        "This install link has expired",
        f"Install links work for {LINK_LIFETIME.seconds // 60} minutes. {NEW_LINK}",
        400,
    )


def _claim(
    engine: Engine, state_hash: str, now: datetime
) -> tuple[uuid.UUID, uuid.UUID] | str | None:
    """Marks the link used, in a transaction of its own (committed before Slack is asked):
    its (id, workspace) when this request did it; "used" or "expired" when it could not;
    None when no link has that state. Of concurrent callbacks with one state, exactly one
    gets the row: the UPDATE is conditional (``used_at IS NULL AND expires_at > now``)."""
    with session_scope(engine) as session:
        row = session.exec(
            select(SlackInstall).where(SlackInstall.state_hash == state_hash)
        ).first()
        if row is None:
            return None
        claimed = session.execute(
            update(SlackInstall)
            .where(
                col(SlackInstall.id) == row.id,
                col(SlackInstall.used_at).is_(None),
                col(SlackInstall.expires_at) > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return row.id, row.workspace_id
        session.refresh(row)
        return "used" if row.used_at is not None else "expired"


def _release(engine: Engine, install_id: uuid.UUID, claimed_at: datetime) -> None:
    """The link works again (Slack did not take its code): nothing was connected."""
    with session_scope(engine) as session:
        session.execute(
            update(SlackInstall)
            .where(col(SlackInstall.id) == install_id, col(SlackInstall.used_at) == claimed_at)
            .values(used_at=None)
            .execution_options(synchronize_session=False)
        )


def _exchange(settings: Settings, code: str) -> tuple[str, str, str, str | None] | None:
    """(team id, team name, bot token, bot user id) for the code, or None when Slack did
    not give them (an error answer, or no answer). Neither the code nor the token is logged."""
    secret = settings.slack_client_secret
    assert settings.slack_client_id and secret is not None
    try:
        response = web_client(settings).oauth_v2_access(
            client_id=settings.slack_client_id,
            client_secret=secret.get_secret_value(),
            code=code,
            redirect_uri=redirect_uri(settings),
        )
    except WEB_API_FAILURES as exc:
        log.warning("slack oauth.v2.access failed: %s", _reason(exc))
        return None
    answer: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
    team = answer.get("team") or {}
    token = answer.get("access_token")
    if not isinstance(team, dict) or not team.get("id") or not isinstance(token, str):
        log.warning("slack oauth.v2.access answered without a team or a bot token")
        return None
    bot_user = answer.get("bot_user_id")
    return (
        str(team["id"]),
        str(team.get("name") or ""),
        token,
        bot_user if isinstance(bot_user, str) else None,
    )


def _reason(exc: BaseException) -> str:
    """Slack's error code, or the kind of network failure: never the request (code, secret)."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            return f"{response['error']} (HTTP {response.status_code})"
        except (KeyError, TypeError):
            return f"HTTP {getattr(response, 'status_code', '?')}"
    return type(exc).__name__


def _bind(
    engine: Engine,
    workspace_id: uuid.UUID,
    team_id: str,
    sealed_token: str,
    bot_user_id: str | None,
    now: datetime,
) -> bool | str:
    """Connects the workspace to the team with this bot token. False when the team is
    connected to another workspace (nothing changed); else True, or the bot token of the
    other team the workspace was connected to (now replaced, to revoke)."""
    for _ in range(CHANGE_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                taken = session.exec(
                    select(Workspace.id).where(
                        Workspace.slack_team_id == team_id, Workspace.id != workspace_id
                    )
                ).first()
                workspace = session.get(Workspace, workspace_id)
                if taken is not None or workspace is None:
                    return False
                previous = workspace.slack_team_id, workspace.slack_bot_token_sealed
                touch(
                    session,
                    workspace,
                    {
                        "slack_team_id": team_id,
                        "slack_bot_token_sealed": sealed_token,
                        "slack_bot_user_id": bot_user_id,
                        "slack_installed_at": now,
                    },
                )
        except LostRace:
            continue  # a concurrent change to the workspace (its name): read it again
        except IntegrityError:
            return False  # another workspace took the team at the same moment
        if previous[0] not in (None, team_id) and previous[1] is not None:
            return previous[1]
        return True
    raise AppError(
        "conflict", "Too many changes to this workspace at once; retry in a moment.", 409
    )


def _revoke(settings: Settings, sealed_token: str, workspace_id: uuid.UUID) -> None:
    """Revokes a bot token the service no longer keeps; a failure is only logged (the app
    can still be removed in Slack's own settings)."""
    token = secret_box(settings).open(sealed_token)
    if token is None:
        return
    try:
        web_client(settings, token).auth_revoke()
    except WEB_API_FAILURES as exc:
        log.warning(
            "slack auth.revoke failed for workspace %s: %s; the token is no longer kept, "
            "remove the app in Slack's settings to be sure",
            workspace_id,
            _reason(exc),
        )


@router.delete(
    "/v1/workspace/slack",
    tags=["workspaces"],
    status_code=204,
    responses={**AUTHENTICATED, **error_responses(404, 409, 412)},
)
@retry_lost_race
def disconnect(
    workspace: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Disconnects Slack: /meet stops answering for the team, and the bot token is revoked
    at Slack (after the answer; a failure there is logged, the workspace is disconnected
    all the same). 404 when the workspace is not connected."""
    check_if_match(if_match, workspace)
    if workspace.slack_team_id is None:
        raise AppError("not_found", "This workspace is not connected to Slack.", 404)
    sealed = workspace.slack_bot_token_sealed
    touch(
        session,
        workspace,
        {
            "slack_team_id": None,
            "slack_bot_token_sealed": None,
            "slack_bot_user_id": None,
            "slack_installed_at": None,
        },
    )
    if sealed is not None:
        background.add_task(_revoke, settings, sealed, workspace.id)
    log.info("slack disconnected from workspace %s", workspace.id)
    return Response(status_code=204)
