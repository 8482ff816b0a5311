"""Series with ``replan: "auto"`` re-scheduled in the transaction of the change that made one
of their stored future occurrences infeasible (docs/rules.md, "Stale occurrences")."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from app import outbound
from app.db import schedules
from app.db.current import current_figures
from app.db.models import Series, SeriesParticipant, Workspace
from app.settings import Settings


def replan_affected(
    session: Session,
    workspace: Workspace,
    participant_ids: Iterable[uuid.UUID],
    cause: str,
    now: datetime,
    settings: Settings,
    only: uuid.UUID | None = None,
) -> list[str]:
    """Re-schedule each ``auto`` series of these participants that now has an infeasible
    stored future occurrence. Every occurrence that moves or is cancelled gets the notice
    ``Re-planned: <cause>.`` Returns one sentence per series re-scheduled. ``only``: that
    series alone (a change to the series itself)."""
    ids = list(dict.fromkeys(participant_ids))
    if not ids:
        return []
    series_ids = session.exec(
        select(SeriesParticipant.series_id)
        .where(col(SeriesParticipant.participant_id).in_(ids))
        .distinct()
    ).all()
    said: list[str] = []
    for series_id in sorted(series_ids, key=str):
        series = session.get(Series, series_id)
        if series is None or series.workspace_id != workspace.id or series.replan != "auto":
            continue
        if only is not None and series.id != only:
            continue
        ctx = schedules.load_context(session, workspace, series)
        past = schedules.history(session, series.id, now)
        current = current_figures(ctx, [*past.future, *past.pinned], now)
        if not any(c.infeasible for c in current.values()):
            continue
        before = {o.id: (o.start, o.status) for o in past.future}
        plan = schedules.make_plan(ctx, past, now)
        schedules.store_plan(session, workspace, series, plan, past)
        outbound.series_changed(session, workspace, series, now, settings, cause=cause)
        moved = 0
        for occ in past.future:
            if (occ.start, occ.status) != before[occ.id]:
                occ.notices = [*occ.notices, f"Re-planned: {cause}."]
                session.add(occ)
                moved += 1
        session.flush()
        said.append(
            f"{series.title} was re-planned at once (replan: auto): {moved} occurrence"
            f"{'s' if moved != 1 else ''} changed."
        )
    return said
