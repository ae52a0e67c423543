"""URLs stored to be shown (logos, thumbnails): https only.

Whatever is stored here reaches pages and apps that render it (an ``<img src>``, a link), so a
``javascript:``, ``data:`` or plain ``http:`` URL is refused where it comes in (the API, the
CLI, the demo): 422 naming the field, like any other invalid field.
"""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

MAX_URL_LENGTH = 2048


def https_url(value: str) -> str:
    """``value`` if it is an absolute https URL with a host and no whitespace or control
    characters; ValueError otherwise."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must be an https URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ValueError("must be an https URL") from None
    if parts.scheme.lower() != "https" or not host or parts.username or parts.password:
        raise ValueError("must be an https URL (https://host/...)")
    return value


def https_url_or_empty(value: str) -> str:
    """An https URL, or ``""`` (which clears the field where that is allowed)."""
    return value if value == "" else https_url(value)


# A display URL field (``logo: DisplayUrl | None``).
DisplayUrl = Annotated[str, Field(max_length=MAX_URL_LENGTH), AfterValidator(https_url)]
# The same, where ``""`` clears it.
DisplayUrlOrEmpty = Annotated[
    str, Field(max_length=MAX_URL_LENGTH), AfterValidator(https_url_or_empty)
]
