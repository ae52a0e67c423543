"""The Idempotency-Key header in ``/openapi.json``: a parameter of every POST and PATCH
operation, with the errors it can bring (400, 409, 422)."""

from typing import Any

from product_partners.idempotency.enums import HEADER, MAX_KEY_LENGTH
from product_partners.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from product_partners.kit.http.openapi import error_responses

PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the request safe to retry: a request sent again with the same key (by the same "
        "business) gets the first response, status, body and headers, without being carried "
        "out again (the replay carries `Idempotent-Replayed: true`). The same key with another "
        "method, path or body is 422 `idempotency_key_reused`; while the first request runs, "
        "409 `idempotency_key_in_flight` with Retry-After. Responses 2xx and 4xx are kept "
        "(24 hours by default, IDEMPOTENCY_KEY_HOURS); 401, 429 and 5xx are not, so the "
        "request may be retried with the same key. A UUID is a good key."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[\\x20-\\x7E]+$",
    },
}
_ERRORS = (InvalidIdempotencyKey, IdempotencyKeyInFlight, IdempotencyKeyReused)
_REF = {"$ref": "#/components/schemas/ApiErrorResponse"}


def document_idempotency(schema: dict[str, Any]) -> None:
    """Add the header and its errors to every POST and PATCH operation of ``schema``."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("post", "patch") or "operationId" not in operation:
                continue
            operation.setdefault("parameters", []).append(dict(PARAMETER))
            responses = operation.setdefault("responses", {})
            for error in _ERRORS:
                _add_error(responses, error)


def _add_error(responses: dict[str, Any], error: Any) -> None:
    status = str(error.status_code)
    code = f"`{error.error_code}`"
    existing = responses.get(status)
    if existing is None:
        documented = error_responses(error, common=False)[error.status_code]
        responses[status] = {
            "description": documented["description"],
            "content": {"application/json": {"schema": _REF}},
        }
    elif code not in existing["description"]:
        separator = ", " if "`" in existing["description"] else ": "
        existing["description"] += separator + code
    if error is IdempotencyKeyInFlight:
        responses[status].setdefault("headers", {})["Retry-After"] = {
            "description": "Seconds to wait before sending the request again.",
            "schema": {"type": "integer"},
        }
