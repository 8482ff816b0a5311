"""What a feed contains: which series a scope covers, its data version, and its events."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from sqlalchemy import func
from sqlalchemy import select as sa_select
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
    """Changes whenever anything the feed shows changes; nothing else moves it.

    ``series_keys`` do the same for each covered series' events, which several feeds share.
    """

    key: str
    last_modified: datetime
    series_keys: dict[uuid.UUID, str] = field(default_factory=dict)


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:32]


def data_version(
    session: Session, workspace: Workspace, feed: Feed, series_ids: list[uuid.UUID]
) -> DataVersion:
    """A key over exactly what the feed shows: its name and, per series, the series, its
    occurrences and per member the name, time zone and party name/zone that the
    descriptions print.

    Row versions of participants are deliberately not part of it: time off bumps them but a
    feed never shows time off, and rebuilding every feed of a busy workspace on each such
    write was the most expensive thing the service did under load.
    """
    stamps: list[datetime] = [feed.created_at, workspace.updated_at]
    per_series: dict[uuid.UUID, list[str]] = {i: [] for i in series_ids}
    if series_ids:
        for series_id, updated_at, version in session.execute(
            sa_select(col(Series.id), col(Series.updated_at), col(Series.version)).where(
                col(Series.id).in_(series_ids)
            )
        ):
            per_series[series_id] += [str(updated_at), str(version)]
            stamps.append(updated_at)
        for series_id, o_max, o_count in session.execute(
            sa_select(
                col(Occurrence.series_id),
                func.max(Occurrence.updated_at),
                func.count(col(Occurrence.id)),
            )
            .where(col(Occurrence.series_id).in_(series_ids))
            .group_by(col(Occurrence.series_id))
        ):
            per_series[series_id] += [str(o_max), str(o_count)]
            stamps.append(o_max)
        for member in session.execute(
            sa_select(
                col(SeriesParticipant.series_id),
                col(SeriesParticipant.participant_id),
                col(SeriesParticipant.required),
                col(Participant.name),
                col(Participant.timezone),
                col(Party.name),
                col(Party.timezone),
                col(Participant.updated_at),
                col(Party.updated_at),
            )
            .join(Participant, col(Participant.id) == col(SeriesParticipant.participant_id))
            .join(Party, col(Party.id) == col(Participant.party_id))
            .where(col(SeriesParticipant.series_id).in_(series_ids))
            .order_by(col(SeriesParticipant.series_id), col(SeriesParticipant.participant_id))
        ):
            per_series[member[0]].append("\x1f".join(str(v) for v in member[1:7]))
            stamps += member[7:]
    series_keys = {i: _digest(parts) for i, parts in per_series.items()}
    name = _feed_name(session, workspace, feed)
    key = _digest(
        [feed.scope, str(feed.target_id), name, *(f"{i}:{series_keys[i]}" for i in series_ids)]
    )
    return DataVersion(key, max(_aware(x) for x in stamps), series_keys)


class SeriesEvents:
    """Each series' events by its data key, shared by every feed that shows the series, so
    a change rebuilds each series once per process rather than once per feed."""

    def __init__(self, size: int = 256) -> None:
        self._entries: OrderedDict[tuple[uuid.UUID, str], tuple[FeedEvent, ...]] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: tuple[uuid.UUID, str]) -> tuple[FeedEvent, ...] | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple[uuid.UUID, str], events: tuple[FeedEvent, ...]) -> None:
        with self._lock:
            self._entries[key] = events
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


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
    session: Session,
    workspace: Workspace,
    feed: Feed,
    series_ids: list[uuid.UUID],
    version: DataVersion | None = None,
    cache: SeriesEvents | None = None,
) -> FeedCalendar:
    """The events of every occurrence of the covered series, with the running balance.

    With ``version`` and ``cache``, a series whose data key is cached is not rebuilt.
    """
    name = _feed_name(session, workspace, feed)
    events: list[FeedEvent] = []
    for series_id in series_ids:
        key = version.series_keys.get(series_id) if version is not None else None
        cached = cache.get((series_id, key)) if cache is not None and key is not None else None
        if cached is None:
            cached = _series_events(session, workspace, series_id)
            if cache is not None and key is not None:
                cache.put((series_id, key), cached)
        events.extend(cached)
    return FeedCalendar(name=name, description=f"Meetings of {workspace.name}", events=events)


def _series_events(
    session: Session, workspace: Workspace, series_id: uuid.UUID
) -> tuple[FeedEvent, ...]:
    series = session.get(Series, series_id)
    if series is None:
        return ()
    ctx = load_context(session, workspace, series)
    parties = {party.id: party for _, party in ctx.rows.values()}
    rows = session.exec(
        select(Occurrence)
        .where(Occurrence.series_id == series_id)
        .order_by(col(Occurrence.start), col(Occurrence.id))
    ).all()
    running: dict[str, int] = defaultdict(int)
    events: list[FeedEvent] = []
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
                url=location if location and location.startswith(("https://", "http://")) else None,
                created=occ.created_at,
                last_modified=max(occ.updated_at, series.updated_at),
            )
        )
    return tuple(events)


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
