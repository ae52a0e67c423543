"""The errors services raise on purpose: :class:`DomainError` and its kinds by HTTP status.

Services raise these (never ``HTTPException``); each domain defines its own errors as
subclasses with a fixed ``error_code`` and message (``<domain>/errors.py``), so "which errors
can this operation return" is one file. ``kit.http.errors`` is the one place that turns them,
and everything else a client can get, into the wire error body.
"""

from collections.abc import Mapping, Sequence
from typing import Any

FieldErrors = Mapping[str, Sequence[str]]


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code: int = 400
    error_code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        error_code: str | None = None,
        errors: FieldErrors | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.error_code = error_code or self.error_code
        self.errors: FieldErrors = errors or {}
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequest(DomainError):
    status_code = 400
    error_code = "bad_request"


class Unauthorized(DomainError):
    status_code = 401
    error_code = "unauthorized"
    message = "A valid API key is required: send 'Authorization: Bearer <api key>'."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status_code = 403
    error_code = "forbidden"
    message = "This API key is not allowed to do that."


class NotFound(DomainError):
    status_code = 404
    error_code = "not_found"
    message = "Not found."


class Conflict(DomainError):
    status_code = 409
    error_code = "conflict"


class PreconditionFailed(DomainError):
    status_code = 412
    error_code = "precondition_failed"
    message = "The resource changed since you read it: fetch it again and retry."


class Unprocessable(BadRequest):
    """Input the request itself must change (a field's value, a rule about the input).

    Scalev's spec documents 400 (``BadRequestResponse``) for bad input on every operation and
    lists no 422, so these are 400 with the field map in ``errors``; only the ``error_code``
    tells them from a malformed request.
    """

    status_code = 400
    error_code = "validation_error"
    message = "The request body failed validation."


class FilterNotSupported(BadRequest):
    """A query parameter Scalev documents for this operation that this service cannot honour:
    refused rather than ignored, so a client never takes unfiltered data for filtered."""

    error_code = "filter_not_supported"

    def __init__(self, names: Sequence[str]) -> None:
        listed = ", ".join(names)
        super().__init__(
            f"Not supported by this service: {listed}. Send the request without it.",
            errors={name: ["is not supported by this service"] for name in names},
        )


class FieldNotSupported(BadRequest):
    """A body field Scalev documents that this service does not keep: refused rather than
    accepted and dropped."""

    error_code = "field_not_supported"

    def __init__(self, names: Sequence[str]) -> None:
        listed = ", ".join(names)
        super().__init__(
            f"Not supported by this service: {listed}. Send the request without it.",
            errors={name: ["is not supported by this service"] for name in names},
        )


class RateLimited(DomainError):
    status_code = 429
    error_code = "rate_limited"
    message = "Too many requests for this API key: retry after the time in Retry-After."


class ServiceUnavailable(DomainError):
    status_code = 503
    error_code = "service_unavailable"
    message = "The service cannot reach its database right now; retry shortly."


class DatabaseTimedOut(ServiceUnavailable):
    message = "The database did not finish this request in time; retry shortly."


class DatabaseFull(ServiceUnavailable):
    message = "The database has no space left for this write; retry later."


class InvalidCursor(BadRequest):
    error_code = "invalid_cursor"

    def __init__(self, name: str, message: str | None = None, problem: str | None = None) -> None:
        super().__init__(
            message
            or f"The {name} is not a cursor this service issued; use the value of a list response.",
            errors={name: [problem or "is not a valid cursor"]},
        )


class NullNotAllowed(Unprocessable):
    """A field that may be omitted but not cleared was sent as null."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} cannot be null.", errors={field: ["cannot be null"]})
