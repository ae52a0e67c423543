"""Request-scoped dependencies shared by every domain's endpoints."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import routed_connection
from product_partners.kit.errors import FilterNotSupported
from product_partners.kit.pagination import (
    MAX_CURSOR_LENGTH,
    MAX_PAGE_SIZE,
    UNBOUNDED_PAGE_LIMIT,
    PageRequest,
    parse_page,
)


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with routed_connection(request.app.state, request.scope) as conn:
        yield conn


# One pooled connection per request, in AUTOCOMMIT mode, on the primary or, for a GET
# request, a read replica (see db/connections.py).
Conn = Annotated[AsyncConnection, Depends(_connection)]


async def _link_scheme(request: Request) -> str:
    return request.app.state.settings.link_scheme


# The scheme of generated partner links (LINK_SCHEME), for the routes that render them.
LinkScheme = Annotated[str, Depends(_link_scheme)]


# The page a list asks for (kit.pagination.parse_page). ``async`` although it awaits nothing:
# FastAPI runs a plain ``def`` dependency in a worker thread, a hand-off that cost more than
# the whole page query.
async def page_request(
    next_cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="Cursor for the next page (from `next_cursor`).",
        ),
    ] = None,
    previous_cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="Cursor for the previous page (from `previous_cursor`).",
        ),
    ] = None,
    page_size: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page. Default is 25, maximum is 25."),
    ] = MAX_PAGE_SIZE,
) -> PageRequest:
    return parse_page(next_cursor, previous_cursor, page_size)


Page = Annotated[PageRequest, Depends(page_request)]


async def unbounded_page_request(
    next_cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="Opaque cursor for the next page."),
    ] = None,
    previous_cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="Opaque cursor for the previous page."),
    ] = None,
    page_size: Annotated[
        int,
        Query(
            ge=1,
            description="Number of items per page (default 25; a page holds at most "
            f"{UNBOUNDED_PAGE_LIMIT}: the body's page_size says how many were served).",
        ),
    ] = MAX_PAGE_SIZE,
) -> PageRequest:
    return parse_page(next_cursor, previous_cursor, page_size, maximum=None)


# The page of a list whose page_size Scalev documents without a maximum (the stores).
UnboundedPage = Annotated[PageRequest, Depends(unbounded_page_request)]


def refuse_unsupported(**filters: object) -> None:
    """Refuse (400 ``filter_not_supported``, naming them) the filters Scalev documents for an
    operation that this service cannot honour, when sent: never answer them unfiltered."""
    sent = [name for name, value in filters.items() if value is not None]
    if sent:
        raise FilterNotSupported(sent)


UNSUPPORTED = "Documented by Scalev; not supported by this service: sending it is 400."
