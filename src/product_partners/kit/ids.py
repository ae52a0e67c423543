"""Ids from the URL: Scalev declares them as strings; ours are positive 63-bit integers."""

from collections.abc import Callable

from product_partners.kit.errors import NotFound

MAX_ID = 2**63 - 1


def parse_id(raw: str | int, not_found: Callable[[], NotFound]) -> int:
    """The integer id in ``raw``; ``not_found()`` is raised for one that cannot exist (such an
    id names nothing: not found, like a missing row)."""
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            raise not_found()
        value = int(text)
    if not 0 < value <= MAX_ID:
        raise not_found()
    return value
