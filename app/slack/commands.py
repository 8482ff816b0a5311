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

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app.db import schedules
from app.db.current import current_figures
from app.db.links import link_urls, personal_feed
from app.db.models import Occurrence, Participant, Party, Series, SeriesParticipant, Workspace
from app.db.people import load_people
from app.errors import AppError
from app.scheduling.model import InvalidInput, Person
from app.scheduling.search import overlap
from app.scheduling.wording import hours, length
from app.secret_box import secret_box
from app.settings import Settings
from app.slack.blocks import (
    OccurrenceView,
    Reply,
    absent_line,
    answers_line,
    escape,
    hard_turn_takers,
    notice,
    occurrence_buttons,
    other_zones,
    span_theirs,
    span_yours,
    times_line,
    turns_button,
    when_yours,
)
from app.slack.blocks import hard_turn as hard_turn  # app.slack.posts and tests import it here
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
from app.views.plans import PlanFrame, occurrence_out, plan_out

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


def load_caller(session: Session, workspace: Workspace, participant_id: uuid.UUID) -> Caller:
    people, rows, _ = load_people(session, workspace, [participant_id])
    if participant_id not in rows:
        raise Refusal("Your participant record no longer exists; ask an admin to link you again.")
    participant, party = rows[participant_id]
    return Caller(participant, party, people[participant_id])


def linked_here(participant: Participant, workspace: Workspace, teams: Sequence[str]) -> bool:
    """Whether a Slack user of ``teams`` (their own team) is ``participant``'s Slack account,
    given that their user id matches: the participant names that team (``slack_team_id``, a
    Slack Connect user of another organisation), or names none and the workspace's Slack team
    is theirs."""
    if participant.slack_team_id is not None:
        return participant.slack_team_id in teams
    return workspace.slack_team_id is not None and workspace.slack_team_id in teams


def find_caller(session: Session, command: SlashCommand) -> tuple[Workspace, Caller]:
    """The workspace and participant of the Slack user ``(team_id, user_id)``, wherever the
    command was typed (:func:`linked_here`). A vendor's user in a Slack Connect channel
    sends their own team (:class:`SlashCommand`), so the workspace is found through their
    participant, not through ``team_id``; linked in several, the one whose series post to
    this channel is meant, else the one bound to their team."""
    teams = command.teams
    linked = session.exec(
        select(Participant, Workspace)
        .join(Workspace, col(Workspace.id) == col(Participant.workspace_id))
        .where(
            Participant.slack_user_id == command.user_id,
            or_(
                col(Participant.slack_team_id).in_(teams),
                and_(
                    col(Participant.slack_team_id).is_(None),
                    col(Workspace.slack_team_id).in_(teams),
                ),
            ),
        )
        .order_by(col(Workspace.name), col(Workspace.id))
    ).all()
    if not linked:
        raise _not_linked(session, command)
    if len(linked) > 1 and command.channel_id:
        posting = set(
            session.exec(
                select(Series.workspace_id).where(
                    col(Series.workspace_id).in_([w.id for _, w in linked]),
                    Series.slack_channel_id == command.channel_id,
                )
            )
        )
        linked = [row for row in linked if row[1].id in posting] or linked
    if len(linked) > 1:
        linked = [row for row in linked if row[1].slack_team_id in teams] or linked
    if len(linked) > 1:
        names = ", ".join(f"*{escape(w.name)}*" for _, w in linked[:AMBIGUOUS_SHOWN])
        raise Refusal(
            f"Your Slack account is linked in {len(linked)} scheduler workspaces ({names}). "
            "Run the command in a channel that one of their series posts to."
        )
    participant, workspace = linked[0]
    return workspace, load_caller(session, workspace, participant.id)


def _not_linked(session: Session, command: SlashCommand) -> Refusal:
    team, user = escape(command.team_id), escape(command.user_id)
    home = session.exec(
        select(Workspace.id).where(col(Workspace.slack_team_id).in_(command.teams))
    ).first()
    if home is None:
        return Refusal(
            f"This Slack workspace (`{team}`) is not connected to a scheduler workspace yet. "
            "An admin connects it by installing the app: `POST /v1/workspace/slack/install-link` "
            "with the workspace's API key gives the link. From another organisation in a shared "
            "channel? "
            f"Ask the organiser to link you: `PATCH /v1/participants/{{id}}` with "
            f'`{{"slack_user_id": "{user}", "slack_team_id": "{team}"}}`.'
        )
    # Says nothing of the workspace: only linked people see any of it.
    return Refusal(
        f"Your Slack account (`{user}`) is not linked to a participant of the scheduler "
        "workspace this Slack team is connected to. Link it with "
        f'`PATCH /v1/participants/{{id}}` and `{{"slack_user_id": "{user}"}}` '
        "(find your id with `GET /v1/participants`)."
    )


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
        # Every sub-command shows something of the workspace: only for linked people.
        workspace, caller = find_caller(session, command)
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
        turn = str(me.id) in hard_turn_takers(view.participants, ctx)
        reply.section(line).actions(occurrence_buttons(me.id, occ.id, turn))
    return reply.actions([turns_button(me.id)])


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
    member = caller.id in {m.participant_id for m in ctx.members}
    lines = [
        f"{times_line(v.start, v.participants, caller)}\n      {hard_turn(v.participants, ctx)}"
        + absent_line(v, ctx)
        for v in views[:PLAN_SHOWN]
    ]
    stored = [v.id for v in views[:PLAN_SHOWN] if v.id is not None]
    if not member or len(stored) != len(lines):  # a preview, or not theirs: nothing to press
        reply.sections(lines)
    else:
        for view, line, occurrence_id in zip(views, lines, stored, strict=False):
            turn = str(caller.id) in hard_turn_takers(view.participants, ctx)
            reply.section(line).actions(occurrence_buttons(caller.id, occurrence_id, turn))
    if len(views) > PLAN_SHOWN:
        reply.context(
            f"…and {len(views) - PLAN_SHOWN} more; "
            f"`GET /v1/series/{series.id}/occurrences` lists them all."
        )
    if skipped:
        reply.context("Skipped dates: " + "; ".join(skipped[:PLAN_SHOWN]))
    for sentence in ctx.calendar_notices:  # a member's calendar that could not be read
        reply.context(escape(sentence))
    return reply.actions([turns_button(caller.id)] if member else [])


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
