"""Everything a change to a series' occurrences sends, queued in the change's transaction:
invitation updates by email (app.db.invitations) and posts in its Slack channel
(app.slack.posts). Every write that moves, cancels or re-plans occurrences calls this once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session

from app.db import invitations
from app.db.models import Series, Workspace
from app.settings import Settings
from app.slack import posts


def series_changed(
    session: Session,
    workspace: Workspace,
    series: Series,
    now: datetime,
    settings: Settings,
    cancelled: Iterable[date] = (),
    cause: str | None = None,
) -> None:
    """``cancelled``: dates whose occurrence this write cancelled and that is all it did;
    ``cause``: why, for the channel's announcement."""
    invitations.series_changed(session, workspace, series, now, settings, cancelled)
    posts.series_changed(session, workspace, series, now, settings, cause)
