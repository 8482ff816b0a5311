"""The links in invitations: RSVP answers and one-click unsubscribe (docs/api.md, "Invitations").

A GET never changes anything: mail scanners (Outlook's Safe Links, Gmail's proxy) open every
link of a message before its reader does. A GET shows what the link would do with a button;
the POST of that button records it. Unsubscribing is one POST, as RFC 8058 asks
(``List-Unsubscribe-Post: List-Unsubscribe=One-Click``): mail clients send it themselves.
"""

from __future__ import annotations

from datetime import date
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from app.api.deps import SessionDep, now_of
from app.db import content_version
from app.db.models import Occurrence, Participant, Series, SeriesParticipant
from app.invitations import links
from app.scheduling.model import zone
from app.services import services
from app.settings import Settings

router = APIRouter(tags=["invitations"], include_in_schema=True)

_GONE = "This link is not valid any more: the series or your place in it has changed."


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='robots' content='noindex'><title>{escape(title)}</title></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _found(
    session: Session, settings: Settings, request: Request, token: str, kind: str
) -> tuple[links.Link, Series, SeriesParticipant, Participant] | None:
    link = links.read(settings, token, kind)
    series = session.get(Series, link.series_id) if link is not None else None
    member = (
        session.get(SeriesParticipant, (link.series_id, link.participant_id))
        if link is not None
        else None
    )
    participant = session.get(Participant, link.participant_id) if link is not None else None
    if (
        link is None
        or series is None
        or member is None
        or participant is None
        or link.epoch != series.rsvp_epoch
    ):
        client = request.client.host if request.client else "unknown"
        services(request.app).public_links.unknown(client)  # 429 past the address's budget
        return None
    return link, series, member, participant


def _occurrence(session: Session, series: Series, day: date | None) -> Occurrence | None:
    if day is None:
        return None
    return session.exec(
        select(Occurrence).where(Occurrence.series_id == series.id, Occurrence.date == day)
    ).first()


def _what(series: Series, occurrence: Occurrence | None, participant: Participant) -> str:
    if occurrence is None:
        return f"every occurrence of <strong>{escape(series.title)}</strong>"
    tz = zone(series.anchor_timezone)
    when = occurrence.start.astimezone(tz)
    return (
        f"<strong>{escape(series.title)}</strong> on {when:%a %d %b %Y, %H:%M} "
        f"({escape(series.anchor_timezone)})"
    )


_WORDS = {"accept": "Accept", "decline": "Decline", "propose": "Propose another turn"}


@router.get("/rsvp/{token}/{answer}", response_class=HTMLResponse)
def rsvp_page(token: str, answer: str, request: Request, session: SessionDep) -> HTMLResponse:
    """What the link would record, with a button that records it."""
    settings = services(request.app).settings
    found = _found(session, settings, request, token, "r") if answer in _WORDS else None
    if found is None:
        return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
    link, series, _, participant = found
    occurrence = _occurrence(session, series, link.day)
    if link.day is not None and occurrence is None:
        return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
    return _page(
        f"{_WORDS[answer]}: {series.title}",
        f"<p>{escape(participant.name)}, this records your answer for "
        f"{_what(series, occurrence, participant)}.</p>"
        f"<form method='post'><input type='hidden' name='answer' value='{escape(answer)}'>"
        f"<button type='submit'>{escape(_WORDS[answer])}</button></form>",
    )


@router.post("/rsvp/{token}/{answer}", response_class=HTMLResponse)
def rsvp(token: str, answer: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Record the member's answer for the series, or for the link's occurrence."""
    settings = services(request.app).settings
    found = _found(session, settings, request, token, "r") if answer in _WORDS else None
    if found is None:
        return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
    link, series, member, participant = found
    word = links.ANSWERS[answer]
    occurrence = _occurrence(session, series, link.day)
    if link.day is not None:
        if occurrence is None:
            return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
        if occurrence.start < now_of(request):
            return _page(
                "This meeting has started",
                "<p>Answers can be given until a meeting starts.</p>",
                409,
            )
        occurrence.responses = {**occurrence.responses, str(participant.id): word}
        session.add(occurrence)
    else:
        member.response = word
        session.add(member)
        content_version.answered(session, series.workspace_id)
    said = {
        "accepted": "You accepted",
        "declined": "You declined",
        "proposed": "You asked for another turn for",
    }[word]
    return _page(
        "Answer recorded",
        f"<p>{said} {_what(series, occurrence, participant)}. Thank you.</p>",
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    settings = services(request.app).settings
    found = _found(session, settings, request, token, "u")
    if found is None:
        return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
    _, series, _, _ = found
    return _page(
        f"Stop invitations: {series.title}",
        f"<p>No more invitations by email for <strong>{escape(series.title)}</strong>.</p>"
        "<form method='post'><input type='hidden' name='List-Unsubscribe' value='One-Click'>"
        "<button type='submit'>Unsubscribe</button></form>",
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """RFC 8058 one-click: the mail client POSTs ``List-Unsubscribe=One-Click``."""
    settings = services(request.app).settings
    found = _found(session, settings, request, token, "u")
    if found is None:
        return _page("Link not valid", f"<p>{escape(_GONE)}</p>", 404)
    _, series, member, _ = found
    member.unsubscribed = True
    session.add(member)
    return _page(
        "Unsubscribed",
        f"<p>You will get no more invitations for <strong>{escape(series.title)}</strong>.</p>",
    )
