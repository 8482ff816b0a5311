"""The iCalendar document of a feed, from plain data (no web or database imports).

TEXT escaping is the ``icalendar`` package's (``vText``); folding follows icalendar's rules
on byte chunks for speed and is tested byte-for-byte against ``Contentline``. This module
decides what goes in the document and in which order.

All instants are written in UTC with ``Z`` so no VTIMEZONE is needed: clients convert to
the reader's own zone, and there is no TZID whose rules a client could misread.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
>>> event = FeedEvent(uid="occ-1@example", start=t, end=t.replace(hour=14), sequence=0,
...     status="scheduled", summary="Weekly ops review", description="", location=None,
...     url=None, created=t, last_modified=t)
>>> ics = render_feed(FeedCalendar(name="Ops", description=None, events=[event]), now=t)
>>> b"DTSTART:20260310T130000Z\\r\\n" in ics
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from icalendar import Calendar, vDuration, vText, vUri

from app.serving.lru import Lru

PRODID = "-//Meeting Scheduler//Governance feeds 1.0//EN"


class _Text(vText):
    """vText whose escaping keeps a literal backslash-N as text.

    icalendar's ``escape_char`` first turns ``\\N`` into a newline, so "C:\\New" would arrive
    as "C:" and "ew" on two lines; each piece is escaped by icalendar, the pieces joined
    with the correctly escaped backslash-N.
    """

    def to_ical(self) -> bytes:
        return b"\\\\N".join(vText(part).to_ical() for part in str(self).split("\\N"))


CANCELLED_RETENTION = timedelta(days=30)
GOOGLE_FEED_LIMIT_BYTES = 1_000_000

_STATUS_LINES = {"scheduled": b"STATUS:CONFIRMED\r\n", "cancelled": b"STATUS:CANCELLED\r\n"}
# Line and paragraph separators (NEL, LS, PS, VT, FF) are line breaks by meaning: written
# as an escaped newline, they cannot split a line in a parser that uses Unicode line rules.
_LINE_SEPARATORS = {0x85: "\n", 0x2028: "\n", 0x2029: "\n", 0x0B: "\n", 0x0C: "\n"}
# RFC 5545 TEXT allows no CONTROL character but HTAB (CR/LF become the \n escape); libical
# stops reading at NUL. C1 controls are allowed but are never meant text: dropped as well.
_CONTROL_CHARACTERS = {
    **{c: None for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))},
    0x09: "\t",
    0x0A: "\n",
    0x0D: "\r",
    **_LINE_SEPARATORS,
}
_SURROGATE = re.compile("[\ud800-\udfff]")  # unpaired (from JSON "\ud800"): not encodable
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_HTTP_URL = re.compile(r"https?://[!-~]+", re.IGNORECASE)  # printable ASCII, no spaces


# Every UID this service writes (feeds, invitations) ends so: a person's calendar that holds
# our own meetings does not count them as busy (app.calendars.ics).
OWN_UID_SUFFIX = "@meeting-scheduler"


@dataclass(frozen=True)
class FeedEvent:
    """One occurrence as a feed shows it; ``start``/``end`` are aware datetimes (any zone).

    ``uid`` must stay the same for the life of the occurrence; ``sequence`` grows with each
    change; ``last_modified`` becomes DTSTAMP, so the bytes depend on the data, not the clock.
    """

    uid: str
    start: datetime
    end: datetime
    sequence: int
    status: Literal["scheduled", "cancelled"]
    summary: str
    description: str
    location: str | None
    url: str | None
    created: datetime
    last_modified: datetime
    reminder_minutes: int | None = None  # a VALARM this long before (not when cancelled)


@dataclass(frozen=True)
class FeedCalendar:
    """A whole feed: its display name, optional description and occurrences."""

    name: str
    description: str | None
    events: Sequence[FeedEvent]
    refresh_minutes: int = 60


def render_feed(
    calendar: FeedCalendar, *, now: datetime, max_bytes: int = GOOGLE_FEED_LIMIT_BYTES
) -> bytes:
    """Render ``calendar`` as an RFC 5545 document (UTF-8 bytes, CRLF, folded).

    Events are written in ``(start, uid)`` order; the same input gives the same bytes.
    ``now`` is used only for two cut-offs:

    - a cancelled event whose end is more than 30 days before ``now`` is left out;
    - while the document is larger than ``max_bytes``, past events (ended at or before
      ``now``) are left out oldest first, so occurrences older than 90 days always go
      before recent ones; if that is still not enough, the furthest future events go next.

    Nothing in the document says events were left out: X-WR-CALDESC stays the caller's
    description, so it does not change from day to day.

    Example: a cancelled occurrence that ended 2026-01-01T10:00Z is still in a feed read at
    2026-01-31T10:00Z (STATUS:CANCELLED) and gone from one read a second later.
    """
    now = _as_utc(now, "now")
    header, footer = _calendar_frame(calendar)
    cancelled_cutoff = now - CANCELLED_RETENTION
    timed = sorted(
        (
            (_as_utc(event.start, "start"), event.uid, _as_utc(event.end, "end"), event)
            for event in calendar.events
        ),
        key=lambda item: (item[0], item[1]),
    )
    kept = [
        (start, end, event)
        for start, _, end, event in timed
        if not (event.status == "cancelled" and end < cancelled_cutoff)
    ]
    if len({event.uid for _, _, event in kept}) != len(kept):
        raise ValueError("two events share a UID")  # clients would merge or drop them
    blocks = _event_blocks(kept)
    size = len(header) + len(footer) + sum(map(len, blocks))
    if size > max_bytes:
        past = [i for i, (_, end, _) in enumerate(kept) if end <= now]
        future = [i for i, (_, end, _) in enumerate(kept) if end > now]
        dropped: set[int] = set()
        for i in past + future[::-1]:
            if size <= max_bytes:
                break
            dropped.add(i)
            size -= len(blocks[i])
        if size > max_bytes:
            raise ValueError(f"the calendar frame alone is larger than {max_bytes} bytes")
        blocks = [block for i, block in enumerate(blocks) if i not in dropped]
    return header + b"".join(blocks) + footer


def _calendar_frame(calendar: FeedCalendar) -> tuple[bytes, bytes]:
    """The VCALENDAR lines before and after the events.

    ``icalendar`` writes a component as its properties, then its subcomponents, then END;
    rendering the events separately lets the size cap drop events without re-rendering.
    """
    if calendar.refresh_minutes <= 0:
        raise ValueError("refresh_minutes must be positive")
    refresh = timedelta(minutes=calendar.refresh_minutes)
    cal = Calendar()
    cal.add("PRODID", vText(PRODID))
    cal.add("VERSION", vText("2.0"))
    cal.add("CALSCALE", vText("GREGORIAN"))
    cal.add("METHOD", vText("PUBLISH"))
    # icalendar types NAME and the X-WR-* names as "unknown" (written unescaped): say TEXT.
    name = _clean_text(calendar.name)
    cal.add("NAME", _Text(name))
    cal.add("X-WR-CALNAME", _Text(name))
    description = _clean_text(calendar.description or "")
    if description:
        cal.add("DESCRIPTION", _Text(description))
        cal.add("X-WR-CALDESC", _Text(description))
    cal.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(refresh))
    frame = cal.to_ical()
    footer = b"END:VCALENDAR\r\n"
    if not frame.endswith(footer):  # pragma: no cover - icalendar's layout changed
        raise RuntimeError("unexpected icalendar output layout")
    return frame[: -len(footer)], footer


def _event_blocks(events: Sequence[tuple[datetime, datetime, FeedEvent]]) -> list[bytes]:
    """Each ``(start, end, event)`` as one VEVENT, byte for byte as ``Event.to_ical()`` would.

    Going through icalendar's component machinery costs ~0.4 ms an event, too slow for a
    feed route, so the lines are put together here in icalendar's own property order with
    icalendar doing the escaping (``vText``) and :func:`_fold` its folding rules. A test checks
    the bytes against ``icalendar.Event.to_ical()``. Lines and date-times repeated across
    occurrences (summary, location, created) are escaped, folded or formatted once per call.
    """
    lines: dict[tuple[str, str], bytes] = {}
    instants: dict[datetime, str] = {}

    def text_line(name: str, value: str | None, *, optional: bool = False) -> bytes:
        """The TEXT property line; none at all (b"") for an optional one left empty."""
        line = lines.get((name, value or ""))
        if line is None:
            text = _clean_text(value or "")
            escaped = _Text(text).to_ical().decode("utf-8")
            line = b"" if optional and not text else _fold(f"{name}:{escaped}")
            lines[(name, value or "")] = line
        return line

    def url_line(url: str) -> bytes:
        line = lines.get(("URL", url))
        if line is None:
            line = lines[("URL", url)] = _fold(f"URL:{vUri(url).to_ical().decode('utf-8')}")
        return line

    def utc_value(value: datetime) -> str:
        text = instants.get(value)
        if text is None:
            text = instants[value] = _ical_utc(value)
        return text

    blocks = []
    for start, end, event in events:
        done = _BLOCKS.get(event)
        if done is not None:
            blocks.append(done)
            continue
        if end <= start:
            raise ValueError(f"event {event.uid!r} does not end after it starts")
        if event.sequence < 0:
            raise ValueError(f"event {event.uid!r} has a negative SEQUENCE")
        stamp = utc_value(_as_utc(event.last_modified, "last_modified"))
        url = _http_url(event.url) or _http_url(event.location)
        block = (
            b"BEGIN:VEVENT\r\n",
            # icalendar's order: Event.canonical_order, then the other names sorted.
            text_line("SUMMARY", event.summary),
            _fold(f"DTSTART:{utc_value(start)}"),
            _fold(f"DTEND:{utc_value(end)}"),
            _fold(f"DTSTAMP:{stamp}"),
            text_line("UID", event.uid),
            _fold(f"SEQUENCE:{event.sequence:d}"),
            _fold(f"CREATED:{utc_value(_as_utc(event.created, 'created'))}"),
            text_line("DESCRIPTION", event.description, optional=True),
            _fold(f"LAST-MODIFIED:{stamp}"),
            text_line("LOCATION", event.location, optional=True),
            _STATUS_LINES[event.status],
            b"TRANSP:OPAQUE\r\n",
            b"" if url is None else url_line(url),
            _alarm(event, text_line),
            b"END:VEVENT\r\n",
        )
        blocks.append(_BLOCKS.put(event, b"".join(block)))
    return blocks


def _alarm(event: FeedEvent, text_line: Callable[[str, str | None], bytes]) -> bytes:
    """A display reminder (RFC 5545 §3.6.6), as invitations carry it."""
    if event.reminder_minutes is None or event.status == "cancelled":
        return b""
    return b"".join(
        (
            b"BEGIN:VALARM\r\n",
            b"ACTION:DISPLAY\r\n",
            text_line("DESCRIPTION", event.summary),
            f"TRIGGER:-PT{event.reminder_minutes:d}M\r\n".encode(),
            b"END:VALARM\r\n",
        )
    )


# VEVENT blocks by their event, per process. A block is a function of its FeedEvent alone
# (start and end are the event's own, in UTC). After a write, the feeds that show it are
# rendered again, and most of their events did not change (a renamed person is in some of a
# workspace's meetings, not all): those blocks are not escaped and folded a second time,
# nor once per feed that shows them. About 1 kB each.
_BLOCKS: Lru[FeedEvent, bytes] = Lru(10_000, max_bytes=8 * 1024 * 1024, weigh=len)


def _fold(line: str) -> bytes:
    """One content line with its CRLF, folded at 75 octets by icalendar's rules.

    icalendar's own folder walks every character in Python and alone would blow the render
    budget (issue 5: 500 occurrences in 30 ms), so this applies the same rules to whole byte
    chunks: never split a UTF-8 character, never end a physical line on an escape.
    ``tests/feeds/test_render.py`` checks byte-identity with ``Contentline.to_ical()``.
    """
    data = line.encode("utf-8")
    if len(data) < 75:
        return data + b"\r\n"
    chunks, pos = [], 0
    while len(data) - pos > 74:
        end = pos + 74
        while data[end] & 0xC0 == 0x80:  # continuation byte: step back to a character start
            end -= 1
        if data[end - 1] in b"\\^":
            end -= 1
        chunks.append(data[pos:end])
        pos = end
    chunks.append(data[pos:])
    return b"\r\n ".join(chunks) + b"\r\n"


def _ical_utc(value: datetime) -> str:
    """A UTC DATE-TIME value (form 2), as ``vDatetime`` writes it: ``20260310T130000Z``."""
    date = f"{value.year:04}{value.month:02}{value.day:02}"
    return f"{date}T{value.hour:02}{value.minute:02}{value.second:02}Z"


def _as_utc(value: datetime, field: str) -> datetime:
    """``value`` in UTC, whole seconds (iCalendar has no fractions); naive is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC).replace(microsecond=0)


def _clean_text(text: str) -> str:
    r"""User text made safe to write as TEXT: controls removed, line separators as ``\n``.

    Surrounding whitespace goes too: libical drops leading and trailing spaces of a value,
    so without this Evolution would read a different title than the other clients.

    >>> _clean_text(" a\x00b\u2028c\td\n")
    'ab\nc\td'
    """
    if _UNSAFE.search(text):
        text = _SURROGATE.sub("\ufffd", text.translate(_CONTROL_CHARACTERS))
    return text.strip()


def _http_url(value: str | None) -> str | None:
    """``value`` stripped if it is a single http(s) URL, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _HTTP_URL.fullmatch(value) else None
