"""The ``/meet`` slash command: who is asking, and one handler per sub-command (the payload
and the text are read by :mod:`app.slack.parsing`).

Handlers answer with a :class:`Reply` (sent at once) or a :class:`Deferred` (an acknowledgement
now, the result later through ``response_url``). Anything a person can fix — an unknown series,
bad arguments, an unlinked account — is a :class:`Refusal`: a helpful ephemeral reply, never an
HTTP error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import schedules
from app.db.current import current_figures
from app.db.links import link_urls, personal_feed
from app.db.models import Occurrence, Participant, Party, Series, SeriesParticipant, Workspace
from app.db.people import load_people
from app.errors import AppError
from app.scheduling import wording
from app.scheduling.model import InvalidInput, Person
from app.scheduling.search import overlap
from app.scheduling.wording import NOBODY_PAYS, hours, length
from app.secret_box import secret_box
from app.settings import Settings
from app.slack.blocks import (
    Reply,
    escape,
    notice,
    other_zones,
    span_theirs,
    span_yours,
    when_theirs,
    when_yours,
)
from app.slack.parsing import (
    DEFAULT_NEXT,
    MAX_NEXT,
    Invocation,
    Refusal,
    SlashCommand,
    parse_count,
    parse_mentions,
    parse_text,
    series_query,
)
from app.views.plans import AbsentOut, ParticipantSlot, PlanFrame, occurrence_out, plan_out

PLAN_SHOWN = 10
SERIES_SHOWN = 30
OVERLAP_DAYS = 7
OVERLAP_SHOWN = 25
AMBIGUOUS_SHOWN = 10


# --- who is asking ---------------------------------------------------------------------


@dataclass
class Caller:
    """The participant linked to the Slack user, with effective values applied."""

    participant: Participant
    party: Party
    person: Person

    @property
    def id(self) -> uuid.UUID:
        return self.participant.id

    @property
    def timezone(self) -> str:
        return self.person.timezone


def find_workspace(session: Session, team_id: str) -> Workspace:
    workspace = session.exec(select(Workspace).where(Workspace.slack_team_id == team_id)).first()
    if workspace is None:
        raise Refusal(
            f"This Slack workspace (`{escape(team_id)}`) is not connected to a scheduler "
            "workspace yet. An admin connects it with the workspace's API key: "
            f'`PATCH /v1/workspace` with `{{"slack_team_id": "{escape(team_id)}"}}`.'
        )
    return workspace


def load_caller(session: Session, workspace: Workspace, participant_id: uuid.UUID) -> Caller:
    people, rows, _ = load_people(session, workspace, [participant_id])
    if participant_id not in rows:
        raise Refusal("Your participant record no longer exists; ask an admin to link you again.")
    participant, party = rows[participant_id]
    return Caller(participant, party, people[participant_id])


def find_caller(session: Session, workspace: Workspace, user_id: str) -> Caller:
    participant = session.exec(
        select(Participant).where(
            Participant.workspace_id == workspace.id, Participant.slack_user_id == user_id
        )
    ).first()
    if participant is None:
        # Says nothing of the workspace: only linked people see any of it.
        raise Refusal(
            f"Your Slack account (`{escape(user_id)}`) is not linked to a participant of the "
            "scheduler workspace this Slack team is connected to. Link it with "
            f'`PATCH /v1/participants/{{id}}` and `{{"slack_user_id": "{escape(user_id)}"}}` '
            "(find your id with `GET /v1/participants`)."
        )
    return load_caller(session, workspace, participant.id)


def find_series(session: Session, workspace: Workspace, name: str) -> Series:
    """By id, by exact title, or by an unambiguous title prefix (case-insensitive)."""
    try:
        wanted: uuid.UUID | None = uuid.UUID(name)
    except ValueError:
        wanted = None
    if wanted is not None:
        found = session.get(Series, wanted)
        if found is not None and found.workspace_id == workspace.id:
            return found
    every = list(
        session.exec(
            select(Series)
            .where(Series.workspace_id == workspace.id)
            .order_by(col(Series.title), col(Series.id))
        )
    )
    key = name.casefold()
    matches = [s for s in every if s.title.casefold() == key] or [
        s for s in every if s.title.casefold().startswith(key)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(f"*{escape(s.title)}*" for s in every[:AMBIGUOUS_SHOWN])
        hint = f" Series here: {known}." if known else " This workspace has no series yet."
        raise Refusal(f"No series matches `{escape(name)}`.{hint}")
    listed = "\n".join(f"• *{escape(s.title)}* — `{s.id}`" for s in matches[:AMBIGUOUS_SHOWN])
    more = f"\n…and {len(matches) - AMBIGUOUS_SHOWN} more" if len(matches) > AMBIGUOUS_SHOWN else ""
    raise Refusal(
        f"`{escape(name)}` matches {len(matches)} series; use more of the title or the id:\n"
        f"{listed}{more}"
    )


# --- dispatch --------------------------------------------------------------------------


@dataclass
class Call:
    """One invocation with everything its handler needs."""

    session: Session
    workspace: Workspace
    caller: Caller
    invocation: Invocation
    command: str
    now: datetime
    settings: Settings

    def me(self) -> Caller:
        return self.caller

    def usage(self) -> str:
        return f"`{self.command} {escape(USAGE[self.invocation.name])}`"


@dataclass
class Deferred:
    """Acknowledge now; ``job`` computes the reply later with its own session."""

    ack: Reply
    job: Callable[[Session], Reply]


Outcome = Reply | Deferred


class Handler(Protocol):
    def __call__(self, call: Call) -> Outcome: ...


def respond(session: Session, command: SlashCommand, now: datetime, settings: Settings) -> Outcome:
    """The reply to one verified slash command."""
    invocation = parse_text(command.text)
    try:
        if invocation.name == "help":
            return help_reply(command.command)
        run = SUBCOMMANDS.get(invocation.name)
        if run is None:
            raise Refusal(
                f"`{escape(invocation.name[:40])}` is not a {command.command} command. "
                f"Try `{command.command} help`."
            )
        workspace = find_workspace(session, command.team_id)
        # Every sub-command shows something of the workspace: only for linked people.
        caller = find_caller(session, workspace, command.user_id)
        call = Call(session, workspace, caller, invocation, command.command, now, settings)
        return run(call)
    except (Refusal, InvalidInput, AppError) as exc:
        reply = explained(exc)
        if reply is None:
            raise
        return reply


def explained(exc: Exception) -> Reply | None:
    """The helpful reply for an error a person can act on; None for anything else."""
    if isinstance(exc, Refusal):
        return exc.reply
    if isinstance(exc, InvalidInput):
        return Refusal(escape(exc.msg)).reply
    if isinstance(exc, AppError) and exc.status < 500:
        return Refusal(escape(exc.detail)).reply
    return None


USAGE = {
    "next": "next [n] [public]",
    "series": "series",
    "plan": "plan <series> [public]",
    "balance": "balance <series>",
    "overlap": "overlap @someone [@someone …]",
    "feed": "feed",
}


def help_reply(command: str) -> Reply:
    lines = [
        f"• `{command} next [n] [public]` — your next n meetings (default {DEFAULT_NEXT}, "
        f"up to {MAX_NEXT}) in your time and the other side's",
        f"• `{command} series` — the meeting series of this workspace",
        f"• `{command} plan &lt;series&gt; [public]` — the upcoming rotation and who takes "
        "the hard turn",
        f"• `{command} balance &lt;series&gt;` — the burden ledger per person and per party, "
        "in hours",
        f"• `{command} overlap @a @b …` — your shared working hours over the next "
        f"{OVERLAP_DAYS} days, in your time",
        f"• `{command} feed` — your personal calendar subscription link (shown only to you)",
    ]
    return (
        Reply()
        .header("Fair meeting times across time zones")
        .sections(lines)
        .context(
            "Name a series by its id or the start of its title (any case). Replies are only "
            "visible to you unless you add `public`."
        )
    )


# --- rendering shared by next and plan -------------------------------------------------


class OccurrenceView(Protocol):
    """What :func:`occurrence_out` and :func:`plan_out` both give for one meeting."""

    @property
    def start(self) -> datetime: ...

    @property
    def participants(self) -> list[ParticipantSlot]: ...

    @property
    def absent(self) -> list[AbsentOut]: ...

    @property
    def changes(self) -> list[str]: ...


def absent_line(view: OccurrenceView, ctx: schedules.SeriesContext) -> str:
    """``\n      absent: Jun (time off)`` for quorum members who cannot come, and what is out
    of date since the occurrence was scheduled, else ``''``."""
    line = ""
    if view.absent:
        names = [
            f"{escape(ctx.name_of(a.participant_id))} ({escape(a.reason)})" for a in view.absent
        ]
        line += f"\n      absent: {'; '.join(names)}"
    if view.changes:
        line += f"\n      :warning: out of date: {escape(' '.join(view.changes))}"
    return line


def times_line(start: datetime, slots: Sequence[ParticipantSlot], caller: Caller) -> str:
    """``<date token> your time · Wed 09:00 Manila · Tue 14:00 London``."""
    mine = str(caller.id)
    zones = other_zones(caller.timezone, (s.timezone for s in slots if s.participant_id != mine))
    return " · ".join(
        [f"{when_yours(start, caller.timezone)} your time", *(when_theirs(start, z) for z in zones)]
    )


def hard_turn(slots: Sequence[ParticipantSlot], ctx: schedules.SeriesContext) -> str:
    """Who pays most among the counted participants (ties named together), or nobody."""
    required = {str(m.participant_id) for m in ctx.members if m.counted}
    turn = wording.hard_turn(
        (
            (ctx.name_of(s.participant_id), s.burden_minutes)
            for s in slots
            if s.participant_id in required
        ),
        mark=lambda names: f"*{escape(names)}*",
    )
    return NOBODY_PAYS if turn is None else f"hard turn: {turn}"


def answers_line(slots: Sequence[ParticipantSlot], ctx: schedules.SeriesContext) -> str:
    """Who answered the invitation and how (RSVP links), e.g. "Maria Santos declined"."""
    said = wording.answers((ctx.name_of(s.participant_id), s.response) for s in slots)
    return f"\n      {escape(said)}" if said else ""


# --- the sub-commands ------------------------------------------------------------------


def next_meetings(call: Call) -> Reply:
    count = parse_count(call.invocation.args, call.usage())
    me = call.me()
    rows = list(
        call.session.exec(
            select(Occurrence)
            .join(SeriesParticipant, col(SeriesParticipant.series_id) == col(Occurrence.series_id))
            .where(
                SeriesParticipant.participant_id == me.id,
                Occurrence.workspace_id == call.workspace.id,
                Occurrence.status == "scheduled",
                col(Occurrence.start) >= call.now,
            )
            .order_by(col(Occurrence.start), col(Occurrence.id))
            .limit(count)
        )
    )
    if not rows:
        raise Refusal(
            "You have no upcoming meetings. See the series with "
            f"`{call.command} series`; a series gets dates once it is scheduled "
            "(`POST /v1/series/{id}/schedule`)."
        )
    contexts: dict[uuid.UUID, schedules.SeriesContext] = {}
    reply = Reply(public=call.invocation.public).header(
        f"Next {len(rows)} meeting{'s' if len(rows) != 1 else ''} of {me.participant.name}"
    )
    for occ in rows:
        if occ.series_id not in contexts:
            series = call.session.get(Series, occ.series_id)
            assert series is not None
            contexts[occ.series_id] = schedules.load_context(call.session, call.workspace, series)
        ctx = contexts[occ.series_id]
        view = occurrence_out(occ, ctx, current_figures(ctx, [occ], call.now).get(occ.id))
        line = f"*{escape(ctx.series.title)}* · {length(ctx.series.duration_minutes)}\n"
        line += times_line(view.start, view.participants, me) + absent_line(view, ctx)
        line += answers_line(view.participants, ctx)
        if ctx.series.location:
            line += f"\n{escape(ctx.series.location)}"
        reply.section(line)
    return reply


def list_series(call: Call) -> Reply:
    if call.invocation.args:
        raise Refusal(f"`series` takes no arguments. Usage: {call.usage()}")
    session, workspace = call.session, call.workspace
    every = list(
        session.exec(
            select(Series)
            .where(Series.workspace_id == workspace.id)
            .order_by(col(Series.title), col(Series.id))
        )
    )
    if not every:
        raise Refusal(
            "This workspace has no meeting series yet; create one with `POST /v1/series`."
        )
    upcoming = dict(
        session.exec(
            select(Occurrence.series_id, func.min(Occurrence.start))
            .where(
                Occurrence.workspace_id == workspace.id,
                Occurrence.status == "scheduled",
                col(Occurrence.start) >= call.now,
            )
            .group_by(col(Occurrence.series_id))
        ).all()
    )
    me = call.me()
    mine = set(
        session.exec(
            select(SeriesParticipant.series_id).where(SeriesParticipant.participant_id == me.id)
        )
    )
    lines = []
    for series in every[:SERIES_SHOWN]:
        next_at = upcoming.get(series.id)
        when = "not scheduled" if next_at is None else f"next {when_yours(next_at, me.timezone)}"
        you = " · you take part" if series.id in mine else ""
        lines.append(
            f"• *{escape(series.title)}* — {length(series.duration_minutes)}, "
            f"`{escape(series.recurrence)}`, {series.policy} · {when}{you}\n  `{series.id}`"
        )
    reply = Reply().header(f"Meeting series ({len(every)})").sections(lines)
    if len(every) > SERIES_SHOWN:
        reply.context(f"…and {len(every) - SERIES_SHOWN} more; `GET /v1/series` lists them all.")
    return reply.context(f"`{call.command} plan &lt;series&gt;` shows the rotation of one of them.")


def named_series(call: Call) -> Series:
    return find_series(
        call.session, call.workspace, series_query(call.invocation.args, call.usage())
    )


def plan(call: Call) -> Deferred:
    series = named_series(call)
    job = PlanJob(call.workspace.id, series.id, call.me().id, call.now, call.invocation.public)
    ack = notice(
        f":hourglass_flowing_sand: Working out the rotation of *{escape(series.title)}*; "
        "it will appear here in a moment."
    )
    return Deferred(ack=ack, job=job)


@dataclass(frozen=True)
class PlanJob:
    """The upcoming rotation: the stored occurrences when the series is scheduled, otherwise a
    preview from the planner (nothing is stored either way)."""

    workspace_id: uuid.UUID
    series_id: uuid.UUID
    participant_id: uuid.UUID
    now: datetime
    public: bool

    def __call__(self, session: Session) -> Reply:
        workspace = session.get(Workspace, self.workspace_id)
        series = session.get(Series, self.series_id)
        if workspace is None or series is None or series.workspace_id != workspace.id:
            raise Refusal("That series was deleted a moment ago.")
        caller = load_caller(session, workspace, self.participant_id)
        ctx = schedules.load_context(session, workspace, series)
        stored = list(
            session.exec(
                select(Occurrence)
                .where(
                    Occurrence.series_id == series.id,
                    Occurrence.status == "scheduled",
                    col(Occurrence.start) >= self.now,
                )
                .order_by(col(Occurrence.start))
            )
        )
        views: Sequence[OccurrenceView]
        if stored:
            current = current_figures(ctx, stored, self.now)
            views = [occurrence_out(o, ctx, current.get(o.id)) for o in stored]
            source = "Scheduled occurrences"
            skipped: list[str] = []
        else:
            preview = plan_out(
                PlanFrame.of(ctx),
                schedules.make_plan(ctx, schedules.history(session, series.id, self.now), self.now),
            )
            views = preview.occurrences
            source = "Preview — not scheduled yet (`POST /v1/series/{id}/schedule` stores it)"
            skipped = [f"{u.date:%a %d %b %Y}: {escape(u.reason)}" for u in preview.unschedulable]
        return render_plan(ctx, caller, views, source, skipped, self.public)


def render_plan(
    ctx: schedules.SeriesContext,
    caller: Caller,
    views: Sequence[OccurrenceView],
    source: str,
    skipped: Sequence[str],
    public: bool,
) -> Reply:
    series = ctx.series
    reply = Reply(public=public).header(f"{series.title} — upcoming rotation")
    reply.context(f"{source} · {length(series.duration_minutes)} · policy {series.policy}")
    if not views:
        reply.section("No upcoming occurrences: every date of this series is in the past.")
    lines = [
        f"{times_line(v.start, v.participants, caller)}\n      {hard_turn(v.participants, ctx)}"
        + absent_line(v, ctx)
        for v in views[:PLAN_SHOWN]
    ]
    reply.sections(lines)
    if len(views) > PLAN_SHOWN:
        reply.context(
            f"…and {len(views) - PLAN_SHOWN} more; "
            f"`GET /v1/series/{series.id}/occurrences` lists them all."
        )
    if skipped:
        reply.context("Skipped dates: " + "; ".join(skipped[:PLAN_SHOWN]))
    for sentence in ctx.calendar_notices:  # a member's calendar that could not be read
        reply.context(escape(sentence))
    return reply


def balance(call: Call) -> Reply:
    series = named_series(call)
    ctx = schedules.load_context(call.session, call.workspace, series)
    rows = list(call.session.exec(select(Occurrence).where(Occurrence.series_id == series.id)))
    people, parties = schedules.ledger(ctx, rows, call.now)
    attendance = {str(m.participant_id): m.attendance for m in ctx.members}
    reply = Reply().header(f"Burden ledger — {series.title}")
    reply.context(
        "Burden is weighted time outside someone's working hours, in hours: past meetings, "
        "scheduled ones, and the total."
    )
    by_party: dict[uuid.UUID, list[str]] = {}
    for pid in people:
        if uuid.UUID(pid) in ctx.rows:  # as in the REST ledger: current members only
            by_party.setdefault(ctx.party_of(pid), []).append(pid)
    lines = []
    for party_id, pids in sorted(
        by_party.items(), key=lambda kv: (ctx.rows[uuid.UUID(kv[1][0])][1].name, str(kv[0]))
    ):
        party, line = ctx.rows[uuid.UUID(pids[0])][1], parties[party_id]
        opening = f"opening {hours(line.opening)} · " if line.opening else ""
        lines.append(
            f"*{escape(party.name)}* — {hours(line.total)} "
            f"({opening}past {hours(line.past)} · scheduled {hours(line.scheduled)}); "
            f"{line.members} member{'s' if line.members != 1 else ''}, mean {hours(line.mean)}, "
            f"largest {hours(line.largest)}"
        )
        for pid in sorted(pids, key=lambda pid: (ctx.name_of(pid), pid)):
            person = people[pid]
            role = attendance.get(pid, "optional")
            marker = "" if role == "required" else f" ({role})"
            lines.append(
                f"    • {escape(ctx.name_of(pid))}{marker}: {hours(person.total)} "
                f"(past {hours(person.past)} · scheduled {hours(person.scheduled)})"
            )
    return reply.sections(lines)


def shared_hours(call: Call) -> Reply:
    usage = call.usage()
    user_ids = parse_mentions(call.invocation.args, usage)
    me = call.me()
    others = [u for u in user_ids if u != me.participant.slack_user_id]
    if not others:
        raise Refusal(f"Mention at least one other person. Usage: {usage}")
    linked = {
        p.slack_user_id: p
        for p in call.session.exec(
            select(Participant).where(
                Participant.workspace_id == call.workspace.id,
                col(Participant.slack_user_id).in_(others),
            )
        )
    }
    unlinked = [u for u in others if u not in linked]
    if unlinked:
        who = ", ".join(f"<@{u}>" for u in unlinked)
        raise Refusal(
            f"{who} {'is' if len(unlinked) == 1 else 'are'} not linked to a participant here. "
            'Link them with `PATCH /v1/participants/{id}` and `{"slack_user_id": "U…"}`.'
        )
    ids = [me.id, *(linked[u].id for u in others)]
    people, rows, _ = load_people(call.session, call.workspace, ids)
    start = call.now.replace(second=0, microsecond=0)
    end = start + timedelta(days=OVERLAP_DAYS)
    windows = overlap([people[i] for i in ids], start, end)
    names = ", ".join(escape(rows[i][0].name) for i in ids[1:])
    reply = Reply().header(f"Shared working hours, next {OVERLAP_DAYS} days")
    reply.context(f"You and {names} · times in your zone ({me.timezone}) and theirs")
    if not windows:
        return reply.section(
            "No shared working hours in the next 7 days (holidays and time off count). "
            f"Try `{call.command} plan &lt;series&gt;` to see how a rotation shares the burden."
        )
    their_zones = other_zones(me.timezone, (people[i].timezone for i in ids[1:]))
    lines = [
        " · ".join(
            [
                f"{span_yours(w.start, w.end, me.timezone)} your time",
                *(span_theirs(w.start, w.end, z) for z in their_zones),
            ]
        )
        for w in windows[:OVERLAP_SHOWN]
    ]
    total = sum(int((w.end - w.start).total_seconds()) // 60 for w in windows)
    reply.sections(lines)
    more = (
        f" ({len(windows) - OVERLAP_SHOWN} more windows not shown)"
        if len(windows) > OVERLAP_SHOWN
        else ""
    )
    return reply.context(f"{hours(total)} shared in all{more}.")


def feed(call: Call) -> Reply:
    if call.invocation.args:
        raise Refusal(
            f"`feed` takes no arguments; the link is secret, so it is only shown to you. "
            f"Usage: {call.usage()}"
        )
    me = call.me()
    row, token = personal_feed(call.session, secret_box(call.settings), call.workspace.id, me.id)
    url, webcal = link_urls(call.settings.public_base, f"/feeds/{token}.ics")
    return (
        Reply()
        .header("Your calendar feed")
        .section(
            f"Subscribe in your calendar app: <{url}|{url}>\nApple Calendar / Outlook: `{webcal}`"
        )
        .context(
            "Keep this link private: anyone with it can read your meetings. Asking again "
            "shows this same link. If it leaked, revoke it with "
            f"`DELETE /v1/feeds/{{id}}` — this one is `{row.id}` — and ask again for a new one."
        )
    )


SUBCOMMANDS: dict[str, Handler] = {
    "next": next_meetings,
    "series": list_series,
    "plan": plan,
    "balance": balance,
    "overlap": shared_hours,
    "feed": feed,
}
