"""Errors about businesses, whoever asks (an owner adding a partner, the CLI, a key)."""

from product_partners.kit.errors import Conflict, NotFound, Unprocessable


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
    """The business is banned from the platform (``is_banned``): it cannot become a partner."""

    error_code = "business_banned"
    message = "This business is banned and cannot become a partner."

    def __init__(self, *, is_caller: bool = False, field: str | None = None) -> None:
        message = "Your business is banned and cannot become a partner." if is_caller else None
        errors = {field: ["belongs to a banned business"]} if field else None
        super().__init__(message, errors=errors)
