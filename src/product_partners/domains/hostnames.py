"""One canonical spelling per host name, so that the database's unique constraint on
``custom_domains.full_url`` really means "one business per domain".

``Shop.Example.COM.``, ``https://shop.example.com/`` and ``shop.example.com`` are the same
domain; ``Bücher.example`` is stored as its IDNA (punycode) form ``xn--bcher-kva.example``.

Unicode names are mapped and encoded per UTS #46 **non-transitional** processing (IDNA2008,
what browsers resolve today): case, full-width forms and ideographic dots fold to one
spelling, a U-label and its A-label are one name, but ``ß`` stays ``ß``, so ``faß.example``
(``xn--fa-hia.example``) and ``fass.example`` are two different domains, as they are in DNS.
"""

import ipaddress
import re
from urllib.parse import urlsplit

import idna

MAX_HOSTNAME = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidHostname(ValueError):
    pass


def normalize_hostname(raw: str) -> str:
    """The canonical host name in ``raw``, or :class:`InvalidHostname` saying what is wrong.

    Accepted: a bare host name, optionally with an ``http``/``https`` scheme and a lone
    trailing ``/``. Refused rather than silently dropped: a path, query, fragment, port,
    user info, IP address, wildcard or single-label name.
    """
    text = raw.strip()
    if not text:
        raise InvalidHostname("must not be blank")
    try:
        parts = urlsplit(text if "://" in text else f"//{text}")
    except ValueError:  # e.g. an unbalanced "[" reads as a broken IPv6 literal
        raise InvalidHostname("must be a host name such as shop.example.com") from None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise InvalidHostname("must be a host name such as shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise InvalidHostname("must be a host name without a path, query or fragment")
    if "@" in parts.netloc:
        raise InvalidHostname("must be a host name without user info")
    if ":" in parts.netloc:
        raise InvalidHostname("must be a host name without a port")
    try:
        # UTS #46 mapping first: full-width letters and digits, ideographic dots and upper
        # case fold here, so that the checks below see the name DNS will see.
        host = idna.uts46_remap(parts.netloc, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidHostname(f"is not a valid host name ({exc})") from None
    if host.endswith("."):  # the fully qualified spelling names the same host
        host = host[:-1]
    if not host:
        raise InvalidHostname("must be a host name such as shop.example.com")
    if "*" in host:
        raise InvalidHostname("wildcard domains are not supported")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise InvalidHostname("must be a host name, not an IP address")
    try:
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidHostname(f"is not a valid host name ({exc})") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > MAX_HOSTNAME:
        raise InvalidHostname(f"is longer than {MAX_HOSTNAME} characters")
    if len(labels) < 2:
        raise InvalidHostname("must have at least two labels, e.g. shop.example.com")
    if not all(_LABEL.match(label) for label in labels):
        raise InvalidHostname("labels are letters, digits and inner hyphens, 1 to 63 long")
    if labels[-1].isdigit():
        raise InvalidHostname("the top-level label cannot be numeric")
    return ascii_host
