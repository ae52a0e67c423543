"""Errors of authentication and of API keys."""

from product_partners.kit.errors import Forbidden, NotFound, RateLimited, Unauthorized


class MissingApiKey(Unauthorized):
    error_code = "missing_api_key"


class MalformedAuthorization(Unauthorized):
    error_code = "malformed_authorization"
    message = "The Authorization header must be 'Bearer <api key>'."


class InvalidApiKey(Unauthorized):
    error_code = "invalid_api_key"
    message = "The API key is not valid."


class RevokedApiKey(Unauthorized):
    error_code = "revoked_api_key"
    message = "This API key has been revoked."


class AuthFailuresLimited(RateLimited):
    """Too many refused keys from one client address (``AUTH_FAILURE_LIMIT``, auth/gate.py)."""

    error_code = "too_many_auth_failures"
    message = (
        "Too many requests with a wrong API key from this address: retry after the time in"
        " Retry-After."
    )


class InsufficientScope(Forbidden):
    error_code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key lacks the '{scope}' scope.")


class ApiKeyNotFound(NotFound):
    """No such key, or another business's (``key revoke --business``)."""

    error_code = "api_key_not_found"

    def __init__(self, key_id: int) -> None:
        super().__init__(f"This business has no API key with id {key_id}.")
