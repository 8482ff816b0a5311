"""Demo series and feeds (filled in once series and feeds exist)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.db.models import Participant, Workspace


def load(
    session: Session, workspace: Workspace, people: dict[str, Participant], public_base: str
) -> dict[str, Any]:
    return {}
