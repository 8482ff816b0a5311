"""Engine construction and the per-request session (the one place that commits)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine


def make_engine(url: str, *, connect_timeout: float = 3.0, pool_size: int = 5) -> Engine:
    """An engine that fails fast (bounded connect timeout) when the database is away."""
    from app.db import content_version

    content_version.install()  # every writer keeps feed caches honest, the CLI included
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True  # a server restart must not fail the next request
        timeout = max(1, round(connect_timeout))
        kwargs["connect_args"] = {
            "connect_timeout": timeout,
            # Never let one slow statement pin a worker: 30 s is far beyond any real query.
            "options": "-c statement_timeout=30000 -c lock_timeout=10000",
        }
        # Sessions hold at most ``pool_size`` connections (ConnectionSlots); the one-query
        # lookups of feed polls and cached reads take theirs beside them. All are kept open:
        # an overflow connection is closed on return, and a new PostgreSQL backend per
        # request cost more than the request.
        kwargs["pool_size"] = pool_size * 2
        kwargs["max_overflow"] = pool_size
        kwargs["pool_timeout"] = connect_timeout
        kwargs["pool_recycle"] = 1800
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL survives an application crash; only a power cut may lose the last commit.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """``with session_scope(engine) as session``: commits when the block ends normally,
    rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class ConnectionSlots:
    """At most ``size`` requests of this process use the database at once; the rest wait
    here, in the event loop, for ``wait_seconds`` at most.

    A request holds its pooled connection from its first query until its session closes,
    across several thread-pool hops. When more requests ran than the pool had connections,
    threads blocked in the pool waiting for connections held by requests that were waiting
    for a thread; under load whole workers stalled until ``pool_timeout`` and answered 503.
    With ``size`` no larger than the pool, an admitted request never waits for a connection
    (and with fewer requests competing for the GIL each finishes sooner).
    """

    def __init__(self, size: int, wait_seconds: float) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(size)

    async def acquire(self) -> bool:
        """Take a slot; False when none came free within ``wait_seconds``."""
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        self._free.release()
