"""Share links of a series: secret, revocable URLs of its read-only timeline page."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlmodel import col, select

from app.api.deps import NowDep, OwnedSeries, SessionDep, SettingsDep, WorkspaceDep
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.db.changes import revoke_live
from app.db.links import issue_link, link_urls
from app.db.models import ShareLink

router = APIRouter(prefix="/v1/series", tags=["shares"])


class ShareCreated(BaseModel):
    id: uuid.UUID
    series_id: uuid.UUID
    url: str
    created_at: datetime


class SharePublic(BaseModel):
    id: uuid.UUID
    series_id: uuid.UUID
    created_at: datetime


def share_path(token: str) -> str:
    return f"/share/{token}"


@router.post("/{series_id}/share", status_code=201, response_model=ShareCreated)
def create(
    series: OwnedSeries, workspace: WorkspaceDep, session: SessionDep, settings: SettingsDep
) -> ShareCreated:
    """A new secret URL of the series' timeline page (shown once; stored only as a hash)."""
    link, token = issue_link(session, ShareLink, workspace_id=workspace.id, series_id=series.id)
    url, _ = link_urls(settings.public_base, share_path(token))
    return ShareCreated(id=link.id, series_id=series.id, url=url, created_at=link.created_at)


@router.get("/{series_id}/shares", response_model=Page[SharePublic])
def list_(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[SharePublic]:
    """Live share links (their URLs cannot be shown again; revoke and share anew if lost)."""
    stmt = select(ShareLink).where(
        ShareLink.series_id == series.id, col(ShareLink.revoked_at).is_(None)
    )
    rows, next_cursor = paginate(session, stmt, ShareLink, limit, cursor)
    items = [SharePublic.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.delete("/{series_id}/shares/{share_id}", status_code=204)
def revoke(series: OwnedSeries, share_id: uuid.UUID, session: SessionDep, now: NowDep) -> Response:
    """Revoke at once: the page's URL answers 404 from now on."""
    revoke_live(session, ShareLink, share_id, "share link", now, series_id=series.id)
    return Response(status_code=204)
