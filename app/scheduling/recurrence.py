"""Recurrence rules: validate an RFC 5545 RRULE and expand it into occurrence dates.

The rule says *which dates* a series meets on; the planner chooses the time of day. So the
rule carries no time parts (BYHOUR…), and COUNT, UNTIL and DTSTART are separate fields of
the series rather than parts of the rule. Expansion is python-dateutil's.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime

from dateutil.rrule import rrule, rrulestr

from app.scheduling.horizon import Horizon, add_years
from app.scheduling.limits import (
    COUNT_REFUSAL,
    HORIZON_YEARS,
    MAX_COUNT,
    MAX_INTERVAL,
    MAX_RULE_LENGTH,
    MAX_SERIES_YEARS,
    RULE_TOO_LONG,
    until_refusal,
)
from app.scheduling.model import InvalidInput, validate_timezone

_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_SUB_DAILY = ("HOURLY", "MINUTELY", "SECONDLY")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY_ITEM = re.compile(r"^([+-]?\d{1,2})?([A-Z]{2})$")
_INTEGER = re.compile(r"^[+-]?\d{1,4}$")
_LOC = ("recurrence",)
_SUPPORTED = "FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, BYYEARDAY, BYWEEKNO, WKST"
_FIELD_PARTS = {
    "COUNT": "COUNT belongs in the count field, not in the rule.",
    "UNTIL": "UNTIL belongs in the until field, not in the rule.",
    "DTSTART": "DTSTART belongs in the start_date field, not in the rule.",
}


def _fail(msg: str) -> InvalidInput:
    return InvalidInput(_LOC, msg)


def _integers(name: str, raw: str, low: int, high: int, hint: str) -> None:
    """Check a comma list of non-zero integers with ``low <= |v| <= high``."""
    for item in raw.split(","):
        if not _INTEGER.match(item):
            raise _fail(f"{name} value {item!r} is not a whole number; {hint}.")
        value = int(item)
        if value == 0 or not low <= abs(value) <= high:
            raise _fail(f"{name} value {item!r} is out of range; {hint}.")


# One validator per RRULE part: ``check(value, freq, parts)`` raises when the part is wrong.
# FREQ comes first (the others read it); then each present part in the table's order.
_PartCheck = Callable[[str, str, Mapping[str, str]], None]


def _check_freq(freq: str, _freq: str, _parts: Mapping[str, str]) -> None:
    if freq in _SUB_DAILY:
        raise _fail(f"FREQ={freq} is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY.")
    if freq not in _FREQS:
        raise _fail(f"FREQ={freq} is not a frequency; use DAILY, WEEKLY, MONTHLY or YEARLY.")


def _check_interval(raw: str, _freq: str, _parts: Mapping[str, str]) -> None:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_INTERVAL:
        raise _fail(f"INTERVAL={raw} must be a whole number from 1 to {MAX_INTERVAL}.")


def _check_byday(raw: str, freq: str, parts: Mapping[str, str]) -> None:
    for item in raw.split(","):
        m = _BYDAY_ITEM.match(item)
        if not m or m.group(2) not in _WEEKDAYS:
            raise _fail(
                f"BYDAY value {item!r} is not a weekday (MO, TU, WE, TH, FR, SA, SU), "
                "optionally with an ordinal such as 1WE or -1FR."
            )
        if m.group(1) is None:
            continue
        ordinal = int(m.group(1))
        if freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:
            raise _fail(
                f"BYDAY value {item!r} has an ordinal, which only works with FREQ=MONTHLY "
                "or FREQ=YEARLY (without BYWEEKNO); use a plain weekday such as "
                f"{m.group(2)}."
            )
        within_month = freq == "MONTHLY" or "BYMONTH" in parts
        limit = 5 if within_month else 53
        if ordinal == 0 or abs(ordinal) > limit:
            span = "a month" if within_month else "a year"
            raise _fail(
                f"BYDAY value {item!r}: {span} has at most {limit} of each weekday; "
                f"use an ordinal from 1 to {limit} or -1 to -{limit}."
            )


def _check_bymonthday(raw: str, freq: str, _parts: Mapping[str, str]) -> None:
    if freq == "WEEKLY":
        raise _fail("BYMONTHDAY cannot be used with FREQ=WEEKLY; use BYDAY.")
    _integers("BYMONTHDAY", raw, 1, 31, "use 1 to 31 or -1 to -31")


def _check_bymonth(raw: str, _freq: str, _parts: Mapping[str, str]) -> None:
    for item in raw.split(","):
        if not item.isdigit() or not 1 <= int(item) <= 12:
            raise _fail(f"BYMONTH value {item!r} is not a month; use 1 (January) to 12.")


def _yearly_only(name: str, raw: str, freq: str, high: int) -> None:
    """A part of whole numbers ``1..high`` or ``-high..-1`` that only FREQ=YEARLY takes."""
    if freq != "YEARLY":
        raise _fail(f"{name} only works with FREQ=YEARLY.")
    _integers(name, raw, 1, high, f"use 1 to {high} or -1 to -{high}")


# Plain functions, not built at import time, so that mutation testing reaches the check.
def _check_byyearday(raw: str, freq: str, _parts: Mapping[str, str]) -> None:
    _yearly_only("BYYEARDAY", raw, freq, 366)


def _check_byweekno(raw: str, freq: str, _parts: Mapping[str, str]) -> None:
    _yearly_only("BYWEEKNO", raw, freq, 53)


def _check_bysetpos(raw: str, _freq: str, parts: Mapping[str, str]) -> None:
    if not any(p.startswith("BY") and p != "BYSETPOS" for p in parts):
        raise _fail(
            "BYSETPOS needs another BY… part to pick from, e.g. "
            "'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1'."
        )
    _integers("BYSETPOS", raw, 1, 366, "use 1 to 366 or -1 to -366")


def _check_wkst(raw: str, _freq: str, _parts: Mapping[str, str]) -> None:
    if raw not in _WEEKDAYS:
        raise _fail(f"WKST value {raw!r} is not a weekday (MO, TU, …, SU).")


_PART_CHECKS: dict[str, _PartCheck] = {
    "FREQ": _check_freq,
    "INTERVAL": _check_interval,
    "BYDAY": _check_byday,
    "BYMONTHDAY": _check_bymonthday,
    "BYMONTH": _check_bymonth,
    "BYYEARDAY": _check_byyearday,
    "BYWEEKNO": _check_byweekno,
    "BYSETPOS": _check_bysetpos,
    "WKST": _check_wkst,
}
# The order parts are written in, once normalised; the rest follow by name.
_NORMAL_ORDER = ("FREQ", "INTERVAL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")


def _rule_text(rule: str) -> str:
    """The rule upper-cased, without white space or an ``RRULE:`` prefix; refused when it is
    empty, too long, or not one RRULE."""
    if not isinstance(rule, str) or not rule.strip():
        raise _fail("Give a recurrence rule such as 'FREQ=WEEKLY;BYDAY=TU'.")
    if len(rule) > MAX_RULE_LENGTH:
        raise _fail(RULE_TOO_LONG)
    text = "".join(rule.split()).upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if "DTSTART" in text:
        raise _fail(_FIELD_PARTS["DTSTART"])
    if ":" in text:
        raise _fail("Give one RRULE (e.g. 'FREQ=WEEKLY;BYDAY=TU'), not a calendar property list.")
    return text


def _part(piece: str, parts: Mapping[str, str]) -> tuple[str, str]:
    """``NAME=VALUE`` as (name, value), refused unless NAME is a supported part not yet seen
    and VALUE is not empty."""
    name, sep, value = piece.partition("=")
    if not sep or not name:
        raise _fail(f"{piece!r} is not NAME=VALUE; write e.g. 'FREQ=WEEKLY;BYDAY=TU'.")
    if name in _FIELD_PARTS:
        raise _fail(_FIELD_PARTS[name])
    if name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        raise _fail(
            f"{name} is not supported: the rule picks dates and the planner picks the time of day."
        )
    if name not in _PART_CHECKS:
        raise _fail(f"{name} is not a supported RRULE part; use {_SUPPORTED}.")
    if name in parts:
        raise _fail(f"{name} appears more than once.")
    if not value:
        raise _fail(f"{name} has no value.")
    return name, value


def parse_recurrence(rule: str) -> str:
    """Validate an RRULE and return it normalised (upper case, no ``RRULE:`` prefix).

    >>> parse_recurrence("rrule:freq=monthly;byday=1we")
    'FREQ=MONTHLY;BYDAY=1WE'

    Anything wrong raises :class:`InvalidInput` at ``("recurrence",)`` naming the part:

    >>> parse_recurrence("FREQ=WEEKLY;BYDAY=XX")
    Traceback (most recent call last):
    ...
    app.scheduling.model.InvalidInput: BYDAY value 'XX' is not a weekday (MO, TU, WE, TH, FR, SA, SU), optionally with an ordinal such as 1WE or -1FR.
    """  # noqa: E501
    parts: dict[str, str] = {}
    for piece in filter(None, _rule_text(rule).split(";")):
        name, value = _part(piece, parts)
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise _fail("FREQ is missing; start the rule with FREQ=DAILY, WEEKLY, MONTHLY or YEARLY.")
    for name, check in _PART_CHECKS.items():
        if name in parts:
            check(parts[name], freq, parts)

    ranked = sorted(
        parts,
        key=lambda n: (
            _NORMAL_ORDER.index(n) if n in _NORMAL_ORDER else len(_NORMAL_ORDER),
            n,
        ),
    )
    normalised = ";".join(f"{n}={parts[n]}" for n in ranked)
    try:  # anything dateutil still refuses is a rule error too
        rrulestr(normalised, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        raise _fail(f"The rule {normalised!r} is not valid: {exc}.") from exc
    return normalised


def _calendar_signature(year: int) -> tuple[int, bool]:
    return date(year, 1, 1).weekday(), calendar.isleap(year)


def _twin_shift(first_year: int, last_year: int) -> int:
    """Years to add so ``first_year..last_year`` land on identical calendars just below 9999.

    dateutil stops at UNTIL only once it produces a date past it: a rule that never matches
    (``BYMONTH=2;BYMONTHDAY=31``) iterates up to year 9999, seconds for FREQ=DAILY. Expanding
    in calendar-identical years (same weekday of 1 January, same leap status) right below
    9999 gives the same dates, shifted, and bounds that search to a few decades.
    """
    wanted = [_calendar_signature(y) for y in range(first_year, last_year + 1)]
    top = 9998 - (last_year - first_year)
    for target in range(top, first_year, -1):  # the 400-year Gregorian cycle ends this early
        if all(_calendar_signature(target + i) == s for i, s in enumerate(wanted)):
            return target - first_year
    return 0


def series_dates(
    rule: str,
    start_date: date,
    anchor_timezone: str,
    count: int | None = None,
    until: date | None = None,
    limit: Horizon | None = None,
) -> list[date]:
    """The occurrence dates of a series, in order.

    The rule is expanded with DTSTART = ``start_date`` 00:00 in ``anchor_timezone``. Every
    generated instant is a midnight, so the dates do not depend on the zone's offsets (the
    zone is still validated); a ``start_date`` the rule does not match is not itself an
    occurrence (dateutil's reading). Expansion stops after ``count`` dates or at ``until``
    (inclusive); a series spans at most 10 years from ``start_date`` either way. With a
    ``limit`` (app.scheduling.horizon: a series being created or changed), every date
    must also fall by ``limit.last``: ``count`` may not carry a series past it.

    >>> series_dates("FREQ=MONTHLY;BYDAY=-1FR", date(2026, 11, 1), "Asia/Manila", count=3)
    [datetime.date(2026, 11, 27), datetime.date(2026, 12, 25), datetime.date(2027, 1, 29)]
    """
    normalised = parse_recurrence(rule)
    validate_timezone(anchor_timezone, ("anchor_timezone",))
    if count is None and until is None:
        raise InvalidInput(("count",), "Give either count or until to end the series.")
    if not 1900 <= start_date.year <= 9000:
        raise InvalidInput(("start_date",), f"start_date {start_date} is out of range.")
    horizon = add_years(start_date, MAX_SERIES_YEARS)
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise InvalidInput(("count",), COUNT_REFUSAL)
    if until is not None:
        if until < start_date:
            raise InvalidInput(("until",), f"until {until} is before start_date {start_date}.")
        if until > horizon:
            raise InvalidInput(("until",), until_refusal(until, horizon))
    last = min(until, horizon) if until is not None else horizon
    if limit is not None:
        if start_date > limit.last:
            limit.check_date(start_date, ("start_date",))
        last = min(last, limit.last)

    shift = _twin_shift(start_date.year - 1, last.year + 1)
    dtstart = datetime.combine(add_years(start_date, shift), datetime.min.time())
    stop = datetime.combine(add_years(last, shift), datetime.min.time())
    expanded = rrulestr(normalised, dtstart=dtstart)
    assert isinstance(expanded, rrule)
    bounded = expanded.replace(until=stop, count=None)
    days: list[date] = []
    for instant in bounded:
        days.append(date(instant.year - shift, instant.month, instant.day))
        if count is not None and len(days) == count:
            break

    if not days:
        raise _fail(
            f"The rule produces no dates from {start_date} to {last}; check that its BY… "
            "parts can all hold on one date (e.g. BYMONTHDAY=31 never falls in BYMONTH=2)."
        )
    if count is not None and len(days) < count:
        if limit is not None and last == limit.last:
            raise InvalidInput(
                ("count",),
                f"Only {len(days)} dates of this rule fall by {last}, {HORIZON_YEARS} years "
                f"from today; lower count to at most {len(days)} or start earlier.",
            )
        raise InvalidInput(
            ("count",),
            f"Only {len(days)} dates of this rule fall within {MAX_SERIES_YEARS} years of "
            f"start_date (up to {horizon}); lower count to at most {len(days)}.",
        )
    return days


__all__ = ["parse_recurrence", "series_dates"]
