"""The one place where errors become HTTP responses.

Every error a client sees, a :class:`~product_partners.kit.errors.DomainError` raised by a
service, the framework's (validation, unknown route, method) or a database fault caught by the
request middleware, leaves in Scalev's ``ApiErrorResponse`` shape:
``{"error", "error_code", "message", "errors"}``.

The status rule (Scalev's spec documents 400 for bad input and no 422): anything the client
must change in its request is **400**: malformed JSON or encoding, a missing, unknown or
invalid field or parameter, a documented filter or field this service does not support, and
the rules about the input (``kit.errors.Unprocessable``). Ours beyond the spec stay: 409 for
conflicts and state transitions, 412 for a stale ``If-Match``, 413, 415, 429, 503. ``error``
carries the human-readable text, as the spec's examples do; ``message`` the same text.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from product_partners.db import faults as db_errors
from product_partners.kit.errors import (
    DatabaseFull,
    DatabaseTimedOut,
    DomainError,
    FieldErrors,
    ServiceUnavailable,
)
from product_partners.kit.jsonutil import json_response

# What a client is told for each kind of database fault (db_errors.database_fault), and when
# to come back: a full disk needs an operator, the others pass in seconds.
_DATABASE_FAULTS: dict[str, tuple[type[ServiceUnavailable], int]] = {
    db_errors.UNREACHABLE: (ServiceUnavailable, 1),
    db_errors.STATEMENT_TIMEOUT: (DatabaseTimedOut, 1),
    db_errors.DISK_FULL: (DatabaseFull, 30),
}


def database_unavailable(fault: str) -> ServiceUnavailable:
    """The 503 for a database fault of kind ``fault``, with ``Retry-After``."""
    error_class, retry_after = _DATABASE_FAULTS[fault]
    return error_class(headers={"Retry-After": str(retry_after)})


def error_body(
    status_code: int, error_code: str, message: str, errors: FieldErrors | None = None
) -> dict[str, Any]:
    return {
        "error": message,
        "error_code": error_code,
        "message": message,
        "errors": {k: list(v) for k, v in (errors or {}).items()},
    }


def error_response(
    status_code: int,
    error_code: str,
    message: str,
    errors: FieldErrors | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return json_response(
        error_body(status_code, error_code, message, errors), status_code, headers=headers
    )


def domain_error_response(exc: DomainError) -> Response:
    return error_response(exc.status_code, exc.error_code, exc.message, exc.errors, exc.headers)


def validation_field_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    """Pydantic's error list as Scalev's ``{"field": ["message", ...]}``."""
    fields: dict[str, list[str]] = {}
    for err in exc.errors():
        # Field names as the client sent them: "page_size", not "query.page_size" (the first
        # part of a request error's location is body/query/path/header).
        loc = [str(part) for part in err.get("loc", ())[1:]]
        name = ".".join(loc) or "body"
        fields.setdefault(name, []).append(_short_message(err))
    return fields


def _short_message(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        # A field the body does not take: Scalev documents many this service does not keep.
        return "is not supported by this service"
    return str(err.get("msg", "is invalid"))


def _is_malformed_json(exc: RequestValidationError) -> bool:
    return any(err.get("type") == "json_invalid" for err in exc.errors())


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def on_domain_error(_request: Request, exc: DomainError) -> Response:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        if _is_malformed_json(exc):
            return error_response(
                400,
                "invalid_json",
                "The request body is not valid JSON.",
                {"body": ["is not valid JSON"]},
            )
        fields = validation_field_errors(exc)
        in_query_or_path = any(
            err.get("loc", ("body",))[0] in ("query", "path") for err in exc.errors()
        )
        message = (
            "A query or path parameter is invalid."
            if in_query_or_path
            else "The request body failed validation."
        )
        return error_response(400, "validation_error", message, fields)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        )
        message = {
            404: "No such route.",
            405: "This method is not allowed on this route.",
        }.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))
