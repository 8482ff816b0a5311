"""Turning stored participants into the core's :class:`Person` (effective values applied)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.db.models import Participant, Party, SeriesParticipant, TimeOff, Workspace
from app.errors import AppError, invalid
from app.scheduling.model import Person, parse_working_hours


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


def to_person(participant: Participant, party: Party, time_off: Sequence[TimeOff]) -> Person:
    values = effective(participant, party)
    return Person(
        id=str(participant.id),
        timezone=values["effective_timezone"],
        working_hours=parse_working_hours(values["effective_working_hours"]),
        holiday_country=values["effective_holiday_country"],
        holiday_subdivision=values["effective_holiday_subdivision"],
        time_off=tuple(sorted((t.start_date, t.end_date) for t in time_off)),
        max_stretch_minutes=participant.max_stretch_minutes,
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
    people = {i: to_person(p, party, offs[i]) for i, (p, party) in found.items()}
    missing = [i for i in wanted if i not in found]
    return people, found, missing


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
