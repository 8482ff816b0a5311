"""Turning stored participants into the core's :class:`Person` (effective values applied)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.db.models import (
    CalendarSource,
    Participant,
    Party,
    SeriesParticipant,
    TimeOff,
    Workspace,
)
from app.errors import AppError, invalid
from app.scheduling.model import NOT_BUSY, BusyTimes, Person, parse_working_hours


def effective(participant: Participant, party: Party) -> dict[str, Any]:
    """The participant's own values where set, the party's otherwise."""
    own_calendar = participant.holiday_country is not None
    return {
        "effective_timezone": participant.timezone or party.timezone,
        "effective_working_hours": (
            participant.working_hours
            if participant.working_hours is not None
            else party.working_hours
        ),
        "effective_holiday_country": (
            participant.holiday_country if own_calendar else party.holiday_country
        ),
        "effective_holiday_subdivision": (
            participant.holiday_subdivision if own_calendar else party.holiday_subdivision
        ),
    }


def to_person(
    participant: Participant,
    party: Party,
    time_off: Sequence[TimeOff],
    busy: BusyTimes = NOT_BUSY,
) -> Person:
    values = effective(participant, party)
    return Person(
        id=str(participant.id),
        timezone=values["effective_timezone"],
        working_hours=parse_working_hours(values["effective_working_hours"]),
        holiday_country=values["effective_holiday_country"],
        holiday_subdivision=values["effective_holiday_subdivision"],
        time_off=tuple(sorted((t.start_date, t.end_date) for t in time_off)),
        max_stretch_minutes=participant.max_stretch_minutes,
        busy=busy,
    )


def load_people(
    session: Session, workspace: Workspace, ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, Person], dict[uuid.UUID, tuple[Participant, Party]], list[uuid.UUID]]:
    """People of this workspace by id, their rows, and the ids that are not in it."""
    wanted = list(dict.fromkeys(ids))
    rows = session.exec(
        select(Participant, Party)
        .join(Party, col(Party.id) == col(Participant.party_id))
        .where(col(Participant.id).in_(wanted), Participant.workspace_id == workspace.id)
    ).all()
    found = {p.id: (p, party) for p, party in rows}
    offs: dict[uuid.UUID, list[TimeOff]] = {i: [] for i in found}
    if found:
        for off in session.exec(
            select(TimeOff).where(col(TimeOff.participant_id).in_(list(found)))
        ):
            offs[off.participant_id].append(off)
    busy = busy_of(session, list(found))
    people = {
        i: to_person(p, party, offs[i], busy.get(i, NOT_BUSY)) for i, (p, party) in found.items()
    }
    missing = [i for i in wanted if i not in found]
    return people, found, missing


def busy_of(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, BusyTimes]:
    """Each participant's busy times from all their calendar sources (the last good read
    of each; app.db.calendars)."""
    found: dict[uuid.UUID, list[tuple[int, int]]] = {}
    if not ids:
        return {}
    for participant_id, busy in session.exec(
        select(CalendarSource.participant_id, CalendarSource.busy).where(
            col(CalendarSource.participant_id).in_(list(ids)), CalendarSource.busy_digest != ""
        )
    ):
        found.setdefault(participant_id, []).extend((int(a), int(b)) for a, b in busy)
    return {pid: BusyTimes(pairs) for pid, pairs in found.items()}


def calendar_notices(session: Session, names: Mapping[uuid.UUID, str]) -> list[str]:
    """One sentence per failing calendar source of these people (by id, with their names),
    for every plan of theirs."""
    wanted = list(names)
    if not wanted:
        return []
    rows = session.exec(
        select(CalendarSource.participant_id, CalendarSource.failing_since)
        .where(col(CalendarSource.participant_id).in_(wanted), CalendarSource.status == "error")
        .order_by(col(CalendarSource.failing_since))
    ).all()
    said: list[str] = []
    for participant_id, since in rows:
        when = "" if since is None else f" since {since:%H:%M} UTC on {since:%d %b %Y}"
        sentence = (
            f"{names.get(participant_id, 'A participant')}'s calendar could not be read{when}; "
            "busy times may be out of date."
        )
        if sentence not in said:
            said.append(sentence)
    return said


def reread_calendars(session: Session, ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Their calendars are due now: all-day and floating times are read in the owner's zone,
    and declines matched by their email, so a change of either reads them afresh (the next
    background round does it; app.db.calendars)."""
    if ids:
        session.execute(
            update(CalendarSource)
            .where(col(CalendarSource.participant_id).in_(list(ids)))
            .values(next_sync_at=now)
            .execution_options(synchronize_session=False)
        )


def party_in(session: Session, workspace: Workspace, party_id: uuid.UUID) -> Party:
    """The party a participant is put in: one of this workspace's (422 otherwise)."""
    party = session.get(Party, party_id)
    if party is None or party.workspace_id != workspace.id:
        raise invalid(("party_id",), "party_id does not name a party in this workspace.")
    return party


def check_slack_user_free(
    session: Session, workspace: Workspace, slack_user_id: str | None, me: uuid.UUID | None
) -> None:
    """A Slack user is linked to one participant of a workspace at most (409)."""
    if not slack_user_id:
        return
    other = session.exec(
        select(Participant.id).where(
            Participant.workspace_id == workspace.id,
            Participant.slack_user_id == slack_user_id,
            Participant.id != me,
        )
    ).first()
    if other is not None:
        raise AppError(
            "conflict", f"Slack user {slack_user_id} is already linked to another participant.", 409
        )


def check_participant_removable(session: Session, participant: Participant) -> None:
    """A member of a series stays until the series lets them go (409)."""
    in_series = session.exec(
        select(SeriesParticipant.series_id).where(
            SeriesParticipant.participant_id == participant.id
        )
    ).first()
    if in_series is not None:
        raise AppError(
            "conflict",
            "This participant is in a meeting series; remove them from the series first.",
            409,
        )


def check_party_removable(session: Session, party: Party) -> None:
    """A party with participants stays (409)."""
    members = session.exec(select(Participant.id).where(Participant.party_id == party.id)).first()
    if members is not None:
        raise AppError(
            "conflict", "This party still has participants; move or delete them first.", 409
        )
