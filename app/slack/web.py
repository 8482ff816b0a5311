"""Slack's Web API through slack_sdk's ``WebClient``: a client at ``SCHEDULER_SLACK_API_URL``,
and a workspace's bot token (stored only sealed, app.secret_box)."""

from __future__ import annotations

import logging
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from app.db.models import Workspace
from app.secret_box import secret_box
from app.settings import Settings

# Slack answers in well under a second; past this a call is a failure the caller reports.
WEB_API_TIMEOUT_SECONDS = 10
# What a call can raise when it did not get a good answer: Slack's ``ok: false`` or a
# non-JSON answer (SlackApiError), and the network's errors (URLError, timeouts and resets
# are OSErrors; a truncated answer an HTTPException).
WEB_API_FAILURES = (SlackClientError, OSError, HTTPException)

# slack_sdk writes each request's body and each answer (OAuth codes, tokens) to its logger
# at DEBUG when that logger's own level allows it: a level of its own keeps them out even
# with SCHEDULER_LOG_LEVEL=DEBUG.
_SDK_LOG = logging.getLogger("app.slack.web_api")
_SDK_LOG.setLevel(logging.INFO)


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A WebClient on the configured Web API, with ``token`` (a bot token) when given.

    slack_sdk's default retry handlers stay: one retry after a connection error, none
    after an answer (a rate limit or ``ok: false`` is the caller's to handle)."""
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=WEB_API_TIMEOUT_SECONDS,
        logger=_SDK_LOG,
    )


def bot_token(settings: Settings, workspace: Workspace) -> str | None:
    """The workspace's bot token, or None when the app is not installed (or the token was
    sealed under another SCHEDULER_SECRET_KEY: install the app again)."""
    sealed = workspace.slack_bot_token_sealed
    return None if sealed is None else secret_box(settings).open(sealed)
