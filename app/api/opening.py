"""A series' opening balance: burden its members carried before the service
(docs/api.md, "GET /v1/series/{id}/opening-balance")."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import (
    OwnedSeries,
    SessionDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    load_owned,
    retry_lost_race,
)
from app.api.fields import Whole
from app.db import schedules
from app.db.changes import touch
from app.db.models import Series
from app.errors import AUTHENTICATED, error_responses, invalid
from app.scheduling.limits import MAX_PARTICIPANTS, PARTICIPANT_LISTED_TWICE

router = APIRouter(prefix="/v1/series", tags=["series"], responses=AUTHENTICATED)


class OpeningLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant_id: uuid.UUID
    burden_minutes: Annotated[int, Whole, Field(ge=0, le=1_000_000)]
    note: Annotated[str, Field(max_length=500)] | None = None


class OpeningBalance(BaseModel):
    """Burden each member carried before the service: counted as prior burden by the
    planner and shown as ``opening_minutes`` in the ledger."""

    model_config = ConfigDict(extra="forbid")
    participants: Annotated[list[OpeningLine], Field(max_length=MAX_PARTICIPANTS)]


@router.get(
    "/{series_id}/opening-balance",
    response_model=OpeningBalance,
    responses=error_responses(404, 422),
)
def read_opening_balance(series: OwnedSeries) -> OpeningBalance:
    return OpeningBalance.model_validate({"participants": series.opening_balance})


@router.put(
    "/{series_id}/opening-balance",
    response_model=OpeningBalance,
    responses=error_responses(400, 404, 412, 413, 422),
)
@retry_lost_race
def put_opening_balance(
    series_id: uuid.UUID,
    body: OpeningBalance,
    workspace: WorkspaceDep,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> OpeningBalance:
    """Replace the opening balance (``[]`` clears it). Each line names a member once."""
    series = load_owned(session, Series, series_id, workspace, "series")
    check_if_match(if_match, series)
    members = {m.participant_id for m in schedules.members_of(session, series.id)}
    seen: set[uuid.UUID] = set()
    for i, line in enumerate(body.participants):
        if line.participant_id not in members:
            raise invalid(
                ("participants", i, "participant_id"),
                f"participant_id {line.participant_id} is not a member of this series; "
                "an opening balance is carried by its members.",
            )
        if line.participant_id in seen:
            raise invalid(("participants", i), PARTICIPANT_LISTED_TWICE)
        seen.add(line.participant_id)
    lines = [
        {
            "participant_id": str(x.participant_id),
            "burden_minutes": x.burden_minutes,
            "note": x.note,
        }
        for x in body.participants
    ]
    if lines != series.opening_balance:
        touch(session, series, {"opening_balance": lines})
    response.headers["ETag"] = etag_of(series)
    return OpeningBalance.model_validate({"participants": series.opening_balance})
