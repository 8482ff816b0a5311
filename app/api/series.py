"""Meeting series: the resource, its plan (preview), schedule (store), occurrences, ledger."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select

from app import outbound
from app.api.deps import (
    NowDep,
    OwnedSeries,
    SessionDep,
    SettingsDep,
    WorkspaceDep,
    check_if_match,
    etag_of,
    load_owned,
    now_of,
    retry_lost_race,
)
from app.api.fields import (
    Day,
    Email,
    Flag,
    Instant,
    Location,
    LongText,
    Name,
    SeriesDuration,
    SlackId,
    StepMinutes,
    TimezoneName,
    Whole,
    request_horizon,
)
from app.api.pagination import CursorQuery, LimitQuery, Page, paginate
from app.api.read_cache import valid_until
from app.db import invitations, schedules
from app.db.changes import refuse_nulls, touch
from app.db.current import current_figures
from app.db.models import Occurrence, Series, SeriesParticipant, Workspace
from app.db.people import load_people, party_in
from app.db.replan import replan_affected
from app.errors import AUTHENTICATED, error_responses, invalid
from app.scheduling.limits import (
    MAX_COUNT,
    MAX_PARTICIPANTS,
    MAX_RULE_LENGTH,
    NO_REQUIRED_PARTICIPANT,
    PARTICIPANT_LISTED_TWICE,
    quorum_refusal,
)
from app.scheduling.model import InvalidInput
from app.scheduling.planner import check_spec
from app.scheduling.recurrence import series_dates
from app.scheduling.work import check_listing, check_plan_work
from app.services import services
from app.views.csv_out import wants_csv
from app.views.ledger import BalanceOut, balance_csv, balance_out, occurrences_csv
from app.views.plans import (
    OccurrenceOut,
    PlanFrame,
    PlanOut,
    Policy,
    View,
    occurrence_out,
    plan_json,
    plan_out,
)

router = APIRouter(prefix="/v1/series", tags=["series"], responses=AUTHENTICATED)

Count = Annotated[
    int, Whole, Field(ge=1, le=MAX_COUNT, description=f"Number of occurrences, 1 to {MAX_COUNT}.")
]
Recurrence = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_RULE_LENGTH,
        description="RFC 5545 RRULE without COUNT/UNTIL/DTSTART",
        examples=["FREQ=WEEKLY;BYDAY=TU"],
    ),
]


Attendance = Literal["required", "quorum", "optional"]
Replan = Literal["manual", "auto"]
ReminderMinutes = Annotated[
    int,
    Whole,
    Field(ge=0, le=7 * 24 * 60, description="Minutes before each occurrence; null: none."),
]


class SeriesMember(BaseModel):
    """A member of the series. ``attendance``: ``required`` (every occurrence needs them),
    ``quorum`` (their party's quorum rule says how many must come) or ``optional``. The older
    ``required`` flag is still read: ``true`` is ``required``, ``false`` is ``optional``."""

    model_config = ConfigDict(extra="forbid")
    participant_id: uuid.UUID
    attendance: Attendance | None = None
    required: Flag | None = None

    @model_validator(mode="after")
    def _attendance(self) -> SeriesMember:
        from_flag: Attendance | None = None
        if self.required is not None:
            from_flag = "required" if self.required else "optional"
        if self.attendance is None:
            self.attendance = from_flag or "required"
        elif from_flag is not None and from_flag != self.attendance:
            raise ValueError(
                f"required: {str(self.required).lower()} contradicts attendance "
                f'"{self.attendance}"; give attendance alone.'
            )
        self.required = self.attendance == "required"
        return self


class MemberOut(BaseModel):
    participant_id: uuid.UUID
    attendance: Attendance
    required: bool


class QuorumRule(BaseModel):
    """At least ``min_attendees`` of the party's ``quorum`` members attend every occurrence."""

    model_config = ConfigDict(extra="forbid")
    party_id: uuid.UUID
    min_attendees: Annotated[int, Whole, Field(ge=1, le=MAX_PARTICIPANTS)]


Members = Annotated[list[SeriesMember], Field(min_length=1, max_length=MAX_PARTICIPANTS)]
QuorumRules = Annotated[list[QuorumRule], Field(max_length=MAX_PARTICIPANTS)]


class SeriesCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Weekly operations review",
                    "description": "KPIs, escalations, staffing",
                    "duration_minutes": 60,
                    "recurrence": "FREQ=WEEKLY;BYDAY=TU",
                    "start_date": "2026-11-24",
                    "count": 26,
                    "anchor_timezone": "America/New_York",
                    "policy": "rotate",
                    "step_minutes": 15,
                    "location": "https://meet.example.com/ops-review",
                    "participants": [
                        {
                            "participant_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                            "attendance": "required",
                        },
                        {
                            "participant_id": "9b2e6c1a-0d4f-4e8a-9c7b-5a1d2e3f4a5b",
                            "attendance": "required",
                        },
                    ],
                    "quorum": [],
                }
            ]
        },
    )
    title: Name
    description: LongText | None = None
    duration_minutes: SeriesDuration
    recurrence: Recurrence
    start_date: Day
    count: Count | None = None
    until: Day | None = None
    anchor_timezone: TimezoneName
    policy: Policy = "rotate"
    step_minutes: StepMinutes = 15
    location: Location | None = None
    participants: Members
    quorum: QuorumRules = []
    replan: Replan = "manual"
    send_invitations: Flag = False
    organizer_email: Email | None = None
    reminder_minutes: ReminderMinutes | None = 15
    slack_channel_id: SlackId | None = None
    slack_reminder_minutes: ReminderMinutes | None = 60

    @model_validator(mode="after")
    def _shape(self) -> SeriesCreate:
        check_series_shape(self.model_dump())
        return self


class SeriesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name | None = None
    description: LongText | None = None
    duration_minutes: SeriesDuration | None = None
    recurrence: Recurrence | None = None
    start_date: Day | None = None
    count: Count | None = None
    until: Day | None = None
    anchor_timezone: TimezoneName | None = None
    policy: Policy | None = None
    step_minutes: StepMinutes | None = None
    location: Location | None = None
    participants: Members | None = None
    quorum: QuorumRules | None = None
    replan: Replan | None = None
    send_invitations: Flag | None = None
    organizer_email: Email | None = None
    reminder_minutes: ReminderMinutes | None = None
    slack_channel_id: SlackId | None = None
    slack_reminder_minutes: ReminderMinutes | None = None


class StaleOut(BaseModel):
    occurrence_id: uuid.UUID
    changes: list[str] = Field(description="What changed since it was scheduled, a sentence each.")


class SeriesPublic(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    duration_minutes: int
    recurrence: str
    start_date: date
    count: int | None
    until: date | None
    anchor_timezone: str
    policy: Policy
    step_minutes: int
    location: str | None
    participants: list[MemberOut]
    quorum: list[QuorumRule]
    replan: Replan
    send_invitations: bool = False
    organizer_email: str | None = None
    reminder_minutes: int | None = None
    slack_channel_id: str | None = None
    slack_reminder_minutes: int | None = None
    stale: bool | None = Field(
        default=None,
        description="Read alone (GET /v1/series/{id}): whether a stored future occurrence is "
        "out of date; null in lists and in the answers of writes.",
    )
    stale_occurrences: list[StaleOut] | None = None
    created_at: datetime
    updated_at: datetime


def check_series_shape(values: dict[str, Any]) -> None:
    """Rules across fields: count xor until, a valid rule that yields dates, members."""
    count, until, start = values.get("count"), values.get("until"), values["start_date"]
    if (count is None) == (until is None):
        raise InvalidInput(("count",), "Give exactly one of count and until.")
    if until is not None and until < start:
        raise InvalidInput(("until",), "until is before start_date.")
    series_dates(
        values["recurrence"],
        start,
        values["anchor_timezone"],
        count=count,
        until=until,
        limit=request_horizon(),
    )
    members = values["participants"]
    ids = [str(m["participant_id"]) for m in members]
    if len(set(ids)) != len(ids):
        raise InvalidInput(("participants",), PARTICIPANT_LISTED_TWICE)
    if not any(m["attendance"] in ("required", "quorum") for m in members):
        raise InvalidInput(("participants",), NO_REQUIRED_PARTICIPANT)
    parties = [str(r["party_id"]) for r in values.get("quorum") or []]
    if len(set(parties)) != len(parties):
        raise InvalidInput(("quorum",), "A party has two quorum rules; give each party one.")


def _public(session: Session, series: Series, response: Response | None = None) -> SeriesPublic:
    if response is not None:
        response.headers["ETag"] = etag_of(series)
    members = schedules.members_of(session, series.id)
    data = series.model_dump()
    data["participants"] = [
        MemberOut.model_validate(
            {"participant_id": m.participant_id, "attendance": m.attendance, "required": m.required}
        )
        for m in members
    ]
    return SeriesPublic.model_validate(data)


def _check_quorum(session: Session, workspace: Workspace, series: Series) -> None:
    """The quorum rules fit the members as written (422 otherwise): each names a party of
    this workspace with quorum members in the series, and asks for 1 to that many; every
    party with quorum members has a rule."""
    ctx = schedules.load_context(session, workspace, series)
    for i, rule in enumerate(series.quorum):
        party = party_in(session, workspace, uuid.UUID(str(rule["party_id"])))
        if not any(
            m.attendance == "quorum" and ctx.party_of(m.participant_id) == party.id
            for m in ctx.members
        ):
            raise invalid(("quorum", i, "party_id"), quorum_refusal(party.name, 0))
    check_spec(ctx.spec())


def _set_members(
    session: Session, workspace: Workspace, series: Series, members: list[SeriesMember]
) -> None:
    _, _, missing = load_people(session, workspace, [m.participant_id for m in members])
    if missing:
        raise invalid(
            ("participants",),
            f"participant_id {missing[0]} does not name a participant in this workspace.",
        )
    kept: dict[uuid.UUID, tuple[str | None, bool]] = {}
    for old in schedules.members_of(session, series.id):
        kept[old.participant_id] = (old.response, old.unsubscribed)  # answers stay
        session.delete(old)
    session.flush()
    for m in members:
        response, unsubscribed = kept.get(m.participant_id, (None, False))
        session.add(
            SeriesParticipant(
                series_id=series.id,
                participant_id=m.participant_id,
                attendance=m.attendance or "required",
                response=response,
                unsubscribed=unsubscribed,
            )
        )
    session.flush()


@router.post(
    "", status_code=201, response_model=SeriesPublic, responses=error_responses(400, 413, 422)
)
def create(
    body: SeriesCreate, workspace: WorkspaceDep, session: SessionDep, response: Response
) -> SeriesPublic:
    series = Series(workspace_id=workspace.id, **body.model_dump(exclude={"participants"}))
    series.quorum = [_rule_json(r) for r in body.quorum]
    session.add(series)
    session.flush()
    _set_members(session, workspace, series, body.participants)
    _check_quorum(session, workspace, series)
    return _public(session, series, response)


def _rule_json(rule: QuorumRule) -> dict[str, Any]:
    return {"party_id": str(rule.party_id), "min_attendees": rule.min_attendees}


@router.get("", response_model=Page[SeriesPublic], responses=error_responses(422))
def list_(
    workspace: WorkspaceDep, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[SeriesPublic]:
    stmt = select(Series).where(Series.workspace_id == workspace.id)
    rows, next_cursor = paginate(session, stmt, Series, limit, cursor)
    return Page(items=[_public(session, r) for r in rows], next_cursor=next_cursor)


@router.get("/{series_id}", response_model=SeriesPublic, responses=error_responses(404, 422))
def read(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    now: NowDep,
    response: Response,
) -> SeriesPublic:
    """The series, and whether its stored future occurrences are stale: out of date with
    the members' hours, time off, holidays or the series itself (``schedule`` fixes it)."""
    answer = _public(session, series, response)
    ctx = schedules.load_context(session, workspace, series)
    rows = schedules.history(session, series.id, now)
    current = current_figures(ctx, [*rows.future, *rows.pinned], now)
    answer.stale_occurrences = [
        StaleOut(occurrence_id=oid, changes=c.changes) for oid, c in current.items() if c.stale
    ]
    answer.stale = bool(answer.stale_occurrences)
    return answer


@router.patch(
    "/{series_id}", response_model=SeriesPublic, responses=error_responses(400, 404, 412, 413, 422)
)
@retry_lost_race
def update(
    series_id: uuid.UUID,
    body: SeriesUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> SeriesPublic:
    """Change the series. Occurrences change only when you call ``schedule`` again, unless
    ``replan`` is ``auto`` and the change makes a stored future occurrence infeasible."""
    series = load_owned(session, Series, series_id, workspace, "series")
    check_if_match(if_match, series)
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(
        changes,
        (
            "title",
            "duration_minutes",
            "recurrence",
            "start_date",
            "anchor_timezone",
            "policy",
            "step_minutes",
            "participants",
            "replan",
            "send_invitations",
        ),
    )
    members = changes.pop("participants", None)
    if "quorum" in changes:
        changes["quorum"] = [_rule_json(r) for r in body.quorum or []]
    if "count" in changes and changes["count"] is not None and "until" not in changes:
        changes["until"] = None
    if "until" in changes and changes["until"] is not None and "count" not in changes:
        changes["count"] = None
    merged = {**series.model_dump(), **changes}
    merged["participants"] = (
        [m.model_dump() for m in body.participants]
        if body.participants is not None
        else [m.model_dump() for m in schedules.members_of(session, series.id)]
    )
    check_series_shape(merged)
    touch(session, series, changes)  # first: of racing changes, only the winner writes members
    if members is not None:
        assert body.participants is not None
        before = invitations.members_of(session, series.id)
        _set_members(session, workspace, series, body.participants)
        kept = {m.participant_id for m in body.participants}
        gone = [(m, p) for m, p in before if p.id not in kept]
        invitations.member_removed(session, series, gone, now, settings)
    if members is not None or "quorum" in changes:
        _check_quorum(session, workspace, series)
    if changes.keys() & {"participants", "quorum", "duration_minutes", "replan"} or members:
        people = [m.participant_id for m in schedules.members_of(session, series.id)]
        replan_affected(
            session, workspace, people, "the series changed", now, settings, only=series.id
        )
    outbound.series_changed(session, workspace, series, now, settings)
    return _public(session, series, response)


@router.delete("/{series_id}", status_code=204, responses=error_responses(404, 422))
def delete(
    series: OwnedSeries, session: SessionDep, now: NowDep, settings: SettingsDep
) -> Response:
    """Delete the series, its occurrences and share links; its feeds are revoked, and its
    members' invitations cancelled."""
    invitations.series_deleted(session, series, now, settings)
    schedules.delete_series(session, series, now)
    return Response(status_code=204)


# --- planning -------------------------------------------------------------------------


ViewQuery = Annotated[
    View,
    Query(
        description="compact: occurrences without their participants' local times (the "
        "per-person totals in burden stay complete)."
    ),
]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000, description="First occurrence listed.")]
PageQuery = Annotated[
    int | None, Query(ge=1, le=1000, description="At most this many occurrences (all if unset).")
]


def _check_size(
    ctx: schedules.SeriesContext,
    past: schedules.History,
    now: datetime,
    view: View,
    limit: int | None,
) -> None:
    """Refuse at once (422) a plan too big to compute or to list in full."""
    work = schedules.plan_work(ctx, past, now)
    try:
        check_plan_work(work)
    except InvalidInput as exc:  # the stored series is too big, not this request
        raise InvalidInput(("series", *exc.loc), exc.msg) from None
    if view == "full":
        shown = work.dates if limit is None else min(limit, work.dates)
        try:
            check_listing(shown, work.required + work.optional)
        except InvalidInput as exc:
            raise InvalidInput(("query", *exc.loc), exc.msg) from None


def _json(body: bytes) -> Response:
    """A plan's answer, made by :func:`app.views.plans.plan_json` or ``model_dump_json``:
    already the body of its model, so FastAPI does not validate it once more."""
    return Response(body, media_type="application/json")


@router.post("/{series_id}/plan", response_model=PlanOut, responses=error_responses(404, 422))
def plan(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    now: NowDep,
    request: Request,
    view: ViewQuery = "full",
    offset: OffsetQuery = 0,
    limit: PageQuery = None,
) -> Response:
    """Preview the plan; nothing is stored."""
    ctx = schedules.load_context(session, workspace, series)
    past = schedules.history(session, series.id, now)
    _check_size(ctx, past, now, view, limit)
    body = schedules.plan_answer(
        ctx,
        past,
        now,
        partial(plan_json, PlanFrame.of(ctx), view, offset, limit),
        heavy=services(request.app).heavy_work,
        scope=request.scope,
        time_budget_seconds=services(request.app).settings.plan_time_budget_seconds,
    )
    return _json(body)


@router.post(
    "/{series_id}/schedule", response_model=PlanOut, responses=error_responses(404, 409, 422)
)
def schedule(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    now: NowDep,
    request: Request,
    view: ViewQuery = "full",
    offset: OffsetQuery = 0,
    limit: PageQuery = None,
) -> Response:
    """Store the plan: past occurrences stay, future ones are replaced (ids kept if unmoved).
    Every occurrence is stored; ``view``, ``offset`` and ``limit`` only shape the answer."""
    ctx = schedules.load_context(session, workspace, series)
    past = schedules.history(session, series.id, now)
    _check_size(ctx, past, now, view, limit)
    result = schedules.make_plan(
        ctx,
        past,
        now,
        heavy=services(request.app).heavy_work,
        scope=request.scope,
        time_budget_seconds=services(request.app).settings.plan_time_budget_seconds,
    )
    stored = schedules.store_plan(session, workspace, series, result, past)
    outbound.series_changed(session, workspace, series, now, services(request.app).settings)
    out = plan_out(PlanFrame.of(ctx), result, stored, view=view, offset=offset, limit=limit)
    return _json(out.model_dump_json().encode())


# --- occurrences and the ledger ---------------------------------------------------------


Status = Literal["scheduled", "cancelled"]


@router.get(
    "/{series_id}/occurrences",
    response_model=Page[OccurrenceOut],
    responses=error_responses(404, 422),
)
def occurrences(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    request: Request,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Annotated[Instant | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[OccurrenceOut] | Response:
    """Stored occurrences in start order; ``Accept: text/csv`` answers CSV."""
    stmt = select(Occurrence).where(Occurrence.series_id == series.id)
    if from_ is not None:
        stmt = stmt.where(col(Occurrence.end) > from_)
    if to is not None:
        stmt = stmt.where(col(Occurrence.start) < to)
    if status is not None:
        stmt = stmt.where(Occurrence.status == status)
    rows, next_cursor = paginate(session, stmt, Occurrence, limit, cursor, order_by="start")
    ctx = schedules.load_context(session, workspace, series)
    now = now_of(request)
    current = current_figures(ctx, rows, now)
    page = Page[OccurrenceOut](
        items=[occurrence_out(r, ctx, current.get(r.id)) for r in rows], next_cursor=next_cursor
    )
    return occurrences_csv(ctx, page) if wants_csv(request) else page


@router.get("/{series_id}/balance", response_model=BalanceOut, responses=error_responses(404, 422))
def balance(
    series: OwnedSeries,
    workspace: WorkspaceDep,
    session: SessionDep,
    now: NowDep,
    request: Request,
) -> BalanceOut | Response:
    """The burden ledger: per participant and per party, past, scheduled and total minutes."""
    ctx = schedules.load_context(session, workspace, series)
    rows = list(session.exec(select(Occurrence).where(Occurrence.series_id == series.id)))
    people, parties = schedules.ledger(ctx, rows, now)
    # The split into past and scheduled moves when the next occurrence starts.
    valid_until(request, now, min((o.start for o in rows if o.start >= now), default=None))
    answer = balance_out(ctx, people, parties, now)
    return balance_csv(ctx, answer) if wants_csv(request) else answer
