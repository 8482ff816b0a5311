"""Managing feeds: secret subscription URLs for a participant, party, series or workspace."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, model_validator
from sqlmodel import SQLModel, col, select

from app.api.deps import NowDep, SessionDep, SettingsDep, WorkspaceDep
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.db.changes import revoke_live
from app.db.links import issue_feed, link_urls
from app.db.models import Feed, Participant, Party, Series
from app.errors import AUTHENTICATED, error_responses, invalid
from app.secret_box import secret_box
from app.services import services

router = APIRouter(prefix="/v1/feeds", tags=["feeds"], responses=AUTHENTICATED)

Scope = Literal["participant", "party", "series", "workspace"]
TARGETS: dict[str, type[SQLModel]] = {"participant": Participant, "party": Party, "series": Series}


class FeedCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"scope": "participant", "target_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}
            ]
        },
    )
    scope: Scope
    target_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _target(self) -> FeedCreate:
        if self.scope == "workspace" and self.target_id is not None:
            raise ValueError("A workspace feed has no target_id; leave it out.")
        if self.scope != "workspace" and self.target_id is None:
            raise ValueError(f"A {self.scope} feed needs target_id: the {self.scope}'s id.")
        return self


class FeedCreated(BaseModel):
    id: uuid.UUID
    scope: Scope
    target_id: uuid.UUID | None
    url: str
    webcal_url: str
    created_at: datetime


class FeedPublic(BaseModel):
    id: uuid.UUID
    scope: Scope
    target_id: uuid.UUID | None
    created_at: datetime


@router.post(
    "", status_code=201, response_model=FeedCreated, responses=error_responses(400, 413, 422)
)
def create(
    body: FeedCreate, workspace: WorkspaceDep, session: SessionDep, settings: SettingsDep
) -> FeedCreated:
    """A new secret URL, shown once here (the token is stored hashed, and sealed with
    SCHEDULER_SECRET_KEY so that ``/meet feed`` can show a person's own link again)."""
    if body.target_id is not None:
        target = session.get(TARGETS[body.scope], body.target_id)
        if target is None or getattr(target, "workspace_id", None) != workspace.id:
            raise invalid(
                ("target_id",), f"target_id does not name a {body.scope} in this workspace."
            )
    feed, token = issue_feed(
        session,
        secret_box(settings),
        workspace_id=workspace.id,
        scope=body.scope,
        target_id=body.target_id,
    )
    url, webcal = link_urls(settings.public_base, f"/feeds/{token}.ics")
    return FeedCreated(
        id=feed.id,
        scope=body.scope,
        target_id=feed.target_id,
        url=url,
        webcal_url=webcal,
        created_at=feed.created_at,
    )


@router.get("", response_model=Page[FeedPublic], responses=error_responses(422))
def list_(
    workspace: WorkspaceDep, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[FeedPublic]:
    """Live feeds (their URLs cannot be shown again; revoke and create a new one if lost)."""
    stmt = select(Feed).where(Feed.workspace_id == workspace.id, col(Feed.revoked_at).is_(None))
    rows, next_cursor = paginate(session, stmt, Feed, limit, cursor)
    items = [FeedPublic.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.delete("/{feed_id}", status_code=204, responses=error_responses(404, 422))
def revoke(
    feed_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    now: NowDep,
) -> Response:
    """Revoke at once: the next poll of the URL gets 404."""
    feed = revoke_live(session, Feed, feed_id, "feed", now, workspace_id=workspace.id)
    services(request.app).feed_cache.drop_feed(str(feed.id))
    return Response(status_code=204)
