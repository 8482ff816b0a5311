"""Turning stored participants into the core's :class:`Person` (effective values applied)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.db.models import Participant, Party, TimeOff, Workspace
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
