"""``GET|HEAD /share/{token}``: a series' read-only timeline page, for anyone holding the link."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from app.api.deps import SessionDep, now_of
from app.db import schedules
from app.db.current import current_figures
from app.db.links import find_link
from app.db.models import Occurrence, Series, ShareLink, Workspace
from app.errors import AppError
from app.scheduling import wording
from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import series_dates
from app.scheduling.wording import hours
from app.services import services
from app.share.html import page_headers, render_message, render_page
from app.share.page import (
    Balance,
    LocalSlot,
    Meeting,
    Member,
    SeriesInfo,
    SharePage,
    default_week,
    week_of,
)
from app.views.plans import ParticipantSlot, occurrence_out

router = APIRouter(tags=["share page"])

# Weeks a page can show: from a year before the series starts to a year after it ends.
NAVIGATION_MARGIN = timedelta(days=366)
ROLE_ORDER = {"client": 0, "vendor": 1, "partner": 2}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

NOT_FOUND_TITLE = "This link does not work"
NOT_FOUND_TEXT = (
    "The page you are looking for does not exist, or its link was revoked. "
    "Ask the person who shared it for a new link."
)


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=page_headers())


def not_found_page() -> HTMLResponse:
    """The one answer for unknown and revoked tokens alike."""
    return html(render_message(NOT_FOUND_TITLE, NOT_FOUND_TEXT), 404)


def _bad_week(message: str) -> HTMLResponse:
    return html(render_message("This week cannot be shown", message), 422)


def _meetings(ctx: schedules.SeriesContext, rows: list[Occurrence], now: datetime) -> list[Meeting]:
    """Every occurrence as the page shows it: future ones with today's figures."""
    current = current_figures(ctx, rows, now)
    meetings = []
    for row in rows:
        out = occurrence_out(row, ctx, current.get(row.id))
        meetings.append(
            Meeting(
                date=out.date,
                start=out.start,
                end=out.end,
                cancelled=out.status == "cancelled",
                slots={
                    p.participant_id: LocalSlot(
                        p.local_start, p.local_end, p.timezone, p.burden_minutes
                    )
                    for p in out.participants
                },
                notices=(*out.notices, *out.changes, *_answers(ctx, out.participants)),
                absent={a.participant_id: a.reason for a in out.absent},
            )
        )
    return meetings


def _answers(ctx: schedules.SeriesContext, slots: list[ParticipantSlot]) -> tuple[str, ...]:
    said = wording.answers((ctx.name_of(s.participant_id), s.response) for s in slots)
    return () if said is None else (said,)


def _preview_rows(ctx: schedules.SeriesContext, series: Series, now: datetime) -> list[Occurrence]:
    """A series never scheduled: the plan as unsaved occurrences (nothing is stored)."""
    try:
        plan = schedules.make_plan(ctx, schedules.History(), now)
    except (AppError, InvalidInput):
        return []
    return [schedules.unsaved_occurrence(series, p) for p in plan.occurrences]


def _balances(
    ctx: schedules.SeriesContext, members: list[Member], rows: list[Occurrence], now: datetime
) -> tuple[list[Balance], list[Balance]]:
    """The ledger (same numbers as ``GET /v1/series/{id}/balance``) in page order."""
    people, parties = schedules.ledger(ctx, rows, now)
    by_person = [(m.name, people.get(m.id)) for m in members]
    party_order = list(dict.fromkeys((m.party_id, m.party_name) for m in members))
    by_party = [(name, parties.get(uuid.UUID(pid))) for pid, name in party_order]
    return (
        [
            Balance(
                name,
                line.past,
                line.scheduled,
                line.opening,
                f"opening balance {hours(line.opening)}" if line.opening else None,
            )
            for name, line in by_person
            if line
        ],
        [
            Balance(
                name,
                line.past,
                line.scheduled,
                line.opening,
                f"{line.members} member{'s' if line.members != 1 else ''} · mean "
                f"{hours(line.mean)} · largest {hours(line.largest)}",
            )
            for name, line in by_party
            if line
        ],
    )


def _members(ctx: schedules.SeriesContext) -> list[Member]:
    members = []
    for m in ctx.members:
        participant, party = ctx.rows[m.participant_id]
        members.append(
            Member(
                id=str(participant.id),
                name=participant.name,
                party_id=str(party.id),
                party_name=party.name,
                party_role=party.role,
                attendance=m.attendance,
                person=ctx.people[m.participant_id],
            )
        )
    # Client, vendor, partner; required people first, then by name: stable and readable.
    return sorted(
        members,
        key=lambda m: (
            ROLE_ORDER.get(m.party_role, len(ROLE_ORDER)),
            m.party_name,
            m.party_id,
            not m.required,
            m.name,
            m.id,
        ),
    )


def _rule_dates(series: Series) -> list[date]:
    try:
        return series_dates(
            series.recurrence,
            series.start_date,
            series.anchor_timezone,
            count=series.count,
            until=series.until,
        )
    except InvalidInput:
        return []


def load_share(session: Session, token: str) -> tuple[Workspace, Series] | None:
    link = find_link(session, ShareLink, token)
    if link is None:
        return None
    series = session.get(Series, link.series_id)
    workspace = session.get(Workspace, link.workspace_id)
    if series is None or workspace is None or series.workspace_id != workspace.id:
        return None
    return workspace, series


SHARE_PATH = "/share/{token}"


@router.get(
    SHARE_PATH,
    response_class=HTMLResponse,
    responses={404: {"description": "Unknown or revoked link"}, 422: {"description": "Bad week"}},
)
def share_page(
    token: str,
    request: Request,
    session: SessionDep,
    week: Annotated[
        str | None,
        Query(description="Any date (YYYY-MM-DD) of the week to show; weeks start on Monday."),
    ] = None,
) -> HTMLResponse:
    """The series' timeline page: ribbons of the chosen week, rotation and burden charts."""
    limits = services(request.app).public_links
    found = load_share(session, token)
    if found is None:
        limits.unknown(request.client.host if request.client else "unknown")
        return not_found_page()
    workspace, series = found
    limits.hit_link(f"share:{series.id}")
    asked: date | None = None
    if week is not None:
        try:
            if not _ISO_DATE.match(week):
                raise ValueError(week)
            asked = week_of(date.fromisoformat(week))
        except ValueError:
            return _bad_week(
                f"week must be a date written YYYY-MM-DD, e.g. ?week={series.start_date}; "
                "any day of the week you want to see will do."
            )
    now = now_of(request)
    ctx = schedules.load_context(session, workspace, series)
    rows = list(
        session.exec(
            select(Occurrence)
            .where(Occurrence.series_id == series.id)
            .order_by(col(Occurrence.start))
        )
    )
    preview = not rows
    if preview:
        rows = _preview_rows(ctx, series, now)
    meetings = _meetings(ctx, rows, now)
    rule_dates = _rule_dates(series)

    first_day = min([series.start_date, *(m.date for m in meetings[:1])])
    last_day = max([series.start_date, *rule_dates[-1:], *(m.date for m in meetings[-1:])])
    first_week = week_of(first_day - NAVIGATION_MARGIN)
    last_week = week_of(last_day + NAVIGATION_MARGIN)
    if asked is None:
        chosen = default_week(meetings, now, series.anchor_timezone)
        chosen = min(max(chosen, first_week), last_week)
    elif first_week <= asked <= last_week:
        chosen = asked
    else:
        return _bad_week(
            f"week must fall between {first_week.isoformat()} and {last_week.isoformat()}: "
            "this series has nothing to show outside those weeks."
        )
    members = _members(ctx)
    people_balance, party_balance = _balances(ctx, members, rows, now)
    page = SharePage(
        series=SeriesInfo(
            title=series.title,
            description=series.description,
            recurrence=series.recurrence,
            start_date=series.start_date,
            count=series.count,
            until=series.until,
            anchor_timezone=series.anchor_timezone,
            policy=series.policy,
            duration_minutes=series.duration_minutes,
            location=series.location,
        ),
        members=members,
        meetings=meetings,
        rule_dates=rule_dates,
        week=chosen,
        first_week=first_week,
        last_week=last_week,
        now=now,
        people_balance=people_balance,
        party_balance=party_balance,
        preview=preview,
    )
    return html(render_page(page))


# HEAD answers exactly as GET without the body (app.serving.head); one operation in the OpenAPI.
router.add_api_route(SHARE_PATH, share_page, methods=["HEAD"], include_in_schema=False)
