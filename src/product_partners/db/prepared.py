"""Statements built once and run on the asyncpg connection directly where they can (the hot
paths): compiled once per dialect, rows as named tuples."""

import contextlib
from collections import namedtuple
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import discard_pooled
from product_partners.db.faults import is_database_unavailable
from product_partners.db.outages import may_retry


class NamedRows:
    """asyncpg records as named tuples: attribute reads at C speed, like SQLAlchemy's Row. The
    tuple type is made once, from the first result's columns."""

    def __init__(self) -> None:
        self._row_type: Any = None

    def __call__(self, records: list[Any]) -> list[Any]:
        if not records:
            return []
        row_type = self._row_type
        if row_type is None:
            row_type = self._row_type = namedtuple("Row", list(records[0].keys()), rename=True)
        make = row_type._make  # tuple.__new__ over the record: no per-field Python call
        return [make(r) for r in records]


def compile_for_asyncpg(statement: Any, dialect: Any) -> tuple[str, tuple[str, ...]] | None:
    """``statement``'s SQL text and the order of its named parameters, when it can run on the
    asyncpg connection as it is; None when it needs SQLAlchemy (another driver, values that
    SQLAlchemy converts, parameters expanded at execution)."""
    compiled = statement.compile(dialect=dialect)
    direct = (
        dialect.driver == "asyncpg"
        and not compiled._bind_processors  # no per-value conversion needed
        and not compiled.literal_execute_params
        and not compiled.post_compile_params
        and compiled.positiontup is not None
    )
    return (compiled.string, tuple(compiled.positiontup or ())) if direct else None


class PreparedQuery:
    """A Core SELECT built once, with named ``bindparam()`` values, for the hot paths.

    On PostgreSQL it is compiled once and run on the asyncpg connection directly (asyncpg
    keeps the server-side prepared statement per connection): no statement construction,
    cache-key generation, execution context or result adaptation per request, which together
    cost more than the round trip. Elsewhere (SQLite, PgBouncer mode, statements that need
    SQLAlchemy's bind processing) it is an ordinary ``conn.execute``. Rows read by attribute
    either way.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        # Per dialect (one process may serve several, e.g. the test suite): the SQL text and
        # the order of its parameters when it can run on asyncpg directly, else None.
        self._compiled: dict[tuple[str, str], tuple[str, tuple[str, ...]] | None] = {}
        self._rows = NamedRows()

    def _compile(self, conn: AsyncConnection) -> tuple[str, tuple[str, ...]] | None:
        dialect = conn.dialect
        key = (dialect.name, dialect.driver)
        if key not in self._compiled:
            self._compiled[key] = compile_for_asyncpg(self.statement, dialect)
        return self._compiled[key]

    @property
    def runs_on_driver(self) -> bool:
        """Whether the statement runs on asyncpg directly where it can (for tests)."""
        return any(v is not None for v in self._compiled.values())

    async def all(self, conn: AsyncConnection, **params: Any) -> list[Any]:
        compiled = self._compile(conn)
        if compiled is not None:
            driver = await _plain_asyncpg(conn)
            if driver is not None:
                sql, names = compiled
                try:
                    records = await driver.fetch(sql, *[params[n] for n in names])
                except Exception as exc:
                    await _discard_if_broken(conn, exc)
                    if not may_retry(exc):
                        raise
                    # Once more, on a fresh connection, through SQLAlchemy (which reconnects).
                    await conn.rollback()
                else:
                    return self._rows(records)
        return list((await conn.execute(self.statement, params)).all())

    async def first(self, conn: AsyncConnection, **params: Any) -> Any | None:
        rows = await self.all(conn, **params)
        return rows[0] if rows else None


async def _plain_asyncpg(conn: AsyncConnection) -> asyncpg.Connection | None:
    """The asyncpg connection under ``conn``, unless it needs SQLAlchemy's handling."""
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        return None
    driver = sync.connection.driver_connection
    if not isinstance(driver, asyncpg.Connection):
        return None
    # The marker, not isinstance(driver, PgBouncerConnection): asyncpg's metaclass says every
    # Connection is an instance of any subclass.
    if getattr(driver, "pgbouncer_safe", False) or driver.is_closed():
        return None
    return driver


async def _discard_if_broken(conn: AsyncConnection, exc: BaseException) -> None:
    # What SQLAlchemy does for its own statements (db_outages): a connection that lost the
    # server must not go back to the pool; one the server terminated condemns the others
    # opened on that server too.
    if not is_database_unavailable(exc):
        return
    with contextlib.suppress(Exception):
        await discard_pooled(conn.engine, await conn.get_raw_connection(), exc)
        await conn.invalidate()
