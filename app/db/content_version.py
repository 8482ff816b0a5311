"""Per-workspace counters that move with every write a feed, page or API answer could show,
one overall and one per kind of content. The design: docs/design.md, "Content versions".
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, inspect, update
from sqlmodel import Session, col

from app.db.models import (
    CalendarSource,
    Feed,
    Occurrence,
    Participant,
    Party,
    Series,
    TimeOff,
    Workspace,
)
from app.feeds import directory

VISIBLE = (Series, Occurrence, Participant, Party, TimeOff, CalendarSource)

# The counter of each kind of content (columns of Workspace). A change to a series' members
# always comes with a write to the series row itself (app.api.series).
KINDS: dict[type, str] = {
    Party: "party_version",
    Participant: "participant_version",  # availability_version too, see _kinds
    TimeOff: "time_off_version",
    # Busy times count as time off does (by the minute, not the day); see _kinds.
    CalendarSource: "time_off_version",
    Series: "series_version",
    Occurrence: "occurrence_version",
}
# Every counter, in a fixed order: what app.api.read_cache reads and compares.
VERSION_COLUMNS = ("content_version", *KINDS.values(), "availability_version")
# Kinds no feed shows: a write of only these leaves content_version, and so every feed
# poll and every worker's feed directory, alone. None today: time off shows in the current
# figures of future occurrences (app.db.current).
UNSEEN_BY_FEEDS: frozenset[str] = frozenset()
# Participant columns that change how a person is shown, not when they can meet.
SHOWN_ONLY = frozenset({"name", "email", "slack_user_id", "slack_team_id", "version", "updated_at"})
# Calendar source columns that change what plans read: its busy times and whether it fails
# (plans say so). A refresh that finds the same busy times moves nothing.
CALENDAR_SEEN = frozenset({"busy_digest", "status"})


def versions_of(workspace: Workspace) -> dict[str, int]:
    return {name: getattr(workspace, name) for name in VERSION_COLUMNS}


def _kinds(obj: object, whole: bool) -> set[str]:
    """The kind counters a write of ``obj`` moves (``whole``: added or deleted).

    A participant's row as shown moves ``participant_version`` (a day off is a row of its
    own: it moves only ``time_off_version``); ``availability_version`` moves only when what
    the planner reads of them (party, zone, hours, holidays, stretch) changed, or they came
    or went.
    """
    kind = KINDS[type(obj)]
    if isinstance(obj, CalendarSource) and not whole:
        changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
        return {kind} if changed & CALENDAR_SEEN else set()
    if not isinstance(obj, Participant):
        return {kind}
    if whole:
        return {kind, "availability_version"}
    changed = {a.key for a in inspect(obj).attrs if a.history.has_changes()}
    kinds = {kind} if changed else set()
    if changed - SHOWN_ONLY:
        kinds.add("availability_version")
    return kinds


def _bump_content_version(session: Session, _flush_context: Any) -> None:
    # After the flush (new/dirty/deleted still list what it wrote), so the workspace row is
    # locked after the entity rows in every transaction: no lock-order deadlocks.
    touched: dict[uuid.UUID, set[str]] = {}  # workspace -> kind counters to move
    feeds_changed: set[uuid.UUID] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, VISIBLE):
            whole = obj in session.new or obj in session.deleted
            kinds = _kinds(obj, whole)
            if kinds or not isinstance(obj, CalendarSource):
                touched.setdefault(obj.workspace_id, set()).update(kinds)
        elif isinstance(obj, Workspace) and obj not in session.new:
            touched.setdefault(obj.id, set())  # its name titles every feed and page
        elif isinstance(obj, Feed) and obj not in session.new:
            feeds_changed.add(obj.workspace_id)  # revoked or gone: no content change
    seen = {w for w, kinds in touched.items() if not kinds or kinds - UNSEEN_BY_FEEDS}
    # This process's feed directories forget these workspaces when the commit lands.
    directory.touched(session, seen | feeds_changed)
    # Workspaces in a fixed order (nearly always just one).
    for workspace_id, kinds in sorted(touched.items(), key=lambda kv: str(kv[0])):
        columns = sorted({"content_version", *kinds} if workspace_id in seen else kinds)
        session.execute(
            update(Workspace)
            .where(col(Workspace.id) == workspace_id)
            .values({name: getattr(Workspace, name) + 1 for name in columns})
            .execution_options(synchronize_session=False)
        )


def answered(session: Session, workspace_id: uuid.UUID) -> None:
    """A member answered a series' invitation (app.invitations.routes): occurrences show
    the answer, so their counter moves, as if an occurrence had been written."""
    session.execute(
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(
            {
                name: getattr(Workspace, name) + 1
                for name in ("content_version", "occurrence_version")
            }
        )
        .execution_options(synchronize_session=False)
    )
    directory.touched(session, {workspace_id})


def install() -> None:
    """Register the flush hook on every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _bump_content_version):
        event.listen(Session, "after_flush", _bump_content_version)
    directory.install()
