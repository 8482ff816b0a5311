"""What a feed contains: which series a scope covers, its data version, and its events."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.models import Feed, Occurrence, Participant, Party, Series, SeriesParticipant, Workspace
from app.db.schedules import SeriesContext, load_context
from app.feeds.render import FeedCalendar, FeedEvent
from app.scheduling.model import zone

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def series_ids_of(session: Session, feed: Feed) -> list[uuid.UUID]:
    """The series a feed covers, in a stable order."""
    if feed.scope == "series":
        stmt = select(Series.id).where(Series.id == feed.target_id)
    elif feed.scope == "participant":
        stmt = (
            select(Series.id)
            .join(SeriesParticipant, col(SeriesParticipant.series_id) == col(Series.id))
            .where(SeriesParticipant.participant_id == feed.target_id)
        )
    elif feed.scope == "party":
        stmt = (
            select(Series.id)
            .join(SeriesParticipant, col(SeriesParticipant.series_id) == col(Series.id))
            .join(Participant, col(Participant.id) == col(SeriesParticipant.participant_id))
            .where(Participant.party_id == feed.target_id)
        )
    else:
        stmt = select(Series.id)
    stmt = stmt.where(Series.workspace_id == feed.workspace_id)
    return sorted(set(session.exec(stmt).all()), key=str)


@dataclass(frozen=True)
class DataVersion:
    """Changes whenever anything the feed shows changes; nothing else moves it."""

    key: str
    last_modified: datetime


def data_version(session: Session, feed: Feed, series_ids: list[uuid.UUID]) -> DataVersion:
    parts: list[str] = [feed.scope, str(feed.target_id)]
    stamps: list[datetime] = [feed.created_at]
    if series_ids:
        s_max, s_sum = session.exec(
            select(func.max(Series.updated_at), func.sum(Series.version)).where(
                col(Series.id).in_(series_ids)
            )
        ).one()
        o_max, o_count = session.exec(
            select(func.max(Occurrence.updated_at), func.count(col(Occurrence.id))).where(
                col(Occurrence.series_id).in_(series_ids)
            )
        ).one()
        p_max, p_sum, m_count = session.exec(
            select(
                func.max(Participant.updated_at),
                func.sum(Participant.version),
                func.count(col(SeriesParticipant.participant_id)),
            )
            .join(Participant, col(Participant.id) == col(SeriesParticipant.participant_id))
            .where(col(SeriesParticipant.series_id).in_(series_ids))
        ).one()
        parts += [str(s_max), str(s_sum), str(o_max), str(o_count), str(p_max), str(p_sum)]
        parts += [str(m_count), ",".join(str(i) for i in series_ids)]
        stamps += [_aware(x) for x in (s_max, o_max, p_max) if x is not None]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return DataVersion(key=key, last_modified=max(stamps))


def _aware(value: datetime | str) -> datetime:
    # Aggregates bypass the column type on SQLite and come back as naive text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=EPOCH.tzinfo)


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".") + " h"


def _describe(
    ctx: SeriesContext, occ: Occurrence, balance: dict[str, int], parties: dict[uuid.UUID, Party]
) -> str:
    lines = []
    if ctx.series.description:
        lines += [ctx.series.description, ""]
    lines.append("Local times and burden:")
    for member in ctx.members:
        pid = str(member.participant_id)
        participant, party = ctx.rows[member.participant_id]
        person = ctx.people[member.participant_id]
        tz = zone(person.timezone)
        start, end = occ.start.astimezone(tz), occ.end.astimezone(tz)
        minutes = occ.burden.get(pid)
        cost = "cannot attend" if minutes is None else f"burden {_hours(minutes)}"
        role = "" if member.required else " (optional)"
        lines.append(
            f"- {participant.name}{role}, {party.name}: {start:%a %d %b %H:%M}–{end:%H:%M} "
            f"{person.timezone} · {cost}"
        )
    lines.append("")
    lines.append("Running balance after this meeting:")
    for member in ctx.members:
        if member.required:
            name = ctx.rows[member.participant_id][0].name
            lines.append(f"- {name}: {_hours(balance.get(str(member.participant_id), 0))}")
    if occ.notices:
        lines += ["", "Notices:", *(f"- {n}" for n in occ.notices)]
    if occ.status == "cancelled":
        lines += ["", "This meeting is cancelled."]
    return "\n".join(lines)


def build_calendar(
    session: Session, workspace: Workspace, feed: Feed, series_ids: list[uuid.UUID]
) -> FeedCalendar:
    """The events of every occurrence of the covered series, with the running balance."""
    name = _feed_name(session, workspace, feed)
    events: list[FeedEvent] = []
    for series_id in series_ids:
        series = session.get(Series, series_id)
        if series is None:
            continue
        ctx = load_context(session, workspace, series)
        parties = {party.id: party for _, party in ctx.rows.values()}
        rows = session.exec(
            select(Occurrence)
            .where(Occurrence.series_id == series_id)
            .order_by(col(Occurrence.start), col(Occurrence.id))
        ).all()
        running: dict[str, int] = defaultdict(int)
        for occ in rows:
            if occ.status == "scheduled":
                for pid, minutes in occ.burden.items():
                    running[pid] += minutes
            location = series.location
            events.append(
                FeedEvent(
                    uid=f"{occ.id}@meeting-scheduler",
                    start=occ.start,
                    end=occ.end,
                    sequence=occ.sequence,
                    status="cancelled" if occ.status == "cancelled" else "scheduled",
                    summary=series.title,
                    description=_describe(ctx, occ, running, parties),
                    location=location,
                    url=location
                    if location and location.startswith(("https://", "http://"))
                    else None,
                    created=occ.created_at,
                    last_modified=max(occ.updated_at, series.updated_at),
                )
            )
    return FeedCalendar(name=name, description=f"Meetings of {workspace.name}", events=events)


def _feed_name(session: Session, workspace: Workspace, feed: Feed) -> str:
    target: str | None = None
    if feed.scope == "series" and feed.target_id:
        series = session.get(Series, feed.target_id)
        target = series.title if series else None
    elif feed.scope == "participant" and feed.target_id:
        participant = session.get(Participant, feed.target_id)
        target = participant.name if participant else None
    elif feed.scope == "party" and feed.target_id:
        party = session.get(Party, feed.target_id)
        target = party.name if party else None
    return f"{target} · {workspace.name}" if target else workspace.name
