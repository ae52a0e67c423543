"""SQL for API keys: the one statement that finds the caller's key, and its last-use write.

The FastAPI dependencies run :data:`KEY_BY_PREFIX` on its own; the hot path
(``partnerships.hotpath``) joins it, as a CTE, to the rows it serves. Its columns are labelled
``key_<column>`` so that it joins without clashing; :func:`key_row` reads them back.
"""

from collections import namedtuple
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, select, update

from product_partners.db.tables import api_keys, businesses

_API_KEY_COLUMNS = ("id", "business_id", "key_hash", "scopes", "revoked_at", "last_used_at")
# ... and whether the operator banned the key's business (``is_banned``): it may read, never
# write (auth.dependencies.accept_key), on the routes and the hot path alike.
KEY_COLUMNS = (*_API_KEY_COLUMNS, "business_banned")
# The caller's key row, found by the token's prefix (its hash is verified in Python).
KEY_BY_PREFIX = (
    select(
        *(api_keys.c[name].label(f"key_{name}") for name in _API_KEY_COLUMNS),
        businesses.c.is_banned.label("key_business_banned"),
    )
    .join_from(api_keys, businesses, businesses.c.id == api_keys.c.business_id)
    .where(api_keys.c.prefix == bindparam("prefix"))
)
# The last-use write, at most once a minute per key (auth.dependencies.LAST_USED_RESOLUTION).
TOUCH_KEY = (
    update(api_keys)
    .where(api_keys.c.id == bindparam("key_id"))
    .values(last_used_at=bindparam("now"))
)

KeyRow = namedtuple("KeyRow", KEY_COLUMNS)  # type: ignore[misc]
_labelled = attrgetter(*(f"key_{name}" for name in KEY_COLUMNS))


def key_row(row: Any) -> Any:
    """The key's columns (``KeyRow``) out of a row that holds ``KEY_BY_PREFIX``'s labels."""
    return KeyRow._make(_labelled(row))
