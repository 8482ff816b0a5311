"""Block Kit replies: sections in ``mrkdwn`` with a plain-text fallback, and times shown as
Slack date tokens (rendered in each reader's own Slack time zone) beside the other side's
local wall time.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    >>> when_yours(at, "America/New_York")
    '<!date^1795528800^{date_short_pretty} {time}|Tue 24 Nov 09:00>'
    >>> when_theirs(at, "Asia/Manila")
    'Tue 22:00 Manila'
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.db.schedules import SeriesContext
from app.scheduling import wording
from app.scheduling.model import zone
from app.scheduling.wording import NOBODY_PAYS, city
from app.views.plans import AbsentOut, ParticipantSlot

MAX_BLOCKS = 50  # Slack's limit per message
MAX_SECTION_CHARS = 3000  # Slack's limit per section text
MAX_HEADER_CHARS = 150

_DATE_TOKEN = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)\|([^>]*)>")


def escape(text: str) -> str:
    """User data inside mrkdwn: Slack's three control characters, escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack sends typed ``&``, ``<`` and ``>`` as entities; this gives the characters back."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain(mrkdwn: str) -> str:
    """The plain fallback of a mrkdwn string: date tokens become their fallback text."""
    text = _DATE_TOKEN.sub(r"\1", mrkdwn)
    return unescape(_LINK.sub(r"\2 (\1)", text))


def local_label(at: datetime, timezone: str, *, with_date: bool = True) -> str:
    """Wall time in ``timezone``: ``Tue 24 Nov 09:00`` (or ``Tue 09:00`` without the date)."""
    local = at.astimezone(zone(timezone))
    return local.strftime("%a %d %b %H:%M" if with_date else "%a %H:%M")


def when_yours(at: datetime, timezone: str, *, time_only: bool = False) -> str:
    """A Slack date token (the reader's own Slack zone) whose fallback is ``timezone``'s time."""
    fallback = (
        at.astimezone(zone(timezone)).strftime("%H:%M") if time_only else local_label(at, timezone)
    )
    fmt = "{time}" if time_only else "{date_short_pretty} {time}"
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def when_theirs(at: datetime, timezone: str) -> str:
    """Someone else's wall time, plain text: ``Wed 09:00 Manila``."""
    return f"{local_label(at, timezone, with_date=False)} {city(timezone)}"


def span_yours(start: datetime, end: datetime, timezone: str) -> str:
    """``<Mon 23 Nov 09:00>–<11:30>``; the end carries its date when it is another day."""
    tz = zone(timezone)
    same_day = start.astimezone(tz).date() == end.astimezone(tz).date()
    return f"{when_yours(start, timezone)}–{when_yours(end, timezone, time_only=same_day)}"


def span_theirs(start: datetime, end: datetime, timezone: str) -> str:
    """``Mon 22:00–Tue 00:30 Manila`` (the end's weekday only when it differs)."""
    tz = zone(timezone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    end_text = local_end.strftime("%H:%M" if local_start.date() == local_end.date() else "%a %H:%M")
    return f"{local_start.strftime('%a %H:%M')}–{end_text} {city(timezone)}"


def other_zones(mine: str, theirs: Iterable[str]) -> list[str]:
    """The distinct zones of the other side, without the reader's own, in a stable order."""
    return sorted({tz for tz in theirs if tz != mine}, key=lambda tz: (city(tz), tz))


@dataclass
class Reply:
    """One Slack message: Block Kit blocks plus the ``text`` fallback built from them."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False

    def header(self, text: str) -> Reply:
        self.blocks.append(
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_CHARS)},
            }
        )
        return self

    def section(self, mrkdwn: str) -> Reply:
        self.blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(mrkdwn, MAX_SECTION_CHARS)},
            }
        )
        return self

    def context(self, mrkdwn: str) -> Reply:
        self.blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _clip(mrkdwn, MAX_SECTION_CHARS)}],
            }
        )
        return self

    def sections(self, lines: Iterable[str]) -> Reply:
        """Lines packed into as few sections as fit (each stays under Slack's size limit)."""
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > MAX_SECTION_CHARS:
                self.section("\n".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            self.section("\n".join(chunk))
        return self

    def divider(self) -> Reply:
        self.blocks.append({"type": "divider"})
        return self

    def actions(self, buttons: Sequence[dict[str, Any]]) -> Reply:
        """A row of buttons (app.slack.interactions answers them); none: no block."""
        if buttons:
            self.blocks.append({"type": "actions", "elements": list(buttons)})
        return self

    @property
    def text(self) -> str:
        """The notification / fallback text: every block's words, date tokens resolved."""
        lines = []
        for block in self.blocks:
            if block["type"] == "header":
                lines.append(block["text"]["text"])
            elif block["type"] == "section":
                lines.append(plain(block["text"]["text"]))
            elif block["type"] == "context":
                lines.extend(plain(e["text"]) for e in block["elements"])
        return _clip("\n".join(lines), 4000)

    def payload(self) -> dict[str, Any]:
        blocks = self.blocks
        if len(blocks) > MAX_BLOCKS:
            more = len(blocks) - (MAX_BLOCKS - 1)
            blocks = [*blocks[: MAX_BLOCKS - 1], _more_block(more)]
        return {
            "response_type": "in_channel" if self.public else "ephemeral",
            "text": self.text,
            "blocks": blocks,
        }


def _more_block(count: int) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"…and {count} more not shown."}],
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notice(mrkdwn: str) -> Reply:
    """A one-section ephemeral reply (errors, guidance)."""
    return Reply().section(mrkdwn)


# --- rendering shared by next, plan and the buttons' answers ----------------------------


class Reader(Protocol):
    """The participant a reply is for."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def timezone(self) -> str: ...


class OccurrenceView(Protocol):
    """What :func:`occurrence_out` and :func:`plan_out` both give for one meeting (a stored
    one has an ``id``, a preview's has none)."""

    @property
    def id(self) -> uuid.UUID | None: ...

    @property
    def start(self) -> datetime: ...

    @property
    def participants(self) -> list[ParticipantSlot]: ...

    @property
    def absent(self) -> list[AbsentOut]: ...

    @property
    def changes(self) -> list[str]: ...


def absent_line(view: OccurrenceView, ctx: SeriesContext) -> str:
    """``\n      absent: Jun (time off)`` for quorum members who cannot come, and what is out
    of date since the occurrence was scheduled, else ``''``."""
    line = ""
    if view.absent:
        names = [
            f"{escape(ctx.name_of(a.participant_id))} ({escape(a.reason)})" for a in view.absent
        ]
        line += f"\n      absent: {'; '.join(names)}"
    if view.changes:
        line += f"\n      :warning: out of date: {escape(' '.join(view.changes))}"
    return line


def times_line(start: datetime, slots: Sequence[ParticipantSlot], reader: Reader) -> str:
    """``<date token> your time · Wed 09:00 Manila · Tue 14:00 London``."""
    mine = str(reader.id)
    zones = other_zones(reader.timezone, (s.timezone for s in slots if s.participant_id != mine))
    return " · ".join(
        [f"{when_yours(start, reader.timezone)} your time", *(when_theirs(start, z) for z in zones)]
    )


def hard_turn_takers(slots: Sequence[ParticipantSlot], ctx: SeriesContext) -> set[str]:
    """The counted participants who pay most (ties together); empty when nobody pays."""
    counted = {str(m.participant_id) for m in ctx.members if m.counted}
    paying = {s.participant_id: s.burden_minutes for s in slots if s.participant_id in counted}
    top = max((m for m in paying.values() if m > 0), default=0)
    return {pid for pid, minutes in paying.items() if top and minutes == top}


def hard_turn(slots: Sequence[ParticipantSlot], ctx: SeriesContext) -> str:
    """Who pays most among the counted participants (ties named together), or nobody."""
    required = {str(m.participant_id) for m in ctx.members if m.counted}
    turn = wording.hard_turn(
        (
            (ctx.name_of(s.participant_id), s.burden_minutes)
            for s in slots
            if s.participant_id in required
        ),
        mark=lambda names: f"*{escape(names)}*",
    )
    return NOBODY_PAYS if turn is None else f"hard turn: {turn}"


def answers_line(slots: Sequence[ParticipantSlot], ctx: SeriesContext) -> str:
    """Who answered the invitation and how (RSVP links), e.g. "Maria Santos declined"."""
    said = wording.answers((ctx.name_of(s.participant_id), s.response) for s in slots)
    return f"\n      {escape(said)}" if said else ""


# --- buttons ------------------------------------------------------------------------------

DECLINE = "occurrence.decline"
SWAP = "occurrence.swap"
MY_TURNS = "turns.show"


def button_value(participant_id: uuid.UUID, occurrence_id: uuid.UUID | None = None) -> str:
    """What a button carries: whom it was made for (``p``) and the meeting (``o``). Never
    trusted: app.slack.interactions checks both against the presser."""
    value = {"p": str(participant_id)}
    if occurrence_id is not None:
        value["o"] = str(occurrence_id)
    return json.dumps(value, separators=(",", ":"))


def _button(
    action_id: str, label: str, value: str, confirm: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if confirm is not None:
        title, text, yes = confirm
        button["confirm"] = {
            "title": {"type": "plain_text", "text": title},
            "text": {"type": "plain_text", "text": text},
            "confirm": {"type": "plain_text", "text": yes},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button


def occurrence_buttons(
    participant_id: uuid.UUID, occurrence_id: uuid.UUID, hard_turn: bool
) -> list[dict[str, Any]]:
    """The buttons of one meeting of theirs: "I can't make it", and on a hard turn of theirs
    "Swap with the next turn"."""
    value = button_value(participant_id, occurrence_id)
    buttons = [
        _button(
            DECLINE,
            "I can't make it",
            value,
            (
                "Can't make it?",
                "This records that you can't attend. If the meeting cannot go ahead without "
                "you, it is re-planned when its series re-plans automatically.",
                "I can't make it",
            ),
        )
    ]
    if hard_turn:
        buttons.append(
            _button(
                SWAP,
                "Swap with the next turn",
                value,
                (
                    "Swap hard turns?",
                    "This meeting takes the time of your next meeting of the series where "
                    "someone else has the hard turn, and that one takes this time. Both are "
                    "pinned.",
                    "Swap",
                ),
            )
        )
    return buttons


def turns_button(participant_id: uuid.UUID) -> dict[str, Any]:
    return _button(MY_TURNS, "Show my turns", button_value(participant_id))
