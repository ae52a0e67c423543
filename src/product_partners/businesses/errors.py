"""Errors about businesses, whoever asks (an owner adding a partner, the CLI, a key)."""

from product_partners.kit.errors import Conflict, Forbidden, NotFound, Unprocessable


class BusinessNotFound(NotFound):
    error_code = "business_not_found"

    def __init__(self, unique_id: str, field: str | None = None) -> None:
        errors = {field: ["no business has this unique id"]} if field else None
        super().__init__(f"No business with unique id {unique_id!r}.", errors=errors)


class BusinessExists(Conflict):
    error_code = "business_exists"

    def __init__(self, unique_id: str) -> None:
        super().__init__(f"A business with unique id {unique_id!r} already exists.")


class BusinessBanned(Unprocessable):
    """The business to add is banned from the platform (``is_banned``): it cannot become a
    partner (told only to an owner it consented to, see partnerships/partnering.py)."""

    error_code = "business_banned"
    message = "This business is banned and cannot become a partner."

    def __init__(self, *, field: str | None = None) -> None:
        errors = {field: ["belongs to a banned business"]} if field else None
        super().__init__(errors=errors)


class CallerBanned(Forbidden):
    """The caller's business is banned from the platform (``is_banned``): it may still read
    what it has, but every write is refused, whatever the key and its scopes."""

    error_code = "business_banned"
    message = "Your business is banned: it can read its data but not change anything."
