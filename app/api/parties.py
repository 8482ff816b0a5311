"""Parties: the organisations in the relationship (client, vendor, partner)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, model_validator
from sqlmodel import select

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
    HolidayCountry,
    HolidaySubdivision,
    Name,
    TimezoneName,
    WorkingHoursJSON,
    apply_calendar_change,
    check_holiday_calendar,
)
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.db.changes import refuse_nulls, touch
from app.db.models import Participant, Party
from app.db.people import check_party_removable, reread_calendars
from app.db.replan import replan_affected
from app.errors import AUTHENTICATED, error_responses
from app.services import services

router = APIRouter(prefix="/v1/parties", tags=["parties"], responses=AUTHENTICATED)

Role = Literal["client", "vendor", "partner"]


class PartyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "OABPO Manila",
                    "role": "vendor",
                    "timezone": "Asia/Manila",
                    "working_hours": [
                        {
                            "days": ["sun", "mon", "tue", "wed", "thu"],
                            "start": "21:00",
                            "end": "06:00",
                        }
                    ],
                    "holiday_country": "PH",
                    "holiday_subdivision": None,
                }
            ]
        },
    )
    name: Name
    role: Role
    timezone: TimezoneName
    working_hours: WorkingHoursJSON
    holiday_country: HolidayCountry | None = None
    holiday_subdivision: HolidaySubdivision | None = None

    @model_validator(mode="after")
    def _calendar(self) -> PartyCreate:
        check_holiday_calendar(self.holiday_country, self.holiday_subdivision)
        return self


class PartyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    role: Role | None = None
    timezone: TimezoneName | None = None
    working_hours: WorkingHoursJSON | None = None
    holiday_country: HolidayCountry | None = None
    holiday_subdivision: HolidaySubdivision | None = None


class PartyPublic(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    timezone: str
    working_hours: list[dict[str, Any]]
    holiday_country: str | None
    holiday_subdivision: str | None
    created_at: datetime
    updated_at: datetime


def _public(party: Party, response: Response | None = None) -> PartyPublic:
    if response is not None:
        response.headers["ETag"] = etag_of(party)
    return PartyPublic.model_validate(party, from_attributes=True)


@router.post(
    "", status_code=201, response_model=PartyPublic, responses=error_responses(400, 413, 422)
)
def create(
    body: PartyCreate, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> PartyPublic:
    party = Party(workspace_id=workspace.id, **body.model_dump())
    session.add(party)
    session.flush()
    return _public(party, response)


@router.get("", response_model=Page[PartyPublic], responses=error_responses(422))
def list_(
    workspace: WorkspaceDep, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[PartyPublic]:
    stmt = select(Party).where(Party.workspace_id == workspace.id)
    rows, next_cursor = paginate(session, stmt, Party, limit, cursor)
    return Page(items=[_public(r) for r in rows], next_cursor=next_cursor)


@router.get("/{party_id}", response_model=PartyPublic, responses=error_responses(404, 422))
def read(
    party_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> PartyPublic:
    return _public(load_owned(session, Party, party_id, workspace, "party"), response)


@router.patch(
    "/{party_id}", response_model=PartyPublic, responses=error_responses(400, 404, 412, 413, 422)
)
@retry_lost_race
def update(
    party_id: uuid.UUID,
    body: PartyUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PartyPublic:
    party = load_owned(session, Party, party_id, workspace, "party")
    check_if_match(if_match, party)
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, ("name", "role", "timezone", "working_hours"))
    apply_calendar_change(changes, party.holiday_country, party.holiday_subdivision)
    if changes:
        touch(session, party, changes)
        if changes.keys() - {"name", "role"}:  # when its people can meet changed
            members = session.exec(
                select(Participant.id).where(Participant.party_id == party.id)
            ).all()
            cause = f"{party.name}'s hours, zone or holidays changed"
            settings = services(request.app).settings
            replan_affected(session, workspace, members, cause, now_of(request), settings)
            if "timezone" in changes:
                reread_calendars(session, members, now_of(request))
    return _public(party, response)


@router.delete("/{party_id}", status_code=204, responses=error_responses(404, 409, 422))
def delete(party_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Response:
    party = load_owned(session, Party, party_id, workspace, "party")
    check_party_removable(session, party)
    session.delete(party)
    return Response(status_code=204)
