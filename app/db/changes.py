"""Applying a client's changes to a row: fields, change counter (ETag) and updated_at together.

The counter (``version``; an occurrence's ``sequence``) moves by a conditional UPDATE on the
value this request read, so of concurrent changes made from the same reading exactly one
writes and the others raise :class:`LostRace` (app.api.deps.retry_lost_race answers them).
The UPDATE's row lock lasts from the write to the commit, never the whole request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

from app.db.types import utcnow
from app.errors import invalid, not_found


class LostRace(Exception):
    """Another change to the row was committed after this request read it."""


def counter_of(model: type[SQLModel]) -> str:
    """The column that counts a row's changes (an occurrence counts in its ``sequence``)."""
    return "version" if "version" in model.model_fields else "sequence"


def touch(session: Session, row: SQLModel, changes: Mapping[str, Any] | None = None) -> None:
    """Apply ``changes`` and raise the row's counter by exactly one, if the row still has the
    counter this request read: ``UPDATE … SET version = :read + 1 WHERE id = :id AND
    version = :read``. Otherwise nothing is written and :class:`LostRace` is raised."""
    model = type(row)
    name = counter_of(model)
    read: int = getattr(row, name)
    claimed = session.execute(
        update(model)
        .where(model.id == row.id, getattr(model, name) == read)  # type: ignore[attr-defined]
        .values({name: read + 1})
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LostRace(f"{model.__name__} {row.id} changed since it was read")  # type: ignore[attr-defined]
    # The row now holds what this request read (nothing else changed it) plus its changes:
    # the answer it gives and the ETag (read + 1) describe the same row.
    set_committed_value(row, name, read + 1)
    for field, value in (changes or {}).items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def refuse_nulls(changes: Mapping[str, Any], fields: Sequence[str]) -> None:
    """422 for a PATCH that sets one of ``fields`` (which cannot be empty) to null."""
    for name in fields:
        if name in changes and changes[name] is None:
            raise invalid((name,), f"{name} cannot be null; give a value or leave it out.")


R = TypeVar("R", bound=SQLModel)


def revoke_live(
    session: Session, model: type[R], row_id: uuid.UUID, what: str, now: datetime, **owner: Any
) -> R:
    """Revoke a live link or key (``revoked_at``) that belongs to ``owner`` (its columns'
    values); 404 for one that does not exist there or is revoked already."""
    row = session.get(model, row_id)
    if (
        row is None
        or getattr(row, "revoked_at", None) is not None
        or any(getattr(row, column) != value for column, value in owner.items())
    ):
        raise not_found(what)
    row.revoked_at = now
    session.add(row)
    return row
