"""Moving or cancelling one occurrence (``sequence`` grows with every change)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, select

from app import outbound
from app.api.deps import (
    SessionDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    load_owned,
    now_of,
    retry_lost_race,
)
from app.api.fields import Flag, Instant
from app.db import schedules
from app.db.changes import touch
from app.db.models import Occurrence, Series, Workspace
from app.errors import AUTHENTICATED, AppError, error_responses, invalid
from app.scheduling.burden import burden_minutes, forced_burden
from app.scheduling.limits import MAX_PARTICIPANTS
from app.scheduling.model import zone
from app.services import services
from app.settings import Settings
from app.views.plans import OccurrenceOut, occurrence_out

router = APIRouter(prefix="/v1/occurrences", tags=["series"], responses=AUTHENTICATED)


PINNED_NOTICE = "pinned: schedule keeps this time"
MOVED_NOTICE = "moved by hand"
SWAPPED_NOTICE = "swapped with the occurrence of "


class OccurrenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Instant | None = None
    status: Literal["scheduled", "cancelled"] | None = None
    pinned: Flag | None = None
    force: Flag = False
    held: Flag | None = Field(
        default=None, description="A past occurrence: false if it did not take place."
    )
    attended: dict[uuid.UUID, Flag] | None = Field(
        default=None,
        description="A past occurrence: participant id → false if they did not attend.",
        max_length=MAX_PARTICIPANTS,
    )

    @model_validator(mode="after")
    def _one_change(self) -> OccurrenceUpdate:
        if self.force and self.start is None:
            raise ValueError("force applies to a move: give start with it.")
        past = self.held is not None or self.attended is not None
        future = self.start is not None or self.status is not None or self.pinned is not None
        if past and future:
            raise ValueError(
                "held and attended correct a past occurrence; start, status and pinned "
                "change a future one. Send them separately."
            )
        if not past and not future:
            raise ValueError(
                "Give start (to move), status (to cancel or restore) or pinned (to keep it "
                "through schedule); for a past occurrence, held or attended."
            )
        if self.start is not None and (self.start.second or self.start.microsecond):
            raise ValueError("start must be a whole minute, e.g. 2026-11-24T14:00:00Z.")
        if self.pinned is False and self.start is not None:
            raise ValueError("A moved occurrence is pinned; leave pinned out or move it later.")
        return self


@dataclass
class Attendance:
    """Who attends a start, at what burden; who is absent (quorum) and who was forced."""

    burden: dict[str, int] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    forced: dict[str, str] = field(default_factory=dict)  # participant id -> local "HH:MM"


def attendance_at(
    ctx: schedules.SeriesContext, start: datetime, force: bool, loc: tuple[str, ...] = ("start",)
) -> Attendance:
    """Each member's burden at ``start`` (422 on ``loc`` if a required member cannot come or a
    quorum cannot be met). With ``force``, a member past their max stretch is forced
    (:func:`forced_burden`); holidays and time off are never forced."""
    found = Attendance()
    duration = ctx.series.duration_minutes
    for member in ctx.members:
        pid, person = str(member.participant_id), ctx.people[member.participant_id]
        result = burden_minutes(person, start, duration)
        if result.minutes is None and force and member.counted:
            forced = forced_burden(person, start, duration)
            if forced.minutes is not None:
                found.forced[pid] = start.astimezone(person.zone).strftime("%H:%M")
                result = forced
        if result.minutes is None:
            if member.required:
                hint = "" if force else " Pick another time, or force it if they agreed."
                if force and forced_burden(person, start, duration).minutes is None:
                    hint = " Holidays and time off cannot be forced; pick another time."
                raise invalid(
                    loc,
                    f"{ctx.name_of(pid)} cannot attend then: {result.reason}.{hint}",
                )
            if member.attendance == "quorum":
                found.absent[pid] = result.reason or "unavailable"
            continue
        found.burden[pid] = result.minutes
    _check_quorums_met(ctx, found.absent, loc)
    return found


def _check_quorums_met(
    ctx: schedules.SeriesContext, absent: dict[str, str], loc: tuple[str, ...]
) -> None:
    """A moved occurrence still has each party's quorum (422 naming who cannot come)."""
    for quorum in ctx.quorums():
        away = [p for p in quorum.members if p.id in absent]
        if len(quorum.members) - len(away) < quorum.min_attendees:
            why = "; ".join(f"{ctx.name_of(p.id)}: {absent[p.id]}" for p in away)
            raise invalid(
                loc,
                f"{quorum.party}'s quorum of {quorum.min_attendees} cannot be met then: "
                f"{len(quorum.members) - len(away)} of its {len(quorum.members)} quorum members "
                f"can attend ({why}). Pick another time.",
            )


def _moved(
    ctx: schedules.SeriesContext,
    occ: Occurrence,
    start: datetime,
    found: Attendance,
    why: str = MOVED_NOTICE,
) -> dict[str, object]:
    """The changes of a move to ``start``: times, burden, absent and forced members, pinned,
    and notices (the notices of an earlier move give way to this one's)."""
    agreed = [f"{ctx.name_of(pid)} agreed to {hhmm}" for pid, hhmm in found.forced.items()]
    kept = [
        n
        for n in occ.notices
        if " agreed to " not in n
        and not n.startswith(SWAPPED_NOTICE)
        and n not in (MOVED_NOTICE, PINNED_NOTICE)
    ]
    return {
        "start": start,
        "end": start + timedelta(minutes=ctx.series.duration_minutes),
        "burden": found.burden,
        "absent": found.absent,
        "forced_for": sorted(found.forced),
        "pinned": True,
        "notices": [*kept, why, PINNED_NOTICE, *agreed],
    }


def _pinning(occ: Occurrence, pinned: bool) -> dict[str, object]:
    if pinned == occ.pinned:
        return {}
    notices = [n for n in occ.notices if n != PINNED_NOTICE]
    return {"pinned": pinned, "notices": [*notices, PINNED_NOTICE] if pinned else notices}


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
    """Move (pins it; ``force`` for members who agreed to a time past their max stretch),
    cancel or restore, pin or unpin one future occurrence."""
    occ = load_owned(session, Occurrence, occurrence_id, workspace, "occurrence")
    check_if_match(if_match, occ)
    series = load_owned(session, Series, occ.series_id, workspace, "series")
    ctx = schedules.load_context(session, workspace, series)
    now = now_of(request)
    if body.held is not None or body.attended is not None:
        changes = _corrected(ctx, occ, body, now)
    elif occ.start < now:
        raise AppError(
            "conflict",
            "This occurrence has already started; it cannot change. A past occurrence can "
            "only be marked not held (held: false) or not attended (attended).",
            409,
        )
    else:
        changes = _future_changes(ctx, occ, body, now)
    if changes:
        # The series row first, as a schedule run takes it (no lock-order deadlock): a run
        # planned before this change no longer claims it, one in progress is waited for.
        schedules.hold_schedule(session, series)
        touch(session, occ, changes)  # sequence + 1, or LostRace
        # A cancel and nothing else goes out as a CANCEL of that occurrence alone.
        cancelled = [occ.date] if set(changes) - {"notices"} == {"status"} else []
        if changes.get("status") != "cancelled":
            cancelled = []
        settings = services(request.app).settings
        outbound.series_changed(session, workspace, series, now, settings, cancelled)
    response.headers["ETag"] = etag_of(occ)
    return occurrence_out(occ, ctx)


NOT_HELD_NOTICE = "did not take place"


def _corrected(
    ctx: schedules.SeriesContext, occ: Occurrence, body: OccurrenceUpdate, now: datetime
) -> dict[str, object]:
    """A past occurrence marked not held, or members marked not attended: their burden of it
    then counts nowhere (ledger, prior burden, fairness)."""
    if occ.start >= now:
        raise invalid(
            ("held",) if body.held is not None else ("attended",),
            "Only a past occurrence can be marked not held or not attended; cancel a future "
            "one instead (status: cancelled).",
        )
    if occ.status != "scheduled":
        raise invalid(("held",), "This occurrence was cancelled; it was not held anyway.")
    changes: dict[str, object] = {}
    notices = [n for n in occ.notices if n != NOT_HELD_NOTICE and not n.endswith(" did not attend")]
    held = occ.held if body.held is None else body.held
    missing = set(occ.not_attended)
    for pid, came in (body.attended or {}).items():
        if str(pid) not in occ.burden:
            raise invalid(
                ("attended", str(pid)),
                f"{pid} was not an attendee of this occurrence; name one of its participants.",
            )
        (missing.discard if came else missing.add)(str(pid))
    if held != occ.held:
        changes["held"] = held
    if sorted(missing) != sorted(occ.not_attended):
        changes["not_attended"] = sorted(missing)
    if changes:
        gone = sorted(missing, key=lambda pid: (ctx.name_of(pid), pid))
        changes["notices"] = [
            *notices,
            *([NOT_HELD_NOTICE] if not held else []),
            *(f"{ctx.name_of(pid)} did not attend" for pid in gone),
        ]
    return changes


def _future_changes(
    ctx: schedules.SeriesContext, occ: Occurrence, body: OccurrenceUpdate, now: datetime
) -> dict[str, object]:
    changes: dict[str, object] = {}
    # Stored and answered in UTC, whatever offset the client wrote.
    start = body.start.astimezone(UTC) if body.start is not None else None
    if start is not None and (start != occ.start or body.force):
        if start < now:
            raise invalid(("start",), "The new start is in the past; pick a future time.")
        changes.update(_moved(ctx, occ, start, attendance_at(ctx, start, body.force)))
    elif body.pinned is not None:
        changes.update(_pinning(occ, body.pinned))
    if body.status is not None and body.status != occ.status:
        changes["status"] = body.status
    return changes


class SwapIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    with_: uuid.UUID = Field(alias="with", description="The other occurrence of the series.")


class BalanceChange(BaseModel):
    participant_id: str
    name: str
    before_minutes: int
    after_minutes: int


class SwapOut(BaseModel):
    occurrences: list[OccurrenceOut]
    balance: list[BalanceChange]


def _time_of_day_on(ctx: schedules.SeriesContext, occ: Occurrence, other: Occurrence) -> datetime:
    """``occ``'s date at ``other``'s anchor-local time of day (read with fold=0)."""
    anchor = zone(ctx.series.anchor_timezone)
    wall = other.start.astimezone(anchor)
    day = occ.start.astimezone(anchor).date()
    local = datetime.combine(day, wall.time().replace(fold=0), tzinfo=anchor)
    return local.astimezone(UTC)


@router.post(
    "/{occurrence_id}/swap",
    response_model=SwapOut,
    responses=error_responses(400, 404, 409, 412, 413, 422),
)
@retry_lost_race
def swap(
    occurrence_id: uuid.UUID,
    body: SwapIn,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    if_match: Annotated[str | None, Header()] = None,
) -> SwapOut:
    """Exchange the times of day of two future occurrences of one series (both stay
    feasible; both are pinned) and show what it does to each member's balance."""
    first = load_owned(session, Occurrence, occurrence_id, workspace, "occurrence")
    check_if_match(if_match, first)
    second = load_owned(session, Occurrence, body.with_, workspace, "occurrence")
    settings = services(request.app).settings
    return swap_occurrences(session, workspace, first, second, now_of(request), settings)


def swap_occurrences(
    session: Session,
    workspace: Workspace,
    first: Occurrence,
    second: Occurrence,
    now: datetime,
    settings: Settings,
) -> SwapOut:
    """The swap itself (also Slack's "Swap with the next turn" button): 422 on ``with``
    unless both are future scheduled occurrences of one series that stay feasible; 409 for
    one that has started; :class:`~app.db.changes.LostRace` when another change won."""
    if second.series_id != first.series_id:
        raise invalid(("with",), "Both occurrences must belong to the same series.")
    if second.id == first.id:
        raise invalid(("with",), "Name another occurrence of the series to swap with.")
    for occ in (first, second):
        if occ.start < now:
            raise AppError("conflict", f"The occurrence of {occ.date} has already started.", 409)
        if occ.status != "scheduled":
            raise invalid(
                ("with",), f"The occurrence of {occ.date} is cancelled; restore it first."
            )
    series = load_owned(session, Series, first.series_id, workspace, "series")
    ctx = schedules.load_context(session, workspace, series)
    rows = list(session.exec(select(Occurrence).where(Occurrence.series_id == series.id)))
    before, _ = schedules.ledger(ctx, rows, now)
    before_totals = {pid: line.total for pid, line in before.items()}
    moves = []
    for occ, other, loc in ((first, second, ("start",)), (second, first, ("with",))):
        start = _time_of_day_on(ctx, occ, other)
        if start < now:
            raise invalid(loc, f"The occurrence of {occ.date} would move into the past.")
        found = attendance_at(ctx, start, False, loc)
        moves.append((occ, _moved(ctx, occ, start, found, f"{SWAPPED_NOTICE}{other.date}")))
    schedules.hold_schedule(session, series)
    for occ, changes in moves:
        touch(session, occ, changes)
    outbound.series_changed(session, workspace, series, now, settings)
    after, _ = schedules.ledger(ctx, rows, now)
    pids = sorted(set(before_totals) | set(after), key=lambda pid: (ctx.name_of(pid), pid))
    return SwapOut(
        occurrences=[occurrence_out(first, ctx), occurrence_out(second, ctx)],
        balance=[
            BalanceChange(
                participant_id=pid,
                name=ctx.name_of(pid),
                before_minutes=before_totals.get(pid, 0),
                after_minutes=after[pid].total if pid in after else 0,
            )
            for pid in pids
            if uuid.UUID(pid) in ctx.rows
        ],
    )
