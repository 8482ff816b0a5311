"""``POST /slack/commands``: verify, parse, answer within Slack's 3 seconds."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from app.api.deps import SessionDep, SettingsDep, now_of
from app.errors import error_responses
from app.services import services
from app.slack.blocks import notice
from app.slack.commands import Deferred, respond
from app.slack.delivery import allowed_response_url, deliver
from app.slack.parsing import parse_payload
from app.slack.verify import accept_once, verified_body

log = logging.getLogger("app.slack")

router = APIRouter(prefix="/slack", tags=["slack"])

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string"}
                        for name in ("team_id", "user_id", "command", "text", "response_url")
                    },
                    "required": ["team_id", "user_id"],
                }
            }
        },
    }
}


@router.post(
    "/commands",
    openapi_extra=_FORM,
    response_model=dict[str, Any],
    responses=error_responses(400, 401, 413, 503),
)
def slash_command(
    body: Annotated[bytes, Depends(verified_body)],
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Slack's slash command (``/meet …``), signed with the app's signing secret.

    401 unless the signature over the raw body is valid and under 5 minutes old, and for
    the same signed request a second time; 503 when no signing secret is configured.
    Everything else is a 200 Block Kit reply for Slack.
    """
    command = parse_payload(body)
    accept_once(services(request.app).engine, request.headers)
    outcome = respond(session, command, now_of(request), settings)
    if not isinstance(outcome, Deferred):
        return outcome.payload()
    if not allowed_response_url(command.response_url, settings.slack_response_url_prefixes):
        log.warning("slack command with a response_url outside the allowed prefixes")
        return notice(
            ":warning: This answer takes a moment, but the reply address Slack sent is not one "
            "this server posts to (see SCHEDULER_SLACK_RESPONSE_URL_PREFIXES)."
        ).payload()
    background.add_task(deliver, services(request.app).engine, command.response_url, outcome.job)
    return outcome.ack.payload()
