"""Signed links in invitations: RSVP answers and one-click unsubscribe.

A link names a series, a member, optionally one occurrence (its date) and the series'
``rsvp_epoch``, signed with HMAC-SHA-256 under a key derived from ``SCHEDULER_SECRET_KEY``:
unguessable (128-bit tag), and revoked with the series (deleting it, or bumping the epoch
with ``POST /v1/series/{id}/invitations/revoke-links``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import date

from app.secret_box import signing_key
from app.settings import Settings

ANSWERS = {"accept": "accepted", "decline": "declined", "propose": "proposed"}
_TAG_BYTES = 16
_MAX_TOKEN = 200


@dataclass(frozen=True)
class Link:
    kind: str  # "r" (RSVP) or "u" (unsubscribe)
    series_id: uuid.UUID
    participant_id: uuid.UUID
    day: date | None
    epoch: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(settings: Settings, payload: bytes) -> bytes:
    key = hashlib.sha256(b"invitation links\x00" + signing_key(settings)).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def token(settings: Settings, link: Link) -> str:
    payload = ".".join(
        (
            link.kind,
            link.series_id.hex,
            link.participant_id.hex,
            link.day.isoformat() if link.day else "-",
            str(link.epoch),
        )
    ).encode()
    return f"{_b64(payload)}.{_b64(_tag(settings, payload))}"


def read(settings: Settings, text: str, kind: str) -> Link | None:
    """The link a token names, or None if it is not one of ours (forged, altered, other)."""
    if len(text) > _MAX_TOKEN or text.count(".") != 1:
        return None
    body, tag = text.split(".")
    try:
        payload, given = _unb64(body), _unb64(tag)
        if not hmac.compare_digest(given, _tag(settings, payload)):
            return None
        what, series, participant, day, epoch = payload.decode("ascii").split(".")
        if what != kind:
            return None
        return Link(
            what,
            uuid.UUID(hex=series),
            uuid.UUID(hex=participant),
            None if day == "-" else date.fromisoformat(day),
            int(epoch),
        )
    except (ValueError, UnicodeError):
        return None


def rsvp_url(
    settings: Settings,
    series_id: uuid.UUID,
    epoch: int,
    participant_id: uuid.UUID,
    answer: str,
    day: date | None = None,
) -> str:
    signed = token(settings, Link("r", series_id, participant_id, day, epoch))
    return f"{settings.public_base}/rsvp/{signed}/{answer}"


def unsubscribe_url(
    settings: Settings, series_id: uuid.UUID, epoch: int, participant_id: uuid.UUID
) -> str:
    signed = token(settings, Link("u", series_id, participant_id, None, epoch))
    return f"{settings.public_base}/unsubscribe/{signed}"
