"""OpenAPI pieces shared by every router: the error body and the documented error statuses."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiErrorResponse(BaseModel):
    """Scalev's ApiErrorResponse: the body of every error."""

    model_config = ConfigDict(title="ApiErrorResponse", extra="forbid")

    error: str = Field(description="The HTTP status phrase, e.g. 'Not Found'.")
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
    422: "Validation failed",
    429: "Too Many Requests",
    503: "Service Unavailable",
}

# Every authenticated route can answer these (413 and 415 come from the request guards and
# the body limit, before routing: any request with a body can get them).
COMMON_ERRORS = (400, 401, 403, 413, 415, 422, 429, 503)


def error_responses(*codes: int, common: bool = True) -> dict[int | str, dict[str, Any]]:
    wanted = sorted(set(codes) | (set(COMMON_ERRORS) if common else set()))
    return {
        code: {"model": ApiErrorResponse, "description": _DESCRIPTIONS.get(code, "Error")}
        for code in wanted
    }
