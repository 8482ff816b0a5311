"""Recurrence rules in words, for people reading a share page.

No maintained Python package turns an RRULE into English (python-dateutil parses only), so
this covers the parts ``app.scheduling.recurrence`` accepts and falls back to the rule text
for combinations it cannot say well.

>>> describe_rule("FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH", date(2026, 11, 12))
'Every 3 months on the second Thursday'
"""

from __future__ import annotations

from datetime import date

from app.scheduling.model import InvalidInput
from app.scheduling.recurrence import parse_recurrence
from app.scheduling.wording import join_names

_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_ADVERBS = {"DAILY": "Daily", "WEEKLY": "Weekly", "MONTHLY": "Monthly", "YEARLY": "Yearly"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_WEEKDAY_SET = ["MO", "TU", "WE", "TH", "FR"]


def _ordinal(n: int) -> str:
    if n == -1:
        return "last"
    if n < 0:
        return f"{_ORDINALS.get(-n, f'{-n}th')}-to-last"
    if n in _ORDINALS:
        return _ORDINALS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _byday(raw: str, every: bool) -> str:
    """``every``: a plain weekday means every such day of the month or year."""
    items: list[str] = []
    for item in raw.split(","):
        day = _DAYS[item[-2:]]
        ordinal = item[:-2]
        if ordinal:
            items.append(f"the {_ordinal(int(ordinal))} {day}")
        else:
            items.append(f"every {day}" if every else day)
    return join_names(items)


def describe_rule(rule: str, start_date: date) -> str:
    """The rule in words; ``start_date`` supplies what the rule leaves to DTSTART.

    >>> describe_rule("FREQ=WEEKLY;BYDAY=TU", date(2026, 11, 24))
    'Weekly on Tuesday'
    >>> describe_rule("FREQ=MONTHLY;BYDAY=-1FR", date(2026, 11, 1))
    'Monthly on the last Friday'
    >>> describe_rule("FREQ=WEEKLY;INTERVAL=2", date(2026, 11, 24))
    'Every 2 weeks on Tuesday'
    """
    try:
        text = parse_recurrence(rule)
    except InvalidInput:
        return rule
    parts = dict(piece.split("=", 1) for piece in text.split(";"))
    freq = parts.pop("FREQ")
    interval = int(parts.pop("INTERVAL", "1"))
    parts.pop("WKST", None)
    head = _ADVERBS[freq] if interval == 1 else f"Every {interval} {_UNITS[freq]}s"
    if set(parts) - {"BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS"}:
        return f"{head} ({text})"
    months = parts.pop("BYMONTH", None)
    month_words = join_names([_MONTHS[int(m) - 1] for m in months.split(",")]) if months else None
    setpos = parts.pop("BYSETPOS", None)
    byday = parts.pop("BYDAY", None)
    monthday = parts.pop("BYMONTHDAY", None)
    if setpos is not None:
        positions = setpos.split(",")
        if byday is None or monthday is not None or len(positions) != 1:
            return f"{head} ({text})"
        days = byday.split(",")
        if any(len(d) != 2 for d in days):
            return f"{head} ({text})"
        what = "weekday" if days == _WEEKDAY_SET else f"of {join_names([_DAYS[d] for d in days])}"
        on = f"the {_ordinal(int(positions[0]))} {what}"
    elif byday is not None and monthday is None:
        if freq == "DAILY" and byday.split(",") == _WEEKDAY_SET:
            return "Every weekday" if interval == 1 else f"{head} on weekdays"
        on = _byday(byday, every=freq in ("MONTHLY", "YEARLY"))
    elif monthday is not None and byday is None:
        if freq == "YEARLY" and not month_words:
            return f"{head} ({text})"
        days_of_month = [int(d) for d in monthday.split(",")]
        on = "the " + join_names(
            ["last day" if d == -1 else f"{_ordinal(d)} day" for d in days_of_month]
        )
    elif monthday is not None:
        return f"{head} ({text})"
    elif freq == "WEEKLY":
        on = _DAYS[list(_DAYS)[start_date.weekday()]]
    elif freq == "MONTHLY" and not month_words:
        on = f"the {_ordinal(start_date.day)} day"
    elif freq == "YEARLY" and not month_words:
        on = f"{start_date.day} {_MONTHS[start_date.month - 1]}"
    else:
        on = ""
    if month_words:
        head = f"{head} in {month_words}"
    return f"{head} on {on}" if on else head
