"""Series scheduling against the database: prior burden, planning, storing, the ledger.

The rules themselves live in :mod:`app.scheduling.planner`; this module only gathers its
inputs from the tables and writes its outputs back.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import update
from sqlmodel import Session, col, select
from starlette.types import Scope

from app.db.models import (
    Feed,
    Occurrence,
    Participant,
    Party,
    Series,
    SeriesParticipant,
    Workspace,
)
from app.db.people import calendar_notices, load_people
from app.db.types import utcnow
from app.errors import AppError
from app.scheduling.clock import utc_datetime, utc_minute_ceil
from app.scheduling.model import InvalidInput, Person
from app.scheduling.planner import Plan, PlannedOccurrence, Quorum, SeriesSpec, plan_series
from app.scheduling.recurrence import series_dates
from app.scheduling.rotation import PLAN_TIME_BUDGET_SECONDS
from app.scheduling.search import ParticipantTime
from app.scheduling.wording import join_names
from app.scheduling.work import PlanWork, check_plan_work
from app.serving.heavy import HeavyWork
from app.serving.lru import Lru


@dataclass
class SeriesContext:
    """A series with its people, as the planner and the responses need them."""

    series: Series
    members: list[SeriesParticipant]
    people: dict[uuid.UUID, Person]
    rows: dict[uuid.UUID, tuple[Participant, Party]]
    # Members' calendars that could not be read lately: every plan says so.
    calendar_notices: list[str] = field(default_factory=list)

    def party_of(self, participant_id: str | uuid.UUID) -> uuid.UUID:
        return self.rows[uuid.UUID(str(participant_id))][1].id

    def name_of(self, participant_id: str | uuid.UUID) -> str:
        return self.rows[uuid.UUID(str(participant_id))][0].name

    def opening(self) -> dict[str, int]:
        """Burden minutes carried from before the service, per participant id."""
        return {
            str(line["participant_id"]): int(line["burden_minutes"])
            for line in self.series.opening_balance
        }

    def attending(self, attendance: str) -> tuple[Person, ...]:
        return tuple(
            self.people[m.participant_id] for m in self.members if m.attendance == attendance
        )

    def quorums(self) -> tuple[Quorum, ...]:
        """The series' quorum rules with each party's quorum members (in member order).

        A party whose members are marked "quorum" but that has no rule is refused (422):
        nothing says how many of them must attend.
        """
        members: dict[uuid.UUID, list[Person]] = {}
        who: dict[uuid.UUID, list[str]] = {}
        names: dict[uuid.UUID, str] = {}
        for m in self.members:
            participant, party = self.rows[m.participant_id]
            names[party.id] = party.name
            if m.attendance == "quorum":
                members.setdefault(party.id, []).append(self.people[m.participant_id])
                who.setdefault(party.id, []).append(participant.name)
        rules = {uuid.UUID(str(r["party_id"])): int(r["min_attendees"]) for r in self.series.quorum}
        for party_id, people in who.items():
            if party_id not in rules:
                raise InvalidInput(
                    ("quorum",),
                    f"{join_names(people)} "
                    f"{'is a quorum member' if len(people) == 1 else 'are quorum members'} "
                    f"of {names[party_id]}, which has no quorum rule; add "
                    f'{{"party_id": "{party_id}", "min_attendees": …}} to quorum.',
                )
        return tuple(
            Quorum(names.get(pid, f"Party {pid}"), tuple(members.get(pid, ())), k)
            for pid, k in rules.items()
        )

    def spec(self) -> SeriesSpec:
        s = self.series
        required, optional = self.attending("required"), self.attending("optional")
        return SeriesSpec(
            recurrence=s.recurrence,
            start_date=s.start_date,
            count=s.count,
            until=s.until,
            anchor_timezone=s.anchor_timezone,
            duration_minutes=s.duration_minutes,
            step_minutes=s.step_minutes,
            policy=s.policy,  # type: ignore[arg-type]
            required=required,
            optional=optional,
            quorums=self.quorums(),
        )


def members_of(session: Session, series_id: uuid.UUID) -> list[SeriesParticipant]:
    return list(
        session.exec(
            select(SeriesParticipant)
            .where(SeriesParticipant.series_id == series_id)
            .order_by(col(SeriesParticipant.participant_id))
        )
    )


def load_context(session: Session, workspace: Workspace, series: Series) -> SeriesContext:
    members = members_of(session, series.id)
    people, rows, _ = load_people(session, workspace, [m.participant_id for m in members])
    names = {pid: participant.name for pid, (participant, _) in rows.items()}
    return SeriesContext(series, members, people, rows, calendar_notices(session, names))


@dataclass
class History:
    """What already happened in a series, and the future occurrences pinned by hand: both are
    kept as they are and count as prior burden. ``future`` holds the rest."""

    past: list[Occurrence] = field(default_factory=list)
    future: list[Occurrence] = field(default_factory=list)
    pinned: list[Occurrence] = field(default_factory=list)

    def prior(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for occ in [*self.past, *self.pinned]:
            for pid, minutes in occ.burden.items():
                if occ.counts_for(pid):
                    totals[pid] += minutes
        return dict(totals)

    def kept_dates(self) -> set[date]:
        """Dates the plan leaves alone: past, pinned, and cancelled future occurrences."""
        return (
            {o.date for o in self.past}
            | {o.date for o in self.pinned}
            | {o.date for o in self.future if o.status == "cancelled"}
        )

    def previous_local(self, people: dict[uuid.UUID, Person]) -> dict[str, str]:
        held = [o for o in self.past if o.status == "scheduled" and o.held]
        if not held:
            return {}
        last = max(held, key=lambda o: o.start)
        return {
            str(pid): last.start.astimezone(person.zone).strftime("%H:%M")
            for pid, person in people.items()
        }


def history(session: Session, series_id: uuid.UUID, now: datetime) -> History:
    rows = session.exec(
        select(Occurrence).where(Occurrence.series_id == series_id).order_by(col(Occurrence.start))
    ).all()
    result = History()
    for occ in rows:
        if occ.start < now:
            result.past.append(occ)
        elif occ.pinned and occ.status == "scheduled":
            result.pinned.append(occ)
        else:
            result.future.append(occ)
    return result


class PlanMemo(Lru[Hashable, Plan]):
    """Plans by their exact inputs, per process (least recently used out first).

    The planner is deterministic (docs/rules.md: the same inputs always give the same plan) and a
    plan of a long series costs tens to hundreds of milliseconds of CPU, while previews of an
    unchanged series repeat all day (API, Slack, share pages). Keyed by every input, so no
    invalidation is needed: any change to the series, its people, their time off or its
    history is a different key. Display names are not an input: plans are kept with
    participant ids where notices and reasons name people (:func:`named` puts the names in),
    so renaming someone plans nothing again. Plans handed out are shared: callers must not
    mutate them. Bounded by estimated bytes too (:func:`plan_bytes`): a plan of 520 dates
    for 200 people is ~40 MB of objects, and 128 of those would be 5 GB; a plan weighing
    more than an eighth of the budget is not kept at all.
    """

    def __init__(self, size: int = 128, max_bytes: int = 32 * 1024 * 1024) -> None:
        super().__init__(size, max_bytes=max_bytes, weigh=plan_bytes)


# Measured with sys.getsizeof over a planned series' objects (docs/bounds.md): one listed
# participant time (its dataclass, two aware datetimes, strings) and one occurrence's own.
BYTES_PER_PARTICIPANT_TIME = 400
BYTES_PER_OCCURRENCE = 600


def plan_bytes(plan: Plan) -> int:
    """An estimate of the memory a plan holds (for :class:`PlanMemo`'s bound)."""
    size = 1000 + sum(len(u.reason) + 200 for u in plan.unschedulable)
    for occ in plan.occurrences:
        size += BYTES_PER_OCCURRENCE + BYTES_PER_PARTICIPANT_TIME * len(occ.participants)
        size += sum(len(n) + 50 for n in occ.notices)
    return size


PLANS = PlanMemo()


def plan_start(now: datetime, step_minutes: int) -> datetime:
    """The first grid start at or after ``now``: the planner drops starts before ``now``, and
    every ``now`` between two grid starts drops the same ones, so the plan is the same.

    >>> plan_start(datetime.fromisoformat("2026-11-03T13:07:30+00:00"), 15).isoformat()
    '2026-11-03T13:15:00+00:00'
    """
    minute = utc_minute_ceil(now)
    return utc_datetime(minute + -minute % step_minutes)


def plan_work(ctx: SeriesContext, past: History, now: datetime) -> PlanWork:
    """The measured size of the plan :func:`make_plan` would compute (dates still ahead)."""
    spec = ctx.spec()
    kept = past.kept_dates()
    every = series_dates(
        spec.recurrence, spec.start_date, spec.anchor_timezone, spec.count, spec.until
    )
    # A date wholly before now has no candidate start and costs nothing.
    first = (now - timedelta(days=2)).date()
    dates = sum(1 for d in every if d >= first and d not in kept)
    return PlanWork(dates, spec.step_minutes, len(spec.counted), len(spec.optional))


@dataclass(frozen=True)
class PlanJob:
    """A series' plan to compute: by its key in :data:`PLANS`, in its worker or its pool."""

    key: Hashable
    run: Callable[[], Plan]  # picklable
    offload: bool  # big: computed in the worker's heavy-work pool


def plan_job(
    ctx: SeriesContext,
    past: History,
    now: datetime,
    heavy: HeavyWork | None,
    time_budget_seconds: float,
) -> PlanJob:
    if not any(m.counted for m in ctx.members):
        raise AppError(
            "validation_error",
            "The series has no required or quorum participant; mark one required.",
            422,
        )
    work = plan_work(ctx, past, now)
    check_plan_work(work)
    spec = ctx.spec()
    kept = past.kept_dates()
    prior = past.prior()
    for pid, minutes in ctx.opening().items():
        prior[pid] = prior.get(pid, 0) + minutes
    not_before = plan_start(now, spec.step_minutes)
    previous_local = past.previous_local(ctx.people)
    key = (
        spec,
        tuple(sorted(prior.items())),
        frozenset(kept),
        not_before,
        tuple(sorted(previous_local.items())),
        time_budget_seconds,
    )
    run = partial(
        plan_series,
        spec,
        prior=prior,
        exclude_dates=kept,
        not_before=not_before,
        previous_local=previous_local,
        time_budget_seconds=time_budget_seconds,
    )
    return PlanJob(key, run, heavy is not None and heavy.offload(work.cpu_seconds))


def make_plan(
    ctx: SeriesContext,
    past: History,
    now: datetime,
    *,
    heavy: HeavyWork | None = None,
    scope: Scope | None = None,
    time_budget_seconds: float = PLAN_TIME_BUDGET_SECONDS,
) -> Plan:
    """Plan the series' future, counting what already happened as prior burden.

    Refused (422, naming what to shrink) when its measured size is over the limits of
    :mod:`app.scheduling.work`. A big plan is computed in ``heavy``'s pool (the request's
    ``scope`` steps aside meanwhile), a small one in the calling thread. The result may come
    from :data:`PLANS` and is shared: read it, never mutate it.
    """
    job = plan_job(ctx, past, now, heavy, time_budget_seconds)
    plan = PLANS.get(job.key)
    if plan is None:
        plan = heavy.call(scope, job.run) if heavy is not None and job.offload else job.run()
        PLANS.put(job.key, plan)
    return named(plan, {str(pid): row.name for pid, (row, _) in ctx.rows.items()})


def plan_answer(
    ctx: SeriesContext,
    past: History,
    now: datetime,
    answer: Callable[[Plan], bytes],
    *,
    heavy: HeavyWork | None = None,
    scope: Scope | None = None,
    time_budget_seconds: float = PLAN_TIME_BUDGET_SECONDS,
) -> bytes:
    """``answer(plan)`` of the series' plan (as :func:`make_plan`; ``answer`` puts the names
    in). A big plan that is not in :data:`PLANS` is planned *and answered* in the pool: the
    worker then holds only the answer's bytes, not the plan's tens of thousands of objects,
    whose reading and whose answer took ~100 ms of its GIL from every other request it
    serves (docs/bounds.md). ``answer`` is picklable with what it holds.
    """
    job = plan_job(ctx, past, now, heavy, time_budget_seconds)
    plan = PLANS.get(job.key)
    if plan is None and heavy is not None and job.offload:
        kept, body = heavy.call(scope, _planned_and_answered, job.run, answer)
        if kept is not None:
            PLANS.put(job.key, kept)
        return body
    if plan is None:
        plan = PLANS.put(job.key, job.run())
    return answer(plan)


def _planned_and_answered(
    run: Callable[[], Plan], answer: Callable[[Plan], bytes]
) -> tuple[Plan | None, bytes]:
    """In a heavy-work process: the plan's answer, and the plan if its worker would keep it
    (a plan too big for :data:`PLANS` is not sent back at all)."""
    plan = run()
    return (plan if PLANS.keeps(plan) else None), answer(plan)


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def named(plan: Plan, names: Mapping[str, str]) -> Plan:
    """``plan`` as planned with ``names``: the planner without names writes each person's
    id where it would write their name (and nothing else in its sentences looks like a
    UUID), so putting the names in gives the very same text. A new plan where any text
    names someone; ``plan`` itself is left as it was (it is shared)."""

    done: dict[str, str] = {}  # a series' notices repeat from date to date: name each once

    def put(text: str) -> str:
        found = done.get(text)
        if found is None:
            found = done[text] = _ID.sub(lambda m: names.get(m.group(), m.group()), text)
        return found

    notices = (n for occ in plan.occurrences for n in occ.notices)
    reasons = (u.reason for u in plan.unschedulable)
    if not any(_ID.search(text) for text in (*notices, *reasons)):
        return plan
    return replace(
        plan,
        occurrences=[
            replace(occ, notices=[put(n) for n in occ.notices]) if occ.notices else occ
            for occ in plan.occurrences
        ],
        unschedulable=[replace(u, reason=put(u.reason)) for u in plan.unschedulable],
    )


def hold_schedule(session: Session, series: Series) -> None:
    """Before a change to one of the series' occurrences: move ``schedule_version``, so a
    schedule run that read the occurrences before the change no longer claims (409), and
    one that has claimed is waited for (this UPDATE waits for its row lock). So a stored
    plan never overwrites a change it has not seen, and each ``sequence`` counts both."""
    session.execute(
        update(Series)
        .where(col(Series.id) == series.id)
        .values(schedule_version=col(Series.schedule_version) + 1)
        .execution_options(synchronize_session=False)
    )


def delete_series(session: Session, series: Series, now: datetime) -> None:
    """Delete the series; the foreign keys take its members, occurrences and share links
    with it. Its feeds are revoked (a feed names its target without a foreign key)."""
    hold_schedule(session, series)  # the series row first, as schedule runs take it: no deadlock
    session.execute(
        update(Feed)
        .where(col(Feed.target_id) == series.id, col(Feed.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.delete(series)
    session.flush()


def claim_schedule_run(session: Session, series: Series) -> None:
    """Optimistic lock: of two concurrent runs, or a run and a change to one of the series'
    occurrences (:func:`hold_schedule`), the second to write gets 409."""
    result = session.execute(
        update(Series)
        .where(col(Series.id) == series.id, col(Series.schedule_version) == series.schedule_version)
        .values(schedule_version=series.schedule_version + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AppError(
            "conflict",
            "Another request is scheduling this series or changing one of its occurrences "
            "right now; retry in a moment.",
            409,
        )
    series.schedule_version += 1


def store_plan(
    session: Session, workspace: Workspace, series: Series, plan: Plan, past: History
) -> dict[str, Occurrence]:
    """Write the plan: unchanged occurrences keep id and sequence, changed ones bump it.

    Future occurrences whose date left the plan are cancelled (so calendars drop them);
    cancelled ones stay cancelled. Returns the stored occurrence of each planned date.
    """
    claim_schedule_run(session, series)
    now = utcnow()
    by_date = {o.date: o for o in past.future}
    stored: dict[str, Occurrence] = {}
    for planned in plan.occurrences:
        burden = attending_burden(planned.participants)
        occ = by_date.pop(planned.date, None)
        if occ is None:
            occ = unsaved_occurrence(series, planned)
        elif occ.start != planned.start or occ.end != planned.end or occ.status != "scheduled":
            occ.start, occ.end, occ.status = planned.start, planned.end, "scheduled"
            occ.index, occ.burden, occ.notices = planned.index, burden, list(planned.notices)
            occ.absent = absent_of(planned)
            occ.sequence += 1
            occ.updated_at = now
        elif (
            occ.burden != burden
            or occ.notices != list(planned.notices)
            or occ.absent != absent_of(planned)
        ):
            # Same time; only the explanation (burden, notices, who is absent) changed.
            # Calendars need no update.
            occ.burden, occ.notices, occ.updated_at = burden, list(planned.notices), now
            occ.absent = absent_of(planned)
        session.add(occ)
        stored[planned.date.isoformat()] = occ
    why = {u.date: u.reason for u in plan.unschedulable}
    for leftover in by_date.values():
        if leftover.status != "cancelled":
            # A cancellation always says why: who cannot meet, or the rule dropped the date.
            reason = why.get(leftover.date, "its date is no longer a date of the series' rule.")
            leftover.status = "cancelled"
            leftover.notices = [*leftover.notices, f"Cancelled by schedule: {reason}"]
            leftover.sequence += 1
            leftover.updated_at = now
            session.add(leftover)
    session.flush()
    return stored


def unsaved_occurrence(series: Series, planned: PlannedOccurrence) -> Occurrence:
    """A planned occurrence as a new row of ``series`` (not added to any session)."""
    return Occurrence(
        workspace_id=series.workspace_id,
        series_id=series.id,
        index=planned.index,
        date=planned.date,
        start=planned.start,
        end=planned.end,
        burden=attending_burden(planned.participants),
        notices=list(planned.notices),
        absent=absent_of(planned),
    )


def absent_of(planned: PlannedOccurrence) -> dict[str, str]:
    """The quorum members who cannot attend a planned occurrence, and why."""
    return {a.participant_id: a.reason for a in planned.absent}


def attending_burden(participants: Sequence[ParticipantTime]) -> dict[str, int]:
    """Burden of everyone who can attend; infeasible optional people are conflicts instead."""
    return {p.participant_id: p.burden_minutes for p in participants if p.burden_minutes >= 0}


@dataclass
class LedgerLine:
    past: int = 0
    scheduled: int = 0
    opening: int = 0  # carried from before the service (the series' opening balance)

    @property
    def total(self) -> int:
        return self.opening + self.past + self.scheduled


@dataclass
class PartyLine(LedgerLine):
    """A party's figures: the sums of its members' lines, how many members they are, and the
    largest member total. A party that sends more people carries a larger sum; the mean per
    member compares parties fairly."""

    members: int = 0
    largest: int = 0

    @property
    def mean(self) -> int:
        """The total per member, in whole minutes (halves up)."""
        return (2 * self.total + self.members) // (2 * self.members) if self.members else 0


def ledger(
    ctx: SeriesContext, occurrences: list[Occurrence], now: datetime
) -> tuple[dict[str, LedgerLine], dict[uuid.UUID, PartyLine]]:
    """Burden minutes per participant and per party: opening, past, scheduled, total."""
    people: dict[str, LedgerLine] = {str(m.participant_id): LedgerLine() for m in ctx.members}
    for pid, minutes in ctx.opening().items():
        people.setdefault(pid, LedgerLine()).opening += minutes
    for occ in occurrences:
        for pid, minutes in occ.burden.items():
            if not occ.counts_for(pid):
                continue
            line = people.setdefault(pid, LedgerLine())
            if occ.start < now:
                line.past += minutes
            else:
                line.scheduled += minutes
    parties: dict[uuid.UUID, PartyLine] = {}
    for pid, line in people.items():
        if uuid.UUID(pid) not in ctx.rows:
            continue
        party_line = parties.setdefault(ctx.party_of(pid), PartyLine())
        party_line.past += line.past
        party_line.scheduled += line.scheduled
        party_line.opening += line.opening
        party_line.members += 1
        party_line.largest = max(party_line.largest, line.total)
    return people, parties


def window_end(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)
