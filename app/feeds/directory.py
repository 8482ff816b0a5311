"""Which token is a live feed, known without asking the database on every poll, and trusted
only while it cannot be stale. The design: docs/design.md, "The feed directory".
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlmodel import Session

log = logging.getLogger(__name__)

CHANNEL = "scheduler_feed_changes"


@dataclass(frozen=True, slots=True)
class Entry:
    feed_id: uuid.UUID
    workspace_id: uuid.UUID
    content_version: int


class FeedDirectory:
    """Live feeds by token digest, for one process; see the module docstring for when
    it may be trusted."""

    def __init__(self, size: int = 100_000) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._by_workspace: dict[uuid.UUID, set[str]] = {}
        self._size = size
        self._lock = threading.Lock()
        self._live = False
        self._generation = 0
        self.freshness: Callable[[], None] | None = None  # SqliteWatch.sync, before reads
        _DIRECTORIES.add(self)

    @property
    def live(self) -> bool:
        return self._live

    def get(self, digest: str) -> Entry | None:
        if self.freshness is not None:
            self.freshness()
        if not self._live:
            return None
        return self._entries.get(digest)  # a dict read is atomic; no lock on the hot path

    def ticket(self) -> int | None:
        """Take before a database lookup; hand to :meth:`put` with its result."""
        with self._lock:
            return self._generation if self._live else None

    def put(self, ticket: int | None, digest: str, entry: Entry) -> bool:
        """Remember a lookup's result, unless anything was invalidated since its ticket."""
        with self._lock:
            if ticket is None or not self._live or ticket != self._generation:
                return False
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            self._by_workspace.setdefault(entry.workspace_id, set()).add(digest)
            while len(self._entries) > self._size:
                old_digest, old = self._entries.popitem(last=False)
                self._forget(old_digest, old.workspace_id)
            return True

    def invalidate(self, workspace_ids: Iterable[uuid.UUID]) -> None:
        with self._lock:
            self._generation += 1
            for workspace_id in workspace_ids:
                for digest in self._by_workspace.pop(workspace_id, ()):
                    self._entries.pop(digest, None)

    def reset(self) -> None:
        """Forget everything (and every lookup under way), staying live."""
        self.set_live(self._live)

    def set_live(self, live: bool) -> None:
        """Going live or losing the listener both start from an empty directory."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_workspace.clear()
            self._live = live

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, digest: str, workspace_id: uuid.UUID) -> None:
        digests = self._by_workspace.get(workspace_id)
        if digests is not None:
            digests.discard(digest)
            if not digests:
                del self._by_workspace[workspace_id]


# Every directory of this process: a commit here invalidates them all at once (usually one;
# tests run several apps in one process).
_DIRECTORIES: weakref.WeakSet[FeedDirectory] = weakref.WeakSet()

_TOUCHED = "feed_directory_touched"


def touched(session: Session, workspace_ids: Iterable[uuid.UUID]) -> None:
    """Called from the flush hook (app.db.content_version) with what a flush changed."""
    session.info.setdefault(_TOUCHED, set()).update(workspace_ids)


def _after_commit(session: Session) -> None:
    workspace_ids = session.info.pop(_TOUCHED, None)
    if workspace_ids:
        for directory in list(_DIRECTORIES):
            directory.invalidate(workspace_ids)


def _after_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def install() -> None:
    """Register the commit hooks on every ORM session (idempotent)."""
    for name, hook in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


class ChangeListener:
    """A thread holding one PostgreSQL connection that LISTENs for feed changes.

    The directory is live exactly while this connection is up and listening. A lost
    connection empties it and retries with back-off; a heartbeat every few seconds finds
    a connection that died quietly.
    """

    POLL_SECONDS = 0.5
    HEARTBEAT_SECONDS = 5.0
    RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)

    def __init__(self, engine: Engine, directory: FeedDirectory, connect_timeout: float) -> None:
        self.directory = directory
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._connect_timeout = max(1, round(connect_timeout))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self.backend_pid: int | None = None  # tests end it to simulate a lost connection

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="feed-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.directory.set_live(False)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:
                if self.directory.live:
                    log.warning("feed change listener lost its connection: %s", exc)
                self.directory.set_live(False)
                delay = self.RETRY_SECONDS[min(failures, len(self.RETRY_SECONDS) - 1)]
                failures += 1
                self._stop.wait(delay)
            finally:
                self.backend_pid = None
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()

    def _listen(self) -> None:
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            application_name="scheduler-feed-listener",
        )
        self._conn = conn
        conn.execute(f"LISTEN {CHANNEL}")
        self.backend_pid = conn.info.backend_pid
        # Listening from here on: anything committed later reaches us. Entries are only
        # put after this point (set_live moves the generation), so none predates it.
        self.directory.set_live(True)
        since_heartbeat = 0.0
        while not self._stop.is_set():
            for note in conn.notifies(timeout=self.POLL_SECONDS):
                workspace_ids = _workspace_ids(note.payload)
                if workspace_ids is None:
                    self.directory.reset()  # unreadable: forget everything
                else:
                    self.directory.invalidate(workspace_ids)
            since_heartbeat += self.POLL_SECONDS
            if since_heartbeat >= self.HEARTBEAT_SECONDS:
                conn.execute("SELECT 1")
                since_heartbeat = 0.0
        self.directory.set_live(False)


class SqliteWatch:
    """Keeps a directory exact on SQLite: see the module docstring."""

    def __init__(self, path: str, directory: FeedDirectory) -> None:
        self.path = path
        self.directory = directory
        self._conn: sqlite3.Connection | None = None
        self._seen = -1
        self._lock = threading.Lock()

    def start(self) -> None:
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._seen = self._version()
        self.directory.set_live(True)
        self.directory.freshness = self.sync

    def stop(self) -> None:
        self.directory.freshness = None
        self.directory.set_live(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def sync(self) -> None:
        with self._lock:
            try:
                version = self._version()
            except sqlite3.Error:
                log.exception("cannot read the SQLite data version; feed directory off")
                self.directory.freshness = None
                self.directory.set_live(False)
                return
            if version != self._seen:
                self._seen = version
                self.directory.reset()

    def _version(self) -> int:
        assert self._conn is not None
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])


def _workspace_ids(payload: str) -> list[uuid.UUID] | None:
    try:
        return [uuid.UUID(part) for part in payload.split(",")]
    except ValueError:
        log.warning("unreadable feed change notification %r", payload)
        return None
