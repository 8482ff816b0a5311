"""Moving or cancelling one occurrence (``sequence`` grows with every change)."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, model_validator

from app.api.deps import (
    SessionDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    load_owned,
    now_of,
    retry_lost_race,
)
from app.api.fields import Instant
from app.db import schedules
from app.db.changes import touch
from app.db.models import Occurrence, Series
from app.errors import AUTHENTICATED, AppError, error_responses, invalid
from app.scheduling.burden import burden_minutes
from app.views.plans import OccurrenceOut, occurrence_out

router = APIRouter(prefix="/v1/occurrences", tags=["series"], responses=AUTHENTICATED)


class OccurrenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Instant | None = None
    status: Literal["scheduled", "cancelled"] | None = None

    @model_validator(mode="after")
    def _one_change(self) -> OccurrenceUpdate:
        if self.start is None and self.status is None:
            raise ValueError("Give start (to move) or status (to cancel or restore).")
        if self.start is not None and (self.start.second or self.start.microsecond):
            raise ValueError("start must be a whole minute, e.g. 2026-11-24T14:00:00Z.")
        return self


def _check_quorums_met(ctx: schedules.SeriesContext, absent: dict[str, str]) -> None:
    """A moved occurrence still has each party's quorum (422 naming who cannot come)."""
    for quorum in ctx.quorums():
        away = [p for p in quorum.members if p.id in absent]
        if len(quorum.members) - len(away) < quorum.min_attendees:
            why = "; ".join(f"{ctx.name_of(p.id)}: {absent[p.id]}" for p in away)
            raise invalid(
                ("start",),
                f"{quorum.party}'s quorum of {quorum.min_attendees} cannot be met then: "
                f"{len(quorum.members) - len(away)} of its {len(quorum.members)} quorum members "
                f"can attend ({why}). Pick another time.",
            )


@router.patch(
    "/{occurrence_id}",
    response_model=OccurrenceOut,
    responses=error_responses(400, 404, 409, 412, 413, 422),
)
@retry_lost_race
def update(
    occurrence_id: uuid.UUID,
    body: OccurrenceUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> OccurrenceOut:
    occ = load_owned(session, Occurrence, occurrence_id, workspace, "occurrence")
    check_if_match(if_match, occ)
    series = load_owned(session, Series, occ.series_id, workspace, "series")
    ctx = schedules.load_context(session, workspace, series)
    now = now_of(request)
    if occ.start < now:
        raise AppError("conflict", "This occurrence has already started; it cannot change.", 409)
    changes: dict[str, object] = {}
    # Stored and answered in UTC, whatever offset the client wrote.
    start = body.start.astimezone(UTC) if body.start is not None else None
    if start is not None and start != occ.start:
        if start < now:
            raise invalid(("start",), "The new start is in the past; pick a future time.")
        burden: dict[str, int] = {}
        absent: dict[str, str] = {}
        for member in ctx.members:
            person = ctx.people[member.participant_id]
            result = burden_minutes(person, start, series.duration_minutes)
            if result.minutes is None:
                if member.required:
                    raise invalid(
                        ("start",),
                        f"{ctx.name_of(member.participant_id)} cannot attend then: "
                        f"{result.reason}. Pick another time.",
                    )
                if member.attendance == "quorum":
                    absent[str(member.participant_id)] = result.reason or "unavailable"
                continue
            burden[str(member.participant_id)] = result.minutes
        _check_quorums_met(ctx, absent)
        changes["start"] = start
        changes["end"] = start + timedelta(minutes=series.duration_minutes)
        changes["burden"] = burden
        changes["absent"] = absent
        if "moved by hand" not in occ.notices:
            changes["notices"] = [*occ.notices, "moved by hand"]
    if body.status is not None and body.status != occ.status:
        changes["status"] = body.status
    if changes:
        # The series row first, as a schedule run takes it (no lock-order deadlock): a run
        # planned before this change no longer claims it, one in progress is waited for.
        schedules.hold_schedule(session, series)
        touch(session, occ, changes)  # sequence + 1, or LostRace
    response.headers["ETag"] = etag_of(occ)
    return occurrence_out(occ, ctx)
