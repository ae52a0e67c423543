"""Errors about custom domains."""

from product_partners.kit.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable


class CustomDomainNotFound(NotFound):
    """No such domain, or another business's: the two are never told apart."""

    error_code = "custom_domain_not_found"
    message = "No such custom domain (an unverified claim lapses: claim the domain again)."


class InvalidDomain(Unprocessable):
    error_code = "invalid_domain"

    def __init__(self, given: str, reason: str, field: str = "full_url") -> None:
        super().__init__(f"{given!r} is not a usable domain: {reason}.", errors={field: [reason]})


class DomainTaken(Conflict):
    """Claimed already by this business, or verified by another (it is public in DNS who
    holds a name; which business holds it stays private)."""

    error_code = "domain_taken"

    def __init__(self, host: str) -> None:
        super().__init__(
            f"The domain {host!r} is already registered: you claimed it already, or another "
            "business proved it controls it.",
            errors={"full_url": ["is already registered"]},
        )


class DomainProofNotFound(Unprocessable):
    """The claim's TXT record is not (yet) in DNS: the message says what to publish."""

    error_code = "domain_proof_not_found"

    def __init__(self, record_name: str, token: str, found: int) -> None:
        seen = f"{found} other TXT value(s) there" if found else "no TXT record there"
        super().__init__(
            f"Expected a TXT record {record_name} with the value {token!r}, found {seen}: "
            "publish it at your DNS provider, wait for it to propagate, then verify again.",
            errors={"verification": [f"expected TXT {record_name} = {token}"]},
        )


class DnsLookupFailed(ServiceUnavailable):
    """The resolver gave no usable answer (timeout, SERVFAIL, no name server)."""

    error_code = "dns_lookup_failed"

    def __init__(self, record_name: str, reason: str) -> None:
        super().__init__(f"The DNS lookup of {record_name} failed ({reason}); retry shortly.")
