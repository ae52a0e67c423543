"""Telling "the database is unreachable" apart from a bug, whatever the driver raised."""

import asyncio
import socket

from sqlalchemy import exc as sa_exc

_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    socket.gaierror,
    OSError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says the database cannot be reached right now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError):  # pool checkout timed out
            return True
        if isinstance(current, _UNAVAILABLE_TYPES):
            return True
        name = type(current).__name__
        if name in {
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "CannotConnectNowError",
            "ConnectionFailureError",
            "AdminShutdownError",
            "ConnectionRejectionError",
            "TooManyConnectionsError",
            "QueryCanceledError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False
