"""Request-scoped dependencies shared by every domain's endpoints."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import routed_connection
from product_partners.kit.pagination import (
    MAX_CURSOR_LENGTH,
    MAX_PAGE_SIZE,
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
