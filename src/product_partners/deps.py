"""Request-scoped dependencies shared by every domain's endpoints."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


# One pooled connection per request, in AUTOCOMMIT mode (see db.py).
Conn = Annotated[AsyncConnection, Depends(_connection)]
