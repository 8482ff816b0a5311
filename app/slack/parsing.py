"""Reading a slash command: Slack's form body into a :class:`SlashCommand`, its text into an
:class:`Invocation`, and the arguments of each sub-command; what a person can fix is a
:class:`Refusal` (a helpful reply), what is not a slash command a 400."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from app.errors import AppError
from app.slack.blocks import escape, notice, unescape

DEFAULT_NEXT = 3
MAX_NEXT = 10
MAX_FORM_FIELDS = 100
_QUOTES = "\"'“”‘’"
_COMMAND = re.compile(r"/[\w-]{1,31}")


@dataclass(frozen=True)
class SlashCommand:
    """The fields of Slack's slash-command form that this service uses."""

    team_id: str
    user_id: str
    text: str
    response_url: str
    command: str = "/meet"


def parse_payload(body: bytes) -> SlashCommand:
    """Slack's form body (already verified) → :class:`SlashCommand`; 400, saying what is
    wrong, when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_a_command("the body is not UTF-8 text") from None
    try:
        form = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise _not_a_command(
            f"the body has more than {MAX_FORM_FIELDS} form fields (Slack sends about a dozen)"
        ) from None

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
    )


def _not_a_command(what: str) -> AppError:
    return AppError("bad_request", f"This is not a slash-command payload: {what}.")


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
