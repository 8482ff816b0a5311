"""Participants' calendar sources: reading them, storing their busy times, refreshing them
(docs/rules.md, "Busy times").

A source is read with no transaction open (a fetch takes up to 10 s) and written after.
In the background each due source is claimed by one worker with a conditional UPDATE of its
lease (``next_sync_at`` passed and no live lease), so with several workers or replicas
exactly one refreshes it; the write of the result checks that the lease is still its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from app.calendars import caldav_read, fetch, ics
from app.db.models import CalendarSource, Participant, Party, Workspace
from app.db.people import effective
from app.db.replan import replan_affected
from app.scheduling.model import BusyTimes
from app.secret_box import secret_box
from app.settings import Settings

log = logging.getLogger("app.db.calendars")

WINDOW = timedelta(days=400)  # busy times are read from now to this far ahead
LEASE = timedelta(minutes=2)  # far above one read (10 s a fetch)
MAX_SOURCES = 10  # per participant
DUE_PER_ROUND = 20  # sources one worker refreshes per round at most
# A source's address could not be read at all: the person must change it (422 on create).
_GONE = {401, 403, 404, 410}


@dataclass(frozen=True)
class Reading:
    """What one read of a source gave: new busy times (None: unchanged, a 304), or an
    error. ``refused``: the address is not allowed; ``permanent``: it will not work as is."""

    busy: list[tuple[int, int]] | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    refused: bool = False
    permanent: bool = False


def read_as(participant: Participant, party: Party) -> str:
    """What busy times depend on besides the calendar: the zone all-day and floating times
    are read in, and the email whose declines are not busy."""
    return f"{effective(participant, party)['effective_timezone']}|{participant.email or ''}"


def read_source(
    source: CalendarSource,
    participant: Participant,
    party: Party,
    settings: Settings,
    now: datetime,
) -> Reading:
    """Fetch and read one source. Never raises for what the source does: it says so."""
    zone_name = effective(participant, party)["effective_timezone"]
    emails = [participant.email] if participant.email else []
    allow = settings.calendar_allow_private_addresses
    start, end = now, now + WINDOW
    try:
        if source.kind == "ics":
            fresh = source.read_as != read_as(participant, party)  # else a 304 is good
            got = fetch.fetch(
                source.url,
                allow_private=allow,
                etag=None if fresh else source.etag,
                last_modified=None if fresh else source.last_modified,
            )
            if got.status == 304:
                return Reading(None, source.etag, source.last_modified)
            documents = [got.body]
            etag, modified = got.etag, got.last_modified
        else:
            password = None
            if source.password_sealed is not None:
                password = secret_box(settings).open(source.password_sealed)
                if password is None:
                    return Reading(
                        error="The stored password can no longer be read (the secret key "
                        "changed); add this calendar again.",
                        permanent=True,
                    )
            documents = caldav_read.read_caldav(
                source.url,
                username=source.username,
                password=password,
                start=start,
                end=end,
                session=fetch.guarded_session(allow_private=allow),
            )
            etag = modified = None
        busy = ics.busy_intervals(
            documents, timezone=zone_name, emails=emails, start=start, end=end
        )
    except fetch.Refused as exc:
        return Reading(error=exc.reason, refused=True, permanent=True)
    except fetch.FetchFailed as exc:
        return Reading(error=exc.reason, permanent=exc.status in _GONE)
    except ics.Unreadable as exc:
        return Reading(error=exc.reason, permanent=True)
    return Reading(busy, etag, modified)


def apply_reading(
    session: Session,
    workspace: Workspace,
    source: CalendarSource,
    participant: Participant,
    party: Party,
    reading: Reading,
    now: datetime,
    settings: Settings,
) -> list[str]:
    """Store what a read gave. New busy times that make a stored future occurrence of an
    ``auto`` series infeasible re-plan it in this transaction; the sentences say so."""
    source.next_sync_at = now + timedelta(minutes=settings.calendar_refresh_minutes)
    source.lease_owner = source.lease_until = None
    if reading.error is not None:  # the last good busy times stay
        source.status, source.last_error = "error", reading.error
        source.failing_since = source.failing_since or now
        session.add(source)
        return []
    source.status, source.last_error, source.failing_since = "ok", None, None
    source.last_synced_at = now
    source.etag, source.last_modified = reading.etag, reading.last_modified
    source.read_as = read_as(participant, party)
    changed = False
    if reading.busy is not None:
        busy = BusyTimes(reading.busy)
        digest = busy_digest(busy)
        changed = digest != source.busy_digest
        if changed:
            source.busy = [list(pair) for pair in busy.intervals()]
            source.busy_digest = digest
    session.add(source)
    if not changed:
        return []
    session.flush()
    cause = f"{participant.name}'s calendar changed"
    return replan_affected(session, workspace, [participant.id], cause, now, settings)


def busy_digest(busy: BusyTimes) -> str:
    """Stored beside the busy times: feeds compare it instead of reading them all."""
    return busy.digest.hex() if busy else ""


# --- the background refresh -------------------------------------------------------------


def _claim(engine: Engine, source_id: uuid.UUID, owner: str, now: datetime) -> bool:
    """Take the lease of a due source: one conditional UPDATE, so one worker wins."""
    with Session(engine) as session:
        result = session.execute(
            update(CalendarSource)
            .where(
                col(CalendarSource.id) == source_id,
                col(CalendarSource.next_sync_at) <= now,
                or_(
                    col(CalendarSource.lease_until).is_(None),
                    col(CalendarSource.lease_until) < now,
                ),
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def refresh_due(
    engine: Engine, settings: Settings, clock: Callable[[], datetime], owner: str
) -> int:
    """Refresh the sources that are due, each claimed by exactly one worker. Returns how
    many this worker refreshed."""
    now = clock()
    with Session(engine) as session:
        due = session.exec(
            select(CalendarSource.id)
            .where(
                col(CalendarSource.next_sync_at) <= now,
                or_(
                    col(CalendarSource.lease_until).is_(None),
                    col(CalendarSource.lease_until) < now,
                ),
            )
            .order_by(col(CalendarSource.next_sync_at))
            .limit(DUE_PER_ROUND)
        ).all()
    done = 0
    for source_id in due:
        if not _claim(engine, source_id, owner, now):
            continue  # another worker has it
        with Session(engine, expire_on_commit=False) as session:
            loaded = _load(session, source_id)
        if loaded is None:
            continue
        source, participant, party, _ = loaded
        reading = read_source(source, participant, party, settings, clock())
        with Session(engine) as session:
            again = _load(session, source_id)
            if again is None or again[0].lease_owner != owner:
                continue  # deleted, or the lease ran out and another worker took it
            source, participant, party, workspace = again
            said = apply_reading(
                session, workspace, source, participant, party, reading, clock(), settings
            )
            session.commit()
        for sentence in said:
            log.info("calendar refresh: %s", sentence)
        done += 1
    return done


def _load(
    session: Session, source_id: uuid.UUID
) -> tuple[CalendarSource, Participant, Party, Workspace] | None:
    row = session.exec(
        select(CalendarSource, Participant, Party, Workspace)
        .join(Participant, col(Participant.id) == col(CalendarSource.participant_id))
        .join(Party, col(Party.id) == col(Participant.party_id))
        .join(Workspace, col(Workspace.id) == col(CalendarSource.workspace_id))
        .where(col(CalendarSource.id) == source_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


class CalendarRefresher:
    """Each worker's background loop: every ``calendar_poll_seconds``, refresh what is due.
    Workers race for each source's lease; the database decides (see :func:`refresh_due`)."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._engine, self._settings, self._clock = engine, settings, clock
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.calendar_poll_seconds)
            try:
                await asyncio.to_thread(
                    refresh_due, self._engine, self._settings, self._clock, self.owner
                )
            except Exception:  # the database is down, say: try again next round
                log.exception("calendar refresh round failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
