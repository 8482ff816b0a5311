"""Applying a client's changes to a row: fields, version (ETag) and updated_at together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, SQLModel

from app.db.types import utcnow


def touch(session: Session, row: SQLModel, changes: Mapping[str, Any] | None = None) -> None:
    for field, value in (changes or {}).items():
        setattr(row, field, value)
    row.version += 1  # type: ignore[attr-defined]
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
