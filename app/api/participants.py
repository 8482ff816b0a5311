"""Participants (people in a party) and their time off."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select
from sqlmodel import delete as delete_rows

from app.api.deps import (
    SessionDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    load_owned,
    now_of,
    retry_lost_race,
)
from app.api.fields import (
    Day,
    Email,
    HolidayCountry,
    HolidaySubdivision,
    Name,
    ShortText,
    SlackId,
    TimezoneName,
    Whole,
    WorkingHoursJSON,
    apply_calendar_change,
    check_holiday_calendar,
)
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.db.changes import refuse_nulls, touch
from app.db.content_version import SHOWN_ONLY
from app.db.current import stale_warnings
from app.db.models import CalendarSource, Participant, Party, TimeOff
from app.db.people import (
    check_participant_removable,
    check_slack_user_free,
    effective,
    party_in,
    reread_calendars,
)
from app.db.replan import replan_affected
from app.errors import AUTHENTICATED, error_responses, not_found
from app.scheduling.model import InvalidInput
from app.services import services

router = APIRouter(prefix="/v1/participants", tags=["participants"], responses=AUTHENTICATED)

StretchMinutes = Annotated[int, Whole, Field(ge=0, le=720, description="0–720 minutes")]
MAX_TIME_OFF_DAYS = 731


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Maria Santos",
                    "email": "maria@oabpo.example",
                    "party_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                    "timezone": "Asia/Manila",
                    "max_stretch_minutes": 180,
                    "slack_user_id": "U024BE7LH",
                }
            ]
        },
    )
    name: Name
    party_id: uuid.UUID
    email: Email | None = None
    timezone: TimezoneName | None = None
    working_hours: WorkingHoursJSON | None = None
    holiday_country: HolidayCountry | None = None
    holiday_subdivision: HolidaySubdivision | None = None
    max_stretch_minutes: StretchMinutes = 180
    slack_user_id: SlackId | None = None
    # A Slack Connect user: their own Slack team, when it is not the workspace's (app.slack).
    slack_team_id: SlackId | None = None

    @model_validator(mode="after")
    def _calendar(self) -> ParticipantCreate:
        check_holiday_calendar(self.holiday_country, self.holiday_subdivision)
        return self


class ParticipantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    party_id: uuid.UUID | None = None
    email: Email | None = None
    timezone: TimezoneName | None = None
    working_hours: WorkingHoursJSON | None = None
    holiday_country: HolidayCountry | None = None
    holiday_subdivision: HolidaySubdivision | None = None
    max_stretch_minutes: StretchMinutes | None = None
    slack_user_id: SlackId | None = None
    slack_team_id: SlackId | None = None


class ParticipantPublic(BaseModel):
    id: uuid.UUID
    name: str
    email: str | None
    party_id: uuid.UUID
    timezone: str | None
    working_hours: list[dict[str, Any]] | None
    holiday_country: str | None
    holiday_subdivision: str | None
    max_stretch_minutes: int
    slack_user_id: str | None
    slack_team_id: str | None
    effective_timezone: str
    effective_working_hours: list[dict[str, Any]]
    effective_holiday_country: str | None
    effective_holiday_subdivision: str | None
    created_at: datetime
    updated_at: datetime


class TimeOffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"start_date": "2026-12-24", "end_date": "2026-12-26", "note": "Holidays"}]
        },
    )
    start_date: Day
    end_date: Day
    note: ShortText | None = None

    @model_validator(mode="after")
    def _range(self) -> TimeOffCreate:
        if self.end_date < self.start_date:
            raise InvalidInput(
                ("end_date",), "end_date is before start_date; both dates are inclusive."
            )
        if (self.end_date - self.start_date).days >= MAX_TIME_OFF_DAYS:
            raise InvalidInput(
                ("end_date",), f"Time off can span at most {MAX_TIME_OFF_DAYS} days; split it."
            )
        return self


class TimeOffPublic(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    start_date: date
    end_date: date
    note: str | None
    created_at: datetime
    warnings: list[str] = Field(
        default=[],
        description="Stored occurrences this time off puts out of date, a sentence each "
        "(POST only; schedule the series to bring them up to date).",
    )


def public_participant(
    participant: Participant, party: Party, response: Response | None = None
) -> ParticipantPublic:
    if response is not None:
        response.headers["ETag"] = etag_of(participant)
    data = participant.model_dump()
    data.update(effective(participant, party))
    return ParticipantPublic.model_validate(data)


@router.post(
    "",
    status_code=201,
    response_model=ParticipantPublic,
    responses=error_responses(400, 409, 413, 422),
)
def create(
    body: ParticipantCreate, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> ParticipantPublic:
    party = party_in(session, workspace, body.party_id)
    check_slack_user_free(session, workspace, body.slack_user_id, None)
    participant = Participant(workspace_id=workspace.id, **body.model_dump())
    session.add(participant)
    session.flush()
    return public_participant(participant, party, response)


@router.get("", response_model=Page[ParticipantPublic], responses=error_responses(422))
def list_(
    workspace: WorkspaceDep,
    session: SessionDep,
    party_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ParticipantPublic]:
    stmt = select(Participant).where(Participant.workspace_id == workspace.id)
    if party_id is not None:
        stmt = stmt.where(Participant.party_id == party_id)
    rows, next_cursor = paginate(session, stmt, Participant, limit, cursor)
    parties = {
        p.id: p for p in session.exec(select(Party).where(Party.workspace_id == workspace.id))
    }
    items = [public_participant(r, parties[r.party_id]) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{participant_id}", response_model=ParticipantPublic, responses=error_responses(404, 422)
)
def read(
    participant_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> ParticipantPublic:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    party = session.get(Party, participant.party_id)
    assert party is not None
    return public_participant(participant, party, response)


@router.patch(
    "/{participant_id}",
    response_model=ParticipantPublic,
    responses=error_responses(400, 404, 409, 412, 413, 422),
)
@retry_lost_race
def update(
    participant_id: uuid.UUID,
    body: ParticipantUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> ParticipantPublic:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    check_if_match(if_match, participant)
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name", "party_id", "max_stretch_minutes"))
    party_id = changes.get("party_id", participant.party_id)
    party = party_in(session, workspace, party_id)
    check_slack_user_free(session, workspace, changes.get("slack_user_id"), participant.id)
    apply_calendar_change(changes, participant.holiday_country, participant.holiday_subdivision)
    if changes:
        touch(session, participant, changes)
        # When they can meet changed (the Slack team only says who they are on Slack).
        if changes.keys() - SHOWN_ONLY - {"slack_team_id"}:
            cause = f"{participant.name}'s availability changed"
            settings = services(request.app).settings
            replan_affected(session, workspace, [participant.id], cause, now_of(request), settings)
        if changes.keys() & {"timezone", "email", "party_id"}:
            reread_calendars(session, [participant.id], now_of(request))
    return public_participant(participant, party, response)


@router.delete("/{participant_id}", status_code=204, responses=error_responses(404, 409, 422))
def delete(participant_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Response:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    check_participant_removable(session, participant)
    # One statement, before the participant: deleting loaded rows let the unit of work order
    # the participant first, the FK cascade then removed them and SQLAlchemy warned.
    session.exec(delete_rows(TimeOff).where(col(TimeOff.participant_id) == participant.id))
    session.exec(
        delete_rows(CalendarSource).where(col(CalendarSource.participant_id) == participant.id)
    )
    session.delete(participant)
    return Response(status_code=204)


@router.post(
    "/{participant_id}/time-off",
    status_code=201,
    response_model=TimeOffPublic,
    responses=error_responses(400, 404, 413, 422),
)
def add_time_off(
    participant_id: uuid.UUID,
    body: TimeOffCreate,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
) -> TimeOffPublic:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    off = TimeOff(workspace_id=workspace.id, participant_id=participant.id, **body.model_dump())
    session.add(off)
    # The participant's own row stays as it was: a day off is a resource of its own, not part
    # of the participant's representation, so their ETag must not move (an edit based on an
    # earlier read of them is still good). Plans read it through the workspace's
    # time_off_version (app.db.content_version).
    session.flush()
    answer = TimeOffPublic.model_validate(off, from_attributes=True)
    now = now_of(request)
    answer.warnings = stale_warnings(
        session, workspace, participant.id, off.start_date, off.end_date, now
    )
    cause = f"{participant.name} has time off from {off.start_date} to {off.end_date}"
    settings = services(request.app).settings
    answer.warnings += replan_affected(session, workspace, [participant.id], cause, now, settings)
    return answer


@router.get(
    "/{participant_id}/time-off",
    response_model=Page[TimeOffPublic],
    responses=error_responses(404, 422),
)
def list_time_off(
    participant_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TimeOffPublic]:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    stmt = select(TimeOff).where(TimeOff.participant_id == participant.id)
    rows, next_cursor = paginate(session, stmt, TimeOff, limit, cursor)
    items = [TimeOffPublic.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.delete(
    "/{participant_id}/time-off/{time_off_id}",
    status_code=204,
    responses=error_responses(404, 422),
)
def delete_time_off(
    participant_id: uuid.UUID, time_off_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> Response:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    off = session.get(TimeOff, time_off_id)
    if off is None or off.participant_id != participant.id:
        raise not_found("time off")
    session.delete(off)
    return Response(status_code=204)
