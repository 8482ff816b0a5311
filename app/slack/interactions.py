"""``POST /slack/interactions``: the buttons of ``/meet next`` and ``/meet plan`` — "I can't
make it", "Swap with the next turn", "Show my turns" — verified like commands, answered
ephemerally at the press's ``response_url``.

Who pressed is the Slack user (``user.id``, ``user.team_id``), mapped to a participant as
commands map their caller (:func:`app.slack.commands.linked_here`): a vendor's user in a
Slack Connect channel is recognised by their own team. A button names the participant it was
made for and the meeting (:func:`app.slack.blocks.button_value`); neither is trusted.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from sqlmodel import Session, col, select

from app import outbound
from app.api.deps import CHANGE_ATTEMPTS, SessionDep, SettingsDep, now_of
from app.api.occurrences import PINNED_NOTICE, BalanceChange, swap_occurrences
from app.db import schedules
from app.db.changes import LostRace
from app.db.current import current_figures
from app.db.models import Occurrence, Participant, Series, SeriesParticipant, Workspace
from app.errors import AppError, error_responses
from app.scheduling.clock import utc_minute
from app.scheduling.model import BusyTimes, InvalidInput, zone
from app.scheduling.wording import hours
from app.services import services
from app.settings import Settings
from app.slack.blocks import (
    DECLINE,
    MY_TURNS,
    SWAP,
    Reply,
    escape,
    hard_turn_takers,
    notice,
    times_line,
)
from app.slack.commands import Caller, explained, linked_here, load_caller
from app.slack.delivery import allowed_response_url, post_reply
from app.slack.parsing import BlockAction, Refusal, parse_interaction
from app.slack.verify import accept_once, verified_body
from app.views.plans import OccurrenceOut, occurrence_out

log = logging.getLogger("app.slack")

router = APIRouter(prefix="/slack", tags=["slack"])

TURNS_SHOWN = 10
TURNS_SCANNED = 200  # upcoming meetings of theirs looked at for "Show my turns"
SWAP_TRIES = 10  # later meetings tried, in order, for one that can take this time

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"payload": {"type": "string"}},
                    "required": ["payload"],
                }
            }
        },
    }
}

NOT_YOURS = (
    "These buttons were made for someone else, so they change nothing for you. "
    "`/meet next` shows your own meetings with buttons of your own."
)
GONE = "That meeting no longer exists (it was deleted or re-planned away); nothing changed."


@router.post(
    "/interactions",
    openapi_extra=_FORM,
    response_class=Response,
    responses={
        200: {"description": "Acknowledged (empty); the answer is POSTed to response_url."},
        **error_responses(400, 401, 413, 503),
    },
)
def interaction(
    body: Annotated[bytes, Depends(verified_body)],
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    background: BackgroundTasks,
) -> Response:
    """Slack's button press (a ``block_actions`` payload), signed with the app's signing
    secret: 401 unless signed, under 5 minutes old and received for the first time, 503
    without a signing secret. Slack wants an empty 200 within 3 seconds; the change is made
    (and committed) before it, the ephemeral answer follows at ``response_url``. A press whose
    ``response_url`` is not an allowed prefix changes nothing: its answer could not be shown.
    """
    action = parse_interaction(body)
    accept_once(services(request.app).engine, request.headers)
    if not allowed_response_url(action.response_url, settings.slack_response_url_prefixes):
        log.warning("slack button press with a response_url outside the allowed prefixes")
        return Response(status_code=200)
    reply = answer(session, action, now_of(request), settings)
    payload = {**reply.payload(), "response_type": "ephemeral", "replace_original": False}
    background.add_task(post_reply, action.response_url, payload)
    return Response(status_code=200)


# --- who pressed what ------------------------------------------------------------------


@dataclass
class Press:
    """A button press by the participant it was made for, with what it acts on."""

    session: Session
    workspace: Workspace
    caller: Caller
    now: datetime
    settings: Settings
    occurrence: Occurrence | None = None
    series: Series | None = None

    def meeting(self) -> tuple[Occurrence, Series]:
        assert self.occurrence is not None and self.series is not None
        return self.occurrence, self.series


def answer(session: Session, action: BlockAction, now: datetime, settings: Settings) -> Reply:
    """The reply to one verified press; what a person can fix is a reply, and changes
    nothing (the transaction is rolled back)."""
    handler = HANDLERS.get(action.action_id)
    if handler is None:
        return notice(":warning: This button is from an older version of the app; ask again.")
    for _ in range(CHANGE_ATTEMPTS):
        try:
            return handler(pressed(session, action, now, settings))
        except LostRace:  # another change to the meeting won: look again
            session.rollback()
        except (Refusal, InvalidInput, AppError) as exc:
            reply = _explained(exc)
            if reply is None:
                raise
            session.rollback()
            return reply
    return notice(":warning: Too many changes to this meeting at once; try again in a moment.")


def _explained(exc: Exception) -> Reply | None:
    if isinstance(exc, AppError) and exc.status < 500 and exc.fields:  # a 422 on one field
        return Refusal(escape(str(exc.fields[0]["msg"]))).reply
    return explained(exc)


def pressed(session: Session, action: BlockAction, now: datetime, settings: Settings) -> Press:
    """The press, once the presser is the participant the button names, in that
    participant's workspace, and its meeting is theirs and still ahead."""
    participant_id, occurrence_id = _button_value(action.value)
    participant = session.get(Participant, participant_id)
    workspace = None if participant is None else session.get(Workspace, participant.workspace_id)
    if (
        participant is None
        or workspace is None
        or participant.slack_user_id != action.user_id
        or not linked_here(participant, workspace, action.teams)
    ):
        raise Refusal(NOT_YOURS)
    press = Press(
        session, workspace, load_caller(session, workspace, participant.id), now, settings
    )
    if action.action_id == MY_TURNS:
        return press
    occ = None if occurrence_id is None else session.get(Occurrence, occurrence_id)
    series = None if occ is None else session.get(Series, occ.series_id)
    if occ is None or series is None or occ.workspace_id != workspace.id:
        raise Refusal(GONE)
    if session.get(SeriesParticipant, (series.id, participant.id)) is None:
        raise Refusal(f"You no longer take part in *{escape(series.title)}*; nothing changed.")
    if occ.start < now:
        raise Refusal("This meeting has already started; nothing changed.")
    if occ.status != "scheduled":
        raise Refusal("This meeting was cancelled; nothing changed.")
    press.occurrence, press.series = occ, series
    return press


def _button_value(value: str) -> tuple[uuid.UUID, uuid.UUID | None]:
    try:
        found = json.loads(value)
        participant = uuid.UUID(found["p"])
        occurrence = uuid.UUID(found["o"]) if "o" in found else None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise Refusal("This button is not one this app made; nothing changed.") from None
    return participant, occurrence


# --- "I can't make it" -----------------------------------------------------------------


def cannot_make_it(press: Press) -> Reply:
    """Record the member's answer for this occurrence ("declined", as the invitation's RSVP
    link does), then:

    - optional member: nothing else; the meeting goes ahead.
    - quorum member: absent (app.db.current); if their party's quorum still holds, the
      meeting goes ahead.
    - a required member, or a quorum member whose party's quorum no longer holds: the
      meeting cannot take place as planned. Under ``replan: "auto"`` the series is re-planned
      at once with the declined time unavailable to them (:func:`replan_around_declines`):
      it moves to the best other time that day, pinned (``schedule`` keeps it), or is
      cancelled when no time that day works. Under ``replan: "manual"`` it stays; the answer
      is shown to the organisers (API, ``/meet next``), who move it or swap it.
    """
    session = press.session
    occ, series = press.meeting()
    ctx = schedules.load_context(session, press.workspace, series)
    me = str(press.caller.id)
    member = next(m for m in ctx.members if m.participant_id == press.caller.id)
    was = times_line(occ.start, [], press.caller)
    if occ.responses.get(me) != "declined":
        occ.responses = {**occ.responses, me: "declined"}
        session.add(occ)
        session.flush()
    current = current_figures(ctx, [occ], press.now).get(occ.id)
    title = f"*{escape(series.title)}* on {was}"
    if not member.required and not (current is not None and current.infeasible):
        why = "you are optional" if not member.counted else "your party's quorum still holds"
        return notice(
            f":white_check_mark: Noted: you can't make {title}. It goes ahead as planned: {why}."
        )
    if series.replan != "auto":
        return notice(
            f":white_check_mark: Noted: you can't make {title}. It cannot go ahead as planned "
            "without you, but it stays at its time for now: this series is re-planned by hand "
            "(`replan: manual`). The organisers see your answer; they can move the meeting, "
            "or you can trade it for a later one with *Swap with the next turn*."
        )
    cause = f"{ctx.name_of(me)} can't make the meeting of {occ.date}"
    changed = replan_around_declines(session, press.workspace, series, occ, press.now, cause)
    outbound.series_changed(session, press.workspace, series, press.now, press.settings)
    others = len(changed) - (occ in changed)
    plural = "s" if others != 1 else ""
    more = f" {others} other meeting{plural} of the series moved too." if others else ""
    if occ.status == "cancelled":
        return notice(
            f":wastebasket: You can't make {title}, and no other time that day works for "
            f"everyone it needs, so it is cancelled (`replan: auto`).{more}"
        )
    if occ not in changed:  # the plan kept it (it can go ahead after all)
        return notice(f":white_check_mark: Noted: you can't make {title}; it stays.{more}")
    now_at = times_line(occ.start, occurrence_out(occ, ctx).participants, press.caller)
    return notice(
        f":calendar: You can't make {title}, so it moved to {now_at} (`replan: auto`; "
        f"pinned, so later re-plans keep it).{more}"
    )


CANNOT = "cannot make it at"
_CANNOT = re.compile(
    rf"^Re-planned: (?P<name>.+) {CANNOT} (?P<at>\d{{4}}-\d\d-\d\d \d\d:\d\d) UTC\.$"
)


def _record(name: str, at: datetime) -> str:
    """The notice that keeps a declined time (read back by :func:`replan_around_declines`)."""
    return f"Re-planned: {name} {CANNOT} {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC."


def replan_around_declines(
    session: Session,
    workspace: Workspace,
    series: Series,
    occ: Occurrence,
    now: datetime,
    cause: str,
) -> list[Occurrence]:
    """Re-plan ``series`` as ``replan: auto`` does (app.db.replan), with each counted
    member's declined future occurrences unavailable to them at the declined time — and at
    the times they declined before, which the notices of a move keep (:func:`_record`) — and
    ``occ`` unpinned for this once. An occurrence that moved around a decline is pinned, its
    decliners' answers cleared (they were for its old time; the invitation update asks them
    again) and the declined time recorded; any other that moved or was cancelled says
    ``Re-planned: <cause>.``. Returns the occurrences that changed.

    Example: Dana (required) can't make Tue 24 Nov 14:00 UTC. That hour is busy for her in
    the plan, so the meeting moves to the day's best other start, say 16:00, pinned, with
    "Re-planned: Dana … cannot make it at 2026-11-24 14:00 UTC.". Pressed again at 16:00,
    both hours are busy for her, so it cannot bounce back to 14:00; with no time left that
    day it is cancelled.
    """
    ctx = schedules.load_context(session, workspace, series)
    past = schedules.history(session, series.id, now)
    if occ in past.pinned:
        past.pinned.remove(occ)
        past.future.append(occ)
    counted = {str(m.participant_id) for m in ctx.members if m.counted}
    by_name = {ctx.name_of(pid): pid for pid in counted}
    busy: dict[str, list[tuple[int, int]]] = {}
    for o in (x for x in [*past.future, *past.pinned] if x.status == "scheduled"):
        declined = [(pid, o.start) for pid, word in o.responses.items() if word == "declined"]
        for found in filter(None, map(_CANNOT.match, o.notices)):
            if found["name"] in by_name:
                at = datetime.fromisoformat(f"{found['at']}+00:00")
                declined.append((by_name[found["name"]], at))
        minutes = utc_minute(o.end) - utc_minute(o.start)
        for pid, at in declined:
            if pid in counted:
                busy.setdefault(pid, []).append((utc_minute(at), utc_minute(at) + minutes))
    for pid, spans in busy.items():
        person = ctx.people[uuid.UUID(pid)]
        busier = BusyTimes([*person.busy.intervals(), *spans])
        ctx.people[uuid.UUID(pid)] = replace(person, busy=busier)
    before = {o.id: (o.start, o.status, dict(o.responses), list(o.notices)) for o in past.future}
    schedules.store_plan(session, workspace, series, schedules.make_plan(ctx, past, now), past)
    changed = []
    for o in past.future:
        start, status, answers, notices = before[o.id]
        records = [n for n in notices if _CANNOT.match(n)]
        if (o.start, o.status) == (start, status):
            if records and any(n not in o.notices for n in records):
                o.notices = [*o.notices, *(n for n in records if n not in o.notices)]
                session.add(o)
            continue
        changed.append(o)
        gone = [p for p, word in answers.items() if word == "declined" and p in counted]
        kept = [n for n in o.notices if not _CANNOT.match(n) and n != PINNED_NOTICE]
        if o.status == "scheduled" and gone:
            o.responses = {p: w for p, w in o.responses.items() if p not in gone}
            o.pinned = True
            records += [_record(ctx.name_of(p), start) for p in gone]
            o.notices = [*kept, PINNED_NOTICE, *dict.fromkeys(records)]
        else:
            o.notices = [*kept, *records, f"Re-planned: {cause}."]
        session.add(o)
    session.flush()
    return changed


# --- "Swap with the next turn" ---------------------------------------------------------


def swap_with_next_turn(press: Press) -> Reply:
    """Swap this meeting (a hard turn of the member's) with their next meeting of the series
    where someone else takes the hard turn — the first of those, in date order, whose time of
    day differs and that both can take (app.api.occurrences.swap_occurrences: both stay
    feasible, both are pinned). Their hard turn moves to that later date; the balances before
    and after are shown (a swap of two same-weekday times often leaves totals as they were)."""
    session = press.session
    occ, series = press.meeting()
    ctx = schedules.load_context(session, press.workspace, series)
    later = list(
        session.exec(
            select(Occurrence)
            .where(
                Occurrence.series_id == series.id,
                Occurrence.status == "scheduled",
                col(Occurrence.start) > occ.start,
            )
            .order_by(col(Occurrence.start))
        )
    )
    current = current_figures(ctx, [occ, *later], press.now)
    views = {o.id: occurrence_out(o, ctx, current.get(o.id)) for o in [occ, *later]}
    me = str(press.caller.id)
    title = escape(series.title)
    if me not in hard_turn_takers(views[occ.id].participants, ctx):
        raise Refusal(
            f"You don't take the hard turn of *{title}* on {_when(views[occ.id], press)} "
            "(any more), so there is nothing to swap; nothing changed."
        )
    anchor = zone(series.anchor_timezone)
    wall = occ.start.astimezone(anchor).time()
    candidates = [
        o
        for o in later
        if me not in hard_turn_takers(views[o.id].participants, ctx)
        and o.start.astimezone(anchor).time() != wall
    ]
    was = {o.id: _when(views[o.id], press) for o in [occ, *candidates[:SWAP_TRIES]]}
    refusals: list[str] = []
    for other in candidates[:SWAP_TRIES]:
        try:
            result = swap_occurrences(
                session, press.workspace, occ, other, press.now, press.settings
            )
        except AppError as exc:
            if exc.status != 422:
                raise
            refusals.append(str(exc.fields[0]["msg"]) if exc.fields else exc.detail)
            continue
        return _swapped(press, title, result.occurrences, was, result.balance)
    why = f" ({escape(refusals[0])})" if refusals else ""
    raise Refusal(
        f"No later meeting of *{title}* where someone else takes the hard turn can trade "
        f"times with this one{why}; nothing changed."
    )


def _when(view: OccurrenceOut, press: Press) -> str:
    return times_line(view.start, view.participants, press.caller)


def _swapped(
    press: Press,
    title: str,
    pair: list[OccurrenceOut],
    was: dict[uuid.UUID, str],
    balance: list[BalanceChange],
) -> Reply:
    me = str(press.caller.id)
    moved = [f"• was {was[v.id]}\n   now {_when(v, press)}" for v in pair]
    lines = []
    for line in sorted(balance, key=lambda b: (b.participant_id != me, b.name)):
        if line.participant_id != me and line.before_minutes == line.after_minutes:
            continue
        who = "You" if line.participant_id == me else escape(line.name)
        change = (
            f"stays {hours(line.before_minutes)}"
            if line.before_minutes == line.after_minutes
            else f"{hours(line.before_minutes)} → {hours(line.after_minutes)}"
        )
        lines.append(f"• {who}: {change}")
    return (
        Reply()
        .section(
            f":twisted_rightwards_arrows: Swapped two meetings of *{title}*:\n" + "\n".join(moved)
        )
        .section("Burden balance of the series (hours):\n" + "\n".join(lines))
        .context("Both meetings are pinned: later re-plans keep their times.")
    )


# --- "Show my turns" -------------------------------------------------------------------


def my_turns(press: Press) -> Reply:
    """The member's upcoming hard turns: their future meetings where they carry the largest
    burden among the counted members (as the meetings stand now, app.db.current)."""
    session, me = press.session, press.caller
    rows = list(
        session.exec(
            select(Occurrence)
            .join(SeriesParticipant, col(SeriesParticipant.series_id) == col(Occurrence.series_id))
            .where(
                SeriesParticipant.participant_id == me.id,
                Occurrence.workspace_id == press.workspace.id,
                Occurrence.status == "scheduled",
                col(Occurrence.start) >= press.now,
            )
            .order_by(col(Occurrence.start), col(Occurrence.id))
            .limit(TURNS_SCANNED)
        )
    )
    by_series: dict[uuid.UUID, list[Occurrence]] = {}
    for occ in rows:
        by_series.setdefault(occ.series_id, []).append(occ)
    found: list[tuple[datetime, str]] = []
    for series_id, occs in by_series.items():
        series = session.get(Series, series_id)
        assert series is not None
        ctx = schedules.load_context(session, press.workspace, series)
        current = current_figures(ctx, occs, press.now)
        for occ in occs:
            view = occurrence_out(occ, ctx, current.get(occ.id))
            mine = [s.burden_minutes for s in view.participants if s.participant_id == str(me.id)]
            if mine and str(me.id) in hard_turn_takers(view.participants, ctx):
                line = f"• *{escape(series.title)}* · {_when(view, press)} · {hours(mine[0])}"
                found.append((occ.start, line))
    turns = [line for _, line in sorted(found, key=lambda f: f[0])]
    if not turns:
        return notice("You have no hard turns coming up: someone else pays, or nobody does.")
    reply = Reply().header(f"Your hard turns ({len(turns)})").sections(turns[:TURNS_SHOWN])
    if len(turns) > TURNS_SHOWN:
        reply.context(f"…and {len(turns) - TURNS_SHOWN} more.")
    return reply.context(
        "A hard turn: of the people who count, you are the one the time hurts most."
    )


HANDLERS: dict[str, Callable[[Press], Reply]] = {
    DECLINE: cannot_make_it,
    SWAP: swap_with_next_turn,
    MY_TURNS: my_turns,
}
