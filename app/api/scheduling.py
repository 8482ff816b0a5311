"""Ad-hoc questions: shared working hours (overlap) and ranked slot search."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from app.api.deps import SessionDep, WorkspaceDep
from app.api.fields import Instant, SearchDuration, StepMinutes, Whole
from app.db.models import Workspace
from app.db.people import load_people
from app.errors import AUTHENTICATED, error_responses, invalid
from app.scheduling.limits import MAX_PARTICIPANTS, TOO_MANY_PARTICIPANTS
from app.scheduling.model import Person
from app.scheduling.search import (
    check_search_limits,
    overlap,
    search_slots,
)
from app.scheduling.work import search_cpu_seconds
from app.services import services

router = APIRouter(prefix="/v1", tags=["scheduling"], responses=AUTHENTICATED)


def _people(
    session: Session, workspace: Workspace, ids: list[uuid.UUID], field: str
) -> list[Person]:
    people, _, missing = load_people(session, workspace, ids)
    if missing:
        raise invalid((field,), f"{missing[0]} does not name a participant in this workspace.")
    return [people[i] for i in dict.fromkeys(ids)]


class LocalSpan(BaseModel):
    start: datetime
    end: datetime
    timezone: str


class OverlapWindowOut(BaseModel):
    start: datetime
    end: datetime
    local: dict[str, LocalSpan]


class OverlapOut(BaseModel):
    windows: list[OverlapWindowOut]


def _id_list(raw: str) -> list[uuid.UUID]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise invalid(("participant_ids",), "List at least one participant id, comma-separated.")
    if len(parts) > MAX_PARTICIPANTS:
        raise invalid(("participant_ids",), TOO_MANY_PARTICIPANTS)
    ids = []
    for p in parts:
        try:
            ids.append(uuid.UUID(p))
        except ValueError:
            raise invalid(("participant_ids",), f"{p[:40]!r} is not a participant id.") from None
    return ids


@router.get("/overlap", response_model=OverlapOut, responses=error_responses(422))
def get_overlap(
    workspace: WorkspaceDep,
    session: SessionDep,
    participant_ids: Annotated[
        str,
        Query(
            max_length=8000,
            description="Comma-separated ids",
            examples=["3fa85f64-5717-4562-b3fc-2c963f66afa6,9b2e6c1a-0d4f-4e8a-9c7b-5a1d2e3f4a5b"],
        ),
    ],
    start: Annotated[Instant, Query(examples=["2026-11-02T00:00:00Z"])],
    end: Annotated[Instant, Query(examples=["2026-11-09T00:00:00Z"])],
) -> OverlapOut:
    """When every listed person is inside working hours and available, in [start, end)."""
    ids = _id_list(participant_ids)
    check_search_limits(start=start, end=end, participants=len(ids))
    people = _people(session, workspace, ids, "participant_ids")
    windows = overlap(people, start, end)
    return OverlapOut(
        windows=[
            OverlapWindowOut(
                start=w.start,
                end=w.end,
                local={
                    pid: LocalSpan(start=s, end=e, timezone=tz)
                    for pid, (s, e, tz) in w.local.items()
                },
            )
            for w in windows
        ]
    )


class SlotSearch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "participant_ids": ["3fa85f64-5717-4562-b3fc-2c963f66afa6"],
                    "optional_participant_ids": [],
                    "duration_minutes": 60,
                    "start": "2026-11-02T00:00:00Z",
                    "end": "2026-11-09T00:00:00Z",
                    "step_minutes": 15,
                    "limit": 10,
                }
            ]
        },
    )
    participant_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_PARTICIPANTS)]
    optional_participant_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_PARTICIPANTS)] = []
    duration_minutes: SearchDuration
    start: Instant
    end: Instant
    step_minutes: StepMinutes = 15
    limit: Annotated[int, Whole, Field(ge=1, le=200)] = 10


class SlotParticipant(BaseModel):
    participant_id: str
    local_start: datetime
    local_end: datetime
    timezone: str
    burden_minutes: int
    burden: float
    inside_hours: bool


class SlotConflict(BaseModel):
    participant_id: str
    reason: str


class SlotOut(BaseModel):
    start: datetime
    end: datetime
    max_burden_minutes: int
    total_burden_minutes: int
    participants: list[SlotParticipant]
    conflicts: list[SlotConflict]


class SearchOut(BaseModel):
    slots: list[SlotOut]


@router.post("/slots/search", response_model=SearchOut, responses=error_responses(400, 413, 422))
def post_search(
    body: SlotSearch, workspace: WorkspaceDep, session: SessionDep, request: Request
) -> SearchOut:
    """Feasible slots ranked by (max burden, total burden, start) over required people."""
    everyone = [*body.participant_ids, *body.optional_participant_ids]
    if len(set(everyone)) != len(everyone):
        raise invalid(("optional_participant_ids",), "List each participant once.")
    check_search_limits(
        start=body.start,
        end=body.end,
        participants=len(everyone),
        duration_minutes=body.duration_minutes,
        step_minutes=body.step_minutes,
    )
    required = _people(session, workspace, body.participant_ids, "participant_ids")
    optional = _people(
        session, workspace, body.optional_participant_ids, "optional_participant_ids"
    )
    args = (
        required,
        optional,
        body.start,
        body.end,
        body.duration_minutes,
        body.step_minutes,
        body.limit,
    )
    minutes = int((body.end - body.start).total_seconds() // 60)
    heavy = services(request.app).heavy_work
    if heavy.offload(search_cpu_seconds(minutes, body.step_minutes, len(everyone))):
        slots = heavy.call(request.scope, search_slots, *args)  # off the event loop's GIL
    else:
        slots = search_slots(*args)
    return SearchOut(
        slots=[
            SlotOut(
                start=s.start,
                end=s.end,
                max_burden_minutes=s.max_burden_minutes,
                total_burden_minutes=s.total_burden_minutes,
                participants=[
                    SlotParticipant(
                        participant_id=p.participant_id,
                        local_start=p.local_start,
                        local_end=p.local_end,
                        timezone=p.timezone,
                        burden_minutes=p.burden_minutes,
                        burden=round(p.burden_minutes / 60, 2),
                        inside_hours=p.inside_hours,
                    )
                    for p in s.participants
                    if p.burden_minutes >= 0  # infeasible optional people are conflicts
                ],
                conflicts=[
                    SlotConflict(participant_id=c.participant_id, reason=c.reason)
                    for c in s.conflicts
                ],
            )
            for s in slots
        ]
    )
