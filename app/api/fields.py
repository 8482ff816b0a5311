"""Validated field types for request bodies: each failure is a sentence a person can act on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import core_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from app.scheduling.horizon import Horizon
from app.scheduling.limits import GRID_STEPS, MAX_DURATION_MINUTES, STEP_MINUTES_REFUSAL
from app.scheduling.model import WEEKDAYS, InvalidInput, parse_working_hours, validate_timezone
from app.services import Services

# C0, C1, Unicode line breaks, and bidi overrides (which can disguise a name on screen).
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROLS_BUT_NEWLINES = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_CONTROL_BUT_NEWLINES = re.compile(f"[{_CONTROLS_BUT_NEWLINES}]")


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


# The same rules as JSON Schema, so OpenAPI tells clients (and fuzzers) what is accepted.
_SINGLE_LINE = rf"^[^{_CONTROLS}]*[^{_CONTROLS}\s][^{_CONTROLS}]*$"
_MULTI_LINE = rf"^[^{_CONTROLS_BUT_NEWLINES}]*$"


def _text_schema(max_length: int, pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "string", "maxLength": max_length, "pattern": pattern, "description": description}
    )


Name = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_single_line),
    _text_schema(200, _SINGLE_LINE, "One line, not blank; no control characters."),
]
ShortText = Annotated[
    str,
    StringConstraints(max_length=500),
    AfterValidator(_multi_line),
    _text_schema(500, _MULTI_LINE, "Text; newlines and tabs allowed."),
]
LongText = Annotated[
    str,
    StringConstraints(max_length=5000),
    AfterValidator(_multi_line),
    _text_schema(5000, _MULTI_LINE, "Text; newlines and tabs allowed."),
]
Location = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(_single_line),
    _text_schema(2000, _SINGLE_LINE, "A place or conference URL, on one line."),
]


@dataclass(frozen=True, slots=True)
class Shaped:
    """Annotated metadata for a string whose pattern and length we check ourselves, so the
    error is ``message(value)`` (what to send, never the regular expression) while OpenAPI
    still shows both constraints."""

    pattern: str
    max_length: int
    message: Callable[[str], str]
    description: str

    def check(self, value: str) -> str:
        if len(value) > self.max_length or not re.fullmatch(self.pattern, value):
            raise ValueError(self.message(value))
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, _: core_schema.CoreSchema, __: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {
            "type": "string",
            "maxLength": self.max_length,
            "pattern": self.pattern,
            "description": self.description,
        }


SlackId = Annotated[
    str,
    Shaped(
        r"^[A-Z0-9]{2,32}$",
        32,
        lambda value: (
            f"{value[:40]!r} is not a Slack id; give it as Slack shows it, 2 to 32 "
            "capital letters and digits, e.g. U024BE7LH for a user or T0001 for a team."
        ),
        "A Slack id such as U024BE7LH or T0001.",
    ),
]
_EMAIL_PART = r"[^@\s<>\"\x00-\x1f\x7f]+"
Email = Annotated[
    str,
    Shaped(
        rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$",
        320,
        lambda value: (
            f"{value[:40]!r} is not an e-mail address; give one such as "
            "maria@oabpo.example (one @, a dot in the domain, no spaces, at most 320 characters)."
        ),
        "An e-mail address.",
    ),
]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _rfc3339(value: Any) -> Any:
    # pydantic alone would read 0.5 or "1700000000" as seconds since 1970.
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise ValueError("Give a time in RFC 3339 with an offset, e.g. 2026-11-24T14:00:00Z.")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("Give a date as YYYY-MM-DD, e.g. 2026-11-24.")


# The service clock's date (UTC) for the request being answered, set by RequestDay: every
# date field is checked against the horizon around it (app.scheduling.horizon).
_TODAY: ContextVar[date | None] = ContextVar("request_today", default=None)


def request_horizon() -> Horizon:
    """The dates this request may name: within ten years of the request clock's today
    (outside a request, of the real one)."""
    today = _TODAY.get()
    return Horizon.around(today if today is not None else datetime.now(UTC).date())


class RequestDay:
    """ASGI middleware: the request's today, read once from ``Services.clock`` (which tests
    pin), for the date fields and the rules that validate them."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _TODAY.set(self.services.clock().astimezone(UTC).date())
        try:
            await self.app(scope, receive, send)
        finally:
            _TODAY.reset(token)


def _service_time(value: datetime) -> datetime:
    try:
        return request_horizon().check_instant(value, ())
    except InvalidInput as exc:
        raise ValueError(exc.msg) from exc


def _service_date(value: date) -> date:
    try:
        return request_horizon().check_date(value, ())
    except InvalidInput as exc:
        raise ValueError(exc.msg) from exc


def _whole_number(value: Any) -> Any:
    # pydantic alone would take true as 1, 60.0 as 60 and "60" as 60.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("Give a whole number (a JSON integer), not text, a fraction or true/false.")


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_service_time)]
Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_service_date)]
Whole = BeforeValidator(_whole_number)
Flag = Annotated[bool, Field(strict=True)]


def _grid_step(value: int) -> int:
    if value not in GRID_STEPS:
        raise ValueError(STEP_MINUTES_REFUSAL)
    return value


# The grid a slot starts on (the core's GRID_STEPS).
StepMinutes = Annotated[
    int,
    Whole,
    AfterValidator(_grid_step),
    WithJsonSchema({"type": "integer", "enum": list(GRID_STEPS)}),
]
# Of a meeting; a series' meetings are at least 5 minutes long, a searched slot at least 1.
SeriesDuration = Annotated[
    int,
    Whole,
    Field(ge=5, le=MAX_DURATION_MINUTES, description=f"Minutes, 5 to {MAX_DURATION_MINUTES}."),
]
SearchDuration = Annotated[
    int,
    Whole,
    Field(ge=1, le=MAX_DURATION_MINUTES, description=f"Minutes, 1 to {MAX_DURATION_MINUTES}."),
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


_HHMM = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
WORKING_WINDOW_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["days", "start", "end"],
    "properties": {
        "days": {"type": "array", "minItems": 1, "items": {"enum": list(WEEKDAYS)}},
        "start": {"type": "string", "pattern": _HHMM, "description": "Local HH:MM."},
        "end": {
            "type": "string",
            "pattern": f"{_HHMM}|^24:00$",
            "description": "Local HH:MM or 24:00; at or before start runs past midnight. "
            "Not equal to start.",
        },
    },
}
WorkingHoursJSON = Annotated[
    list[dict[str, Any]],
    BeforeValidator(_working_hours),
    WithJsonSchema(
        {
            "type": "array",
            "maxItems": 100,
            "items": WORKING_WINDOW_SCHEMA,
            "description": "Weekly windows in local time; overlapping windows merge; [] means "
            "never working.",
            "examples": [
                [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]
            ],
        }
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


@lru_cache(maxsize=1)
def _country_codes_by_name() -> dict[str, str]:
    """``"philippines"`` → ``"PH"``, from the holidays package's registry (empty if it moves)."""
    try:
        from holidays.registry import COUNTRIES
    except ImportError:  # pragma: no cover - a future holidays without the registry
        return {}
    return {
        re.sub(r"[^a-z]", "", entry[0].lower()): entry[1]
        for entry in COUNTRIES.values()
        if len(entry) >= 2
    }


def _country_message(value: str) -> str:
    code = _country_codes_by_name().get(re.sub(r"[^a-z]", "", value.lower()))
    if code is None and value.upper() in _supported_countries():
        code = value.upper()
    example = f"{code}" if code is not None else "PH for the Philippines or US"
    return (
        f"{value[:40]!r} is not a country code; use the ISO 3166 code in capitals, e.g. {example}."
    )


HolidayCountry = Annotated[
    str,
    Shaped(
        r"^[A-Z]{2,3}$",
        3,
        _country_message,
        "ISO 3166 country code (alpha-2 or alpha-3) the holidays package knows, e.g. PH.",
    ),
]
HolidaySubdivision = Annotated[
    str,
    Shaped(
        r"^\S(.*\S)?$",
        10,
        lambda value: (
            f"{value[:40]!r} is not a subdivision code; use the code of the region "
            "the holidays package knows, e.g. NY for New York or ENG for England."
        ),
        "Subdivision code (state, province, region) of holiday_country, e.g. NY.",
    ),
]


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
