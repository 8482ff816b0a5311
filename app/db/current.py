"""Stored future occurrences read against today's data (docs/rules.md, "Stale occurrences"):
each member's burden and feasibility at the stored time, as working hours, time zones, time
off, holidays, members, quorum rules and the duration now stand, and one sentence for each
way the stored figures are out of date.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlmodel import Session, col, select

from app.db.models import Occurrence, Series, SeriesParticipant, Workspace
from app.db.schedules import SeriesContext, load_context
from app.scheduling.burden import burden_matrix, forced_burden
from app.scheduling.clock import utc_minute
from app.scheduling.model import InvalidInput, zone
from app.scheduling.wording import day_label, hours

DECLINED = "declined the invitation"


@dataclass
class Current:
    """An occurrence as it stands now: attending members' burden, absent quorum members (and
    why), and the sentences saying what changed since it was scheduled (none: up to date)."""

    burden: dict[str, int] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    infeasible: bool = False  # a required member cannot come, or a quorum is short

    @property
    def stale(self) -> bool:
        return bool(self.changes)


def current_figures(
    ctx: SeriesContext, occurrences: Sequence[Occurrence], now: datetime
) -> dict[uuid.UUID, Current]:
    """The current figures of every future ``scheduled`` occurrence among ``occurrences``
    (past and cancelled ones keep what was stored: they are not listed)."""
    future = [o for o in occurrences if o.status == "scheduled" and o.start >= now]
    if not future or not ctx.members:
        return {}
    members = ctx.members
    people = [ctx.people[m.participant_id] for m in members]
    duration = ctx.series.duration_minutes
    anchor = zone(ctx.series.anchor_timezone)
    starts = np.array([utc_minute(o.start) for o in future], dtype=np.int64)
    matrix = burden_matrix(people, starts, duration)
    try:
        quorums = ctx.quorums()
    except InvalidInput:  # a rule the members no longer fit: planning says so (422)
        quorums = ()
    found: dict[uuid.UUID, Current] = {}
    for n, occ in enumerate(future):
        now_ = Current()
        infeasible: list[str] = []
        for p, member in enumerate(members):
            pid = str(member.participant_id)
            minutes = int(matrix.minutes[p, n])
            reason = matrix.reason(p, n)
            if minutes < 0 and pid in occ.forced_for:
                forced = forced_burden(people[p], occ.start, duration)
                if forced.minutes is not None:
                    minutes, reason = forced.minutes, None
            if member.attendance == "quorum" and occ.responses.get(pid) == "declined":
                minutes, reason = -1, DECLINED  # their answer makes them absent
            if minutes >= 0:
                now_.burden[pid] = minutes
            elif member.attendance == "quorum":
                now_.absent[pid] = reason or "unavailable"
            elif member.required:
                infeasible.append(f"{ctx.name_of(pid)} cannot attend: {reason or 'unavailable'}.")
        for quorum in quorums:
            away = [q for q in quorum.members if q.id in now_.absent]
            if len(quorum.members) - len(away) < quorum.min_attendees:
                infeasible.append(
                    f"{quorum.party}'s quorum of {quorum.min_attendees} cannot be met: "
                    f"{len(quorum.members) - len(away)} of its {len(quorum.members)} quorum "
                    "members can attend."
                )
        now_.infeasible = bool(infeasible)
        now_.changes = [*infeasible, *_changed(ctx, occ, now_)]
        if now_.changes:
            when = day_label(occ.start.astimezone(anchor).date(), False)
            now_.changes = [f"{when}: {c}" for c in now_.changes]
        found[occ.id] = now_
    return found


def _changed(ctx: SeriesContext, occ: Occurrence, now: Current) -> list[str]:
    """What differs between the stored figures and ``now`` for members who can attend."""
    said: list[str] = []
    for member in ctx.members:
        pid = str(member.participant_id)
        name = ctx.name_of(pid)
        before, after = occ.burden.get(pid), now.burden.get(pid)
        if pid in now.absent and pid not in occ.absent:
            said.append(f"{name} is now absent: {now.absent[pid]}.")
        elif after is None and before is not None and not member.counted:
            said.append(f"{name} (optional) can no longer attend.")
        elif after is not None and before is None and pid not in occ.absent:
            said.append(f"{name} now attends, burden {hours(after)}.")
        elif after is not None and before is None:
            said.append(f"{name} can now attend, burden {hours(after)}.")
        elif after is not None and before is not None and after != before:
            said.append(f"{name}'s burden is now {hours(after)} (was {hours(before)}).")
    return said


def stale_warnings(
    session: Session,
    workspace: Workspace,
    participant_id: uuid.UUID,
    lo: date,
    hi: date,
    now: datetime,
) -> list[str]:
    """After a change to a participant's availability on the dates ``[lo, hi]``: each stored
    future occurrence of their series in that span that is now out of date, as
    ``"<series title>, <date>: <what changed>"`` (``schedule`` brings it up to date)."""
    series_ids = session.exec(
        select(SeriesParticipant.series_id).where(
            SeriesParticipant.participant_id == participant_id
        )
    ).all()
    first = datetime.combine(lo - timedelta(days=1), time(0), tzinfo=UTC)
    last = datetime.combine(hi + timedelta(days=2), time(0), tzinfo=UTC)
    said: list[str] = []
    for series_id in sorted(series_ids, key=str):
        series = session.get(Series, series_id)
        if series is None or series.workspace_id != workspace.id:
            continue
        rows = [
            o
            for o in session.exec(
                select(Occurrence).where(
                    Occurrence.series_id == series_id,
                    col(Occurrence.start) >= first,
                    col(Occurrence.start) < last,
                )
            )
        ]
        ctx = load_context(session, workspace, series)
        for occ in sorted(rows, key=lambda o: o.start):
            current = current_figures(ctx, [occ], now).get(occ.id)
            if current is not None and current.stale:
                said += [f"{series.title}, {change}" for change in current.changes]
    return said
