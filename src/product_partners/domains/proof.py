"""Proof that a business controls a domain: a TXT record carrying its claim's token.

A claim of ``shop.example.com`` is proven by the TXT record
``_product-partners.shop.example.com`` whose value is the claim's token (a TXT record's
character-strings are joined, as for SPF). Each claim has its own random token, so one
business's record proves nothing for another's claim of the same name. The token is not a
secret (it is published in DNS), it only has to be unguessable.

The lookup uses dnspython's asyncio resolver: the system's (``/etc/resolv.conf``) unless
``DNS_NAMESERVERS`` names servers, bounded by ``DNS_TIMEOUT``.
"""

import secrets

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdtypes.txtbase
import dns.resolver

from product_partners.domains.errors import DnsLookupFailed

RECORD_PREFIX = "_product-partners"
RECORD_TYPE = "TXT"
# Lookups in flight per process, beyond which a verification is refused at once (503): the
# request holds a database connection while DNS answers, and a business controls the name
# servers of its own names (they may never answer), so lookups must not drain the pool.
MAX_LOOKUPS_IN_FLIGHT = 4
_in_flight = 0


def new_token() -> str:
    """A claim's token: 32 URL-safe characters, 192 random bits."""
    return secrets.token_urlsafe(24)


def record_name(full_url: str) -> str:
    """Where the proof of ``full_url`` (a normalized host name) is published."""
    return f"{RECORD_PREFIX}.{full_url}"


def verification(full_url: str, token: str) -> dict[str, str]:
    """The record to publish, as the API shows it."""
    return {"record_name": record_name(full_url), "record_type": RECORD_TYPE, "record_value": token}


def _resolver(name: str, nameservers: list[tuple[str, int]]) -> dns.asyncresolver.Resolver:
    try:
        resolver = dns.asyncresolver.Resolver(configure=not nameservers)
    except dns.resolver.NoResolverConfiguration:
        raise DnsLookupFailed(name, "no name server is configured") from None
    if nameservers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(a, p) for a, p in nameservers]
    return resolver


async def txt_values(name: str, nameservers: list[tuple[str, int]], lifetime: float) -> list[str]:
    """The values of the TXT records at ``name`` (none: an empty list), or
    :class:`DnsLookupFailed` when DNS gave no usable answer within ``lifetime`` seconds."""
    global _in_flight
    resolver = _resolver(name, nameservers)
    if _in_flight >= MAX_LOOKUPS_IN_FLIGHT:
        raise DnsLookupFailed(name, "too many lookups in progress")
    _in_flight += 1
    try:
        answer = await resolver.resolve(name, RECORD_TYPE, lifetime=lifetime, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise DnsLookupFailed(name, f"no answer within {lifetime:g} s") from None
    except dns.resolver.NoNameservers:
        raise DnsLookupFailed(name, "every name server failed to answer") from None
    except dns.exception.DNSException as exc:
        raise DnsLookupFailed(name, type(exc).__name__) from None
    finally:
        _in_flight -= 1
    return [
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rdata in answer
        if isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
    ]


async def is_proven(
    full_url: str, token: str, nameservers: list[tuple[str, int]], lifetime: float
) -> tuple[bool, int]:
    """Whether DNS carries ``token`` at the record of ``full_url``, and how many other
    values it carries there (for the error message)."""
    values = await txt_values(record_name(full_url), nameservers, lifetime)
    return token in values, sum(1 for v in values if v != token)
