"""Reminders before each occurrence and announcements of changed plans in a series' Slack
channel, through the ``slack_post`` outbox (docs/rules.md, "Slack").

:func:`series_changed` writes what the channel should be told, in the transaction of the
change: one reminder row per occurrence (``reminder:<occurrence id>``), at most one pending
announcement per series (``announcement:<series id>:<n>``). A row not yet posted absorbs
later changes; a posted one is edited in place (``chat.update`` on its ``ts``).
:func:`dispatch_once` posts what is due, each row by exactly one worker, as
:mod:`app.db.outbox` sends mail: a lease, a call only started while it fits in the lease,
every outcome recorded ``WHERE lease_owner = <this worker>`` (and as final only if the row
still says what was posted; else the next round edits the message to the latest state).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine, and_, case, delete, insert, literal, or_, update
from sqlmodel import Session, col, select

from app.db import schedules
from app.db.models import Occurrence, Series, SlackPost, Workspace
from app.db.outbox import GIVE_UP_AFTER, LEASE, LONGEST_RETRY, MARGIN, backoff
from app.db.types import UTCDateTime
from app.scheduling.wording import hours, length
from app.settings import Settings
from app.slack.blocks import (
    Reply,
    escape,
    hard_turn,
    other_zones,
    span_theirs,
    unescape,
    when_theirs,
    when_yours,
)
from app.slack.web import WEB_API_FAILURES, bot_token, web_client
from app.views.plans import occurrence_out

log = logging.getLogger("app.slack.posts")

REMINDER, ANNOUNCEMENT = "reminder", "announcement"
ANNOUNCED = 4  # upcoming occurrences an announcement lists
TRACKED = 12  # upcoming occurrences an announcement remembers, to tell news from time passing
GATHER = timedelta(seconds=30)  # an announcement waits this long for more changes
LATE = timedelta(minutes=5)  # a reminder is still posted this long after the meeting starts
BATCH = 50
CAUSES_SHOWN = 3
_DIGEST = "upcoming:"  # block_id prefix of the announcement's list: what it announced
_CAUSES = "causes"  # block_id of the announcement's causes

# Slack errors worth another try; every other error is Slack refusing the post for good
# (channel_not_found, not_in_channel, is_archived, invalid_auth, account_inactive, …).
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "service_unavailable",
        "request_timeout",
        "internal_error",
        "fatal_error",
        "team_added_to_org",
    }
)
_NOT_JSON = "Received a response in a non-JSON format"  # slack_sdk's words for an HTML page


def reminder_key(occurrence_id: uuid.UUID) -> str:
    return f"reminder:{occurrence_id}"


def announcement_key(series_id: uuid.UUID, number: int) -> str:
    return f"announcement:{series_id}:{number}"


def _number(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


# --- what is said ----------------------------------------------------------------------


def _zones(ctx: schedules.SeriesContext) -> list[str]:
    """The members' zones, each once, in a stable order (every one is named: a channel has
    readers on every side)."""
    return other_zones("", (person.timezone for person in ctx.people.values()))


def reminder_reply(ctx: schedules.SeriesContext, occ: Occurrence) -> Reply:
    """``Reminder: <title>``: the start as a date token (each reader's own time), every
    member zone's wall time, the hard turn and the location. No "your time" label: the
    token's fallback (notifications) is the anchor zone's time."""
    series = ctx.series
    starts = when_yours(occ.start, series.anchor_timezone)
    lines = [
        f"Starts {starts} · {length(series.duration_minutes)}",
        " · ".join(span_theirs(occ.start, occ.end, z) for z in _zones(ctx)),
        hard_turn(occurrence_out(occ, ctx).participants, ctx),
    ]
    if series.location:
        lines.append(escape(series.location))
    return Reply(public=True).header(f"Reminder: {series.title}").section("\n".join(lines))


def cancelled_reply(ctx: schedules.SeriesContext, occ: Occurrence) -> Reply:
    """What a posted reminder is edited to when its occurrence is cancelled."""
    series = ctx.series
    reply = Reply(public=True).header(f"Cancelled: {series.title}")
    reply.section(f"The meeting of {when_yours(occ.start, series.anchor_timezone)} is cancelled.")
    why = next((n for n in reversed(occ.notices) if n.startswith("Cancelled")), None)
    return reply.context(escape(why)) if why else reply


def _upcoming(occurrences: Sequence[Occurrence], now: datetime) -> list[Occurrence]:
    return [o for o in occurrences if o.status == "scheduled" and o.start >= now]


def _entries(occurrences: Sequence[Occurrence], now: datetime) -> list[str]:
    """The next :data:`TRACKED` occurrences as ``<start epoch>.<id hash>``: what a later
    change is compared with."""
    return [
        f"{int(o.start.timestamp())}.{hashlib.sha256(o.id.bytes).hexdigest()[:6]}"
        for o in _upcoming(occurrences, now)[:TRACKED]
    ]


def _announced(blocks: Sequence[dict[str, Any]]) -> list[str] | None:
    """What an announcement listed (:func:`_entries`), read back from its blocks."""
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        if block_id.startswith(_DIGEST):
            entries = block_id.removeprefix(_DIGEST).split(",")
            return [e for e in entries if e.partition(".")[0].isdigit()]
    return None


def _causes(blocks: Sequence[dict[str, Any]]) -> list[str]:
    for block in blocks:
        if block.get("block_id") == _CAUSES:
            return [unescape(str(e["text"])) for e in block["elements"]]
    return []


def is_news(last: list[str] | None, entries: list[str], now: datetime) -> bool:
    """Whether the upcoming occurrences differ from what the channel was last told about
    those same meetings. Meetings that merely came into view as others passed are no news;
    once everything last announced has passed, any change is.

    >>> now = datetime.fromisoformat("2026-11-24T12:00:00+00:00")  # epoch 1795521600
    >>> is_news(["1795500000.aa", "1795600000.bb"], ["1795600000.bb", "1795700000.cc"], now)
    False
    >>> is_news(["1795600000.bb", "1795700000.cc"], ["1795600000.bb", "1795800000.cc"], now)
    True
    """
    if last is None:
        return bool(entries)
    still = [e for e in last if int(e.split(".", 1)[0]) >= now.timestamp()]
    if not still:
        return bool(entries)
    return entries[: len(still)] != still


def announcement_reply(
    ctx: schedules.SeriesContext,
    occurrences: Sequence[Occurrence],
    now: datetime,
    *,
    first: bool,
    causes: Sequence[str],
) -> Reply:
    """The next :data:`ANNOUNCED` occurrences (each reader's own time, every member zone's,
    and who takes the hard turn), and each party's total burden."""
    series = ctx.series
    zones = _zones(ctx)
    reply = Reply(public=True).header(
        f"{series.title} — {'scheduled' if first else 'schedule changed'}"
    )
    if causes:
        reply.blocks.append(
            {
                "type": "context",
                "block_id": _CAUSES,
                "elements": [{"type": "mrkdwn", "text": escape(c)[:300]} for c in causes],
            }
        )
    upcoming = _upcoming(occurrences, now)[:ANNOUNCED]
    lines = [f"*Next {len(upcoming)} meeting{'s' if len(upcoming) != 1 else ''}*"]
    for occ in upcoming:
        theirs = " · ".join(when_theirs(occ.start, z) for z in zones)
        turn = hard_turn(occurrence_out(occ, ctx).participants, ctx)
        lines.append(f"• {when_yours(occ.start, series.anchor_timezone)} · {theirs}\n      {turn}")
    if not upcoming:
        lines = ["No upcoming meetings."]
    reply.section("\n".join(lines))
    reply.blocks[-1]["block_id"] = _DIGEST + ",".join(_entries(occurrences, now))
    _, parties = schedules.ledger(ctx, list(occurrences), now)
    names = {party.id: party.name for _, party in ctx.rows.values()}
    shown = sorted(parties.items(), key=lambda kv: (names.get(kv[0], ""), str(kv[0])))
    balance = " · ".join(f"{escape(names[pid])} {hours(line.total)}" for pid, line in shown)
    reply.section(f"*Balance* (burden, past and scheduled): {balance or 'nobody yet'}")
    return reply.context(
        f"{length(series.duration_minutes)} · `/meet plan {escape(series.title)}` shows the "
        "whole rotation."
    )


# --- writing the rows, in the transaction of the change --------------------------------


def series_changed(
    session: Session,
    workspace: Workspace,
    series: Series,
    now: datetime,
    settings: Settings,
    cause: str | None = None,
) -> None:
    """After a write that changes the series' occurrences (schedule, re-plan, an occurrence
    moved, cancelled or restored, a swap): bring its reminders up to date and queue an
    announcement if the upcoming occurrences changed. ``cause``: why, in a sentence, shown
    in the announcement. Without a channel or an installed Slack app, what was queued and
    not posted is withdrawn and nothing new is queued."""
    session.flush()
    if not series.slack_channel_id or not workspace.slack_bot_token_sealed:
        _withdraw(session, series.id, now)
        return
    ctx = schedules.load_context(session, workspace, series)
    occurrences = list(
        session.exec(
            select(Occurrence)
            .where(Occurrence.series_id == series.id)
            .order_by(col(Occurrence.start), col(Occurrence.id))
        )
    )
    _remind(session, ctx, occurrences, series.slack_channel_id, now)
    _announce(session, ctx, occurrences, series.slack_channel_id, now, cause)


def _free(now: datetime) -> Any:
    return or_(col(SlackPost.lease_until).is_(None), col(SlackPost.lease_until) <= now)


def _leased(row: SlackPost, now: datetime) -> bool:
    return row.lease_until is not None and row.lease_until > now


def _withdraw(session: Session, series_id: uuid.UUID, now: datetime) -> None:
    """Drop the series' rows not posted and not being posted."""
    session.execute(
        delete(SlackPost)
        .where(
            col(SlackPost.series_id) == series_id,
            col(SlackPost.status) == "pending",
            col(SlackPost.ts).is_(None),
            _free(now),
        )
        .execution_options(synchronize_session=False)
    )


def _locked_rows(session: Session, *where: Any) -> list[SlackPost]:
    # Locked (PostgreSQL): a dispatcher recording an outcome meanwhile waits, then sees
    # that the row changed (see _record). Read afresh: a session may call this twice.
    return list(
        session.exec(
            select(SlackPost)
            .where(*where)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _resay(
    row: SlackPost, reply: Reply, due: datetime, channel: str, now: datetime
) -> dict[str, Any] | None:
    """The values that make ``row`` say ``reply`` (None: it already does). A posted message
    is edited where it is, at once; a row in backoff keeps its wait; a failed row is tried
    again (its channel may have been fixed, the bot invited)."""
    text, blocks = reply.text, reply.payload()["blocks"]
    posted = row.ts is not None
    if posted:
        channel, due = row.channel, now
    same = (text, blocks, channel) == (row.text, row.blocks, row.channel)
    if row.status == "sent" and same:
        return None
    if row.status == "pending" and row.first_attempt_at is not None:
        due = max(due, row.due_at)
    if row.status == "pending" and same and (posted or due == row.due_at):
        return None
    fresh = row.status != "pending"  # a new thing to say: its own attempts and give-up time
    return {
        "id": row.id,
        "status": "pending",
        "text": text,
        "blocks": blocks,
        "channel": channel,
        "due_at": due,
        "first_attempt_at": None if fresh else row.first_attempt_at,
        "last_error": None if fresh else row.last_error,
        "updated_at": now,
    }


def _new_row(
    ctx: schedules.SeriesContext,
    kind: str,
    key: str,
    channel: str,
    reply: Reply,
    due: datetime,
    now: datetime,
    occurrence_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "workspace_id": ctx.series.workspace_id,
        "series_id": ctx.series.id,
        "occurrence_id": occurrence_id,
        "kind": kind,
        "key": key,
        "channel": channel,
        "text": reply.text,
        "blocks": reply.payload()["blocks"],
        "status": "pending",
        "due_at": due,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


@dataclass
class _Writes:
    new: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    gone: list[uuid.UUID]

    def apply(self, session: Session, now: datetime) -> None:
        if self.new:
            session.execute(insert(SlackPost), self.new)
        if self.changed:  # by primary key, in one executemany
            session.execute(update(SlackPost), self.changed)
        if self.gone:
            session.execute(
                delete(SlackPost)
                .where(
                    col(SlackPost.id).in_(self.gone),
                    col(SlackPost.status) == "pending",
                    col(SlackPost.ts).is_(None),
                    _free(now),
                )
                .execution_options(synchronize_session=False)
            )


def _remind(
    session: Session,
    ctx: schedules.SeriesContext,
    occurrences: Sequence[Occurrence],
    channel: str,
    now: datetime,
) -> None:
    """One reminder per future scheduled occurrence, due ``slack_reminder_minutes`` before
    it; a cancelled occurrence's reminder is withdrawn, or edited to say so once posted."""
    future = [o for o in occurrences if o.start > now]
    rows = _locked_rows(
        session,
        col(SlackPost.series_id) == ctx.series.id,
        col(SlackPost.kind) == REMINDER,
        or_(
            col(SlackPost.status) == "pending",
            col(SlackPost.occurrence_id).in_([o.id for o in future]),
        ),
    )
    existing = {row.occurrence_id: row for row in rows}
    writes = _Writes([], [], [])
    for occ in future:
        row = existing.pop(occ.id, None)
        wanted = _reminder_for(ctx, occ, row, now)
        if wanted == "withdraw" and row is not None:
            writes.gone.append(row.id)
        elif isinstance(wanted, tuple) and row is None:
            reply, due = wanted
            key = reminder_key(occ.id)
            writes.new.append(_new_row(ctx, REMINDER, key, channel, reply, due, now, occ.id))
        elif isinstance(wanted, tuple) and row is not None:
            change = _resay(row, *wanted, channel, now)
            if change is not None:
                writes.changed.append(change)
    every = {o.id for o in occurrences}
    # Pending rows of occurrences deleted since (apply keeps those posted or being posted).
    writes.gone.extend(row.id for row in existing.values() if row.occurrence_id not in every)
    writes.apply(session, now)


def _reminder_for(
    ctx: schedules.SeriesContext, occ: Occurrence, row: SlackPost | None, now: datetime
) -> tuple[Reply, datetime] | Literal["withdraw"] | None:
    """What a future occurrence's reminder should say and when: the reminder; for a
    cancelled occurrence, withdrawn if never posted, else edited to say so (also when it
    is being posted right now); None: leave it as it is (reminders turned off leave posted
    ones alone, and a failed one stays failed)."""
    if occ.status == "scheduled" and ctx.series.slack_reminder_minutes is not None:
        return reminder_reply(ctx, occ), occ.start - timedelta(
            minutes=ctx.series.slack_reminder_minutes
        )
    if row is None:
        return None
    if row.ts is None and row.status == "pending" and not _leased(row, now):
        return "withdraw"
    if occ.status == "cancelled" and (row.ts is not None or row.status == "pending"):
        return cancelled_reply(ctx, occ), now
    return None


def _announce(
    session: Session,
    ctx: schedules.SeriesContext,
    occurrences: Sequence[Occurrence],
    channel: str,
    now: datetime,
    cause: str | None,
) -> None:
    """Queue (or update the pending) announcement when the upcoming occurrences are news
    against the last announcement posted; drop a pending one that no longer is."""
    rows = sorted(
        _locked_rows(
            session,
            col(SlackPost.series_id) == ctx.series.id,
            col(SlackPost.kind) == ANNOUNCEMENT,
        ),
        key=lambda r: _number(r.key),
    )
    pending = next((r for r in rows if r.status == "pending"), None)
    last_sent = next((r for r in reversed(rows) if r.status == "sent"), None)
    last = None if last_sent is None else _announced(last_sent.blocks)
    news = is_news(last, _entries(occurrences, now), now)
    writes = _Writes([], [], [])
    if pending is not None and not news and pending.ts is None and not _leased(pending, now):
        writes.gone.append(pending.id)  # back to what the channel was last told
    elif pending is not None:
        causes = _causes(pending.blocks)
        if cause and cause not in causes:
            causes = [*causes, cause][-CAUSES_SHOWN:]
        reply = announcement_reply(ctx, occurrences, now, first=last_sent is None, causes=causes)
        change = _resay(pending, reply, pending.due_at, channel, now)
        if change is not None:
            writes.changed.append(change)
    elif news:
        reply = announcement_reply(
            ctx, occurrences, now, first=last_sent is None, causes=[cause] if cause else []
        )
        number = _number(rows[-1].key) + 1 if rows else 1
        key = announcement_key(ctx.series.id, number)
        writes.new.append(_new_row(ctx, ANNOUNCEMENT, key, channel, reply, now + GATHER, now))
    writes.apply(session, now)


# --- the dispatcher ----------------------------------------------------------------------


def _due_and_free(now: datetime) -> Any:
    return and_(
        col(SlackPost.status) == "pending",
        col(SlackPost.due_at) <= now,
        _free(now),
    )


def claim(engine: Engine, owner: str, now: datetime, limit: int = BATCH) -> list[uuid.UUID]:
    """Lease up to ``limit`` due rows to ``owner`` until ``now + LEASE``, earliest due first;
    no other worker gets them meanwhile (as :func:`app.db.outbox.claim`)."""
    due = (
        select(SlackPost.id)
        .where(_due_and_free(now))
        .order_by(col(SlackPost.due_at), col(SlackPost.id))
        .limit(limit)
    )
    lease = (
        update(SlackPost)
        .values(lease_owner=owner, lease_until=now + LEASE)
        .returning(col(SlackPost.id), col(SlackPost.due_at))
        .execution_options(synchronize_session=False)
    )
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            candidates = session.exec(due.with_for_update(skip_locked=True)).all()
            if not candidates:
                return []
            taken = session.execute(lease.where(col(SlackPost.id).in_(candidates))).all()
        else:
            taken = session.execute(lease.where(col(SlackPost.id).in_(due))).all()
        session.commit()
    return [post_id for post_id, _ in sorted(taken, key=lambda row: (row[1], row[0]))]


@dataclass(frozen=True)
class _Post:
    """A row ready to go: the client with the workspace's token, and where it goes."""

    client: WebClient
    channel: str

    @property
    def longest(self) -> timedelta:
        # An edit of a message deleted in Slack is posted anew: two calls at most.
        return timedelta(seconds=2 * self.client.timeout)


@dataclass(frozen=True)
class Posted:
    ts: str
    channel: str


@dataclass(frozen=True)
class Failed:
    reason: str
    permanent: bool
    wait: timedelta | None = None  # Slack's Retry-After


@dataclass(frozen=True)
class Unsendable:
    reason: str  # no attempt is counted


Outcome = Posted | Failed | Unsendable


async def dispatch_once(
    engine: Engine,
    settings: Settings,
    clock: Callable[[], datetime],
    owner: str,
    limit: int = BATCH,
) -> int:
    """Claim the rows that are due, post them one after the other, record each at once.
    Returns how many rows this worker settled (posted, failed, or put back for a retry):
    less than ``limit`` means nothing more is due now. Database work and Slack calls run in
    threads; no transaction is open while Slack is called. After a 429 the batch's other
    rows of that workspace wait for the same Retry-After, unattempted."""
    now = clock()
    waiting = await asyncio.to_thread(claim, engine, owner, now, limit)
    settled = 0
    paused: dict[uuid.UUID, datetime] = {}  # workspace -> rate limited until
    deferred: list[tuple[uuid.UUID, datetime]] = []
    try:
        while waiting:
            prepared = await asyncio.to_thread(
                _prepare, engine, settings, owner, waiting[0], clock()
            )
            if prepared is None:
                waiting.pop(0)  # deleted, or no longer ours
                continue
            row, ready = prepared
            if row.workspace_id in paused:
                deferred.append((waiting.pop(0), paused[row.workspace_id]))
                continue
            if isinstance(ready, _Post):
                if clock() + ready.longest + MARGIN > now + LEASE:
                    break  # the lease would run out during the call: leave it to others
                outcome: Outcome = await asyncio.to_thread(_say, ready, row)
            else:
                outcome = ready
            waiting.pop(0)
            at = clock()
            if isinstance(outcome, Failed) and outcome.wait is not None:
                paused[row.workspace_id] = at + outcome.wait
            if await asyncio.to_thread(_record, engine, owner, row, outcome, at):
                settled += 1
    finally:
        if waiting or deferred:  # the lease is running out, or we are being stopped
            await asyncio.to_thread(_release, engine, owner, waiting, deferred)
    return settled


def _prepare(
    engine: Engine, settings: Settings, owner: str, post_id: uuid.UUID, now: datetime
) -> tuple[SlackPost, _Post | Unsendable] | None:
    """The row, if still this worker's, with its client and channel or why it cannot go."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(SlackPost, post_id)
        if row is None or row.lease_owner != owner or row.status != "pending":
            return None
        workspace = session.get(Workspace, row.workspace_id)
        token = bot_token(settings, workspace) if workspace is not None else None
        if token is None:
            return row, Unsendable(
                "The Slack app is not installed in this workspace any more (or its token "
                "was sealed under another SCHEDULER_SECRET_KEY)."
            )
        if row.ts is not None:  # an edit goes where the message is
            return row, _Post(_client(settings, token), row.channel)
        series = session.get(Series, row.series_id)
        reason = _why_not(session, row, series, now)
        if reason is not None or series is None or series.slack_channel_id is None:
            return row, Unsendable(reason or "The series was deleted.")
        return row, _Post(_client(settings, token), series.slack_channel_id)


def _why_not(session: Session, row: SlackPost, series: Series | None, now: datetime) -> str | None:
    """Why a row not yet posted must not be posted now, if it must not."""
    if series is None:
        return "The series was deleted."
    if series.slack_channel_id is None:
        return "The series has no Slack channel any more."
    if row.kind != REMINDER:
        return None
    occ = session.get(Occurrence, row.occurrence_id) if row.occurrence_id else None
    if occ is None:
        return "The occurrence was deleted."
    if occ.status != "scheduled":
        return "The occurrence was cancelled."
    if series.slack_reminder_minutes is None:
        return "The series' reminders were turned off."
    if now > occ.start + LATE:
        return f"The meeting had started ({occ.start:%Y-%m-%d %H:%M} UTC): no reminder."
    return None


def _client(settings: Settings, token: str) -> WebClient:
    client = web_client(settings, token)
    # One HTTP request per attempt. slack_sdk's handlers would sleep in the worker while its
    # lease runs (a Retry-After can be minutes), and their retry after a connection reset
    # is a second post nobody records; the outbox's retries are recorded and leased.
    client.retry_handlers = []
    return client


def _say(post: _Post, row: SlackPost) -> Outcome:
    """Post the row (or edit its message); what Slack answered."""
    client = post.client
    try:
        response: SlackResponse
        if row.ts is not None:
            try:
                response = client.chat_update(
                    channel=post.channel, ts=row.ts, text=row.text, blocks=row.blocks
                )
            except SlackApiError as exc:
                if _error_of(exc) != "message_not_found":
                    raise
                # Someone deleted the message: say it again as a new one.
                response = client.chat_postMessage(
                    channel=post.channel, text=row.text, blocks=row.blocks
                )
        else:
            response = client.chat_postMessage(
                channel=post.channel, text=row.text, blocks=row.blocks
            )
    except SlackApiError as exc:
        return slack_failure(exc)
    except WEB_API_FAILURES as exc:  # network, timeouts, resets, a truncated answer
        return Failed(f"Slack could not be reached: {type(exc).__name__}: {exc}", False)
    return Posted(str(response["ts"]), str(response.get("channel") or post.channel))


def _error_of(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""


def slack_failure(exc: SlackApiError) -> Failed:
    """A Slack error answer as an outcome: 429 waits for its Retry-After; 5xx and Slack's
    temporary errors back off; anything else is permanent."""
    status = exc.response.status_code
    error = _error_of(exc) or f"HTTP {status}"
    if status == 429:
        wait = retry_after(exc.response.headers)
        shown = "" if wait is None else f", Retry-After {int(wait.total_seconds())} s"
        return Failed(f"Slack rate limit (HTTP 429{shown})", False, wait or timedelta(seconds=60))
    if status >= 500 or error in TRANSIENT_ERRORS or error.startswith(_NOT_JSON):
        return Failed(f"Slack error: {error[:200]} (HTTP {status})", False)
    return Failed(f"Slack refused the post: {error[:200]}", True)


def retry_after(headers: dict[str, Any]) -> timedelta | None:
    """Slack's ``Retry-After`` (whole seconds), capped at an hour.

    >>> retry_after({"retry-after": "30"}), retry_after({"Retry-After": "soon"})
    (datetime.timedelta(seconds=30), None)
    """
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            with contextlib.suppress(TypeError, ValueError):
                return min(timedelta(seconds=max(int(raw), 1)), LONGEST_RETRY)
    return None


def _record(engine: Engine, owner: str, row: SlackPost, outcome: Outcome, now: datetime) -> bool:
    """Write what became of a row, if its lease is still this worker's. If the row changed
    while it was posted (series_changed wrote new content), only the facts are kept (ts,
    the attempt) and the row stays pending: the next round says the new content."""
    final, changed = _outcome_values(row, outcome, now)
    with Session(engine) as session:
        mine = (col(SlackPost.id) == row.id, col(SlackPost.lease_owner) == owner)
        result = session.execute(
            update(SlackPost)
            .where(
                *mine,
                col(SlackPost.text) == row.text,
                col(SlackPost.updated_at) == row.updated_at,
            )
            .values(**final)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            result = session.execute(
                update(SlackPost)
                .where(*mine)
                .values(**changed)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning(
            "slack post %s: the lease ran out before its outcome (%s) was recorded",
            row.id,
            "posted" if isinstance(outcome, Posted) else "not posted",
        )
        return False
    return True


def _outcome_values(
    row: SlackPost, outcome: Outcome, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values to record: if the row is as it was read, and if it changed meanwhile."""
    final: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    changed = dict(final)
    first = row.first_attempt_at or now
    if isinstance(outcome, Unsendable):
        final.update(status="failed", last_error=outcome.reason[:1000])
    elif isinstance(outcome, Failed):
        attempts = row.attempts + 1
        final.update(attempts=attempts, first_attempt_at=first, last_error=outcome.reason[:1000])
        retry_at = now + (outcome.wait or backoff(attempts, row.id))
        if outcome.permanent:
            final.update(status="failed")
        elif now - first > GIVE_UP_AFTER:
            reason = f"gave up after {attempts} attempts since {first:%Y-%m-%d %H:%M} UTC: "
            final.update(status="failed", last_error=(reason + outcome.reason)[:1000])
        else:
            final.update(due_at=retry_at)
        changed.update(attempts=attempts, last_error=outcome.reason[:1000])
        if outcome.wait is not None:  # the new content waits for Slack's Retry-After too
            changed.update(due_at=_not_before(retry_at))
    else:
        posted = {
            "ts": outcome.ts,
            "channel": outcome.channel,
            "sent_at": now,
            "attempts": row.attempts + 1,
            "last_error": None,
        }
        final.update(posted, status="sent", first_attempt_at=first)
        changed.update(posted, first_attempt_at=None, due_at=now)
    return final, changed


def _not_before(moment: datetime) -> Any:
    """``due_at``, moved up to ``moment`` if it is earlier."""
    at = literal(moment, UTCDateTime())
    return case((col(SlackPost.due_at) < at, at), else_=col(SlackPost.due_at))


def _release(
    engine: Engine,
    owner: str,
    post_ids: list[uuid.UUID],
    deferred: list[tuple[uuid.UUID, datetime]],
) -> None:
    """Give rows back unattempted; ``deferred`` ones not before their workspace's
    Retry-After."""
    with Session(engine) as session:
        if post_ids:
            session.execute(
                update(SlackPost)
                .where(col(SlackPost.id).in_(post_ids), col(SlackPost.lease_owner) == owner)
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
        for post_id, not_before in deferred:
            session.execute(
                update(SlackPost)
                .where(col(SlackPost.id) == post_id, col(SlackPost.lease_owner) == owner)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    due_at=_not_before(not_before),
                )
                .execution_options(synchronize_session=False)
            )
        session.commit()


# --- the background loop ----------------------------------------------------------------


class PostDispatcher:
    """Each worker's background loop: every ``mail_poll_seconds`` (or at once after
    :meth:`wake`), post what is due, batch after batch while batches come back full.
    Workers race for the rows; the database decides (see :func:`claim`). The loop is
    :class:`app.db.outbox.Dispatcher`'s."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._engine, self._settings, self._clock = engine, settings, clock
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    def wake(self) -> None:
        """Look for due rows now (from any thread, e.g. after a commit that wrote one)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.mail_poll_seconds):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                while not self._stopping and await self._round() == BATCH:
                    pass  # a full batch: more may be due
            except Exception:  # the database is down, say: try again next round
                log.exception("slack post round failed")

    async def _round(self) -> int:
        return await dispatch_once(self._engine, self._settings, self._clock, self.owner)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Let the post being made finish (up to ``grace_seconds``), then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
