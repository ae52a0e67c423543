"""PgBouncer in transaction-pooling mode (``DATABASE_PGBOUNCER``): an asyncpg connection whose
statements never outlive the transaction that PgBouncer gives them a server connection for."""

import contextlib
import re
from typing import Any

import asyncpg

# Transaction control runs as a simple query: it takes no parameters and needs no statement.
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|START|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b", re.IGNORECASE
)


class PgBouncerConnection(asyncpg.Connection):
    """An asyncpg connection that is safe behind PgBouncer's transaction pooling.

    asyncpg runs a statement in two round trips (Parse/Describe, then Bind/Execute), each
    ending in Sync. Outside a transaction, PgBouncer may give the second round trip another
    server connection, where the statement does not exist or, worse, where another client's
    unnamed statement does. So a statement that arrives outside a transaction gets one of its
    own (BEGIN ... COMMIT: the same server for both round trips; each statement still commits
    on its own, as on AUTOCOMMIT connections). Statements inside the caller's transaction
    (``db.transaction``) need nothing. Statements are unnamed (``statement_cache_size=0``),
    so none is left behind on a server. Costs two extra round trips per statement outside a
    transaction; PgBouncer mode is opt-in (``DATABASE_PGBOUNCER``).
    """

    pgbouncer_safe = True
    _pp_own_transaction = False

    async def prepare(self, query: str, **kwargs: Any) -> Any:
        if _TRANSACTION_CONTROL.match(query):
            return _SimpleStatement(self, query)
        if self.is_in_transaction():
            if not self._pp_own_transaction:
                return await super().prepare(query, **kwargs)
            # Our transaction of a statement that never ran (e.g. cancelled): not the caller's.
            await self._pp_end("ROLLBACK")
        await self.execute("BEGIN")
        self._pp_own_transaction = True
        try:
            statement = await super().prepare(query, **kwargs)
        except BaseException:
            await self._pp_end("ROLLBACK")
            raise
        return _OwnTransactionStatement(self, statement)

    async def set_type_codec(self, *args: Any, **kwargs: Any) -> None:
        # Looks the type up with a statement: keep both round trips on one server.
        if self.is_in_transaction():
            await super().set_type_codec(*args, **kwargs)
            return
        async with self.transaction():
            await super().set_type_codec(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> None:
        if self.is_in_transaction():
            await super().executemany(*args, **kwargs)
            return
        async with self.transaction():
            await super().executemany(*args, **kwargs)

    async def _pp_end(self, command: str) -> None:
        self._pp_own_transaction = False
        if command == "COMMIT":
            await self.execute(command)
            return
        # On failure the statement's own error is the one to report.
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await self.execute(command)


class _OwnTransactionStatement:
    """A prepared statement that commits its own transaction once it has run."""

    def __init__(self, connection: PgBouncerConnection, statement: Any) -> None:
        self._connection = connection
        self._statement = statement

    def __getattr__(self, name: str) -> Any:
        return getattr(self._statement, name)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        try:
            rows = await self._statement.fetch(*args, **kwargs)
        except BaseException:
            await self._connection._pp_end("ROLLBACK")
            raise
        await self._connection._pp_end("COMMIT")
        return rows


class _SimpleStatement:
    """BEGIN, COMMIT, ...: run with the simple query protocol, in one round trip."""

    def __init__(self, connection: asyncpg.Connection, query: str) -> None:
        self._connection = connection
        self._query = query
        self._status: str | None = None

    def get_attributes(self) -> tuple[()]:
        return ()

    def get_statusmsg(self) -> str | None:
        return self._status

    async def fetch(self, *args: Any, **kwargs: Any) -> list[Any]:
        self._status = await self._connection.execute(self._query)
        return []
