"""A per-workspace counter that moves with every write a feed or page could show.

Feed polls compare it in the same query that checks their token, so an unchanged
workspace costs one indexed lookup; when it moved, the feed's precise data version decides
whether anything the feed shows really changed (app.feeds.content.WorkspaceView.version).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, update
from sqlmodel import Session, col

from app.db.models import Feed, Occurrence, Participant, Party, Series, TimeOff, Workspace
from app.feeds import directory

VISIBLE = (Series, Occurrence, Participant, Party, TimeOff)


def _bump_content_version(session: Session, _flush_context: Any) -> None:
    # After the flush (new/dirty/deleted still list what it wrote), so the workspace row is
    # locked after the entity rows in every transaction: no lock-order deadlocks.
    touched: set[uuid.UUID] = set()
    feeds_changed: set[uuid.UUID] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, VISIBLE):
            touched.add(obj.workspace_id)
        elif isinstance(obj, Workspace) and obj not in session.new:
            touched.add(obj.id)  # its name titles every feed and page
        elif isinstance(obj, Feed) and obj not in session.new:
            feeds_changed.add(obj.workspace_id)  # revoked or gone: no content change
    # This process's feed directories forget these workspaces when the commit lands.
    directory.touched(session, touched | feeds_changed)
    if touched:
        session.execute(
            update(Workspace)
            .where(col(Workspace.id).in_(sorted(touched, key=str)))
            .values(content_version=Workspace.content_version + 1)
            .execution_options(synchronize_session=False)
        )


def install() -> None:
    """Register the flush hook on every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _bump_content_version):
        event.listen(Session, "after_flush", _bump_content_version)
    directory.install()
