"""One error type and one JSON envelope: ``{"error", "detail", "fields"?}``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.scheduling.model import InvalidInput

log = logging.getLogger("app.errors")

RETRY_AFTER_SECONDS = 5
# Where a request value sits, as pydantic's locations say; "series" is the stored series.
_LOC_ROOTS = frozenset({"body", "query", "path", "header", "series"})


class AppError(Exception):
    """An error a client can act on. Raise it anywhere; the handler renders the envelope."""

    def __init__(
        self,
        code: str,
        detail: str,
        status: int = 400,
        *,
        fields: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.fields = list(fields) if fields is not None else None
        self.headers = dict(headers or {})


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loc: list[str | int] = Field(description="Where: body, query, path or header, then names.")
    msg: str


class ErrorBody(BaseModel):
    """The envelope of every error response."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(description="A machine-readable code, e.g. not_found.")
    detail: str = Field(description="A sentence a person can act on.")
    # Left out (never null) except on validation errors.
    fields: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None, description="Only on validation errors."
    )


class ValidationErrorBody(ErrorBody):
    error: Literal["validation_error"]
    fields: list[FieldError] = Field(min_length=1)


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait, then retry.", "schema": {"type": "integer"}}
}
_ERROR_DOCS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The request is not one this route understands.", {}),
    401: (
        "Missing or wrong API key (send 'Authorization: Bearer <api_key>').",
        {"WWW-Authenticate": {"description": "Bearer realm", "schema": {"type": "string"}}},
    ),
    403: ("Not allowed.", {}),
    404: ("No such object in this workspace (never 403: no existence leak).", {}),
    409: ("Conflicts with the current state or a concurrent change.", {}),
    412: ("If-Match names a version that is no longer current.", {}),
    413: ("The request body is too large.", {}),
    422: ("The request is invalid; fields says where.", {}),
    429: ("Too many requests; retry after Retry-After seconds.", _RETRY_AFTER),
    503: (
        "The database (or a needed service) is unavailable, or the service is too busy; "
        "retry later.",
        _RETRY_AFTER,
    ),
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting the error envelope for each status."""
    return {
        status: {
            "model": ValidationErrorBody if status == 422 else ErrorBody,
            "description": _ERROR_DOCS[status][0],
            **({"headers": _ERROR_DOCS[status][1]} if _ERROR_DOCS[status][1] else {}),
        }
        for status in statuses
    }


# Every authenticated route can answer these.
AUTHENTICATED = error_responses(401, 429, 503)


def not_found(what: str) -> AppError:
    return AppError("not_found", f"No {what} with that id in this workspace.", 404)


def _where(loc: Sequence[Any]) -> str:
    """``["body", "working_hours", 0, "start"]`` → ``working_hours.0.start``."""
    return ".".join(str(p) for p in loc if p != "body") or "body"


def invalid(loc: Sequence[str | int], msg: str) -> AppError:
    """A 422 for one field, in the same shape as request validation errors."""
    fields = [{"loc": ["body", *loc], "msg": msg}]
    return AppError("validation_error", f"{_where(loc)}: {msg}", 422, fields=fields)


def _envelope(
    code: str,
    detail: str,
    status: int,
    fields: list[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def _plural(n: Any, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


# pydantic's own words for a broken constraint ("String should match pattern '^[A-Z]+$'"),
# as sentences that say what to send; the constraint's numbers come from the error's ctx.
_CONSTRAINT_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda _: "This field is required; give a value.",
    "extra_forbidden": lambda _: "Unknown field: extra fields are refused; remove it (see /docs).",
    "string_type": lambda _: "Give text (a JSON string).",
    "string_too_long": lambda c: f"Too long: use at most {_plural(c['max_length'], 'character')}.",
    "string_too_short": lambda c: (
        "This cannot be empty."
        if c["min_length"] == 1
        else f"Too short: use at least {_plural(c['min_length'], 'character')}."
    ),
    "string_pattern_mismatch": lambda _: (
        "This text is not in the form this field takes; see the field's description in /docs."
    ),
    "too_long": lambda c: f"Too many: list at most {_plural(c['max_length'], 'item')}.",
    "too_short": lambda c: f"List at least {_plural(c['min_length'], 'item')}.",
    "list_type": lambda _: "Give a list (a JSON array).",
    "uuid_parsing": lambda _: "Give an id as a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6.",
    "uuid_type": lambda _: "Give an id as a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6.",
    "bool_type": lambda _: "Give true or false (a JSON boolean).",
    "bool_parsing": lambda _: "Give true or false (a JSON boolean).",
    "greater_than_equal": lambda c: f"Give at least {c['ge']}.",
    "less_than_equal": lambda c: f"Give at most {c['le']}.",
    "greater_than": lambda c: f"Give more than {c['gt']}.",
    "less_than": lambda c: f"Give less than {c['lt']}.",
}


def _validation_message(err: Mapping[str, Any]) -> str:
    friendly = _CONSTRAINT_MESSAGES.get(str(err.get("type")))
    if friendly is not None:
        try:
            return friendly(err.get("ctx") or {})
        except KeyError:  # a ctx without the number: pydantic's words below
            pass
    msg = str(err.get("msg", "Invalid value."))
    # pydantic prefixes messages from our own validators with "Value error, ".
    return msg.removeprefix("Value error, ")


# pydantic's types for a body that is missing or not a JSON object at all.
_NOT_AN_OBJECT = {"missing", "model_attributes_type", "model_type", "dict_type"}


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _field_error(err: Mapping[str, Any], content_type: str | None) -> dict[str, Any]:
    loc = _clean_loc(err.get("loc", ()))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInput):
        # Raised inside a model validator: pydantic knows only the model, we know the field.
        return {"loc": [*loc, *_clean_loc(cause.loc)], "msg": cause.msg}
    if err.get("type") == "json_invalid":
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        return {"loc": ["body"], "msg": f"The body is not valid JSON ({cause}{where})."}
    if loc == ["body"] and err.get("type") in _NOT_AN_OBJECT:
        # The whole body is wrong: say what to send rather than pydantic's words.
        if not _is_json(content_type):
            msg = "Send the body as a JSON object with 'Content-Type: application/json'."
        elif err.get("type") == "missing":
            msg = "The body is empty or null; send a JSON object."
        else:
            msg = "The body must be a JSON object ({...}), not null, an array, text or a number."
        return {"loc": loc, "msg": msg}
    return {"loc": loc, "msg": _validation_message(err)}


def _unreadable_body(cause: BaseException | None) -> str:
    """What is wrong with a body FastAPI could not decode (it says only "There was an error
    parsing the body", with the decoder's exception as the cause)."""
    if isinstance(cause, UnicodeDecodeError):
        return "The body is not UTF-8 text; send the JSON encoded as UTF-8."
    if isinstance(cause, RecursionError):
        return "The body is nested too deeply to read; keep JSON under a thousand levels."
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        # Python's limit on converting long digit strings (CVE-2020-10735).
        digits = sys.get_int_max_str_digits()
        return (
            f"The body holds an integer of more than {digits} digits, which no field takes; "
            "send numbers in the ranges the fields document."
        )
    return "The body cannot be read as JSON: send UTF-8, nested under a thousand levels."


def status_response(status: int, detail: str) -> JSONResponse:
    """The envelope for an HTTP status answered outside the routes (e.g. 413)."""
    return _envelope(_HTTP_CODES[status], detail, status)


def database_unavailable(exc: Exception) -> JSONResponse:
    """The 503 for a database that cannot be reached (also answered outside the routes)."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return _envelope(
        "database_unavailable",
        "The database cannot be reached right now; retry in a few seconds.",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def overloaded() -> JSONResponse:
    """The 503 for a request that waited too long for its turn (app.serving.admission)."""
    return _envelope(
        "overloaded",
        "The service is too busy to answer right now; retry in a few seconds.",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        fields = exc.fields
        if exc.status == 422 and not fields:  # the contract: every 422 says where
            fields = [{"loc": [], "msg": exc.detail}]
        return _envelope(exc.code, exc.detail, exc.status, fields, exc.headers)

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        # Core errors name a body field unless they say where they are (query, path, …).
        loc = list(exc.loc) if exc.loc[:1] and exc.loc[0] in _LOC_ROOTS else ["body", *exc.loc]
        fields: list[Mapping[str, Any]] = [{"loc": loc, "msg": exc.msg}]
        return _envelope("validation_error", f"{_where(exc.loc)}: {exc.msg}", 422, fields)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        fields: list[Mapping[str, Any]] = [_field_error(e, content_type) for e in exc.errors()]
        first = fields[0] if fields else {"loc": [], "msg": "Invalid request."}
        detail = f"{_where(first['loc'])}: {first['msg']}"
        if len(fields) > 1:
            detail += f" (and {len(fields) - 1} more problem(s), see fields)"
        return _envelope("validation_error", detail, 422, fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = _unreadable_body(exc.__cause__)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this path; see /docs for the API."
        if exc.status_code == 405:
            detail = "This path does not accept that method; see /docs for the API."
        return _envelope(code, detail, exc.status_code, headers=exc.headers)

    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(exc)

    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            # A uniqueness race that validation could not see (two writers at once).
            return _envelope(
                "conflict", "This change conflicts with data saved at the same time; retry.", 409
            )
        if isinstance(exc, DBAPIError) and (
            exc.connection_invalidated or isinstance(exc, OperationalError)
        ):
            return await _database_unavailable(request, exc)
        log.error("database error not mapped to a client error", exc_info=exc)
        return _envelope(
            "database_error",
            "The database rejected this request; retry later.",
            503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_error)
