"""Telling a database fault apart from a bug, whatever the driver raised (the one place that
decides it).

Three kinds of fault are the database's, not ours; the request middleware answers each with a
503 in the contract's body (``errors.database_unavailable``), never a 500:

- ``UNREACHABLE``: the server cannot be reached, refused or dropped the connection, is shutting
  down or starting up, has no connection slot left, did not answer in time; and a connection
  the server terminated (see :func:`is_connection_broken`).
- ``STATEMENT_TIMEOUT``: the server cancelled a statement that ran longer than
  ``DATABASE_STATEMENT_TIMEOUT``, or SQLite waited that long for a lock.
- ``DISK_FULL``: the database has no room for the write.

Among connection faults, some are raised by the driver *before* the statement was sent
(:func:`was_not_sent`): only those may be retried on another connection.
"""

import asyncio
import socket
import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

UNREACHABLE = "unreachable"
STATEMENT_TIMEOUT = "statement_timeout"
DISK_FULL = "disk_full"

_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    socket.gaierror,
    OSError,
    sa_exc.TimeoutError,  # pool checkout timed out
    asyncpg.InterfaceError,  # asyncpg's own view of the connection: closed, in use, cancelling
)

# SQLSTATEs (PostgreSQL's error codes; asyncpg's exceptions carry them) by fault.
_TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})  # query_canceled, lock_not_available
_DISK_FULL_SQLSTATES = frozenset({"53100"})  # disk_full
# Connection exceptions (08), operator intervention such as admin or crash shutdown and "the
# database system is starting up" (57P0x), insufficient resources such as too many
# connections or out of memory (53).
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P0", "53")
_BROKEN_SQLSTATE_PREFIXES = ("08", "57P01", "57P02")

# SQLite's primary result codes (sqlite3 has the constants from Python 3.11).
_SQLITE_TIMEOUT_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_SQLITE_FULL_CODES = frozenset({sqlite3.SQLITE_FULL})
_SQLITE_UNAVAILABLE_CODES = frozenset({sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN})

# What the drivers say, before sending anything, about a connection that can no longer run a
# statement. asyncpg: a connection that received the server's FATAL "terminating connection"
# while idle keeps ``is_closed()`` false until the socket's close is processed, and refuses
# the next statement ("cannot switch to state 12; another operation (2) is in progress");
# "connection is closed" once it is. aiosqlite and sqlite3: a closed connection. asyncpg's
# messages are its own (not the server's, never translated); asyncpg is pinned.
_ASYNCPG_UNSENT_MESSAGES = ("cannot switch to state", "not connected")
_ASYNCPG_CLOSED_MESSAGE = "connection is closed"
_SQLITE_CLOSED_MESSAGES = ("connection closed", "no active connection", "closed database")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes (SQLAlchemy wraps the driver's exception, asyncpg the server's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def root_cause(exc: BaseException) -> BaseException:
    """The driver's or the server's own exception under SQLAlchemy's wrappers (for logs)."""
    seen = {id(exc)}
    while (cause := exc.__cause__) is not None and id(cause) not in seen:
        seen.add(id(cause))
        exc = cause
    return exc


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else ""


def _sqlite_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None) if isinstance(exc, sqlite3.Error) else None
    return code & 0xFF if isinstance(code, int) else None  # extended code -> primary code


def _one_fault(exc: BaseException) -> str | None:
    state = _sqlstate(exc)
    code = _sqlite_code(exc)
    if state in _TIMEOUT_SQLSTATES or code in _SQLITE_TIMEOUT_CODES:
        return STATEMENT_TIMEOUT
    if state in _DISK_FULL_SQLSTATES or code in _SQLITE_FULL_CODES:
        return DISK_FULL
    if (
        state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
        or code in _SQLITE_UNAVAILABLE_CODES
        or isinstance(exc, _UNAVAILABLE_TYPES)
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
        or _is_broken(exc)
    ):
        return UNREACHABLE
    return None


def database_fault(exc: BaseException) -> str | None:
    """The kind of database fault behind ``exc`` (``UNREACHABLE``, ``STATEMENT_TIMEOUT``,
    ``DISK_FULL``), or None for anything else (a bug: 500). The most specific kind found in
    the chain of causes wins: a timeout wrapped in a connection error is a timeout."""
    kinds = {kind for kind in map(_one_fault, _chain(exc)) if kind is not None}
    for kind in (STATEMENT_TIMEOUT, DISK_FULL, UNREACHABLE):
        if kind in kinds:
            return kind
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) is a database fault (answered 503, not 500)."""
    return database_fault(exc) is not None


def _is_unsent(exc: BaseException) -> bool:
    message = str(exc).lower()
    if isinstance(exc, asyncpg.InternalClientError):
        return message.startswith(_ASYNCPG_UNSENT_MESSAGES)
    if isinstance(exc, asyncpg.InterfaceError):
        return _ASYNCPG_CLOSED_MESSAGE in message
    if isinstance(exc, ValueError | sqlite3.ProgrammingError | sqlite3.OperationalError):
        return any(m in message for m in _SQLITE_CLOSED_MESSAGES)
    return False


def _is_broken(exc: BaseException) -> bool:
    return _sqlstate(exc).startswith(_BROKEN_SQLSTATE_PREFIXES) or _is_unsent(exc)


def was_not_sent(exc: BaseException) -> bool:
    """True when the driver refused the statement before sending it, because its connection
    had been terminated or closed: the statement certainly did not run, and may run on another
    connection. (A connection lost *while* a statement ran says nothing of whether it did.)"""
    return any(_is_unsent(e) for e in _chain(exc))


def is_connection_broken(exc: BaseException) -> bool:
    """True when ``exc`` says the connection itself is gone (terminated by the server, lost,
    closed): it must not go back to the pool, and connections opened with it are suspect."""
    return any(_is_broken(e) for e in _chain(exc))
