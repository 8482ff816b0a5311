"""Invitations by email for series with ``send_invitations`` (docs/rules.md, "Invitations").

Every write that can change what a member's calendar shows calls :func:`series_changed`
(or :func:`member_removed`, :func:`series_deleted`) in its own transaction. A digest of what
the invitation shows decides whether anything changed: if not, nothing is sent. If so, the
series' SEQUENCE goes up and each member with an email (who has not unsubscribed) gets one
outbox row (:class:`app.db.models.Delivery`), written in the same transaction. A row not
yet sent absorbs later changes: several changes within ``SCHEDULER_MAIL_COALESCE_SECONDS``
go out as one message per member. The message itself is rendered when it is sent
(:func:`render`), from the series as it then stands.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.db.models import (
    Delivery,
    Occurrence,
    Participant,
    Party,
    Series,
    SeriesParticipant,
    Workspace,
)
from app.db.people import effective
from app.feeds.render import OWN_UID_SUFFIX
from app.invitations import imip
from app.invitations.links import rsvp_url, unsubscribe_url
from app.scheduling.recurrence import series_dates
from app.settings import Settings

UPCOMING_IN_LETTER = 4  # occurrences listed in a message's body


def series_uid(series_id: uuid.UUID) -> str:
    return f"series-{series_id}{OWN_UID_SUFFIX}"


def members_of(
    session: Session, series_id: uuid.UUID
) -> list[tuple[SeriesParticipant, Participant]]:
    return list(
        session.exec(
            select(SeriesParticipant, Participant)
            .join(Participant, col(Participant.id) == col(SeriesParticipant.participant_id))
            .where(col(SeriesParticipant.series_id) == series_id)
            .order_by(col(SeriesParticipant.participant_id))
        ).all()
    )


def _occurrences(session: Session, series_id: uuid.UUID) -> list[Occurrence]:
    return list(
        session.exec(
            select(Occurrence)
            .where(Occurrence.series_id == series_id)
            .order_by(col(Occurrence.date))
        ).all()
    )


def _digest(series: Series, members: Sequence[Any], occurrences: Sequence[Any]) -> str:
    """What any member's calendar shows of the series: a change of anything else (burden,
    notices, who pays) sends nothing. ``members``: (id, name, email, attendance, …) rows;
    ``occurrences``: (date, start, end, status) rows."""
    shown: dict[str, Any] = {
        "title": series.title,
        "description": series.description,
        "location": series.location,
        "organizer": series.organizer_email,
        "reminder": series.reminder_minutes,
        "rule": [series.recurrence, str(series.start_date), series.count, str(series.until)],
        "zone": series.anchor_timezone,
        "members": [[str(m[0]), m[1], m[2], m[3]] for m in members if m[2]],
        "occurrences": [
            [str(day), start.isoformat(), end.isoformat(), status]
            for day, start, end, status in occurrences
        ],
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def _pending(session: Session, series_id: uuid.UUID) -> dict[uuid.UUID | None, Delivery]:
    """The series' rows not yet tried, by member: a later change is merged into them."""
    # Locked: a dispatcher that claims one meanwhile is waited for, and its row (now
    # leased) no longer matches, so this change gets a row of its own instead of being
    # merged into a message already on its way.
    rows = session.exec(
        select(Delivery)
        .where(
            Delivery.series_id == series_id,
            Delivery.status == "pending",
            col(Delivery.attempts) == 0,
            col(Delivery.lease_owner).is_(None),
        )
        .with_for_update()
    ).all()
    return {row.participant_id: row for row in rows}


def _enqueue(
    session: Session,
    pending: dict[uuid.UUID | None, Delivery],
    series: Series,
    to: tuple[uuid.UUID, str],
    method: str,
    now: datetime,
    settings: Settings,
    only: date | None = None,
    snapshot: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """One row per member (``to``: their id and email), merged into the one not yet sent:
    the later change wins, and a REQUEST (which shows every cancelled date) covers a CANCEL
    of one occurrence. Returns the values of a new row (inserted by the caller, in bulk)."""
    participant_id, email = to
    row = pending.get(participant_id)
    if row is not None:
        keep_request = row.method == "REQUEST" and row.only_date is None
        if not (keep_request and method == "CANCEL" and only is not None):
            row.method, row.only_date = method, only
        row.sequence = series.invitation_sequence
        row.recipient = email
        row.snapshot = snapshot or row.snapshot
        row.updated_at = now
        session.add(row)
        return None
    return {
        "id": uuid.uuid4(),
        "workspace_id": series.workspace_id,
        "series_id": series.id,
        "participant_id": participant_id,
        "recipient": email,
        "method": method,
        "only_date": only,
        "sequence": series.invitation_sequence,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now + timedelta(seconds=settings.mail_coalesce_seconds),
        "snapshot": snapshot or {},
        "created_at": now,
        "updated_at": now,
    }


def _insert(session: Session, rows: list[dict[str, Any] | None]) -> None:
    """New outbox rows in one statement (no ORM objects: 30 members cost one insert)."""
    values = [row for row in rows if row is not None]
    if values:
        session.execute(insert(Delivery), values)


def series_changed(
    session: Session,
    workspace: Workspace,
    series: Series,
    now: datetime,
    settings: Settings,
    cancelled: Iterable[date] = (),
) -> int:
    """After a write to the series or its occurrences: send what changed, if anything.
    ``cancelled``: dates whose occurrence this write cancelled and that is all it did (sent
    as a CANCEL of that RECURRENCE-ID). Returns how many members were queued a message."""
    if not series.send_invitations:
        return 0
    session.flush()
    members = session.execute(
        sa_select(
            col(Participant.id),
            col(Participant.name),
            col(Participant.email),
            col(SeriesParticipant.attendance),
            col(SeriesParticipant.unsubscribed),
        )
        .join(SeriesParticipant, col(SeriesParticipant.participant_id) == col(Participant.id))
        .where(col(SeriesParticipant.series_id) == series.id)
        .order_by(col(Participant.id))
    ).all()
    occurrences = session.execute(
        sa_select(
            col(Occurrence.date), col(Occurrence.start), col(Occurrence.end), col(Occurrence.status)
        )
        .where(col(Occurrence.series_id) == series.id)
        .order_by(col(Occurrence.date))
    ).all()
    if series.invitation_sequence == 0 and not any(o[3] == "scheduled" for o in occurrences):
        return 0  # nothing to invite to yet: the first schedule sends the invitation
    digest = _digest(series, members, occurrences)
    if digest == series.invitation_digest:
        return 0
    series.invitation_digest = digest
    series.invitation_sequence += 1
    session.add(series)
    only = sorted(set(cancelled))
    pending = _pending(session, series.id)
    new: list[dict[str, Any] | None] = []
    queued = 0
    for pid, _, email, _, unsubscribed in members:
        if not email or unsubscribed:
            continue
        if only:
            for day in only:
                new.append(
                    _enqueue(session, pending, series, (pid, email), "CANCEL", now, settings, day)
                )
        else:
            new.append(_enqueue(session, pending, series, (pid, email), "REQUEST", now, settings))
        queued += 1
    _insert(session, new)
    return queued


def _cancel_snapshot(
    series: Series, members: Sequence[tuple[SeriesParticipant, Participant]], settings: Settings
) -> dict[str, Any]:
    """What a CANCEL needs once the series or the member is gone."""
    return {
        "uid": series_uid(series.id),
        "title": series.title,
        "organizer": organizer(series, settings),
        "zone": series.anchor_timezone,
        "attendees": [[p.email, p.name, m.attendance != "optional"] for m, p in members if p.email],
    }


def member_removed(
    session: Session,
    series: Series,
    removed: Iterable[tuple[SeriesParticipant, Participant]],
    now: datetime,
    settings: Settings,
) -> None:
    """Members taken out of the series: a CANCEL of the whole series, each (before the
    digest moves for the others)."""
    if not series.send_invitations:
        return
    gone = [(m, p) for m, p in removed if p.email and not m.unsubscribed]
    if not gone:
        return
    series.invitation_sequence += 1
    session.add(series)
    pending = _pending(session, series.id)
    _insert(
        session,
        [
            _enqueue(
                session,
                pending,
                series,
                (participant.id, participant.email or ""),
                "CANCEL",
                now,
                settings,
                snapshot=_cancel_snapshot(series, [(member, participant)], settings),
            )
            for member, participant in gone
        ],
    )


def series_deleted(session: Session, series: Series, now: datetime, settings: Settings) -> None:
    """The series goes: every member who had its invitation gets a CANCEL."""
    if not series.send_invitations:
        return
    members = members_of(session, series.id)
    series.invitation_sequence += 1
    snapshot = _cancel_snapshot(series, members, settings)
    pending = _pending(session, series.id)
    _insert(
        session,
        [
            _enqueue(
                session,
                pending,
                series,
                (participant.id, participant.email),
                "CANCEL",
                now,
                settings,
                snapshot=snapshot,
            )
            for member, participant in members
            if participant.email and not member.unsubscribed
        ],
    )


def organizer(series: Series, settings: Settings) -> str:
    return series.organizer_email or parseaddr(settings.mail_from)[1] or "scheduler@localhost"


# --- rendering at send time -------------------------------------------------------------


def _invite(
    series: Series,
    members: Sequence[tuple[SeriesParticipant, Participant]],
    occurrences: Sequence[Occurrence],
    settings: Settings,
    stamp: datetime,
) -> imip.SeriesInvite:
    dates = series_dates(
        series.recurrence, series.start_date, series.anchor_timezone, series.count, series.until
    )
    return imip.SeriesInvite(
        uid=series_uid(series.id),
        sequence=series.invitation_sequence,
        stamp=stamp,
        title=series.title,
        description=series.description,
        location=series.location,
        organizer_email=organizer(series, settings),
        organizer_name=parseaddr(settings.mail_from)[0] or None,
        attendees=tuple(
            imip.Attendee(p.email, p.name, m.attendance != "optional")
            for m, p in members
            if p.email
        ),
        anchor_timezone=series.anchor_timezone,
        rule=series.recurrence,
        dates=tuple(dates),
        instances=tuple(
            imip.Instance(o.date, o.start, o.end, cancelled=o.status == "cancelled")
            for o in occurrences
        ),
        reminder_minutes=series.reminder_minutes,
    )


def _snapshot_invite(delivery: Delivery, stamp: datetime) -> imip.SeriesInvite:
    snap = delivery.snapshot
    return imip.SeriesInvite(
        uid=str(snap["uid"]),
        sequence=delivery.sequence,
        stamp=stamp,
        title=str(snap["title"]),
        description=None,
        location=None,
        organizer_email=str(snap["organizer"]),
        organizer_name=None,
        attendees=tuple(imip.Attendee(str(e), str(n), bool(r)) for e, n, r in snap["attendees"]),
        anchor_timezone=str(snap["zone"]),
        rule="FREQ=WEEKLY",
        dates=(),
        instances=(),
        reminder_minutes=None,
    )


def render(
    session: Session, delivery: Delivery, settings: Settings, now: datetime
) -> EmailMessage | str:
    """The message of an outbox row as the series now stands, or why there is none."""
    series = session.get(Series, delivery.series_id)
    participant = (
        session.get(Participant, delivery.participant_id) if delivery.participant_id else None
    )
    stamp = delivery.updated_at
    recipient_name = participant.name if participant is not None else delivery.recipient
    if delivery.method == "CANCEL" and delivery.only_date is None:
        invite = _snapshot_invite(delivery, stamp)
        calendar = imip.cancel_calendar(invite)
        return imip.message(
            _letter(delivery, invite, recipient_name, None, settings, [], 0, "Cancelled"),
            calendar,
            "CANCEL",
        )
    if series is None or participant is None:
        return "The series or the member was deleted before the message could be sent."
    members = members_of(session, series.id)
    me = next(((m, p) for m, p in members if p.id == participant.id), None)
    if me is None:
        return f"{participant.name} is no longer a member of {series.title}."
    if me[0].unsubscribed:
        return f"{participant.name} unsubscribed from {series.title}'s invitations."
    if not participant.email:
        return f"{participant.name} has no email address any more."
    occurrences = _occurrences(session, series.id)
    invite = _invite(series, members, occurrences, settings, stamp)
    party = session.get(Party, participant.party_id)
    assert party is not None
    zone_name = effective(participant, party)["effective_timezone"]
    if delivery.method == "CANCEL":
        calendar = imip.cancel_calendar(invite, only=delivery.only_date)
        subject = f"Cancelled: {series.title}, {delivery.only_date:%a %d %b %Y}"
    else:
        calendar = imip.request_calendar(invite)
        subject = (
            f"Invitation: {series.title}"
            if series.invitation_sequence <= 1
            else f"Updated invitation: {series.title}"
        )
    rows, total = _rows(session, series, participant, members, occurrences, settings, now)
    letter = _letter(
        delivery,
        invite,
        participant.name,
        zone_name,
        settings,
        rows,
        total,
        subject,
        series.rsvp_epoch,
    )
    return imip.message(letter, calendar, delivery.method)  # type: ignore[arg-type]


def _rows(
    session: Session,
    series: Series,
    participant: Participant,
    members: Sequence[tuple[SeriesParticipant, Participant]],
    occurrences: Sequence[Occurrence],
    settings: Settings,
    now: datetime,
) -> tuple[list[imip.Row], int]:
    pid, epoch = str(participant.id), series.rsvp_epoch
    parties: dict[uuid.UUID, Party] = {}
    for _, p in members:
        if p.party_id not in parties:
            found = session.get(Party, p.party_id)
            assert found is not None
            parties[p.party_id] = found
    others = tuple(
        sorted(
            {
                (party.name, party.timezone)
                for party_id, party in parties.items()
                if party_id != participant.party_id
            }
        )
    )
    upcoming = [o for o in occurrences if o.status == "scheduled" and o.end > now]
    rows = [
        imip.Row(
            start=o.start,
            end=o.end,
            others=others,
            burden_minutes=int(o.burden.get(pid, 0)),
            accept_url=rsvp_url(settings, series.id, epoch, participant.id, "accept", o.date),
            decline_url=rsvp_url(settings, series.id, epoch, participant.id, "decline", o.date),
            propose_url=rsvp_url(settings, series.id, epoch, participant.id, "propose", o.date),
        )
        for o in upcoming[:UPCOMING_IN_LETTER]
    ]
    total = sum(int(o.burden.get(pid, 0)) for o in upcoming)
    return rows, total


def _letter(
    delivery: Delivery,
    invite: imip.SeriesInvite,
    name: str,
    zone_name: str | None,
    settings: Settings,
    rows: list[imip.Row],
    total: int,
    subject: str,
    epoch: int = 0,
) -> imip.Letter:
    recipient = next(
        (a for a in invite.attendees if a.email == delivery.recipient),
        imip.Attendee(delivery.recipient, name, True),
    )
    series_id, pid = delivery.series_id, delivery.participant_id or uuid.UUID(int=0)
    return imip.Letter(
        recipient=recipient,
        reader_timezone=zone_name or invite.anchor_timezone,
        rows=tuple(rows),
        total_burden_minutes=total,
        accept_url=rsvp_url(settings, series_id, epoch, pid, "accept"),
        decline_url=rsvp_url(settings, series_id, epoch, pid, "decline"),
        propose_url=rsvp_url(settings, series_id, epoch, pid, "propose"),
        unsubscribe_url=unsubscribe_url(settings, series_id, epoch, pid),
        message_id=delivery.message_id,
        from_address=settings.mail_from,
        subject=subject,
    )
