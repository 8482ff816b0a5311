"""Keyset pagination: ``{"items": [...], "next_cursor": ...}`` ordered by (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar

from app.errors import AppError

T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Items per page (1–200).")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def _encode(created_at: datetime, object_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{object_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        after = datetime.fromisoformat(stamp)
        if after.tzinfo is None:  # the UTCDateTime column refuses naive times (a 500)
            raise ValueError("cursor time without an offset")
        return after.astimezone(UTC), uuid.UUID(ident)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise AppError(
            "validation_error",
            "cursor is not one this API issued; pass next_cursor from the previous page.",
            422,
            fields=[{"loc": ["query", "cursor"], "msg": "Not a valid cursor."}],
        ) from exc


def paginate(
    session: Session,
    stmt: SelectOfScalar[M],
    model: type[M],
    limit: int,
    cursor: str | None,
    order_by: str = "created_at",
) -> tuple[list[M], str | None]:
    """One page of ``stmt`` ordered by (``order_by``, id); ``order_by`` is a datetime column."""
    created: Any = getattr(model, order_by)
    ident: Any = model.id  # type: ignore[attr-defined]
    if cursor:
        after_created, after_id = _decode(cursor)
        stmt = stmt.where(
            or_(created > after_created, and_(created == after_created, ident > after_id))
        )
    rows = list(session.exec(stmt.order_by(created, ident).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    next_cursor = (
        _encode(getattr(last, order_by), last.id)  # type: ignore[attr-defined]
        if last is not None
        else None
    )
    return rows, next_cursor
