"""Which URLs may receive webhooks: https, on a public host. Plain http only to the loopback
interface, and only where allowed (WEBHOOK_LOOPBACK_HTTP: the tests and the embedded
default); never a private, link-local or otherwise internal address given as an IP literal.

Host names are not resolved here (their addresses may change); the delivery worker never
follows redirects, so a receiver cannot bounce a delivery elsewhere.
"""

import ipaddress
from urllib.parse import urlsplit

from product_partners.webhooks.errors import InvalidWebhookUrl

MAX_URL_LENGTH = 2048


def _is_loopback_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def validated_url(raw: str, allow_loopback_http: bool) -> str:
    """``raw`` if it may receive webhooks; InvalidWebhookUrl (400) naming the problem."""
    url = raw.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"must be 1 to {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl("is not a URL") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidWebhookUrl("must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("must not carry a user name or password")
    if port == 0:
        raise InvalidWebhookUrl("must not use port 0")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    loopback = _is_loopback_name(host) or (address is not None and address.is_loopback)
    if loopback:
        if not allow_loopback_http:
            raise InvalidWebhookUrl("must not point at this machine (loopback)")
        return url
    if parts.scheme != "https":
        raise InvalidWebhookUrl("must use https")
    if address is not None and not address.is_global:
        raise InvalidWebhookUrl("must not point at a private or reserved address")
    return url
