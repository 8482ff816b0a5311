"""A participant's own calendars, read for busy times: ``/v1/participants/{id}/calendars``.

Adding a source reads it at once: an address that is refused (SSRF rules, app.calendars.
fetch) or that cannot work as it is (401, 404, not iCalendar) is a 422 and nothing is stored;
one that is only down for now is stored with ``status: "error"`` and retried. The password
of a CalDAV source is sealed (SCHEDULER_SECRET_KEY) and never shown or logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlmodel import Session, col, func, select

from app.api.deps import NowDep, SessionDep, SettingsDep, WorkspaceDep, load_owned
from app.calendars import fetch
from app.db import calendars
from app.db.models import CalendarSource, Participant, Party
from app.errors import AUTHENTICATED, AppError, error_responses, invalid, not_found
from app.scheduling.clock import utc_datetime
from app.scheduling.model import InvalidInput
from app.secret_box import secret_box
from app.settings import Settings

router = APIRouter(prefix="/v1/participants", tags=["calendars"], responses=AUTHENTICATED)

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Credential = Annotated[str, StringConstraints(min_length=1, max_length=320)]


class CalendarCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "ics", "url": "https://calendar.example/private-4f1c/basic.ics"},
                {
                    "kind": "caldav",
                    "url": "https://dav.example/calendars/maria/work/",
                    "username": "maria",
                    "password": "an app password",
                },
            ]
        },
    )
    kind: Literal["ics", "caldav"]
    url: Url = Field(description="http(s) address; webcal:// is read as https://.")
    username: Credential | None = None
    password: Credential | None = Field(default=None, description="Stored sealed; never shown.")

    @model_validator(mode="after")
    def _credentials(self) -> CalendarCreate:
        if self.kind == "ics" and (self.username is not None or self.password is not None):
            raise InvalidInput(
                ("username",),
                "An ICS address carries its secret in the URL; username and password are for "
                'kind "caldav".',
            )
        if (self.username is None) != (self.password is None):
            raise InvalidInput(("password",), "Give both username and password, or neither.")
        return self


class BusyInterval(BaseModel):
    start: datetime
    end: datetime


class CalendarPublic(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    kind: Literal["ics", "caldav"]
    url: str
    username: str | None
    status: Literal["ok", "error", "pending"]
    last_synced_at: datetime | None = Field(description="The last successful read.")
    last_error: str | None = Field(description="Why the last read failed (null when it did not).")
    busy_intervals: list[BusyInterval] = Field(
        description="When the calendar says its owner is busy, from now to 400 days ahead; "
        "only the times are kept, never what the events are."
    )
    created_at: datetime
    warnings: list[str] = Field(
        default=[], description="Series re-planned at once because of new busy times."
    )


class CalendarList(BaseModel):
    items: list[CalendarPublic]


def _public(source: CalendarSource, warnings: list[str] | None = None) -> CalendarPublic:
    return CalendarPublic(
        id=source.id,
        participant_id=source.participant_id,
        kind=source.kind,
        url=source.url,
        username=source.username,
        status=source.status,
        last_synced_at=source.last_synced_at,
        last_error=source.last_error,
        busy_intervals=[
            BusyInterval(start=utc_datetime(a), end=utc_datetime(b)) for a, b in source.busy
        ],
        created_at=source.created_at,
        warnings=warnings or [],
    )


def _owner(
    session: Session, participant_id: uuid.UUID, workspace_id: uuid.UUID
) -> tuple[Participant, Party]:
    participant = session.get(Participant, participant_id)
    if participant is None or participant.workspace_id != workspace_id:
        raise not_found("participant")
    party = session.get(Party, participant.party_id)
    assert party is not None  # a foreign key
    return participant, party


def _source(session: Session, participant: Participant, calendar_id: uuid.UUID) -> CalendarSource:
    source = session.get(CalendarSource, calendar_id)
    if source is None or source.participant_id != participant.id:
        raise not_found("calendar")
    return source


def _checked_url(url: str, settings: Settings) -> str:
    try:
        return fetch.check_url(url, allow_private=settings.calendar_allow_private_addresses)
    except fetch.Refused as exc:
        raise invalid(("url",), exc.reason) from None
    except fetch.FetchFailed as exc:
        raise invalid(("url",), exc.reason) from None


@router.post(
    "/{participant_id}/calendars",
    status_code=201,
    response_model=CalendarPublic,
    responses=error_responses(404, 409, 413, 422),
)
def add_calendar(
    participant_id: uuid.UUID,
    body: CalendarCreate,
    workspace: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> CalendarPublic:
    """Add a calendar and read it now."""
    participant, party = _owner(session, participant_id, workspace.id)
    count = session.exec(
        select(func.count())
        .select_from(CalendarSource)
        .where(col(CalendarSource.participant_id) == participant.id)
    ).one()
    if count >= calendars.MAX_SOURCES:
        raise AppError(
            "conflict",
            f"A participant can have at most {calendars.MAX_SOURCES} calendars; delete one first.",
            409,
        )
    source = CalendarSource(
        workspace_id=workspace.id,
        participant_id=participant.id,
        kind=body.kind,
        url=_checked_url(body.url, settings),
        username=body.username,
        password_sealed=(
            None if body.password is None else secret_box(settings).seal(body.password)
        ),
    )
    reading = calendars.read_source(source, participant, party, settings, now)
    if reading.error is not None and reading.permanent:
        raise invalid(("url",), reading.error)
    warnings = calendars.apply_reading(
        session, workspace, source, participant, party, reading, now, settings
    )
    session.flush()
    return _public(source, warnings)


@router.get(
    "/{participant_id}/calendars",
    response_model=CalendarList,
    responses=error_responses(404, 422),
)
def list_calendars(
    participant_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> CalendarList:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    rows = session.exec(
        select(CalendarSource)
        .where(col(CalendarSource.participant_id) == participant.id)
        .order_by(col(CalendarSource.created_at), col(CalendarSource.id))
    ).all()
    return CalendarList(items=[_public(r) for r in rows])


@router.post(
    "/{participant_id}/calendars/{calendar_id}/sync",
    response_model=CalendarPublic,
    responses=error_responses(404, 422),
)
def sync_calendar(
    participant_id: uuid.UUID,
    calendar_id: uuid.UUID,
    workspace: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> CalendarPublic:
    """Read the calendar now; a failure is shown in ``status`` and ``last_error`` (the busy
    times of the last good read stay)."""
    participant, party = _owner(session, participant_id, workspace.id)
    source = _source(session, participant, calendar_id)
    reading = calendars.read_source(source, participant, party, settings, now)
    warnings = calendars.apply_reading(
        session, workspace, source, participant, party, reading, now, settings
    )
    session.flush()
    return _public(source, warnings)


@router.delete(
    "/{participant_id}/calendars/{calendar_id}",
    status_code=204,
    responses=error_responses(404, 422),
)
def delete_calendar(
    participant_id: uuid.UUID, calendar_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep
) -> Response:
    participant = load_owned(session, Participant, participant_id, workspace, "participant")
    session.delete(_source(session, participant, calendar_id))
    return Response(status_code=204)
