"""How the product speaks: hours, places, zone labels, lists of names, the hard turn and clock
changes, defined once for the feed, the share page, Slack and the planner's notices.

The rules and their reasons are in docs/rules.md, "How times and burden are worded".

>>> from datetime import UTC, datetime
>>> hours(225), hours(120), hours(675)
('3.8 h', '2 h', '11.3 h')
>>> at = datetime(2026, 11, 24, 12, tzinfo=UTC)
>>> place("Asia/Manila", at), place("America/New_York", at), place("Asia/Kathmandu", at)
('Manila, UTC+8', 'New York, EST', 'Kathmandu, UTC+5:45')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from app.scheduling.clock import utc_datetime, utc_minute_ceil, zone_span
from app.scheduling.model import zone

# Abbreviations a reader takes for the right offset, each with the only offset it may stand
# for (minutes east of UTC). tzdata's others are ambiguous ("PST" in Manila is UTC+8, "CST"
# in Shanghai and Havana, "IST" in Kolkata, Dublin and Jerusalem) or mere numbers ("-03").
CLEAR_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    # North America
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
    "AST": -240, "ADT": -180, "NST": -210, "NDT": -150,
    # Europe
    "BST": 60, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180,
    # Australia, New Zealand, Japan
    "AEST": 600, "AEDT": 660, "ACST": 570, "ACDT": 630, "AWST": 480,
    "NZST": 720, "NZDT": 780, "JST": 540,
}  # fmt: skip

NOBODY_PAYS = "inside everyone's working hours"
WEEK = timedelta(days=7)


def hours(minutes: int) -> str:
    """Minutes as hours to one decimal, halves rounded up, without a trailing ``.0``.

    >>> hours(0), hours(90), hours(50), hours(45)
    ('0 h', '1.5 h', '0.8 h', '0.8 h')
    """
    value = (Decimal(minutes) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value:f}".removesuffix(".0") + " h"


def length(minutes: int) -> str:
    """A length of time in hours and minutes: a meeting's length, a max stretch.

    >>> length(45), length(60), length(90), length(0)
    ('45 min', '1 h', '1 h 30 min', '0 min')
    """
    h, m = divmod(minutes, 60)
    return " ".join(part for part in (f"{h} h" if h else "", f"{m} min" if m else "") if part) or (
        "0 min"
    )


def join_names(names: Sequence[str]) -> str:
    """``'A'``, ``'A and B'``, ``'A, B and C'`` (in the order given).

    >>> join_names(["Ana", "Bo", "Cy"])
    'Ana, Bo and Cy'
    """
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def offset_label(moment: datetime) -> str:
    """A datetime's UTC offset: ``'UTC+8'``, ``'UTC-4'``, ``'UTC+5:45'``, ``'UTC'``."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h}" + (f":{m:02d}" if m else "")


def city(timezone: str) -> str:
    """A zone's place: ``'America/Argentina/Buenos_Aires'`` → ``'Buenos Aires'``. Zones of no
    place say their offset (``'Etc/GMT-2'`` → ``'UTC+2'``, POSIX signs are inverted)."""
    if timezone in ("UTC", "Etc/UTC"):
        return "UTC"
    if timezone.startswith("Etc/GMT"):
        return offset_label(datetime(2000, 1, 1, tzinfo=zone(timezone)))
    return timezone.rsplit("/", 1)[-1].replace("_", " ")


def zone_label(moment: datetime) -> str:
    """The zone's abbreviation at ``moment`` where it is clear (:data:`CLEAR_ABBREVIATIONS`,
    with its own offset), else the UTC offset.

    >>> from datetime import UTC, datetime
    >>> july = datetime(2026, 7, 1, 12, tzinfo=UTC)
    >>> [zone_label(july.astimezone(zone(z))) for z in ("America/New_York", "Asia/Manila",
    ...                                                  "America/Havana", "America/Santiago")]
    ['EDT', 'UTC+8', 'UTC-4', 'UTC-4']
    """
    name = moment.tzname() or ""
    offset = moment.utcoffset()
    if offset is not None and CLEAR_ABBREVIATIONS.get(name) == offset // timedelta(minutes=1):
        return name
    return offset_label(moment)


def place(timezone: str, moment: datetime) -> str:
    """Where and which clock: ``'New York, EST'``, ``'Manila, UTC+8'``, ``'UTC'``."""
    label = zone_label(moment.astimezone(zone(timezone)))
    where = city(timezone)
    return label if where == label else f"{where}, {label}"


def day_label(day: date, year: bool = True) -> str:
    """``'Tue 24 Nov 2026'`` (``'Tue 24 Nov'`` without the year)."""
    text = f"{day:%a} {day.day} {day:%b}"
    return f"{text} {day.year}" if year else text


def local_range(
    start: datetime, end: datetime, *, weekday: bool = True, timezone: str | None = None
) -> str:
    """Aware local times as ``'Tue 08:00–09:00 EST'``; the end carries its weekday when it is
    on another day. With ``timezone`` the place is named: ``'Tue 20:00–21:00 Manila, UTC+8'``.
    """
    tail = f"{end:%a} " if end.date() != start.date() else ""
    head = f"{start:%a} " if weekday else ""
    label = zone_label(start) if timezone is None else place(timezone, start)
    return f"{head}{start:%H:%M}–{tail}{end:%H:%M} {label}"


def hard_turn(burdens: Iterable[tuple[str, int]], mark: Callable[[str], str] = str) -> str | None:
    """Who of the counted participants (name, burden minutes) pays most, ties named together
    in name order (at most two by name, then how many others), or None when nobody pays (say
    :data:`NOBODY_PAYS`). ``mark`` dresses the names (Slack makes them bold).

    >>> hard_turn([("Jun", 90), ("Dana", 90), ("Bo", 30)])
    'Dana and Jun (1.5 h)'
    >>> hard_turn([("Jun", 60), ("Dana", 60), ("Bo", 60), ("Al", 60)])
    'Al, Bo and 2 others (1 h)'
    """
    paying = [(name, minutes) for name, minutes in burdens if minutes > 0]
    if not paying:
        return None
    top = max(minutes for _, minutes in paying)
    names = sorted(name for name, minutes in paying if minutes == top)
    if len(names) > 2:
        others = len(names) - 2
        names = [*names[:2], f"{others} other{'s' if others > 1 else ''}"]
    return f"{mark(join_names(names))} ({hours(top)})"


def clock_shift(before: datetime, after: datetime) -> str:
    """``'EDT→EST'``: the zone labels on either side of a clock change."""
    return f"{zone_label(before)}→{zone_label(after)}"


def clock_change(timezone: str, before: datetime, after: datetime) -> str | None:
    """``'New York changed clocks (EDT→EST)'`` when the offset differs, else None."""
    if before.utcoffset() == after.utcoffset():
        return None
    return f"{city(timezone)} changed clocks ({clock_shift(before, after)})"


@dataclass(frozen=True)
class ClockChange:
    """A zone's offset change: ``moment`` is its first minute; ``before`` and ``after`` are
    the local times of the minute before and of ``moment``."""

    timezone: str
    moment: datetime
    before: datetime
    after: datetime

    @property
    def text(self) -> str:
        """A clock change ahead, in words (the amount in hours: Lord Howe moves 30 minutes).

        >>> from datetime import UTC, datetime
        >>> late_october = datetime(2026, 10, 30, tzinfo=UTC)
        >>> [change] = clock_changes(["America/New_York"], late_october, late_october + WEEK)
        >>> change.text[:61]
        'Clocks in New York go back 1 hour on Sun 1 Nov 2026 (EDT→EST)'
        """
        delta = (self.after.utcoffset() or timedelta(0)) - (self.before.utcoffset() or timedelta(0))
        minutes = int(delta.total_seconds() // 60)
        direction = "forward" if minutes > 0 else "back"
        amount = hours(abs(minutes)).replace(" h", " hour" if abs(minutes) == 60 else " hours")
        return (
            f"Clocks in {city(self.timezone)} go {direction} {amount} on "
            f"{day_label(self.after.date())} ({clock_shift(self.before, self.after)}): "
            "local meeting times there move against everyone else's."
        )


def clock_changes(timezones: Iterable[str], start: datetime, end: datetime) -> list[ClockChange]:
    """UTC-offset changes of each zone in ``[start, end)``, in time order, read from the
    core's :func:`~app.scheduling.clock.zone_span`."""
    lo, hi = utc_minute_ceil(start), utc_minute_ceil(end)
    found: list[ClockChange] = []
    for name in sorted(set(timezones)):
        tz = zone(name)
        transitions = zone_span(name, lo, hi).transitions
        first, last = np.searchsorted(transitions, [lo, hi], side="left")
        for minute in transitions[first:last].tolist():
            moment = utc_datetime(minute)
            before = utc_datetime(minute - 1).astimezone(tz)
            found.append(ClockChange(name, moment, before, moment.astimezone(tz)))
    return sorted(found, key=lambda c: (c.moment, c.timezone))


ANSWERS = {"accepted": "accepted", "declined": "declined", "proposed": "asked for another turn"}


def answers(pairs: Iterable[tuple[str, str | None]]) -> str | None:
    """The invitation answers given, e.g. ``Answers: Maria Santos declined; Ana accepted.``;
    None when nobody answered.

    >>> answers([("Maria Santos", "declined"), ("Bo", None), ("Ana", "proposed")])
    'Answers: Maria Santos declined; Ana asked for another turn.'
    """
    said = [f"{name} {ANSWERS[response]}" for name, response in pairs if response]
    return f"Answers: {'; '.join(said)}." if said else None
