"""Reading Slack's requests: a slash command's form body into a :class:`SlashCommand`, a
button's ``block_actions`` payload into a :class:`BlockAction`, the command text into an
:class:`Invocation` and the arguments of each sub-command; what a person can fix is a
:class:`Refusal` (a helpful reply), what is not such a request a 400."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from app.errors import AppError
from app.slack.blocks import escape, notice, unescape

DEFAULT_NEXT = 3
MAX_NEXT = 10
MAX_FORM_FIELDS = 100
_QUOTES = "\"'“”‘’"
_COMMAND = re.compile(r"/[\w-]{1,31}")


def teams_of(team_id: str, enterprise_id: str) -> tuple[str, ...]:
    """The Slack ids naming the acting user's own team: the team, and its Enterprise Grid org,
    whose ``E…`` id Slack may report instead ("The user.team_id will report an enterprise
    organization ID (which starts with an E) instead of team ID", the ``user`` of
    interaction payloads:
    https://docs.slack.dev/reference/interaction-payloads/block_suggestion-payload)."""
    return tuple(dict.fromkeys(t for t in (team_id, enterprise_id) if t))


@dataclass(frozen=True)
class SlashCommand:
    """The fields of Slack's slash-command form that this service uses.

    ``team_id`` is the invoking user's own workspace: the ids "provide context about where
    the user was in Slack when they triggered your app's command"
    (https://api.slack.com/interactivity/slash-commands#app_command_handling). In a Slack
    Connect channel a command works for people of another organisation only once the app is
    installed to *their* workspace ("Custom apps and slash commands created for your
    workspace can only be used by members of your organization",
    https://slack.com/help/articles/115004151203-Slack-Connect-guide--work-with-external-partners;
    otherwise Slack answers "/<command> is not a valid command",
    https://github.com/slackapi/bolt-python/issues/767). So a vendor's user arrives with the
    vendor's ``team_id``, not the client's, and app.slack.commands.find_caller finds the
    workspace through their participant (``slack_team_id``) rather than through the team.
    """

    team_id: str
    user_id: str
    text: str
    response_url: str
    command: str = "/meet"
    channel_id: str = ""
    enterprise_id: str = ""

    @property
    def teams(self) -> tuple[str, ...]:
        return teams_of(self.team_id, self.enterprise_id)


def _form(body: bytes, refuse: Callable[[str], AppError]) -> dict[str, list[str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("the body is not UTF-8 text") from None
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise refuse(
            f"the body has more than {MAX_FORM_FIELDS} form fields (Slack sends about a dozen)"
        ) from None


def parse_payload(body: bytes) -> SlashCommand:
    """Slack's form body (already verified) → :class:`SlashCommand`; 400, saying what is
    wrong, when it is not one."""
    form = _form(body, _not_a_command)

    def first(name: str) -> str:
        values = form.get(name)
        return values[0].strip() if values else ""

    team_id, user_id = first("team_id"), first("user_id")
    missing = [name for name, value in (("team_id", team_id), ("user_id", user_id)) if not value]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise _not_a_command(f"{' and '.join(missing)} {verb} missing")
    return SlashCommand(
        team_id=team_id,
        user_id=user_id,
        text=first("text"),
        response_url=first("response_url"),
        command=command if _COMMAND.fullmatch(command := first("command")) else "/meet",
        channel_id=first("channel_id"),
        enterprise_id=first("enterprise_id"),
    )


def _not_a_command(what: str) -> AppError:
    return AppError("bad_request", f"This is not a slash-command payload: {what}.")


@dataclass(frozen=True)
class BlockAction:
    """One button press: Slack's ``block_actions`` payload, sent as the form field
    ``payload`` (https://docs.slack.dev/interactivity/handling-user-interaction,
    https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).

    ``user_id`` and ``user_team_id`` are the presser and *their own* team; ``team_id`` is the
    workspace the press came through, in a Slack Connect channel the app's installing one,
    not the presser's: the other organisation's people can press an app's buttons in a
    shared channel, while a modal opened from there is submitted from their own workspace
    (https://github.com/slackapi/bolt-python/issues/767), hence ``view.app_installed_team_id``
    on views (https://github.com/slack-go/slack/pull/1073; slack_bolt's
    ``request/internals.py``, ``extract_team_id``). Who pressed is therefore
    (``user_id``, ``user_team_id``), never ``team_id``.
    """

    user_id: str
    user_team_id: str
    team_id: str
    enterprise_id: str
    action_id: str
    value: str
    response_url: str

    @property
    def teams(self) -> tuple[str, ...]:
        """The presser's own team; for a user of an Enterprise Grid org, whose
        ``user.team_id`` is the org's ``E…`` id, the org's workspace the press came from too."""
        if not self.user_team_id:  # not sent: the workspace the press came through
            return teams_of(self.team_id, self.enterprise_id)
        if self.user_team_id.startswith("E") and self.user_team_id == self.enterprise_id:
            return teams_of(self.user_team_id, self.team_id)
        return (self.user_team_id,)


def parse_interaction(body: bytes) -> BlockAction:
    """Slack's interaction form body (already verified) → :class:`BlockAction`; 400, saying
    what is wrong, for anything but a button press."""
    values = _form(body, _not_an_interaction).get("payload")
    if not values:
        raise _not_an_interaction("the form field payload is missing")
    try:
        payload = json.loads(values[0])
    except ValueError:
        raise _not_an_interaction("payload is not JSON") from None
    if not isinstance(payload, dict):
        raise _not_an_interaction("payload is not a JSON object")
    if payload.get("type") != "block_actions":
        raise _not_an_interaction(f"its type is {str(payload.get('type'))[:40]!r}")
    user, team = _object(payload, "user"), _object(payload, "team")
    enterprise = _object(payload, "enterprise")
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(action, dict):
        raise _not_an_interaction("it names no action")
    user_id = _text(user, "id")
    if not user_id:
        raise _not_an_interaction("user.id is missing")
    return BlockAction(
        user_id=user_id,
        user_team_id=_text(user, "team_id"),
        team_id=_text(team, "id"),
        enterprise_id=_text(enterprise, "id") or _text(team, "enterprise_id"),
        action_id=_text(action, "action_id"),
        value=_text(action, "value"),
        response_url=_text(payload, "response_url"),
    )


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    found = payload.get(name)
    return found if isinstance(found, dict) else {}


def _text(payload: dict[str, Any], name: str) -> str:
    found = payload.get(name)
    return found.strip() if isinstance(found, str) else ""


def _not_an_interaction(what: str) -> AppError:
    return AppError("bad_request", f"This is not a button press (block_actions): {what}.")


@dataclass(frozen=True)
class Invocation:
    """``next 5 public`` → ``Invocation("next", ("5",), public=True)``."""

    name: str
    args: tuple[str, ...]
    public: bool = False


PUBLIC_CAPABLE = ("next", "plan")


def parse_text(text: str) -> Invocation:
    """The sub-command, its arguments and the trailing ``public`` flag (``next``, ``plan``).

    >>> parse_text("  Plan weekly ops  PUBLIC ")
    Invocation(name='plan', args=('weekly', 'ops'), public=True)
    >>> parse_text("")
    Invocation(name='help', args=(), public=False)
    """
    words = unescape(text).split()
    if not words:
        return Invocation("help", ())
    name, args = words[0].lower(), tuple(words[1:])
    if name in PUBLIC_CAPABLE and args and args[-1].lower() == "public":
        return Invocation(name, args[:-1], public=True)
    return Invocation(name, args)


class Refusal(Exception):
    """A reply that explains what to do instead of a result."""

    def __init__(self, mrkdwn: str) -> None:
        super().__init__(mrkdwn)
        self.reply = notice(f":warning: {mrkdwn}")


def parse_count(args: Sequence[str], usage: str) -> int:
    """``next [n]``: n from 1 to 10, 3 when absent."""
    if not args:
        return DEFAULT_NEXT
    if len(args) > 1 or not args[0].isascii() or not args[0].isdigit():
        raise Refusal(f"I did not understand `{escape(' '.join(args))}`. Usage: {usage}")
    count = int(args[0])
    if not 1 <= count <= MAX_NEXT:
        raise Refusal(f"Ask for 1 to {MAX_NEXT} meetings (got {count}). Usage: {usage}")
    return count


def parse_mentions(args: Sequence[str], usage: str) -> list[str]:
    """Slack user ids from escaped mentions ``<@U123|name>`` or ``<@U123>``, in order, once each.

    >>> parse_mentions(["<@U1|ana>", "<@W2>", "<@U1>"], "")
    ['U1', 'W2']
    """
    ids: list[str] = []
    for word in args:
        inner = word[2:-1] if word.startswith("<@") and word.endswith(">") else ""
        user_id = inner.split("|", 1)[0]
        if not user_id or not user_id.isascii() or not user_id.isalnum():
            raise Refusal(
                f"`{escape(word[:60])}` is not a mention. Mention people with @ so Slack sends "
                "their ids (in the app's slash command settings, turn on *Escape channels, users, "
                f"and links sent to your app*). Usage: {usage}"
            )
        if user_id not in ids:
            ids.append(user_id)
    return ids


def series_query(args: Sequence[str], usage: str) -> str:
    """The series name of ``plan``/``balance``: the rest of the text, quotes dropped."""
    name = " ".join(args).strip().strip(_QUOTES).strip()
    if not name:
        raise Refusal(f"Name a series by its id or the start of its title. Usage: {usage}")
    return name
