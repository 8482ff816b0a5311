"""Repeated API reads answered from memory, checked against the database on every request.

Dashboards, integrations and the Slack command read the same few resources over and over,
and a read through the full stack (routing, dependencies, the ORM, several thread hops,
response validation) costs far more than the one question that decides whether its answer
can have changed: *is this API key live, and what is its workspace's content version?*
(the counter every write a read could show moves, app.db.content_version).

:class:`CachedReads` asks exactly that, in one indexed query, for every ``GET /v1/...``
with a bearer key. An answer stored under the same (workspace, content version, path,
query) is sent as it was; anything else goes through the app as usual, and a 200 from a
route in :data:`CACHEABLE` is stored when the route read the same version as the check.

So a revoked key is refused, and a write is seen, by the very next request, whichever
worker or host made it: the check reads the database, not a notification. Only routes
whose answer is a function of the workspace's content alone are listed; a balance (it
moves with the clock), feed and share-link lists (their rows do not move the version) and
conditional requests always take the full route.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.accounts import hash_secret
from app.db.models import ApiKey, Workspace
from app.errors import database_unavailable
from app.ratelimit import AuthFailures

CACHEABLE = frozenset(
    {
        "/v1/workspace",
        "/v1/parties",
        "/v1/parties/{party_id}",
        "/v1/participants",
        "/v1/participants/{participant_id}",
        "/v1/participants/{participant_id}/time-off",
        "/v1/series",
        "/v1/series/{series_id}",
        "/v1/series/{series_id}/occurrences",
    }
)

SEEN = "workspace_version"  # request.state: (workspace id, content version) the route read
CACHE_OUTCOME = "scheduler.read_cache"  # ASGI scope: "hit" or "miss", for the access log

MAX_KEY_LENGTH = 200

_CHECK = (
    select(ApiKey.workspace_id, Workspace.content_version)  # type: ignore[call-overload]
    .join(Workspace, Workspace.id == ApiKey.workspace_id)
    .where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
)


@dataclass(frozen=True, slots=True)
class Stored:
    route: Any  # what the request metrics read the route template from
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ReadCache:
    """Answers by (workspace, content version, path, query), least recently used out first,
    bounded in bytes. Old versions are never asked for again and age out."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[uuid.UUID, int, str, bytes], Stored] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: tuple[uuid.UUID, int, str, bytes]) -> Stored | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple[uuid.UUID, int, str, bytes], value: Stored) -> None:
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


def _check(engine: Engine, digest: str) -> tuple[uuid.UUID, int] | None:
    # One read, no transaction (as the feed lookup): no BEGIN/ROLLBACK round trips.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_CHECK, {"digest": digest}).first()
    return None if row is None else (row[0], row[1])


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

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache: ReadCache | None = self.state.read_cache
        if (
            cache is None
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        key = _bearer(scope)
        client = scope.get("client")
        limiter: AuthFailures = self.state.auth_failures
        if key is None or limiter.buckets.retry_after(client[0] if client else "unknown"):
            await self.app(scope, receive, send)  # the full route answers 401 / 429
            return
        engine: Engine = self.state.engine
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
        entry_key = (live[0], live[1], scope["path"], scope["query_string"])
        hit = cache.get(entry_key)
        if hit is not None:
            scope["route"] = hit.route
            scope[CACHE_OUTCOME] = "hit"
            await send({"type": "http.response.start", "status": 200, "headers": hit.headers})
            await send({"type": "http.response.body", "body": hit.body})
            return
        scope[CACHE_OUTCOME] = "miss"
        await self._through(scope, receive, send, cache, entry_key)

    async def _through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        cache: ReadCache,
        entry_key: tuple[uuid.UUID, int, str, bytes],
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
        seen = scope.get("state", {}).get(SEEN)
        if (
            keep
            and start is not None
            and getattr(route, "path", None) in CACHEABLE
            and seen == entry_key[:2]  # the route read the version the check read
        ):
            cache.put(entry_key, Stored(route, list(start.get("headers", [])), b"".join(chunks)))
