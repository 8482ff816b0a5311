"""Slack request signing: ``v0`` HMAC-SHA256 over ``v0:{timestamp}:{raw body}``, checked by
``slack_sdk``'s own verifier within its 5-minute window; each signed request is accepted once
(remembered in the database, so across workers)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from fastapi import Request
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from app.db.models import SlackRequest
from app.errors import AppError
from app.services import services

# Slack's slash-command payloads are a few hundred bytes; this bounds what we buffer unsigned.
MAX_BODY_BYTES = 64 * 1024
# slack_sdk accepts a timestamp up to this far from now, either way; a seen request is
# remembered that long after its timestamp, and a little more for clock steps.
FRESH_SECONDS = 5 * 60
CLOCK_MARGIN_SECONDS = 60


def _rejected() -> AppError:
    return AppError(
        "unauthorized",
        "This request is not signed by Slack with this app's signing secret, or it is older "
        "than 5 minutes.",
        401,
    )


def is_signed(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when ``body`` carries a valid, fresh Slack signature; any malformed header is False.

    The verifier itself raises on a non-numeric timestamp (``int()``), a body that is not
    UTF-8 (``decode``) and a non-ASCII signature (``compare_digest``); all mean "not signed".
    """
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except (ValueError, TypeError):
        return False


async def read_body(request: Request) -> bytes:
    """The raw body, refusing (413) anything larger than a slash command can be."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> AppError:
    return AppError(
        "payload_too_large", f"A Slack command body is at most {MAX_BODY_BYTES} bytes.", 413
    )


async def verified_body(request: Request) -> bytes:
    """The raw body of a request Slack signed; 503 without a secret, 401 for anything else."""
    secret = services(request.app).settings.slack_signing_secret
    if secret is None:
        raise AppError(
            "slack_not_configured",
            "Slack commands are off: set SCHEDULER_SLACK_SIGNING_SECRET to the app's signing "
            "secret.",
            503,
        )
    body = await read_body(request)
    headers = request.headers
    if not is_signed(secret.get_secret_value(), body, headers):
        raise _rejected()
    return body


def accept_once(engine: Engine, headers: Mapping[str, str]) -> None:
    """401 when this signed request (verified by :func:`verified_body`) was received before,
    by any worker; otherwise remember it."""
    timestamp, signature = int(headers["x-slack-request-timestamp"]), headers["x-slack-signature"]
    if not first_time(engine, timestamp, signature):
        raise AppError(
            "unauthorized",
            "This signed request was already received: a Slack signature is good for one "
            "request, so a repeat is refused.",
            401,
        )


def first_time(engine: Engine, timestamp: int, signature: str) -> bool:
    """Remember a signed request, in its own short transaction; False when it was seen
    before (a replay). Requests whose signature went stale are forgotten here."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    remember = (
        dialect.insert(SlackRequest)
        .values(timestamp=timestamp, signature=signature)
        .on_conflict_do_nothing()
        .returning(col(SlackRequest.timestamp))  # a row only when it was not there before
    )
    # The verifier's own clock (the wall clock): it decides what counts as fresh.
    stale = time.time() - FRESH_SECONDS - CLOCK_MARGIN_SECONDS
    with engine.begin() as conn:
        new = conn.execute(remember).first() is not None
        conn.execute(delete(SlackRequest).where(col(SlackRequest.timestamp) < stale))
    return new
