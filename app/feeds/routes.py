"""``GET|HEAD /feeds/{token}.ics``: the secret subscription URL a calendar app polls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from sqlalchemy import Engine, bindparam
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.engine import session_scope
from app.db.links import same_digest, token_digest
from app.db.models import Feed, Workspace
from app.errors import AppError, error_responses
from app.feeds.content import (
    SeriesEvents,
    WorkspaceView,
    WorkspaceViews,
    build_calendar,
    load_view,
)
from app.feeds.directory import Entry, FeedDirectory
from app.feeds.render import render_feed
from app.services import Services, services
from app.serving.lru import Lru
from app.serving.ratelimit import PublicLinks

router = APIRouter(tags=["feeds"])

_LOOKUPS = Counter(
    "scheduler_feed_lookups_total",
    "Feed polls by where their token was found: this process's directory or the database",
    ["source"],
)
_FROM_DIRECTORY = _LOOKUPS.labels("directory")
_FROM_DATABASE = _LOOKUPS.labels("database")

CACHE_CONTROL = "private, no-cache"  # store, but revalidate with the ETag every time


Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class RenderedFeed:
    """A rendered feed and the response headers of each answer, prepared once."""

    body: bytes
    etag: str
    last_modified: datetime
    full: Headers  # 200 (GET and HEAD)
    not_modified: Headers  # 304

    @classmethod
    def of(cls, body: bytes, last_modified: datetime) -> RenderedFeed:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        common = [
            (b"etag", etag.encode()),
            (
                b"last-modified",
                format_datetime(last_modified.astimezone(UTC), usegmt=True).encode(),
            ),
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        full = [
            *common,
            (b"content-disposition", b'inline; filename="meetings.ics"'),
            (b"content-type", b"text/calendar; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        return cls(body, etag, last_modified, full, common)

    def answer(
        self, method: str, if_none_match: str | None, if_modified_since: str | None
    ) -> tuple[int, Headers, bytes]:
        """Status, headers and body for a GET or HEAD with these conditions."""
        if self._unchanged_for(if_none_match, if_modified_since):
            return 304, self.not_modified, b""
        return 200, self.full, b"" if method == "HEAD" else self.body

    def _unchanged_for(self, inm: str | None, ims: str | None) -> bool:
        if inm is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or self.etag in tags
        if ims:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return self.last_modified.replace(microsecond=0) <= since
        return False


class Prepared(Response):
    """A response whose headers are already encoded (a feed's, from its cache entry)."""

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = headers
        self.background = None


class FeedCache(Lru[tuple[str, str, str], RenderedFeed]):
    """Rendered feeds by (feed, data version, day): a poll of unchanged data renders nothing.
    Bounded by bytes too: one feed of a big series is megabytes."""

    def __init__(self, size: int = 512, max_bytes: int = 8 * 1024 * 1024) -> None:
        super().__init__(size, max_bytes=max_bytes, weigh=_feed_bytes)

    def drop_feed(self, feed_id: str) -> None:
        self.drop(lambda key: key[0] != feed_id)


def _feed_bytes(feed: RenderedFeed) -> int:
    return len(feed.body) + 1024  # the headers and the entry itself


def _not_found() -> AppError:
    # Unknown and revoked tokens must be indistinguishable.
    return AppError("not_found", "No calendar feed at this address; ask for a new link.", 404)


class FeedCaches:
    """Two levels: by the workspace's content version (one query per poll) and by the
    feed's precise data version (so a change elsewhere in the workspace re-renders nothing
    and keeps the ETag). Between them, the workspace's view per content version, from which
    every one of its feeds' data versions is computed in memory."""

    def __init__(self) -> None:
        self.by_workspace_version = FeedCache()
        self.by_data_version = FeedCache()
        self.series_events = SeriesEvents()
        self.views = WorkspaceViews()

    def drop_feed(self, feed_id: str) -> None:
        self.by_workspace_version.drop_feed(feed_id)
        self.by_data_version.drop_feed(feed_id)


# Built once: the poll path should not pay for statement construction on every request.
_LOOKUP = (
    select(
        col(Feed.id),
        col(Feed.token_hash),
        col(Feed.workspace_id),
        col(Workspace.content_version),
    )
    .join(Workspace, col(Workspace.id) == col(Feed.workspace_id))
    .where(col(Feed.token_hash) == bindparam("digest"), col(Feed.revoked_at).is_(None))
)


def _lookup(engine: Engine, digest: str) -> Entry | None:
    """The live feed of a token digest and its workspace's content version, in one query."""
    # One read, no transaction: on PostgreSQL this saves the BEGIN and ROLLBACK round trips.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_LOOKUP, {"digest": digest}).first()
    if row is None or not same_digest(row.token_hash, digest):
        return None
    return Entry(row.id, row.workspace_id, row.content_version)


async def _find(engine: Engine, directory: FeedDirectory, digest: str) -> Entry | None:
    found = directory.get(digest)
    if found is not None:
        _FROM_DIRECTORY.inc()
        return found
    _FROM_DATABASE.inc()
    ticket = directory.ticket()
    if engine.dialect.name == "sqlite":
        found = _lookup(engine, digest)  # a local read of microseconds: inline
    else:
        # Over the network: in the pool, so a slow database never stalls the event loop.
        found = await run_in_threadpool(_lookup, engine, digest)
    if found is not None:
        directory.put(ticket, digest, found)
    return found


def _cache_key(found: Entry, now: datetime) -> tuple[str, str, str]:
    # Cut-offs (30 days for cancelled, oldest past first over 1 MB) move once a day.
    return (str(found.feed_id), str(found.content_version), now.date().isoformat())


def from_memory(state: Services, token: str) -> RenderedFeed | None:
    """The feed a poll gets when all it needs is in this process's memory (the token in
    the feed directory, the rendering in the cache, its link under its rate limit); None
    sends the poll down the full route, which also gives every error its answer."""
    limits: PublicLinks = state.public_links
    digest = token_digest(token)
    found = None if digest is None else state.feed_directory.get(digest)
    if found is None:
        return None
    rendered = state.feed_cache.by_workspace_version.get(_cache_key(found, state.clock()))
    if rendered is None or limits.per_link.take(str(found.feed_id)) is not None:
        return None
    _FROM_DIRECTORY.inc()
    return rendered


def _render(engine: Engine, found: Entry, day: datetime, caches: FeedCaches) -> RenderedFeed:
    """The feed at the content version ``found`` read (the data read here is at least as
    new). Usually nothing is rendered: the workspace's view gives the feed's data version,
    and a rendering of that version is in the cache."""
    key = (found.workspace_id, found.content_version)

    def load() -> WorkspaceView:
        with session_scope(engine) as session:
            workspace = session.get(Workspace, found.workspace_id)
            if workspace is None:
                raise _not_found()
            view = load_view(session, workspace)
        return view

    view = caches.views.get(key, load)
    feed = view.feeds.get(found.feed_id)
    if feed is None:  # created after this view was read
        view = caches.views.get(key, load, stale=view)
        feed = view.feeds.get(found.feed_id)
        if feed is None:
            raise _not_found()
    series_ids = view.covered(feed)
    version = view.version(feed, series_ids)
    cache_key = (str(found.feed_id), version.key, day.date().isoformat())
    cached = caches.by_data_version.get(cache_key)
    if cached is not None:
        return cached
    with session_scope(engine) as session:
        workspace = session.get(Workspace, found.workspace_id)
        if workspace is None:
            raise _not_found()
        calendar = build_calendar(
            session, workspace, feed.name, series_ids, version, caches.series_events, day
        )
    # Cut-offs (30 days for cancelled, oldest past first over 1 MB) move once a day.
    rendered = RenderedFeed.of(render_feed(calendar, now=day), version.last_modified)
    caches.by_data_version.put(cache_key, rendered)
    return rendered


FEED_PATH = "/feeds/{token}.ics"


@router.get(
    FEED_PATH,
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        304: {"description": "Not modified since the ETag or date you sent."},
        **error_responses(404, 429, 503),
    },
)
async def serve_feed(token: str, request: Request) -> Response:
    """The iCalendar document of a feed. No other authentication: the token is the secret.

    The poll path finds the token and its workspace's content version, then the rendered
    feed in the cache. On PostgreSQL the token is usually in this process's feed directory
    (app.feeds.directory), kept exact by LISTEN/NOTIFY, so the poll touches no database;
    otherwise it is one indexed lookup in the thread pool. On SQLite that lookup is a local
    read of microseconds and runs inline. The lookup holds its connection within one call,
    so it needs no admission slot (those guard sessions spanning several thread hops).
    Rendering always runs in the pool.
    """
    state = services(request.app)
    limits = state.public_links
    engine = state.engine
    digest = token_digest(token)
    found = None if digest is None else await _find(engine, state.feed_directory, digest)
    if found is None:
        limits.unknown(request.client.host if request.client else "unknown")
        raise _not_found()
    limits.hit_link(str(found.feed_id))
    now = state.clock()
    caches = state.feed_cache
    key = _cache_key(found, now)
    rendered = caches.by_workspace_version.get(key)
    if rendered is None:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        rendered = await run_in_threadpool(_render, engine, found, day, caches)
        caches.by_workspace_version.put(key, rendered)
    headers = request.headers
    return Prepared(
        *rendered.answer(
            request.method, headers.get("if-none-match"), headers.get("if-modified-since")
        )
    )


# HEAD answers exactly as GET without the body (app.serving.head); one operation in the OpenAPI.
router.add_api_route(FEED_PATH, serve_feed, methods=["HEAD"], include_in_schema=False)


class _RouteName:
    """What the request metrics read off ``scope["route"]``."""

    def __init__(self, path: str) -> None:
        self.path = path


class FeedPolls:
    """ASGI middleware: answers a feed poll from memory (:func:`from_memory`) before the
    framework routes it, validates it and runs the endpoint; everything else, and every
    poll it cannot answer so, goes on to the app.

    Polls are most of all traffic and almost all of them are answered from memory, so the
    framework's per-request work was most of their cost. Inside the request metrics (they
    are counted and logged like any request), outside everything else.
    """

    ROUTE = _RouteName("/feeds/{token}.ics")

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if path.startswith("/feeds/") and path.endswith(".ics") and path.count("/") == 2:
                rendered = from_memory(self.services, path[7:-4])
                if rendered is not None:
                    inm = ims = None
                    for name, value in scope["headers"]:
                        if name == b"if-none-match":
                            inm = value.decode("latin-1")
                        elif name == b"if-modified-since":
                            ims = value.decode("latin-1")
                    status, headers, body = rendered.answer(scope["method"], inm, ims)
                    scope["route"] = self.ROUTE
                    await send(
                        {"type": "http.response.start", "status": status, "headers": headers}
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
