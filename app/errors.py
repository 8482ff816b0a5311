"""One error type and one JSON envelope: ``{"error", "detail", "fields"?}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.scheduling.model import InvalidInput

log = logging.getLogger("app.errors")

RETRY_AFTER_SECONDS = 5


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


def not_found(what: str) -> AppError:
    return AppError("not_found", f"No {what} with that id in this workspace.", 404)


def invalid(loc: Sequence[str | int], msg: str) -> AppError:
    """A 422 for one field, in the same shape as request validation errors."""
    return AppError("validation_error", msg, 422, fields=[{"loc": ["body", *loc], "msg": msg}])


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


def _validation_message(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "Invalid value."))
    # pydantic prefixes messages from our own validators with "Value error, ".
    return msg.removeprefix("Value error, ")


def _field_error(err: Mapping[str, Any]) -> dict[str, Any]:
    loc = _clean_loc(err.get("loc", ()))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInput):
        # Raised inside a model validator: pydantic knows only the model, we know the field.
        return {"loc": [*loc, *_clean_loc(cause.loc)], "msg": cause.msg}
    return {"loc": loc, "msg": _validation_message(err)}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return _envelope(exc.code, exc.detail, exc.status, exc.fields, exc.headers)

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        fields: list[Mapping[str, Any]] = [{"loc": ["body", *exc.loc], "msg": exc.msg}]
        return _envelope("validation_error", exc.msg, 422, fields)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields: list[Mapping[str, Any]] = [_field_error(e) for e in exc.errors()]
        first = fields[0] if fields else {"loc": [], "msg": "Invalid request."}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        detail = f"{where}: {first['msg']}"
        if len(fields) > 1:
            detail += f" (and {len(fields) - 1} more problem(s), see fields)"
        return _envelope("validation_error", detail, 422, fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this path; see /docs for the API."
        if exc.status_code == 405:
            detail = "This path does not accept that method; see /docs for the API."
        return _envelope(code, detail, exc.status_code, headers=exc.headers)

    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return _envelope(
            "database_unavailable",
            "The database cannot be reached right now; retry in a few seconds.",
            503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

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
