"""Demo governance series (weekly ops, monthly and quarterly reviews), scheduled, with feeds."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from app.db import schedules
from app.db.links import issue_link, link_urls
from app.db.models import Feed, Participant, Series, SeriesParticipant, ShareLink, Workspace
from app.db.types import utcnow

SERIES: list[dict[str, Any]] = [
    {
        "title": "Weekly operations review",
        "description": "KPIs, escalations, staffing for next week.",
        "duration_minutes": 60,
        "recurrence": "FREQ=WEEKLY;BYDAY=TU",
        "count": 26,
        "policy": "rotate",
        "step_minutes": 30,
        "location": "https://meet.example.com/ops-review",
        "members": {
            "Dana Whitfield": True,
            "Jun Reyes": True,
            "Maria Santos": True,
            "Sam Okafor": False,
            "Priya Shah": False,
        },
    },
    {
        "title": "Monthly business review",
        "description": "SLA performance, quality scores, improvement plan.",
        "duration_minutes": 60,
        "recurrence": "FREQ=MONTHLY;BYDAY=1WE",
        "count": 12,
        "policy": "rotate",
        "step_minutes": 30,
        "location": "https://meet.example.com/mbr",
        "members": {"Dana Whitfield": True, "Maria Santos": True, "Priya Shah": True},
    },
    {
        "title": "Quarterly business review",
        "description": "Contract health, roadmap, commercial terms.",
        "duration_minutes": 90,
        "recurrence": "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH",
        "count": 8,
        "policy": "fixed",
        "step_minutes": 30,
        "location": "https://meet.example.com/qbr",
        "members": {
            "Dana Whitfield": True,
            "Sam Okafor": True,
            "Maria Santos": True,
            "Jun Reyes": False,
        },
    },
]


def _first_of_month_after(today: date) -> date:
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


def load(
    session: Session, workspace: Workspace, people: dict[str, Participant], public_base: str
) -> dict[str, Any]:
    now = utcnow()
    today = now.date()
    existing = {
        s.title: s for s in session.exec(select(Series).where(Series.workspace_id == workspace.id))
    }
    out: dict[str, Any] = {"series": {}, "feeds": {}}
    for spec in SERIES:
        series = existing.get(spec["title"])
        if series is None:
            fields = {k: v for k, v in spec.items() if k != "members"}
            series = Series(
                workspace_id=workspace.id,
                start_date=_first_of_month_after(today)
                if "MONTHLY" in spec["recurrence"]
                else today,
                anchor_timezone="America/New_York",
                **fields,
            )
            session.add(series)
            session.flush()
            for name, required in spec["members"].items():
                session.add(
                    SeriesParticipant(
                        series_id=series.id,
                        participant_id=people[name].id,
                        attendance="required" if required else "optional",
                    )
                )
            session.flush()
        ctx = schedules.load_context(session, workspace, series)
        past = schedules.history(session, series.id, now)
        plan = schedules.make_plan(ctx, past, now)
        schedules.store_plan(session, workspace, series, plan, past)
        out["series"][series.title] = str(series.id)
    # Tokens are stored hashed: a re-run replaces the old links so their URLs can be shown.
    links: list[Feed | ShareLink] = [
        *session.exec(select(Feed).where(Feed.workspace_id == workspace.id)),
        *session.exec(select(ShareLink).where(ShareLink.workspace_id == workspace.id)),
    ]
    for old in links:
        if old.revoked_at is None:
            old.revoked_at = now
            session.add(old)
    out["share_pages"] = {}
    for title, series_id in out["series"].items():
        _, token = issue_link(
            session, ShareLink, workspace_id=workspace.id, series_id=uuid.UUID(series_id)
        )
        out["share_pages"][title] = link_urls(public_base, f"/share/{token}")[0]
    for name, participant in sorted(people.items()):
        _, token = issue_link(
            session, Feed, workspace_id=workspace.id, scope="participant", target_id=participant.id
        )
        out["feeds"][name] = link_urls(public_base, f"/feeds/{token}.ics")[0]
    _, token = issue_link(session, Feed, workspace_id=workspace.id, scope="workspace")
    out["feeds"]["(whole workspace)"] = link_urls(public_base, f"/feeds/{token}.ics")[0]
    return out
