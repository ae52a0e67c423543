"""Errors of the Idempotency-Key header."""

from product_partners.idempotency.enums import HEADER, MAX_KEY_LENGTH
from product_partners.kit.errors import BadRequest, Conflict, Unprocessable


class InvalidIdempotencyKey(BadRequest):
    error_code = "invalid_idempotency_key"
    message = (
        f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, sent once."
    )

    def __init__(self) -> None:
        super().__init__(
            errors={HEADER: [f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"]}
        )


class IdempotencyKeyReused(Unprocessable):
    error_code = "idempotency_key_reused"
    message = (
        f"This {HEADER} was used for another request (another method, path or body): "
        "use a new key for a new request."
    )

    def __init__(self) -> None:
        super().__init__(errors={HEADER: ["was used for another request"]})


class IdempotencyKeyInFlight(Conflict):
    error_code = "idempotency_key_in_flight"
    message = (
        f"A request with this {HEADER} is still being processed: retry after the time in "
        "Retry-After to get its response."
    )

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})
