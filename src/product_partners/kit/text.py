"""Text helpers every domain needs: readable unique slugs, and LIKE patterns that match the
text a client typed literally."""

import re
import secrets
import unicodedata


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100]
    return slug or "product"


def unique_slug(name: str) -> str:
    """A readable slug, made unique per business by a short random suffix."""
    return f"{slugify(name)}-{secrets.token_hex(3)}"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` taken literally
    (use with ``escape="\\\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
