"""Database engine: SQLite (embedded default) and PostgreSQL (production), one code path.

Requests run on connections in AUTOCOMMIT mode: a single statement is its own transaction, so
the common request costs no BEGIN/COMMIT round trips. Code that needs several statements to
commit together uses :func:`transaction`.
"""

import asyncio
import contextlib
import re
from collections import namedtuple
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from product_partners.db_errors import is_connection_broken, is_database_unavailable
from product_partners.db_outages import (
    forget_pooled_connections,
    may_retry,
    statements_in_transaction,
    survive_outages,
)
from product_partners.settings import Settings


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: Settings, *, autocommit: bool = True, **overrides: Any) -> AsyncEngine:
    """Build the service's engine for ``settings.database_url``.

    ``autocommit=False`` gives ordinary transactional connections (migrations use it): no
    statement timeout (a migration may rewrite a large table), no statement retried.
    """
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if backend == "postgresql":
        if url.get_driver_name() != "asyncpg":
            url = url.set(drivername="postgresql+asyncpg")
        connect_args = asyncpg_connect_args(settings, bounded=autocommit)
        if settings.database_pgbouncer:
            # PgBouncer (transaction pooling) may hand each transaction a different server
            # connection: no prepared statement may outlive its transaction (see
            # PgBouncerConnection), so neither asyncpg nor SQLAlchemy may cache them.
            connect_args["statement_cache_size"] = 0
            connect_args["connection_class"] = PgBouncerConnection
            url = url.update_query_dict({"prepared_statement_cache_size": "0"})
        kwargs["connect_args"] = connect_args
        kwargs.update(
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_timeout,
            pool_pre_ping=False,
        )
    elif backend == "sqlite":
        # sqlite3's busy handler: how long a statement waits for another connection's write
        # lock before "database is locked" (a 503, like a statement timeout on PostgreSQL).
        kwargs["connect_args"] = {"timeout": settings.statement_timeout}
        _ensure_sqlite_directory(url.database)
    # JSON columns decode with orjson, ~4x faster than the json module SQLAlchemy uses otherwise.
    kwargs["json_deserializer"] = orjson.loads
    kwargs.update(overrides)
    engine = create_async_engine(url, **kwargs)
    if backend == "sqlite":
        _configure_sqlite(
            engine, autocommit, busy_timeout_ms=round(settings.statement_timeout * 1000)
        )
    elif backend == "postgresql" and text_timestamps_enabled(settings):
        _configure_postgres(engine)
    survive_outages(engine, autocommit=autocommit)
    return engine


def asyncpg_connect_args(settings: Settings, *, bounded: bool = True) -> dict[str, Any]:
    """asyncpg's connection arguments for the engine (PgBouncer mode adds its own).
    ``bounded``: statements end at ``DATABASE_STATEMENT_TIMEOUT`` (the service's connections)."""
    connect_args: dict[str, Any] = {
        "timeout": settings.database_timeout,
        # The client's own limit, for a server that does not answer at all. Never shorter than
        # the statement timeout (settings.statement_timeout), so that a server that answers
        # cancels a long statement itself: a clear error, and the connection stays usable.
        "command_timeout": settings.database_timeout,
        "server_settings": {"application_name": "product-partners"},
    }
    if bounded and not settings.database_pgbouncer:
        # A runaway statement (a lock held elsewhere, a plan gone wrong) ends here with a 503
        # instead of holding a pooled connection. (PgBouncer refuses unknown startup
        # parameters: there, set it on the database, see README.)
        milliseconds = round(settings.statement_timeout * 1000)
        connect_args["server_settings"]["statement_timeout"] = str(milliseconds)
    if not settings.database_pgbouncer:
        # asyncpg prepares statements; after five runs PostgreSQL may switch one to a generic
        # plan, estimated for an average product (~10 partners). With the default
        # random_page_cost (4, spinning disks) that plan is "read every partnership of the
        # product, then sort": a page of a product with many partners then costs what all
        # its partners do. The SSD value keeps the generic plan on the (product_id, id)
        # index, so a page costs its 25 rows. (PgBouncer refuses unknown startup
        # parameters: there, set it on the database, see README.)
        connect_args["server_settings"]["random_page_cost"] = "1.1"
    if text_timestamps_enabled(settings):
        # Timestamps travel as text (text_timestamps): in UTC, in ISO format.
        connect_args["server_settings"]["timezone"] = "UTC"
        connect_args["server_settings"]["datestyle"] = "ISO"
    return connect_args


def text_timestamps_enabled(settings: Settings) -> bool:
    """Whether connections read timestamps as text (the one place that decides it). Not behind
    PgBouncer: the text form depends on the session's TimeZone and DateStyle, which there
    belong to server connections shared by many clients, and the hot path, which gains the
    most from it, is off in PgBouncer mode anyway."""
    return not settings.database_pgbouncer


async def text_timestamps(connection: asyncpg.Connection) -> None:
    """Read and write ``timestamptz`` as text, parsed by ``datetime.fromisoformat``.

    asyncpg's binary decoder builds each value with Python arithmetic (~1.4 us of CPU; C
    parsing of the text form ~0.2 us), and a page of partnerships holds ~150 timestamps: ~40% of
    fetching it. Values are the same aware datetimes either way (the session is in UTC).
    """
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=datetime.isoformat,
        decoder=datetime.fromisoformat,
        format="text",
    )


def _ensure_sqlite_directory(database: str | None) -> None:
    """Create the directory of a SQLite file (the default one lives in the user's data
    directory, which may not exist yet); SQLite creates the file itself."""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_postgres(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(text_timestamps)


def _configure_sqlite(engine: AsyncEngine, autocommit: bool, busy_timeout_ms: int) -> None:
    if not autocommit:
        # SQLAlchemy's recipe for pysqlite: the driver's own transaction handling is off (see
        # on_connect), so a SQLAlchemy transaction begins with an explicit BEGIN.
        @event.listens_for(engine.sync_engine, "begin")
        def on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the driver stay out of transaction management; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()


@asynccontextmanager
async def transaction(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """Run the block's statements as one transaction on an AUTOCOMMIT connection.

    SQLite takes the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads
    first and writes later can fail with "database is locked" instead of waiting its turn.
    """
    begin = "BEGIN IMMEDIATE" if conn.dialect.name == "sqlite" else "BEGIN"
    await conn.exec_driver_sql(begin)
    # From here to COMMIT no statement may run again on another connection (db_outages): the
    # transaction's earlier statements died with the connection (a COMMIT that "succeeded" on
    # a fresh connection would acknowledge a write that was lost).
    with statements_in_transaction():
        try:
            yield conn
        except BaseException:
            try:
                await conn.exec_driver_sql("ROLLBACK")
            except BaseException:
                # A connection whose transaction state is unknown must never go back to the pool.
                await conn.invalidate()
            raise
        else:
            await conn.exec_driver_sql("COMMIT")


def insert_or_nothing(conn: AsyncConnection, table: Any, *conflict_columns: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's database.

    With ``RETURNING``, an empty result means the row already existed: the database's unique
    constraint, not a prior SELECT, decides, so two concurrent inserts cannot both win.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table)
    if conflict_columns:
        return stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return stmt.on_conflict_do_nothing()


# --- connections per request ----------------------------------------------------------------


@asynccontextmanager
async def request_connection(
    engine: AsyncEngine, wait_seconds: float
) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for one request, handed out first come, first served.

    SQLAlchemy's async pool is not fair under contention: a connection put back wakes the
    oldest waiter, but a request arriving meanwhile takes it first, and the woken waiter queues
    again at the back. With more requests in flight than connections, some waited until the
    pool timeout (503) while newer ones were served. A FIFO semaphore sized to the pool admits
    requests in arrival order, so the pool itself never has waiters. Waiting longer than
    ``wait_seconds`` raises TimeoutError: the request middleware answers 503.
    """
    async with _admitted(engine, wait_seconds), engine.connect() as conn:
        yield conn


@asynccontextmanager
async def driver_connection(engine: AsyncEngine, wait_seconds: float) -> AsyncIterator["Driver"]:
    """The bare asyncpg connection of a pooled connection, for code that runs its statements
    on the driver (the hot path, fastpath.py); same pool, same queue as request_connection.

    An ``AsyncConnection`` (what ``engine.connect()`` gives) costs ~150 us of CPU to check out
    and return: a greenlet hop each way, a ``Connection``, events. The pool's own checkout
    costs ~30 us. A connection whose statement failed is invalidated: after a timeout or a lost
    server its state is unknown (and asyncpg would wait for the statement's cancellation).
    """
    async with _admitted(engine, wait_seconds):
        driver = Driver(engine, await engine.raw_connection())
        try:
            yield driver
        except BaseException as error:
            await driver.discard(error)
            raise
        else:
            await driver.give_back()


class Driver:
    """A pooled connection's asyncpg connection, checked out by :func:`driver_connection`.

    ``fetch`` and ``execute`` are asyncpg's; a statement that the driver refused unsent,
    because the server had terminated the connection (a restart), runs once more on a fresh
    connection (``db_outages.may_retry``). ``connection`` is the asyncpg connection itself.
    """

    __slots__ = ("_engine", "_pooled", "connection")

    def __init__(self, engine: AsyncEngine, pooled: Any) -> None:
        self._engine = engine
        self._pooled = pooled
        self.connection: asyncpg.Connection = pooled.driver_connection

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            return await self.connection.fetch(sql, *args)
        except Exception as error:
            await self._reconnect_if_unsent(error)
            return await self.connection.fetch(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        try:
            return await self.connection.execute(sql, *args)
        except Exception as error:
            await self._reconnect_if_unsent(error)
            return await self.connection.execute(sql, *args)

    async def _reconnect_if_unsent(self, error: Exception) -> None:
        """Check out a fresh connection for a statement that may run again; else re-raise."""
        if not may_retry(error):
            raise error
        await self.discard(error)
        self._pooled = await self._engine.raw_connection()
        self.connection = self._pooled.driver_connection

    async def discard(self, error: BaseException) -> None:
        """Close the connection for good: after a failed statement its state is unknown. One
        the server terminated also condemns the pool's others of its generation."""
        pooled, self._pooled = self._pooled, None
        if pooled is not None:  # None: a reconnect failed, nothing is checked out
            await _discard(self._engine, pooled, error)

    async def give_back(self) -> None:
        pooled, self._pooled = self._pooled, None
        pool = self._engine.sync_engine.pool
        if isinstance(pool, QueuePool) and pool.checkedin() >= pool.size():
            # A full pool closes an overflow connection as it comes back: I/O, which SQLAlchemy
            # can only do in a greenlet.
            await greenlet_spawn(pooled.close)
        else:
            # The pool's reset on return rolls back nothing: the connection is in AUTOCOMMIT
            # mode and the caller ran single statements.
            pooled.close()


@asynccontextmanager
async def _admitted(engine: AsyncEngine, wait_seconds: float) -> AsyncIterator[None]:
    gate = _checkout_gate(engine)
    if gate is None:
        yield
        return
    if gate.locked():
        async with asyncio.timeout(wait_seconds):
            await gate.acquire()
    else:
        await gate.acquire()  # free: no timer to arm and cancel
    try:
        yield
    finally:
        gate.release()


def _checkout_gate(engine: AsyncEngine) -> asyncio.Semaphore | None:
    pool = engine.sync_engine.pool
    max_overflow = getattr(pool, "_max_overflow", -1)
    if not isinstance(pool, QueuePool) or max_overflow < 0:
        return None  # SQLite's pools, or an unbounded pool: nothing to queue for
    # One per pool (a disposed engine gets a new one) and event loop (semaphores bind to one).
    gates: dict[Any, asyncio.Semaphore] = pool.__dict__.setdefault("_pp_checkout_gates", {})
    loop = asyncio.get_running_loop()
    gate = gates.get(loop)
    if gate is None:
        gate = gates[loop] = asyncio.Semaphore(pool.size() + max_overflow)
    return gate


# --- prepared hot-path queries --------------------------------------------------------------


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
        await _discard(conn.engine, await conn.get_raw_connection(), exc)
        await conn.invalidate()


async def _discard(engine: AsyncEngine, pooled: Any, error: BaseException) -> None:
    """Close the asyncpg connection of ``pooled`` for good, after ``error``. One the server
    terminated condemns the pool's other connections opened on that server too."""
    if is_connection_broken(error):
        await greenlet_spawn(forget_pooled_connections, engine.sync_engine.pool, pooled)
    else:
        pooled.driver_connection.terminate()  # at once: a graceful close would wait
        await greenlet_spawn(pooled.invalidate)


# --- PgBouncer in transaction-pooling mode ------------------------------------------------

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
