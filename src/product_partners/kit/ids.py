"""Ids from the URL: Scalev declares them as strings; ours are positive 63-bit integers."""

from product_partners.kit.errors import NotFound

MAX_ID = 2**63 - 1


def parse_id(raw: str | int, not_found: NotFound) -> int:
    """The integer id in ``raw``, or ``not_found`` raised: an id that cannot exist is not found."""
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            raise not_found
        value = int(text)
    if not 0 < value <= MAX_ID:
        raise not_found
    return value
