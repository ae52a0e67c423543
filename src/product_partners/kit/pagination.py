"""Keyset (cursor) pagination, shared by every list: Scalev's paginated list body.

Lists are sorted by ``id`` descending. A cursor is an opaque URL-safe token naming the id to
continue from and the direction; pages are fetched with ``id < x`` / ``id > x`` on an index,
never OFFSET, so a deep page costs what the first one does and rows added between pages are
neither skipped nor repeated.
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.kit.errors import InvalidCursor, Unprocessable

MAX_PAGE_SIZE = 25
# Lists whose page_size Scalev documents without a maximum (the stores) accept any positive
# size and serve at most this many rows a page; the body's page_size says what was served.
UNBOUNDED_PAGE_LIMIT = 100
# Longest cursor accepted (ours are ~12 characters): the query parameters' limit, and checked
# again by decode_cursor for callers that read the query string themselves (the hot path).
MAX_CURSOR_LENGTH = 200
_CURSOR_VERSION = "1"


class InvalidPageSize(Unprocessable):
    def __init__(self, maximum: int | None = MAX_PAGE_SIZE) -> None:
        rule = f"from 1 to {maximum}" if maximum else "of at least 1"
        super().__init__(
            "A query or path parameter is invalid.",
            errors={"page_size": [f"must be a whole number {rule}"]},
        )


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_size: int = MAX_PAGE_SIZE
    after_id: int | None = None  # from next_cursor: rows with smaller ids
    before_id: int | None = None  # from previous_cursor: rows with larger ids


def encode_cursor(row_id: int) -> str:
    raw = f"{_CURSOR_VERSION}:{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, name: str) -> int:
    try:
        if len(token) > MAX_CURSOR_LENGTH:
            raise ValueError
        padded = token + "=" * (-len(token) % 4)
        version, _, value = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        row_id = int(value)
        if version != _CURSOR_VERSION or not 0 < row_id < 2**63:
            raise ValueError
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor(name) from None
    return row_id


def parse_page(
    next_cursor: str | None,
    previous_cursor: str | None,
    page_size: int | str | None,
    maximum: int | None = MAX_PAGE_SIZE,
) -> PageRequest:
    """The page a list request asks for: the one parser, called by the lists' dependency and
    by the hot path (which reads the query string itself). A refusal is raised. ``maximum``
    None: any positive page_size, served up to ``UNBOUNDED_PAGE_LIMIT``."""
    if next_cursor and previous_cursor:
        raise InvalidCursor(
            "next_cursor",
            "Send either next_cursor or previous_cursor, not both.",
            "cannot be combined with previous_cursor",
        )
    return PageRequest(
        page_size=_page_size(page_size, maximum),
        after_id=decode_cursor(next_cursor, "next_cursor") if next_cursor else None,
        before_id=decode_cursor(previous_cursor, "previous_cursor") if previous_cursor else None,
    )


def _page_size(raw: int | str | None, maximum: int | None = MAX_PAGE_SIZE) -> int:
    if raw is None:
        return MAX_PAGE_SIZE
    text = str(raw)
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise InvalidPageSize(maximum)
    if maximum is None:
        return min(int(text), UNBOUNDED_PAGE_LIMIT)
    if int(text) > maximum:
        raise InvalidPageSize(maximum)
    return int(text)


async def fetch_page(
    conn: AsyncConnection, query: Select, id_column: Any, page: PageRequest
) -> tuple[list[Any], dict[str, Any]]:
    """Run ``query`` (already filtered to the caller's rows) for one page.

    Returns the rows (id descending) and the pagination fields of the list body. One extra row
    is fetched to learn whether there is a page beyond; whether there is one on the other side
    is known from the cursor (a cursor always comes from a row that exists in that direction).
    """
    limit = page.page_size + 1
    if page.before_id is not None:
        stmt = query.where(id_column > page.before_id).order_by(id_column.asc()).limit(limit)
    else:
        stmt = query
        if page.after_id is not None:
            stmt = stmt.where(id_column < page.after_id)
        stmt = stmt.order_by(id_column.desc()).limit(limit)
    return page_of(page, list((await conn.execute(stmt)).all()))


async def count_of(conn: AsyncConnection, query: Select, id_column: Any) -> int:
    """How many rows ``query`` (a list's query, already filtered to the caller's rows) selects:
    the count operations' answer for the same filters as their list."""
    subquery = query.with_only_columns(id_column).subquery()
    return (await conn.execute(select(func.count()).select_from(subquery))).scalar_one()


def page_of(page: PageRequest, rows: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """The page's rows (id descending) and list fields, from up to ``page_size + 1`` rows read
    in the page's direction (ascending for ``before_id``, descending otherwise)."""
    if page.before_id is not None:
        more_before = len(rows) > page.page_size
        rows = rows[: page.page_size]
        rows.reverse()
        has_previous, has_next = more_before, True
    else:
        has_next = len(rows) > page.page_size
        rows = rows[: page.page_size]
        has_previous = page.after_id is not None
    if not rows:
        # Nothing behind this cursor any more (its rows were deleted): an empty last page.
        return rows, _body_fields(page, False, False, None, None)
    first_id, last_id = rows[0].id, rows[-1].id
    return rows, _body_fields(
        page,
        has_next,
        has_previous,
        encode_cursor(last_id) if has_next else None,
        encode_cursor(first_id) if has_previous else None,
    )


def _body_fields(
    page: PageRequest,
    has_next: bool,
    has_previous: bool,
    next_cursor: str | None,
    previous_cursor: str | None,
) -> dict[str, Any]:
    return {
        "is_paginated": True,
        "has_next": has_next,
        "has_previous": has_previous,
        "next_cursor": next_cursor,
        "previous_cursor": previous_cursor,
        "page_size": page.page_size,
    }


class PaginatedFields(BaseModel):
    """The fields every paginated list body carries beside ``data`` (all of them always sent,
    so all required; Scalev's ``PaginatedCollectionResponseBody`` requires ``is_paginated``)."""

    is_paginated: bool = Field(json_schema_extra={"enum": [True]})
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None
    page_size: int
