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


# One pooled connection per request, in AUTOCOMMIT mode (see db.py).
Conn = Annotated[AsyncConnection, Depends(_connection)]
