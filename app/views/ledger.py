"""The burden ledger people read (docs/api.md, "GET /v1/series/{id}/balance"): per member and
per party, as JSON or CSV; and the occurrences as CSV."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from starlette.responses import Response

from app.api.pagination import Page
from app.db.schedules import LedgerLine, PartyLine, SeriesContext
from app.views.csv_out import csv_response
from app.views.plans import OccurrenceOut


class LedgerOut(BaseModel):
    opening_minutes: int = Field(
        default=0, description="Carried from before the service (the opening balance)."
    )
    past_minutes: int
    scheduled_minutes: int
    total_minutes: int = Field(description="opening + past + scheduled.")


class ParticipantLedger(LedgerOut):
    participant_id: str
    party_id: uuid.UUID
    name: str
    required: bool


class PartyLedger(LedgerOut):
    party_id: uuid.UUID
    name: str
    members: int = Field(description="Current members of the series in this party.")
    mean_minutes: int = Field(description="total_minutes per member (halves up).")
    max_minutes: int = Field(description="The largest member total_minutes.")


class BalanceOut(BaseModel):
    series_id: uuid.UUID
    as_of: datetime
    participants: list[ParticipantLedger]
    parties: list[PartyLedger]


def balance_out(
    ctx: SeriesContext,
    people: dict[str, LedgerLine],
    parties: dict[uuid.UUID, PartyLine],
    now: datetime,
) -> BalanceOut:
    """The ledger of :func:`app.db.schedules.ledger` as the API answers it."""
    required = {str(m.participant_id): m.required for m in ctx.members}
    names = {party.id: party.name for _, party in ctx.rows.values()}
    series = ctx.series
    return BalanceOut(
        series_id=series.id,
        as_of=now,
        participants=[
            ParticipantLedger(
                participant_id=pid,
                party_id=ctx.party_of(pid),
                name=ctx.name_of(pid),
                required=required.get(pid, False),
                opening_minutes=line.opening,
                past_minutes=line.past,
                scheduled_minutes=line.scheduled,
                total_minutes=line.total,
            )
            for pid, line in sorted(people.items())
            if uuid.UUID(pid) in ctx.rows
        ],
        parties=[
            PartyLedger(
                party_id=party_id,
                name=names[party_id],
                members=line.members,
                mean_minutes=line.mean,
                max_minutes=line.largest,
                opening_minutes=line.opening,
                past_minutes=line.past,
                scheduled_minutes=line.scheduled,
                total_minutes=line.total,
            )
            for party_id, line in sorted(parties.items(), key=lambda kv: str(kv[0]))
        ],
    )


BALANCE_CSV = (
    "kind", "id", "name", "party_id", "party", "opening_minutes", "past_minutes",
    "scheduled_minutes", "total_minutes", "members", "mean_minutes", "max_minutes",
)  # fmt: skip


def balance_csv(ctx: SeriesContext, answer: BalanceOut) -> Response:
    """One row per participant, then one per party, as the JSON ledger has them."""
    parties = {party.id: party.name for _, party in ctx.rows.values()}
    rows: list[list[object]] = [
        [
            "participant",
            p.participant_id,
            p.name,
            p.party_id,
            parties.get(p.party_id),
            p.opening_minutes,
            p.past_minutes,
            p.scheduled_minutes,
            p.total_minutes,
            None,
            None,
            None,
        ]
        for p in answer.participants
    ]
    rows += [
        [
            "party",
            p.party_id,
            p.name,
            p.party_id,
            p.name,
            p.opening_minutes,
            p.past_minutes,
            p.scheduled_minutes,
            p.total_minutes,
            p.members,
            p.mean_minutes,
            p.max_minutes,
        ]
        for p in answer.parties
    ]
    return csv_response(BALANCE_CSV, rows, f"balance-{answer.series_id}.csv")


OCCURRENCE_CSV = (
    "occurrence_id", "date", "start", "end", "status", "sequence", "pinned", "held",
    "participant_id", "name", "attendance", "local_start", "timezone", "burden_minutes",
    "absent_reason",
)  # fmt: skip


def occurrences_csv(ctx: SeriesContext, page: Page[OccurrenceOut]) -> Response:
    """One row per occurrence and member (attending or absent); the next page's cursor in
    ``X-Next-Cursor``."""
    attendance = {str(m.participant_id): m.attendance for m in ctx.members}
    rows = []
    for occ in page.items:
        head = [occ.id, occ.date, occ.start.isoformat(), occ.end.isoformat(), occ.status,
                occ.sequence, occ.pinned, occ.held]  # fmt: skip
        for p in occ.participants:
            rows.append([*head, p.participant_id, ctx.name_of(p.participant_id),
                         attendance.get(p.participant_id), p.local_start.isoformat(),
                         p.timezone, p.burden_minutes, None])  # fmt: skip
        for a in occ.absent:
            rows.append([*head, a.participant_id, ctx.name_of(a.participant_id),
                         attendance.get(a.participant_id), None, None, None, a.reason])  # fmt: skip
    response = csv_response(OCCURRENCE_CSV, rows, f"occurrences-{ctx.series.id}.csv")
    if page.next_cursor is not None:
        response.headers["X-Next-Cursor"] = page.next_cursor
    return response
