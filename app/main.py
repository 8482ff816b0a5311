"""The application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.routing import Mount

from app.api import (
    calendars,
    feeds,
    invitations,
    occurrences,
    opening,
    ops,
    participants,
    parties,
    scheduling,
    series,
    shares,
    workspaces,
)
from app.api.fields import RequestDay
from app.api.read_cache import CachedReads, ReadCache
from app.db import invitations as invitations_db
from app.db.calendars import CalendarRefresher
from app.db.engine import ConnectionSlots, make_engine
from app.db.migrate import head_revision, known_revisions
from app.db.outbox import Dispatcher
from app.db.types import utcnow
from app.errors import AUTHENTICATED, error_responses, install_error_handlers
from app.feeds import routes as feed_routes
from app.feeds.directory import ChangeListener, FeedDirectory, SqliteWatch
from app.feeds.routes import FeedCaches, FeedPolls
from app.invitations import routes as invitation_routes
from app.secret_box import secret_box
from app.services import Services
from app.serving.admission import ArrivalOrder
from app.serving.body_limit import BodySizeLimit
from app.serving.docs_assets import docs_assets
from app.serving.head import HeadWithoutBody
from app.serving.heavy import HeavyWork
from app.serving.observability import RequestMetrics, configure_logging
from app.serving.ratelimit import PublicLinks, TokenBuckets, auth_failures
from app.settings import Settings, get_settings
from app.share import routes as share_routes
from app.slack import install as slack_install
from app.slack import interactions as slack_interactions
from app.slack import routes as slack_routes
from app.slack.posts import PostDispatcher

# Far above any real request (a series with 200 members is ~20 kB); bounds what one request
# makes the server buffer and parse.
MAX_BODY_BYTES = 1024 * 1024
DOCS_ASSETS = "/docs/assets"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        pool_size=settings.database_pool_size,
    )

    directory = FeedDirectory()
    listener: ChangeListener | SqliteWatch | None = None
    if engine.dialect.name == "postgresql":
        listener = ChangeListener(engine, directory, settings.database_connect_timeout)
    elif engine.url.database and engine.url.database != ":memory:":
        listener = SqliteWatch(engine.url.database, directory)

    heavy_work = HeavyWork(
        settings.heavy_processes,
        settings.heavy_queue,
        settings.heavy_wait_seconds,
        settings.heavy_inline_seconds,
        settings.heavy_niceness,
        settings.heavy_tasks_per_process,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if listener is not None:
            listener.start()  # until it is live, feed polls ask the database
        # Everything loaded so far (modules, holiday tables, the app) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise stop the
        # worker for ~140 ms every few thousand requests (measured: p99 of 2 ms reads 95 ms).
        gc.collect()
        gc.freeze()
        heavy_work.warm()
        refresher = CalendarRefresher(engine, settings, lambda: runs_on.clock())
        refresher.start()
        dispatcher = Dispatcher(
            engine,
            settings,
            lambda session, row: invitations_db.render(session, row, settings, runs_on.clock()),
            lambda: runs_on.clock(),
        )
        dispatcher.start()
        slack_posts = PostDispatcher(engine, settings, lambda: runs_on.clock())
        slack_posts.start()
        yield
        await slack_posts.stop()
        await dispatcher.stop()
        await refresher.stop()
        heavy_work.close()
        if listener is not None:
            listener.stop()
        engine.dispose()

    # /docs (Swagger UI) loads its script and style from this service, as shipped by the
    # fastapi-offline package, not from a CDN: it works offline. No /redoc: ReDoc's page
    # still loads its logo from its vendor's CDN.
    app = FastAPIOffline(
        redoc_url=None,
        title="Governance meeting scheduler",
        version="1.0.0",
        description="Fair recurring meetings across time zones.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    # The same files, served from memory (app.serving.docs_assets) instead of StaticFiles.
    for route in app.routes:
        if isinstance(route, Mount) and route.path == DOCS_ASSETS:
            route.app = docs_assets
    secret_box(settings)  # warns now, not at the first feed, when SCHEDULER_SECRET_KEY is unset
    runs_on = Services(
        settings=settings,
        engine=engine,
        connection_slots=ConnectionSlots(
            settings.database_pool_size, settings.database_connect_timeout
        ),
        head_revision=head_revision(settings.database_url),
        known_revisions=known_revisions(settings.database_url),
        heavy_work=heavy_work,
        feed_cache=FeedCaches(),
        feed_directory=directory,
        feed_listener=listener,
        read_cache=ReadCache(settings.read_cache_bytes) if settings.read_cache_bytes else None,
        auth_failures=auth_failures(settings.auth_failure_burst, settings.auth_failure_per_minute),
        clock=utcnow,  # tests replace it to travel in time
        public_links=PublicLinks(
            TokenBuckets(settings.feed_burst, settings.feed_per_minute),
            TokenBuckets(settings.unknown_link_burst, settings.unknown_link_per_minute),
        ),
    )
    app.state.services = runs_on  # read through app.services.services(), typed
    install_error_handlers(app)
    # Routes match in order, linearly: the public feed poll (most of all traffic) comes
    # right after the health checks instead of behind every /v1 route.
    for module in (
        ops,
        feed_routes,
        workspaces,
        parties,
        participants,
        calendars,
        scheduling,
        series,
        opening,
        occurrences,
        feeds,
        invitations,
    ):
        app.include_router(module.router)
    app.include_router(shares.router, responses={**AUTHENTICATED, **error_responses(404, 422)})
    app.include_router(share_routes.router, responses=error_responses(429, 503))
    app.include_router(slack_routes.router)
    app.include_router(slack_interactions.router)
    app.include_router(slack_install.router)
    app.include_router(invitation_routes.router, responses=error_responses(404, 409, 429))
    app.add_middleware(RequestDay, services=runs_on)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(CachedReads, services=runs_on)
    app.add_middleware(FeedPolls, services=runs_on)
    # Inside the metrics (the access log counts the wait), before everything else.
    app.add_middleware(
        ArrivalOrder,
        limit=settings.requests_in_flight,
        wait_seconds=settings.database_connect_timeout,
    )
    app.add_middleware(HeadWithoutBody)
    app.add_middleware(RequestMetrics)
    return app
