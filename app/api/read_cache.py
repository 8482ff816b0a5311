"""Repeated API reads answered from memory, checked against the database on every request.
The design: docs/design.md, "API reads answered from memory".
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.accounts import hash_secret, plausible_key
from app.db.content_version import VERSION_COLUMNS
from app.db.models import ApiKey, Workspace
from app.errors import database_unavailable
from app.services import Services
from app.serving.observability import CACHE_OUTCOME

PEOPLE = ("participant_version", "party_version")  # a person's party fills their gaps

# Route template -> the kinds of content its answer shows (app.db.content_version).
CACHEABLE: dict[str, tuple[str, ...]] = {
    "/v1/workspace": ("content_version",),  # read seldom: any write drops it
    "/v1/parties": ("party_version",),
    "/v1/parties/{party_id}": ("party_version",),
    "/v1/participants": PEOPLE,
    "/v1/participants/{participant_id}": PEOPLE,
    # ... of a participant who exists (availability_version moves when one comes or goes)
    "/v1/participants/{participant_id}/time-off": ("time_off_version", "availability_version"),
    "/v1/series": ("series_version",),
    # Whether its future occurrences are stale: everything they are read against now.
    "/v1/series/{series_id}": (
        "series_version",
        "occurrence_version",
        "availability_version",
        "party_version",
        "time_off_version",
    ),
    # Each attendee's local times (their zone, their own or their party's, not their name)
    # and the current burden of future occurrences (hours, holidays, time off).
    "/v1/series/{series_id}/occurrences": (
        "occurrence_version",
        "series_version",
        "availability_version",
        "party_version",
        "time_off_version",
    ),
    # Members' names and parties (with the parties' names), the occurrences' minutes, the
    # opening balance; and the clock (valid_until).
    "/v1/series/{series_id}/balance": (
        "occurrence_version",
        "series_version",
        "participant_version",
        "party_version",
    ),
}

# request.state: (workspace id, {counter: value}) as the route read them
SEEN = "workspace_versions"
# request.state: (now, until) of an answer that follows the clock, see valid_until
CLOCKED = "valid_until"

MAX_KEY_LENGTH = 200

_CHECK = (
    select(ApiKey.workspace_id, *(getattr(Workspace, name) for name in VERSION_COLUMNS))  # type: ignore[call-overload]
    .join(Workspace, Workspace.id == ApiKey.workspace_id)
    .where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
)

Key = tuple[uuid.UUID, str, bytes]  # workspace, path, query (+ the answer's form)


def _form(scope: Scope) -> bytes:
    """``b"#csv"`` when the request asks for CSV (``Accept: text/csv``), else ``b""``."""
    for name, value in scope.get("headers", ()):
        if name == b"accept" and b"text/csv" in value.lower():
            return b"#csv"
    return b""


_INSTANT = TypeAdapter(datetime)


def valid_until(request: Request, now: datetime, until: datetime | None) -> None:
    """Called by a route whose answer was computed at ``now`` and stays the same until
    ``until`` (None: as long as the content), but for its ``as_of`` field, which holds
    ``now``: a copy kept in memory is sent only before ``until``, with the time of sending
    written into ``as_of``."""
    setattr(request.state, CLOCKED, (now, until))


def _as_of_at(body: bytes, now: datetime) -> tuple[bytes, bytes] | None:
    """The body around its ``as_of`` value, or None unless it holds ``now`` exactly once."""
    field = b'"as_of":' + _INSTANT.dump_json(now)
    if body.count(field) != 1:
        return None
    before, after = body.split(field)
    return before + b'"as_of":', after


@dataclass(frozen=True, slots=True)
class Stored:
    route: Any  # what the request metrics read the route template from
    headers: list[tuple[bytes, bytes]]
    body: bytes
    kinds: tuple[str, ...] = ()  # the counters the answer depends on
    versions: tuple[int, ...] = ()  # their values when it was read
    until: datetime | None = None  # it follows the clock: good before this instant
    as_of: tuple[bytes, bytes] | None = None  # the body before and after its as_of value

    def current(self, versions: dict[str, int], now: datetime) -> bool:
        if self.until is not None and now >= self.until:
            return False
        return tuple(versions[k] for k in self.kinds) == self.versions

    def sent_at(self, now: datetime) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """Headers and body to send at ``now``."""
        if self.as_of is None:
            return self.headers, self.body
        body = self.as_of[0] + _INSTANT.dump_json(now) + self.as_of[1]
        headers = [(k, v) for k, v in self.headers if k != b"content-length"]
        return [*headers, (b"content-length", str(len(body)).encode())], body


class ReadCache:
    """The latest answer per (workspace, path, query), least recently used out first,
    bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, Stored] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: Key) -> Stored | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: Key, value: Stored) -> None:
        size = len(value.body)
        if size > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._entries)


def _check(engine: Engine, digest: str) -> tuple[uuid.UUID, dict[str, int]] | None:
    # One read, no transaction (as the feed lookup): no BEGIN/ROLLBACK round trips.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_CHECK, {"digest": digest}).first()
    return None if row is None else (row[0], dict(zip(VERSION_COLUMNS, row[1:], strict=True)))


def _bearer(scope: Scope) -> str | None:
    """The bearer key of a plain GET, or None when the request must take the full route."""
    key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, key_bytes = value.partition(b" ")
            if scheme.lower() != b"bearer" or not key_bytes or len(key_bytes) > MAX_KEY_LENGTH:
                return None
            key = key_bytes.strip().decode("latin-1")
        elif name in (b"if-none-match", b"if-modified-since", b"if-match", b"range"):
            return None
    return key or None


class CachedReads:
    """ASGI middleware; see the module docstring. Inside the request metrics."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.services.read_cache
        if (
            cache is None
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        key = _bearer(scope)
        if key is None or not plausible_key(key):
            await self.app(scope, receive, send)  # the full route answers 401 (or 429)
            return
        engine = self.services.engine
        digest = hash_secret(key)
        try:
            if engine.dialect.name == "sqlite":
                live = _check(engine, digest)  # a local read of microseconds: inline
            else:
                live = await run_in_threadpool(_check, engine, digest)
        except (DBAPIError, PoolTimeoutError) as exc:
            # Answer now: the full route would wait for the database a second time.
            await database_unavailable(exc)(scope, receive, send)
            return
        if live is None:
            await self.app(scope, receive, send)  # the full route answers 401
            return
        # The answer's form is part of what is asked: JSON and CSV are kept apart.
        entry_key = (live[0], scope["path"], scope["query_string"] + _form(scope))
        hit = cache.get(entry_key)
        now = self.services.clock()
        if hit is not None and hit.current(live[1], now):
            scope["route"] = hit.route
            scope[CACHE_OUTCOME] = "hit"
            headers, body = hit.sent_at(now)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope[CACHE_OUTCOME] = "miss"
        await self._through(scope, receive, send, cache, entry_key)

    async def _through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        cache: ReadCache,
        entry_key: Key,
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = message
                keep = message["status"] == 200
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        route = scope.get("route")
        kinds = CACHEABLE.get(getattr(route, "path", None) or "")
        seen = scope.get("state", {}).get(SEEN)
        if keep and start is not None and kinds and seen is not None and seen[0] == entry_key[0]:
            versions = tuple(seen[1][k] for k in kinds)
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            clocked = scope.get("state", {}).get(CLOCKED)
            if clocked is None:
                cache.put(entry_key, Stored(route, headers, body, kinds, versions))
                return
            now, until = clocked
            as_of = _as_of_at(body, now)
            if as_of is not None:
                cache.put(entry_key, Stored(route, headers, body, kinds, versions, until, as_of))
