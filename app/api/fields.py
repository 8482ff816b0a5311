"""Validated field types for request bodies: each failure is a sentence a person can act on."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from app.scheduling.model import InvalidInput, parse_working_hours, validate_timezone

# C0, C1, Unicode line breaks, and bidi overrides (which can disguise a name on screen).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("Remove control characters (newlines, tabs, …) from this text.")
    if not value.strip():
        raise ValueError("This text cannot be blank.")
    return value.strip()


def _multi_line(value: str) -> str:
    if _CONTROL_BUT_NEWLINES.search(value):
        raise ValueError("Remove control characters other than newlines and tabs.")
    return value


Name = Annotated[str, StringConstraints(max_length=200), AfterValidator(_single_line)]
ShortText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_multi_line)]
LongText = Annotated[str, StringConstraints(max_length=5000), AfterValidator(_multi_line)]
Location = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_single_line)]
SlackId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{2,32}$"),
    Field(description="A Slack id such as U024BE7LH or T0001."),
]
Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"),
    Field(description="An e-mail address."),
]


def _timezone(value: Any) -> str:
    try:
        return validate_timezone(value)
    except InvalidInput as exc:
        raise ValueError(exc.msg) from exc


TimezoneName = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_timezone),
    Field(description="IANA time zone name", examples=["Asia/Manila"]),
]


def _working_hours(value: Any) -> list[dict[str, Any]]:
    # InvalidInput is a ValueError: the error handler appends its loc (0, "start") to the field's.
    return [w.to_json() for w in parse_working_hours(value, loc=())]


WorkingHoursJSON = Annotated[
    list[dict[str, Any]],
    BeforeValidator(_working_hours),
    Field(
        description="Weekly windows in local time; end at or before start runs past midnight.",
        examples=[
            [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
        ],
    ),
]


@lru_cache(maxsize=1)
def _supported_countries() -> dict[str, list[str]]:
    import holidays

    return {k: list(v) for k, v in holidays.list_supported_countries().items()}


def check_holiday_calendar(country: str | None, subdivision: str | None) -> None:
    """Ask the ``holidays`` package whether the country and subdivision exist.

    Raises :class:`InvalidInput` located at the field that is wrong.
    """
    if country is None:
        if subdivision is not None:
            raise InvalidInput(
                ("holiday_subdivision",), "holiday_subdivision needs holiday_country as well."
            )
        return
    supported = _supported_countries()
    if country not in supported:
        close = difflib.get_close_matches(country.upper(), sorted(supported), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise InvalidInput(
            ("holiday_country",),
            f"{country[:20]!r} is not a holiday country the holidays package knows; "
            f"use an ISO 3166 alpha-2 code such as US or PH.{hint}",
        )
    if subdivision is not None and subdivision not in supported[country]:
        subs = supported[country]
        listing = ", ".join(subs[:12]) + (" …" if len(subs) > 12 else "")
        hint = f" Known subdivisions: {listing}." if subs else f" {country} has no subdivisions."
        raise InvalidInput(
            ("holiday_subdivision",),
            f"{subdivision[:20]!r} is not a subdivision of {country}.{hint}",
        )


HolidayCountry = Annotated[str, StringConstraints(min_length=2, max_length=3, pattern=r"^[A-Z]+$")]
HolidaySubdivision = Annotated[str, StringConstraints(min_length=1, max_length=10)]


def apply_calendar_change(
    changes: dict[str, Any], country: str | None, subdivision: str | None
) -> None:
    """Validate a PATCH of the holiday calendar against the stored values.

    A new country without a subdivision clears the old subdivision (it belonged to the old
    country). Raises :class:`InvalidInput` naming the field.
    """
    if (
        "holiday_country" in changes
        and "holiday_subdivision" not in changes
        and changes["holiday_country"] != country
    ):
        changes["holiday_subdivision"] = None
    check_holiday_calendar(
        changes.get("holiday_country", country), changes.get("holiday_subdivision", subdivision)
    )
