"""What a plan and an occurrence look like to every surface: the API's bodies, Slack's
replies and the share page all read these views (a router is a leaf; nothing imports it).

The views are pure: built from the planner's values, the series' context and stored rows.
:func:`plan_json` is picklable with its arguments, so a big plan's answer is made in the
heavy-work process that planned it (:mod:`app.serving.heavy`) and its worker only passes bytes on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.db.current import Current
from app.db.models import Occurrence
from app.db.schedules import SeriesContext, named
from app.scheduling.model import zone
from app.scheduling.planner import Plan

Policy = Literal["rotate", "fixed"]
View = Literal["full", "compact"]


class ParticipantSlot(BaseModel):
    participant_id: str
    local_start: datetime
    local_end: datetime
    timezone: str
    burden_minutes: int
    inside_hours: bool
    response: Literal["accepted", "declined", "proposed"] | None = Field(
        default=None,
        description="Their answer to the invitation (RSVP links): for this occurrence, else "
        "for the series; null when they have not answered.",
    )


class ConflictOut(BaseModel):
    participant_id: str
    reason: str


class AbsentOut(BaseModel):
    """A quorum member who cannot attend this occurrence: they carry no burden for it."""

    participant_id: str
    reason: str


class PlannedOccurrenceOut(BaseModel):
    id: uuid.UUID | None = None
    index: int
    date: date
    start: datetime
    end: datetime
    participants: list[ParticipantSlot]
    conflicts: list[ConflictOut]
    absent: list[AbsentOut] = []
    notices: list[str]
    sequence: int | None = None
    changes: list[str] = []  # a plan is current by definition (see OccurrenceOut)


class UnschedulableOut(BaseModel):
    date: date
    reason: str


class BurdenOut(BaseModel):
    participant_id: str
    party_id: uuid.UUID
    attendance: Literal["required", "quorum", "optional"] = "required"
    prior_minutes: int
    planned_minutes: int
    total_minutes: int


class PartyBurdenOut(BaseModel):
    party_id: uuid.UUID
    total_minutes: int


class SkippedPastOut(BaseModel):
    count: int = Field(
        description="Dates of the series that have passed without an occurrence: not planned."
    )
    first_kept: date | None = Field(
        description="The first date the plan covers (planned or unschedulable); null if none."
    )
    detail: str | None = Field(description="The same as a sentence; null when count is 0.")


class PlanOut(BaseModel):
    series_id: uuid.UUID
    policy: Policy
    notices: list[str] = Field(
        default=[],
        description="About the plan's inputs as a whole, e.g. a member's calendar that could "
        "not be read lately (its last good busy times were used).",
    )
    occurrences: list[PlannedOccurrenceOut]
    unschedulable: list[UnschedulableOut]
    burden: list[BurdenOut]
    party_burden: list[PartyBurdenOut]
    max_burden_minutes: int
    total_burden_minutes: int
    optimal: bool = Field(
        description="True when (max, total) burden is proven optimal; False only if the "
        "solver's work budget ran out on an unusually hard series (the plan is still "
        "complete and feasible)."
    )
    skipped_past: SkippedPastOut
    optimal_reason: str | None = Field(
        default=None, description="Why optimal is false, in a sentence; null when it is true."
    )
    occurrence_count: int = Field(
        default=0, description="Planned occurrences in all (occurrences may be one page)."
    )
    next_offset: int | None = Field(
        default=None, description="The offset of the next page of occurrences; null at the end."
    )


@dataclass(frozen=True)
class PlanFrame:
    """What a plan's answer needs of its series besides the plan (small and picklable)."""

    series_id: uuid.UUID
    parties: dict[str, uuid.UUID]  # participant id -> party id
    names: dict[str, str]  # participant id -> display name
    notices: tuple[str, ...] = ()  # about the inputs: calendars that could not be read

    @classmethod
    def of(cls, ctx: SeriesContext) -> PlanFrame:
        return cls(
            series_id=ctx.series.id,
            parties={str(pid): party.id for pid, (_, party) in ctx.rows.items()},
            names={str(pid): row.name for pid, (row, _) in ctx.rows.items()},
            notices=tuple(ctx.calendar_notices),
        )


def plan_out(
    frame: PlanFrame,
    plan: Plan,
    stored: dict[str, Occurrence] | None = None,
    view: View = "full",
    offset: int = 0,
    limit: int | None = None,
) -> PlanOut:
    occurrences = []
    end = len(plan.occurrences) if limit is None else min(len(plan.occurrences), offset + limit)
    for occ in plan.occurrences[offset:end]:
        row = (stored or {}).get(occ.date.isoformat())
        occurrences.append(
            PlannedOccurrenceOut(
                id=row.id if row is not None else None,
                sequence=row.sequence if row is not None else None,
                index=occ.index,
                date=occ.date,
                start=occ.start,
                end=occ.end,
                # The planner's own values: built as they are (no validation pass), they are
                # serialized as any model is.
                participants=[
                    ParticipantSlot.model_construct(
                        participant_id=p.participant_id,
                        local_start=p.local_start,
                        local_end=p.local_end,
                        timezone=p.timezone,
                        burden_minutes=p.burden_minutes,
                        inside_hours=p.inside_hours,
                    )
                    for p in (occ.participants if view == "full" else ())
                    if p.burden_minutes >= 0  # conflicts (optional) and absent (quorum)
                ],
                conflicts=[
                    ConflictOut.model_validate(c, from_attributes=True) for c in occ.conflicts
                ],
                absent=[AbsentOut.model_validate(a, from_attributes=True) for a in occ.absent],
                notices=list(occ.notices),
            )
        )
    burden = [
        BurdenOut(
            participant_id=b.participant_id,
            party_id=frame.parties[b.participant_id],
            attendance=b.attendance,
            prior_minutes=b.prior_minutes,
            planned_minutes=b.planned_minutes,
            total_minutes=b.total_minutes,
        )
        for b in plan.burden
    ]
    parties: dict[uuid.UUID, int] = {}
    for b in burden:
        parties[b.party_id] = parties.get(b.party_id, 0) + b.total_minutes
    return PlanOut(
        series_id=frame.series_id,
        policy=plan.policy,
        notices=list(frame.notices),
        occurrences=occurrences,
        unschedulable=[UnschedulableOut(date=u.date, reason=u.reason) for u in plan.unschedulable],
        burden=burden,
        party_burden=[
            PartyBurdenOut(party_id=k, total_minutes=v) for k, v in sorted(parties.items(), key=str)
        ],
        max_burden_minutes=plan.max_burden_minutes,
        total_burden_minutes=plan.total_burden_minutes,
        optimal=plan.optimal,
        skipped_past=SkippedPastOut(
            count=plan.skipped_past.count,
            first_kept=plan.skipped_past.first_kept,
            detail=plan.skipped_past.sentence(),
        ),
        optimal_reason=plan.optimal_reason,
        occurrence_count=len(plan.occurrences),
        next_offset=end if end < len(plan.occurrences) else None,
    )


class OccurrenceOut(BaseModel):
    id: uuid.UUID
    series_id: uuid.UUID
    index: int
    date: date
    start: datetime
    end: datetime
    status: Literal["scheduled", "cancelled"]
    sequence: int
    pinned: bool = False
    participants: list[ParticipantSlot]
    absent: list[AbsentOut] = []
    forced_for: list[str] = []
    held: bool = True
    not_attended: list[str] = []
    stale: bool = False
    changes: list[str] = []
    notices: list[str]
    created_at: datetime
    updated_at: datetime


def occurrence_out(
    occ: Occurrence, ctx: SeriesContext, current: Current | None = None
) -> OccurrenceOut:
    """A stored occurrence as the API shows it; with ``current`` (a future one read against
    today's data, :mod:`app.db.current`) its burden and absent members as they stand now,
    and what changed since it was scheduled."""
    members = {str(m.participant_id) for m in ctx.members}
    burden = occ.burden if current is None else current.burden
    absent = occ.absent if current is None else current.absent
    slots = []
    answers = {str(m.participant_id): m.response for m in ctx.members}
    for pid, minutes in sorted(burden.items()):
        person = ctx.people.get(uuid.UUID(pid))
        if person is None or pid not in members:
            continue
        tz = zone(person.timezone)
        slots.append(
            ParticipantSlot(
                participant_id=pid,
                local_start=occ.start.astimezone(tz),
                local_end=occ.end.astimezone(tz),
                timezone=person.timezone,
                burden_minutes=minutes,
                inside_hours=minutes == 0,
                response=occ.responses.get(pid) or answers.get(pid),
            )
        )
    data = occ.model_dump()
    data["participants"] = slots
    data["absent"] = [
        AbsentOut(participant_id=pid, reason=why)
        for pid, why in sorted(absent.items())
        if pid in members
    ]
    if current is not None:
        data["stale"], data["changes"] = current.stale, list(current.changes)
    return OccurrenceOut.model_validate(data)


def plan_json(
    frame: PlanFrame,
    view: View,
    offset: int,
    limit: int | None,
    plan: Plan,
) -> bytes:
    """The answer to a plan preview as its JSON body, the names put in: what the API sends."""
    return (
        plan_out(frame, named(plan, frame.names), view=view, offset=offset, limit=limit)
        .model_dump_json()
        .encode()
    )
