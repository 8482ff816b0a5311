"""Shared request dependencies: the session, the caller's workspace, load-or-404, ETags."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam
from sqlmodel import Session, SQLModel, select

from app.api.read_cache import SEEN
from app.db.accounts import hash_secret, plausible_key
from app.db.changes import LostRace
from app.db.content_version import versions_of
from app.db.engine import session_scope
from app.db.models import ApiKey, Series, Workspace
from app.errors import RETRY_AFTER_SECONDS, AppError, not_found
from app.services import services
from app.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return services(request.app).settings


async def database_slot(request: Request) -> AsyncIterator[None]:
    """Admission to the database (app.db.engine.ConnectionSlots), released as soon as the
    route function returns; 503 when no slot comes free in time."""
    slots = services(request.app).connection_slots
    if not await slots.acquire():
        raise AppError(
            "database_unavailable",
            "The database is not answering fast enough right now; retry in a few seconds.",
            503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        yield
    finally:
        slots.release()


DatabaseSlot = Depends(database_slot, scope="function")


def get_session(request: Request, _: Annotated[None, DatabaseSlot]) -> Iterator[Session]:
    # scope="function" below: commit happens before the response is sent, so a 2xx
    # always means the write is durable.
    with session_scope(services(request.app).engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _unauthorized(detail: str) -> AppError:
    return AppError(
        "unauthorized", detail, 401, headers={"WWW-Authenticate": 'Bearer realm="scheduler"'}
    )


# Declares the scheme in OpenAPI; the messages below tell a missing key from a wrong scheme.
bearer = HTTPBearer(
    auto_error=False, scheme_name="ApiKey", description="An API key of your workspace."
)


# Built once (compiled once): the workspace of a live key.
_KEY_OWNER = (
    select(Workspace)
    .join(ApiKey, ApiKey.workspace_id == Workspace.id)  # type: ignore[arg-type]
    .where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
)


def get_workspace(
    session: SessionDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Workspace:
    if credentials is None:
        if not request.headers.get("authorization"):
            raise _unauthorized("Send your API key as 'Authorization: Bearer <api_key>'.")
        raise _unauthorized("Use the Bearer scheme: 'Authorization: Bearer <api_key>'.")
    key = credentials.credentials
    # A valid key is never refused for other failures from the same address; failures past
    # the address's budget get 429 (app.serving.ratelimit.FailedAttempts).
    workspace = None
    if plausible_key(key):
        workspace = session.exec(_KEY_OWNER, params={"digest": hash_secret(key)}).first()
    if workspace is None:
        services(request.app).auth_failures.failed(
            request.client.host if request.client else "unknown"
        )
        raise _unauthorized("This API key is not valid or has been revoked.")
    # What this request's answer is a function of (app.api.read_cache may keep it).
    setattr(request.state, SEEN, (workspace.id, versions_of(workspace)))
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]

M = TypeVar("M", bound=SQLModel)


def load_owned(
    session: Session, model: type[M], object_id: uuid.UUID, workspace: Workspace, what: str
) -> M:
    """The object if it exists in the caller's workspace; 404 otherwise (never 403)."""
    obj = session.get(model, object_id)
    if obj is None or getattr(obj, "workspace_id", None) != workspace.id:
        raise not_found(what)
    return obj


def owned_series(series_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep) -> Series:
    """The series of the path, if it is the caller's (404 otherwise)."""
    return load_owned(session, Series, series_id, workspace, "series")


OwnedSeries = Annotated[Series, Depends(owned_series)]


def etag_of(obj: SQLModel) -> str:
    """Weak ETag from the row's change counter (an occurrence counts in its ``sequence``)."""
    counter = getattr(obj, "version", None)
    if counter is None:
        counter = getattr(obj, "sequence", 0)
    return f'W/"{getattr(obj, "id", "")}-{counter}"'


def _candidates(if_match: str | None) -> list[str]:
    return [c.strip() for c in if_match.split(",")] if if_match is not None else []


def _precondition_failed() -> AppError:
    return AppError(
        "precondition_failed",
        "This object changed since you read it; GET it again and retry with its new ETag.",
        412,
    )


def check_if_match(if_match: str | None, obj: SQLModel) -> None:
    """412 when the client edits a version it has not seen."""
    if if_match is None:
        return
    candidates = _candidates(if_match)
    bare = etag_of(obj).removeprefix("W/")
    if "*" in candidates or any(c.removeprefix("W/") == bare for c in candidates):
        return
    raise _precondition_failed()


# Each lost race means another request's change was committed meanwhile, so a request
# loses at most once per change made concurrently with it.
CHANGE_ATTEMPTS = 32

F = TypeVar("F", bound=Callable[..., Any])


def retry_lost_race(endpoint: F) -> F:
    """For a route whose change goes through app.db.changes.touch (it takes ``session`` and
    ``if_match``): when another change to the row won the race, a request that named the
    version it read (If-Match) gets 412; one that did not runs again, on the row as it now
    is, so its change is checked against and applied to what it really changes."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        session: Session = kwargs["session"]
        conditional = "*" not in _candidates(kwargs["if_match"] or "*")
        for _ in range(CHANGE_ATTEMPTS):
            try:
                return endpoint(*args, **kwargs)
            except LostRace:
                if conditional:
                    raise _precondition_failed() from None
                session.rollback()
        raise AppError(
            "conflict",
            "Too many changes to this object at once; retry in a moment.",
            409,
            headers={"Retry-After": "1"},
        )

    return run  # type: ignore[return-value]


def now_of(request: Request) -> datetime:
    """The request's clock: the app's (tests and demos pin it)."""
    return services(request.app).clock()


NowDep = Annotated[datetime, Depends(now_of)]
