"""Delayed replies: compute in the background with a fresh session, then POST the result to
Slack's ``response_url`` (only to allowed prefixes; one retry on a 5xx or a network error)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.engine import session_scope
from app.slack.blocks import Reply, notice
from app.slack.commands import explained

log = logging.getLogger("app.slack")

POST_TIMEOUT_SECONDS = 5.0
RETRY_DELAY_SECONDS = 0.5


def allowed_response_url(url: str, prefixes: Sequence[str]) -> bool:
    """True when ``url`` has the scheme, host and port of an allowed prefix and starts with its
    path (compared parsed, so ``https://hooks.slack.com@evil.example/`` does not pass).

    >>> allowed_response_url("https://hooks.slack.com/commands/T1/2/x", ["https://hooks.slack.com/"])
    True
    >>> allowed_response_url("https://hooks.slack.com.evil.example/", ["https://hooks.slack.com/"])
    False
    """
    if not url or not url.isascii() or any(c.isspace() for c in url):
        return False
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    if target.userinfo or target.fragment:
        return False
    for prefix in prefixes:
        allowed = httpx.URL(prefix)
        if (target.scheme, target.host, target.port) == (
            allowed.scheme,
            allowed.host,
            allowed.port,
        ) and target.raw_path.startswith(allowed.raw_path):
            return True
    return False


def post_reply(url: str, payload: dict[str, Any]) -> bool:
    """POST ``payload`` to ``url``; retried once after a 5xx or a network error."""
    with httpx.Client(timeout=POST_TIMEOUT_SECONDS, follow_redirects=False) as http:
        for attempt in (1, 2):
            if attempt == 2:
                time.sleep(RETRY_DELAY_SECONDS)
            try:
                response = http.post(url, json=payload)
            except httpx.HTTPError as exc:
                log.warning("slack response_url attempt %d failed: %s", attempt, type(exc).__name__)
                continue
            if response.status_code < 500:
                if not response.is_success:
                    log.warning("slack response_url refused the reply: %d", response.status_code)
                return response.is_success
            log.warning("slack response_url attempt %d got %d", attempt, response.status_code)
    return False


def deliver(engine: Engine, url: str, job: Callable[[Session], Reply]) -> None:
    """Run ``job`` in its own session (the request's is closed by now) and post its reply."""
    try:
        with session_scope(engine) as session:
            reply = job(session)
    except Exception as exc:
        explanation = explained(exc)
        if explanation is None:
            # Logged with its traceback; the person still learns that no answer is coming.
            log.exception("slack command failed in the background")
            explanation = notice(":x: Something went wrong while preparing this answer; try again.")
        reply = explanation
    post_reply(url, reply.payload())
