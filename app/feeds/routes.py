"""``GET|HEAD /feeds/{token}.ics``: the secret subscription URL a calendar app polls."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from threading import Lock

from fastapi import APIRouter, Request, Response
from sqlalchemy import Engine, Row, bindparam
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from app.db.engine import session_scope
from app.db.links import same_digest, token_digest
from app.db.models import Feed, Workspace
from app.errors import AppError, error_responses
from app.feeds.content import SeriesEvents, build_calendar, data_version, series_ids_of
from app.feeds.render import render_feed
from app.ratelimit import PublicLinks

router = APIRouter(tags=["feeds"])

CACHE_CONTROL = "private, no-cache"  # store, but revalidate with the ETag every time


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    etag: str
    last_modified: datetime


class FeedCache:
    """Rendered feeds by (feed, data version, day): a poll of unchanged data renders nothing."""

    def __init__(self, size: int = 512) -> None:
        self._entries: OrderedDict[tuple[str, str, str], RenderedFeed] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: tuple[str, str, str]) -> RenderedFeed | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple[str, str, str], value: RenderedFeed) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop_feed(self, feed_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == feed_id]:
                del self._entries[key]


def _not_found() -> AppError:
    # Unknown and revoked tokens must be indistinguishable.
    return AppError("not_found", "No calendar feed at this address; ask for a new link.", 404)


class FeedCaches:
    """Two levels: by the workspace's content version (one query per poll) and by the
    feed's precise data version (so a change elsewhere in the workspace re-renders nothing
    and keeps the ETag)."""

    def __init__(self) -> None:
        self.by_workspace_version = FeedCache()
        self.by_data_version = FeedCache()
        self.series_events = SeriesEvents()

    def drop_feed(self, feed_id: str) -> None:
        self.by_workspace_version.drop_feed(feed_id)
        self.by_data_version.drop_feed(feed_id)


# Built once: the poll path should not pay for statement construction on every request.
_LOOKUP = (
    select(col(Feed.id), col(Feed.token_hash), col(Workspace.content_version))
    .join(Workspace, col(Workspace.id) == col(Feed.workspace_id))
    .where(col(Feed.token_hash) == bindparam("digest"), col(Feed.revoked_at).is_(None))
)


def _lookup(engine: Engine, token: str) -> Row[uuid.UUID, str, int] | None:
    """The live feed of ``token`` and its workspace's content version, in one query."""
    digest = token_digest(token)
    if digest is None:
        return None
    # One read, no transaction: on PostgreSQL this saves the BEGIN and ROLLBACK round trips.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_LOOKUP, {"digest": digest}).first()
    if row is None or not same_digest(row.token_hash, digest):
        return None
    return row


def _render(engine: Engine, feed_id: uuid.UUID, day: datetime, caches: FeedCaches) -> RenderedFeed:
    for session in session_scope(engine):
        feed = session.get(Feed, feed_id)
        if feed is None:
            raise _not_found()
        workspace = session.get(Workspace, feed.workspace_id)
        assert workspace is not None
        series_ids = series_ids_of(session, feed)
        version = data_version(session, workspace, feed, series_ids)
        key = (str(feed.id), version.key, day.date().isoformat())
        cached = caches.by_data_version.get(key)
        if cached is not None:
            return cached
        calendar = build_calendar(
            session, workspace, feed, series_ids, version, caches.series_events
        )
    # Cut-offs (30 days for cancelled, oldest past first over 1 MB) move once a day.
    body = render_feed(calendar, now=day)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    rendered = RenderedFeed(body=body, etag=etag, last_modified=version.last_modified)
    caches.by_data_version.put(key, rendered)
    return rendered


def _not_modified(request: Request, feed: RenderedFeed) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or feed.etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return feed.last_modified.replace(microsecond=0) <= since
    return False


@router.get(
    "/feeds/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        304: {"description": "Not modified since the ETag or date you sent."},
        **error_responses(404, 429, 503),
    },
)
async def serve_feed(token: str, request: Request) -> Response:
    """The iCalendar document of a feed. No other authentication: the token is the secret.

    The poll path is one indexed lookup (token, workspace content version) and a cache hit.
    It holds its connection within one call, so it needs no admission slot (those guard
    sessions that span several thread hops). On SQLite the lookup is a local read of a few
    dozen microseconds and runs inline; on PostgreSQL it goes to the thread pool so that a
    slow network can never stall the event loop. Rendering always runs in the pool.
    """
    limits: PublicLinks = request.app.state.public_links
    client = request.client.host if request.client else "unknown"
    limits.check_client(client)
    engine: Engine = request.app.state.engine
    if engine.dialect.name == "sqlite":
        found = _lookup(engine, token)
    else:
        found = await run_in_threadpool(_lookup, engine, token)
    if found is None:
        limits.record_unknown(client)
        raise _not_found()
    limits.hit_link(str(found.id))
    day = request.app.state.clock().replace(hour=0, minute=0, second=0, microsecond=0)
    caches: FeedCaches = request.app.state.feed_cache
    fast_key = (str(found.id), str(found.content_version), day.date().isoformat())
    rendered = caches.by_workspace_version.get(fast_key)
    if rendered is None:
        rendered = await run_in_threadpool(_render, engine, found.id, day, caches)
        caches.by_workspace_version.put(fast_key, rendered)
    headers = {
        "ETag": rendered.etag,
        "Last-Modified": format_datetime(rendered.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(request, rendered):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="meetings.ics"'
    body = b"" if request.method == "HEAD" else rendered.body
    response = Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(rendered.body))
    return response


# HEAD answers like GET without the body; one OpenAPI operation documents both.
router.add_api_route("/feeds/{token}.ics", serve_feed, methods=["HEAD"], include_in_schema=False)
