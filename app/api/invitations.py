"""The outbox as people read it, ``GET /v1/deliveries``, and revoking RSVP links
(docs/api.md, "Invitations")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import select

from app.api.deps import OwnedSeries, SessionDep, WorkspaceDep
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.db.models import Delivery
from app.errors import AUTHENTICATED, error_responses

router = APIRouter(tags=["invitations"], responses=AUTHENTICATED)

Status = Literal["pending", "sent", "failed"]


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    series_id: uuid.UUID
    participant_id: uuid.UUID | None
    recipient: str
    method: Literal["REQUEST", "CANCEL"]
    only_date: date | None
    sequence: int
    status: Status
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime
    message_id: str


@router.get("/v1/deliveries", response_model=Page[DeliveryPublic], responses=error_responses(422))
def list_deliveries(
    workspace: WorkspaceDep,
    session: SessionDep,
    series_id: Annotated[uuid.UUID | None, Query()] = None,
    participant_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DeliveryPublic]:
    """Each message the service sent or will send, newest last: recipient, method,
    sequence, status, attempts and the last error."""
    stmt = select(Delivery).where(Delivery.workspace_id == workspace.id)
    if series_id is not None:
        stmt = stmt.where(Delivery.series_id == series_id)
    if participant_id is not None:
        stmt = stmt.where(Delivery.participant_id == participant_id)
    if status is not None:
        stmt = stmt.where(Delivery.status == status)
    rows, next_cursor = paginate(session, stmt, Delivery, limit, cursor)
    items = [
        DeliveryPublic.model_validate({**r.model_dump(), "message_id": r.message_id}) for r in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/v1/series/{series_id}/invitations/revoke-links",
    status_code=204,
    responses=error_responses(404, 422),
)
def revoke_links(series: OwnedSeries, session: SessionDep) -> Response:
    """Every RSVP and unsubscribe link of the series' messages stops working; the next
    messages carry new ones."""
    series.rsvp_epoch += 1
    session.add(series)
    return Response(status_code=204)
