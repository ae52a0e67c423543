"""Business rows to Scalev's BusinessSimple: the one renderer, whatever the row's prefix."""

from functools import cache
from operator import attrgetter
from typing import Any

FIELDS = ("id", "unique_id", "username", "account_holder", "email", "logo", "is_banned")
# The labels of a partner business's columns when joined to its partnerships (the rows have a
# ``partner_unique_id`` of their own: the unique id the owner named).
PARTNER_PREFIX = "partner_biz_"


@cache
def _reader(prefix: str) -> attrgetter:
    return attrgetter(*(prefix + name for name in FIELDS))


def business_simple(row: Any, prefix: str = "") -> dict[str, Any]:
    """Scalev's BusinessSimple from a row holding ``repository.business_columns(prefix)``
    (``PARTNER_PREFIX`` on partnerships, ``owner_`` on products)."""
    id_, unique_id, username, account_holder, email, logo, is_banned = _reader(prefix)(row)
    body = {
        "id": id_,
        "unique_id": unique_id,
        "username": username,
        "account_holder": account_holder,
        "email": email,
        "logo": logo,
        "is_banned": bool(is_banned),
    }
    if logo is None:
        # Scalev types logo as a string (uri), not nullable: a business without one omits it.
        del body["logo"]
    return body
