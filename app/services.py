"""What one app instance runs on: one typed object, made by ``create_app``.

Routes read it with ``services(request.app)`` (or the ``ServicesDep`` dependency); the
middlewares are given it when they are added. Tests change ``clock`` to travel in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp

if TYPE_CHECKING:  # the modules below import this one
    from sqlalchemy.engine import Engine

    from app.api.read_cache import ReadCache
    from app.db.engine import ConnectionSlots
    from app.feeds.directory import ChangeListener, FeedDirectory, SqliteWatch
    from app.feeds.routes import FeedCaches
    from app.serving.heavy import HeavyWork
    from app.serving.ratelimit import FailedAttempts, PublicLinks
    from app.settings import Settings


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: Engine
    # Requests using the database at once, per process: no more than the pool holds.
    connection_slots: ConnectionSlots
    head_revision: str | None
    known_revisions: frozenset[str]
    heavy_work: HeavyWork
    feed_cache: FeedCaches
    feed_directory: FeedDirectory
    feed_listener: ChangeListener | SqliteWatch | None
    read_cache: ReadCache | None
    auth_failures: FailedAttempts
    public_links: PublicLinks
    clock: Callable[[], datetime]


def services(app: ASGIApp) -> Services:
    """The services of an app made by ``create_app``."""
    found = app.state.services  # type: ignore[attr-defined]
    if not isinstance(found, Services):  # pragma: no cover - a programming error
        raise TypeError("this app was not made by app.main.create_app")
    return found


def request_services(request: Request) -> Services:
    return services(request.app)


ServicesDep = Annotated[Services, Depends(request_services)]
