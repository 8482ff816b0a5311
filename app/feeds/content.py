"""What a feed contains: which series a scope covers, its data version, and its events."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from threading import Event, Lock

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.db.current import Current, current_figures
from app.db.models import (
    CalendarSource,
    Feed,
    Occurrence,
    Participant,
    Party,
    Series,
    SeriesParticipant,
    TimeOff,
    Workspace,
)
from app.db.schedules import SeriesContext, load_context
from app.feeds.render import OWN_UID_SUFFIX, FeedCalendar, FeedEvent
from app.scheduling.model import zone
from app.scheduling.wording import NOBODY_PAYS, day_label, hard_turn, hours, local_range
from app.serving.lru import Lru

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


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


@dataclass(frozen=True)
class FeedFacts:
    scope: str
    target_id: uuid.UUID | None
    created_at: datetime
    name: str  # the calendar's name: its target's (if any) and the workspace's


@dataclass(frozen=True)
class SeriesFacts:
    key: str  # over the series row, its occurrences and what each member's lines print
    stamps: tuple[datetime, ...]  # when each of those last changed
    participants: frozenset[uuid.UUID]
    parties: frozenset[uuid.UUID]


@dataclass(frozen=True)
class WorkspaceView:
    """What every feed of one workspace shows, read in one go (five queries, however many
    feeds): after a write moves the workspace's content version, each feed's data version is
    computed from this in memory, instead of from five queries per feed.

    Row versions of participants are deliberately not in the keys: time off bumps them but a
    feed never shows time off, and rebuilding every feed of a busy workspace on each such
    write was the most expensive thing the service did under load.
    """

    updated_at: datetime
    feeds: dict[uuid.UUID, FeedFacts]
    series: dict[uuid.UUID, SeriesFacts]

    def covered(self, feed: FeedFacts) -> list[uuid.UUID]:
        """The series a feed covers, in a stable order."""
        if feed.scope == "workspace":
            chosen = list(self.series)
        elif feed.scope == "series":
            chosen = [feed.target_id] if feed.target_id in self.series else []
        else:
            members = "participants" if feed.scope == "participant" else "parties"
            chosen = [i for i, s in self.series.items() if feed.target_id in getattr(s, members)]
        return sorted(chosen, key=str)

    def version(self, feed: FeedFacts, series_ids: list[uuid.UUID]) -> DataVersion:
        stamps = [feed.created_at, self.updated_at]
        for i in series_ids:
            stamps += self.series[i].stamps
        series_keys = {i: self.series[i].key for i in series_ids}
        key = _digest(
            [
                feed.scope,
                str(feed.target_id),
                feed.name,
                *(f"{i}:{series_keys[i]}" for i in series_ids),
            ]
        )
        return DataVersion(key, max(_aware(x) for x in stamps), series_keys)


def load_view(session: Session, workspace: Workspace) -> WorkspaceView:
    """The workspace's feeds (revoked ones included: the poll checks revocation) and, per
    series, what its events show."""
    feeds: dict[uuid.UUID, FeedFacts] = {}
    target_name = func.coalesce(col(Series.title), col(Participant.name), col(Party.name))
    for feed_id, scope, target_id, created_at, target in session.execute(
        sa_select(
            col(Feed.id), col(Feed.scope), col(Feed.target_id), col(Feed.created_at), target_name
        )
        .outerjoin(Series, (col(Feed.scope) == "series") & (col(Series.id) == col(Feed.target_id)))
        .outerjoin(
            Participant,
            (col(Feed.scope) == "participant") & (col(Participant.id) == col(Feed.target_id)),
        )
        .outerjoin(Party, (col(Feed.scope) == "party") & (col(Party.id) == col(Feed.target_id)))
        .where(col(Feed.workspace_id) == workspace.id)
    ):
        name = f"{target} · {workspace.name}" if target else workspace.name
        feeds[feed_id] = FeedFacts(scope, target_id, created_at, name)
    parts: dict[uuid.UUID, list[str]] = {}
    stamps: dict[uuid.UUID, list[datetime]] = {}
    people: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    parties: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for series_id, updated_at, version in session.execute(
        sa_select(col(Series.id), col(Series.updated_at), col(Series.version)).where(
            col(Series.workspace_id) == workspace.id
        )
    ):
        parts[series_id] = [str(updated_at), str(version)]
        stamps[series_id] = [updated_at]
    for series_id, o_max, o_count in session.execute(
        sa_select(
            col(Occurrence.series_id),
            func.max(Occurrence.updated_at),
            func.count(col(Occurrence.id)),
        )
        .where(col(Occurrence.workspace_id) == workspace.id)
        .group_by(col(Occurrence.series_id))
    ):
        if series_id in parts:
            parts[series_id] += [str(o_max), str(o_count)]
            stamps[series_id].append(o_max)
    for member in session.execute(
        sa_select(
            col(SeriesParticipant.series_id),
            col(SeriesParticipant.participant_id),
            col(SeriesParticipant.attendance),
            col(Participant.name),
            col(Participant.timezone),
            col(Party.name),
            col(Party.timezone),
            col(Participant.updated_at),
            col(Party.updated_at),
            col(Party.id),
        )
        .join(Series, col(Series.id) == col(SeriesParticipant.series_id))
        .join(Participant, col(Participant.id) == col(SeriesParticipant.participant_id))
        .join(Party, col(Party.id) == col(Participant.party_id))
        .where(col(Series.workspace_id) == workspace.id)
        .order_by(col(SeriesParticipant.series_id), col(SeriesParticipant.participant_id))
    ):
        series_id = member[0]
        parts[series_id].append("\x1f".join(str(v) for v in member[1:7]))
        stamps[series_id] += member[7:9]
        people[series_id].add(member[1])
        parties[series_id].add(member[9])
    # Members' time off: a future occurrence is shown with today's figures (app.db.current).
    for series_id, participant_id, first, last in session.execute(
        sa_select(
            col(SeriesParticipant.series_id),
            col(TimeOff.participant_id),
            col(TimeOff.start_date),
            col(TimeOff.end_date),
        )
        .join(TimeOff, col(TimeOff.participant_id) == col(SeriesParticipant.participant_id))
        .where(col(TimeOff.workspace_id) == workspace.id)
        .order_by(
            col(SeriesParticipant.series_id),
            col(TimeOff.participant_id),
            col(TimeOff.start_date),
            col(TimeOff.end_date),
        )
    ):
        if series_id in parts:
            parts[series_id].append(f"off\x1f{participant_id}\x1f{first}\x1f{last}")
    # ...and their busy times, by digest (app.db.calendars).
    for series_id, participant_id, digest in session.execute(
        sa_select(
            col(SeriesParticipant.series_id),
            col(CalendarSource.participant_id),
            col(CalendarSource.busy_digest),
        )
        .join(
            CalendarSource,
            col(CalendarSource.participant_id) == col(SeriesParticipant.participant_id),
        )
        .where(
            col(CalendarSource.workspace_id) == workspace.id, col(CalendarSource.busy_digest) != ""
        )
        .order_by(
            col(SeriesParticipant.series_id),
            col(CalendarSource.participant_id),
            col(CalendarSource.busy_digest),
        )
    ):
        if series_id in parts:
            parts[series_id].append(f"busy\x1f{participant_id}\x1f{digest}")
    series = {
        i: SeriesFacts(
            _digest(parts[i]), tuple(stamps[i]), frozenset(people[i]), frozenset(parties[i])
        )
        for i in parts
    }
    return WorkspaceView(workspace.updated_at, feeds, series)


class WorkspaceViews:
    """Views by (workspace, content version). After a write, the first poll of any of the
    workspace's feeds loads the view; polls of its other feeds arriving meanwhile wait for
    that load instead of each doing it."""

    def __init__(self, size: int = 256) -> None:
        self._entries: OrderedDict[tuple[uuid.UUID, int], WorkspaceView] = OrderedDict()
        self._loading: dict[tuple[uuid.UUID, int], Event] = {}
        self._size = size
        self._lock = Lock()

    def get(
        self,
        key: tuple[uuid.UUID, int],
        load: Callable[[], WorkspaceView],
        *,
        stale: WorkspaceView | None = None,
    ) -> WorkspaceView:
        """The stored view, or ``load()``'s (one load per key at a time). A caller that
        found ``stale`` lacking (a feed created since) gets a fresh load."""
        while True:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and hit is not stale:
                    self._entries.move_to_end(key)
                    return hit
                pending = self._loading.get(key)
                if pending is None:
                    pending = self._loading[key] = Event()
                    break
            pending.wait(10)  # then look again; the loader may have failed
        try:
            view = load()
            with self._lock:
                self._entries[key] = view
                self._entries.move_to_end(key)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
            return view
        finally:
            with self._lock:
                del self._loading[key]
            pending.set()


class SeriesEvents(Lru[tuple[uuid.UUID, str, datetime | None], tuple[FeedEvent, ...]]):
    """Each series' events by its data key (and the moment from which occurrences are read
    with today's figures), shared by every feed that shows the series, so a change rebuilds
    each series once per process rather than once per feed."""

    def __init__(self, size: int = 256, max_bytes: int = 16 * 1024 * 1024) -> None:
        super().__init__(size, max_bytes=max_bytes, weigh=events_bytes)


def events_bytes(events: tuple[FeedEvent, ...]) -> int:
    """An estimate of the memory the events hold (their texts and ~500 bytes of fields)."""
    return sum(
        500 + len(e.summary) + len(e.description) + len(e.location or "") + len(e.url or "")
        for e in events
    )


def _aware(value: datetime | str) -> datetime:
    # Aggregates bypass the column type on SQLite and come back as naive text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=EPOCH.tzinfo)


def _describe(
    ctx: SeriesContext,
    occ: Occurrence,
    balance: dict[str, int],
    parties: dict[uuid.UUID, Party],
    current: Current | None = None,
) -> str:
    """The event's DESCRIPTION; a future occurrence with today's figures (``current``)."""
    burden = occ.burden if current is None else current.burden
    absent = occ.absent if current is None else current.absent
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
        minutes = burden.get(pid)
        if pid in absent:
            cost = f"absent: {absent[pid]}"
        else:
            cost = "cannot attend" if minutes is None else f"burden {hours(minutes)}"
        role = "" if member.required else f" ({member.attendance})"
        when = local_range(start, end, weekday=False, timezone=person.timezone)
        lines.append(
            f"- {participant.name}{role}, {party.name}: {day_label(start.date(), False)} {when}"
            f" · {cost}"
        )
    if occ.status != "cancelled":
        turn = hard_turn(
            (ctx.name_of(m.participant_id), burden.get(str(m.participant_id), 0))
            for m in ctx.members
            if m.counted
        )
        lines.append(f"Hard turn: {turn or NOBODY_PAYS}")
    lines.append("")
    lines.append("Running balance after this meeting:")
    for member in ctx.members:
        if member.counted:
            name = ctx.rows[member.participant_id][0].name
            lines.append(f"- {name}: {hours(balance.get(str(member.participant_id), 0))}")
    if occ.notices:
        lines += ["", "Notices:", *(f"- {n}" for n in occ.notices)]
    if current is not None and current.changes:
        lines += ["", "Out of date since it was scheduled:", *(f"- {c}" for c in current.changes)]
    if occ.status == "cancelled":
        lines += ["", "This meeting is cancelled."]
    return "\n".join(lines)


def build_calendar(
    session: Session,
    workspace: Workspace,
    name: str,
    series_ids: list[uuid.UUID],
    version: DataVersion | None = None,
    cache: SeriesEvents | None = None,
    now: datetime | None = None,
) -> FeedCalendar:
    """The events of every occurrence of the covered series, with the running balance;
    occurrences from ``now`` on with today's figures (:mod:`app.db.current`).

    With ``version`` and ``cache``, a series whose data key is cached is not rebuilt.
    """
    events: list[FeedEvent] = []
    for series_id in series_ids:
        key = version.series_keys.get(series_id) if version is not None else None
        cached = None
        if cache is not None and key is not None:
            cached = cache.get((series_id, key, now))
        if cached is None:
            cached = _series_events(session, workspace, series_id, now)
            if cache is not None and key is not None:
                cache.put((series_id, key, now), cached)
        events.extend(cached)
    return FeedCalendar(name=name, description=f"Meetings of {workspace.name}", events=events)


def _series_events(
    session: Session, workspace: Workspace, series_id: uuid.UUID, now: datetime | None = None
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
    running: dict[str, int] = defaultdict(int, ctx.opening())
    current = current_figures(ctx, rows, now) if now is not None else {}
    events: list[FeedEvent] = []
    for occ in rows:
        now_ = current.get(occ.id)
        for pid, minutes in (occ.burden if now_ is None else now_.burden).items():
            if occ.counts_for(pid):
                running[pid] += minutes
        location = series.location
        events.append(
            FeedEvent(
                uid=f"{occ.id}{OWN_UID_SUFFIX}",
                reminder_minutes=series.reminder_minutes,
                start=occ.start,
                end=occ.end,
                sequence=occ.sequence,
                status="cancelled" if occ.status == "cancelled" else "scheduled",
                summary=series.title,
                description=_describe(ctx, occ, running, parties, now_),
                location=location,
                url=location if location and location.startswith(("https://", "http://")) else None,
                created=occ.created_at,
                last_modified=max(occ.updated_at, series.updated_at),
            )
        )
    return tuple(events)
