"""Request-scoped dependencies shared by every domain's endpoints."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import request_connection


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    state = request.app.state
    async with request_connection(state.engine, state.settings.database_timeout) as conn:
        yield conn


# One pooled connection per request, in AUTOCOMMIT mode (see db/connections.py).
Conn = Annotated[AsyncConnection, Depends(_connection)]


async def _link_scheme(request: Request) -> str:
    return request.app.state.settings.link_scheme


# The scheme of generated partner links (LINK_SCHEME), for the routes that render them.
LinkScheme = Annotated[str, Depends(_link_scheme)]
