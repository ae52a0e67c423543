"""Errors about custom domains."""

from product_partners.kit.errors import Conflict, NotFound, Unprocessable


class CustomDomainNotFound(NotFound):
    """No such domain, or another business's: the two are never told apart."""

    error_code = "custom_domain_not_found"
    message = "No such custom domain."


class InvalidDomain(Unprocessable):
    error_code = "invalid_domain"

    def __init__(self, given: str, reason: str, field: str = "full_url") -> None:
        super().__init__(f"{given!r} is not a usable domain: {reason}.", errors={field: [reason]})


class DomainTaken(Conflict):
    """Registered already, by this business or another: whose it is stays private."""

    error_code = "domain_taken"

    def __init__(self, host: str) -> None:
        super().__init__(
            f"The domain {host!r} is already registered.",
            errors={"full_url": ["is already registered"]},
        )
