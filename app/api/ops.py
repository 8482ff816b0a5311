"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.api.deps import DatabaseSlot
from app.db.migrate import current_revision
from app.errors import RETRY_AFTER_SECONDS, AppError, error_responses
from app.services import services

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    migration: str | None


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no database access). On the event loop, not the thread pool:
    a pool full of requests waiting on a slow database must not make a live process look
    dead to its supervisor."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=error_responses(503))
def readyz(request: Request, _: Annotated[None, DatabaseSlot]) -> Ready:
    """The database answers and its schema is at the newest migration."""
    engine = services(request.app).engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(engine)
    except (DBAPIError, PoolTimeoutError) as exc:
        raise AppError(
            "database_unavailable",
            "The database cannot be reached; retry in a few seconds.",
            503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from exc
    head = services(request.app).head_revision
    if current != head:
        known = current is None or current in services(request.app).known_revisions
        detail = (
            f"The database is at migration {current}, not {head}; run `python -m app migrate`."
            if known
            else f"The database is at migration {current}, which this code does not know "
            f"(newer code ran against it?); deploy the matching code or restore the database."
        )
        raise AppError(
            "migrations_pending" if known else "schema_unknown",
            detail,
            503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return Ready(status="ok", database=engine.dialect.name, migration=current)


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
