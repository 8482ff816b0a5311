"""Workspaces (admin-created tenants) and their API keys.

A workspace is connected to a Slack team by installing the Slack app (app.slack.install):
Slack says which team installed it. ``PATCH`` with ``slack_team_id`` names a team without
Slack's word, so it works only with ``SCHEDULER_ENVIRONMENT=development`` (local trials
without a Slack app); elsewhere it is a 422 pointing at the install link.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import select

from app.api.deps import (
    NowDep,
    SessionDep,
    SettingsDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    retry_lost_race,
)
from app.api.fields import Name, SlackId
from app.db.accounts import create_workspace, issue_api_key
from app.db.changes import refuse_nulls, revoke_live, touch
from app.db.models import ApiKey, Workspace
from app.errors import AUTHENTICATED, AppError, error_responses, invalid

router = APIRouter(prefix="/v1", tags=["workspaces"])


class WorkspaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class WorkspaceCreated(BaseModel):
    id: uuid.UUID
    name: str
    api_key: str


class WorkspacePublic(BaseModel):
    id: uuid.UUID
    name: str
    slack_team_id: str | None
    # When the Slack app was installed (null: not installed, or bound by a development PATCH).
    slack_installed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    # Development only (see the module's docstring); the current value is always accepted.
    slack_team_id: SlackId | None = None


class ApiKeyCreated(BaseModel):
    id: uuid.UUID
    api_key: str
    prefix: str
    created_at: datetime


def _public(ws: Workspace) -> WorkspacePublic:
    return WorkspacePublic.model_validate(ws, from_attributes=True)


@router.post(
    "/workspaces",
    status_code=201,
    response_model=WorkspaceCreated,
    responses=error_responses(400, 403, 413, 422, 503),
)
def create(
    body: WorkspaceCreate,
    session: SessionDep,
    settings: SettingsDep,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> WorkspaceCreated:
    """Create a tenant and its first API key (shown once). Needs ``X-Admin-Token``."""
    configured = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not configured:
        raise AppError(
            "forbidden",
            "Workspace creation is disabled: set SCHEDULER_ADMIN_TOKEN on the server.",
            403,
        )
    if not x_admin_token or not hmac.compare_digest(x_admin_token.encode(), configured.encode()):
        raise AppError("forbidden", "X-Admin-Token is missing or wrong.", 403)
    workspace, key = create_workspace(session, body.name)
    return WorkspaceCreated(id=workspace.id, name=workspace.name, api_key=key)


@router.get("/workspace", response_model=WorkspacePublic, responses=AUTHENTICATED)
def read(workspace: WorkspaceDep, response: Response) -> WorkspacePublic:
    response.headers["ETag"] = etag_of(workspace)
    return _public(workspace)


@router.patch(
    "/workspace",
    response_model=WorkspacePublic,
    responses={**AUTHENTICATED, **error_responses(400, 409, 412, 413, 422)},
)
@retry_lost_race
def update(
    body: WorkspaceUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> WorkspacePublic:
    check_if_match(if_match, workspace)
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name",))
    if changes.get("slack_team_id", workspace.slack_team_id) != workspace.slack_team_id:
        if settings.environment != "development":
            raise invalid(
                ["slack_team_id"],
                "A Slack team is connected by installing the Slack app: POST "
                "/v1/workspace/slack/install-link gives the link to open; DELETE "
                "/v1/workspace/slack disconnects.",
            )
        # A bot token belongs to the team it was installed in.
        changes.update(slack_bot_token_sealed=None, slack_bot_user_id=None, slack_installed_at=None)
    if changes.get("slack_team_id"):
        taken = session.exec(
            select(Workspace).where(
                Workspace.slack_team_id == changes["slack_team_id"], Workspace.id != workspace.id
            )
        ).first()
        if taken is not None:
            raise AppError(
                "conflict",
                "That Slack team is already connected to another workspace; disconnect it there.",
                409,
            )
    if changes:
        touch(session, workspace, changes)
    response.headers["ETag"] = etag_of(workspace)
    return _public(workspace)


@router.post(
    "/workspace/api-keys", status_code=201, response_model=ApiKeyCreated, responses=AUTHENTICATED
)
def create_key(workspace: WorkspaceDep, session: SessionDep) -> ApiKeyCreated:
    """A new API key for this workspace; the key is shown only in this response."""
    row, key = issue_api_key(session, workspace)
    return ApiKeyCreated(id=row.id, api_key=key, prefix=row.prefix, created_at=row.created_at)


@router.delete(
    "/workspace/api-keys/{key_id}",
    status_code=204,
    responses={**AUTHENTICATED, **error_responses(404, 422)},
)
def revoke_key(
    key_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, now: NowDep
) -> Response:
    """Revoke a key at once. Revoking the key you are using is allowed."""
    revoke_live(session, ApiKey, key_id, "API key", now, workspace_id=workspace.id)
    return Response(status_code=204)
