"""OpenAPI pieces shared by every router: the error body and the documented error statuses."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from product_partners.kit.errors import DomainError


class ApiErrorResponse(BaseModel):
    """Scalev's ApiErrorResponse: the body of every error."""

    model_config = ConfigDict(title="ApiErrorResponse", extra="forbid")

    error: str = Field(description="Human-readable text of the error (as Scalev's examples).")
    error_code: str = Field(description="Stable machine-readable code, snake_case.")
    message: str = Field(description="Error-only human-readable detail.")
    errors: dict[str, list[str]] = Field(
        description="Per-field failures: field name to a list of messages (empty if none)."
    )


_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request body too large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    503: "Service Unavailable",
}

# Every authenticated route can answer these (413 and 415 come from the request guards and
# the body limit, before routing: any request with a body can get them).
COMMON_ERRORS = (400, 401, 403, 413, 415, 429, 503)


def error_responses(
    *errors: type[DomainError] | int, common: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for an operation, from the error classes it raises (or bare
    status codes): each status described with the ``error_code`` values it can carry."""
    codes: dict[int, list[str]] = {code: [] for code in COMMON_ERRORS} if common else {}
    for error in errors:
        status = error if isinstance(error, int) else error.status_code
        named = codes.setdefault(status, [])
        if not isinstance(error, int) and error.error_code not in named:
            named.append(error.error_code)
    return {
        status: {"model": ApiErrorResponse, "description": _description(status, codes[status])}
        for status in sorted(codes)
    }


def _description(status: int, error_codes: list[str]) -> str:
    text = _DESCRIPTIONS.get(status, "Error")
    if error_codes:
        text += ": " + ", ".join(f"`{code}`" for code in error_codes)
    return text
