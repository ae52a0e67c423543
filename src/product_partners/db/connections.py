"""Connections for requests: one pooled connection per request, handed out first come, first
served; the bare asyncpg connection for the hot path; transactions on AUTOCOMMIT connections.

With read replicas (``DATABASE_REPLICA_URLS``), :func:`routed_connection` (the routes) and
:func:`routed_driver` (the hot path) take a GET request's connection on the replica that
``db.replicas`` chooses, decided once per request; every other request's on the primary.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from product_partners.db.checkout import checkout
from product_partners.db.faults import is_connection_broken
from product_partners.db.outages import (
    forget_pooled_connections,
    may_retry,
    statements_in_transaction,
)
from product_partners.db.replicas import READ_AFTER_HEADER, Replica

# Requests whose statements may run on a replica: they read only (a write in one, such as an
# API key's last use, goes to the primary: ``primary_connection``, ``Driver.execute``).
READ_METHODS = frozenset({"GET"})
# Keys of the request's ASGI state: the replica its reads run on (None: the primary), and
# whether it must run on the primary (``kit.http.replicas.ReadRouting`` sets it for a read
# that a replica failed).
REPLICA = "db_replica"
PRIMARY_ONLY = "db_primary_only"

T = TypeVar("T")
# Marks a connection (its ``info``) while a transaction() block runs on it.
_OPEN_TRANSACTION = "product_partners.transaction"


@asynccontextmanager
async def transaction(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """Run the block's statements as one transaction on an AUTOCOMMIT connection.

    SQLite takes the write lock up front (BEGIN IMMEDIATE): a deferred transaction that reads
    first and writes later can fail with "database is locked" instead of waiting its turn.

    Nested blocks join the outermost one (a dry run or an all-or-nothing bulk around decisions
    that each open their own): only the outermost block commits or rolls back, so an inner
    COMMIT can never save what a dry run means to roll back.
    """
    if conn.info.get(_OPEN_TRANSACTION):
        yield conn
        return
    begin = "BEGIN IMMEDIATE" if conn.dialect.name == "sqlite" else "BEGIN"
    await conn.exec_driver_sql(begin)
    conn.info[_OPEN_TRANSACTION] = True
    # From here to COMMIT no statement may run again on another connection (db_outages): the
    # transaction's earlier statements died with the connection (a COMMIT that "succeeded" on
    # a fresh connection would acknowledge a write that was lost).
    with statements_in_transaction():
        try:
            yield conn
        except BaseException:
            conn.info.pop(_OPEN_TRANSACTION, None)
            try:
                await conn.exec_driver_sql("ROLLBACK")
            except BaseException:
                # A connection whose transaction state is unknown must never go back to the pool.
                await conn.invalidate()
            raise
        else:
            conn.info.pop(_OPEN_TRANSACTION, None)
            await conn.exec_driver_sql("COMMIT")


class _RolledBack(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


async def rolled_back(conn: AsyncConnection, work: Callable[[], Awaitable[T]]) -> T:
    """``work()``'s result, computed in a :func:`transaction` that is then rolled back (a dry
    run of the real statements); an error of ``work()`` is raised as without it."""
    try:
        async with transaction(conn):
            raise _RolledBack(await work())
    except _RolledBack as done:
        return done.value


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


async def chosen_engine(app_state: Any, scope: Any) -> AsyncEngine:
    """The engine for the request ``scope``: a replica's for a GET request that one can serve
    (``Replicas.choose``), else the primary's (``app_state.engine``)."""
    replicas = getattr(app_state, "replicas", None)
    if replicas is None or scope["method"] not in READ_METHODS:
        return app_state.engine
    state = scope["state"]
    if state.get(PRIMARY_ONLY):
        return app_state.engine
    if REPLICA not in state:
        credential = read_after = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                credential = value
            elif name == READ_AFTER_HEADER:
                read_after = value
        state[REPLICA] = await replicas.choose(credential, read_after)
    replica: Replica | None = state[REPLICA]
    return app_state.engine if replica is None else replica.engine


@asynccontextmanager
async def routed_connection(app_state: Any, scope: Any) -> AsyncIterator[AsyncConnection]:
    """:func:`request_connection` on the engine the request is routed to (:func:`chosen_engine`)."""
    engine = await chosen_engine(app_state, scope)
    async with request_connection(engine, app_state.settings.database_timeout) as conn:
        yield conn


def routed_driver(app_state: Any, scope: Any) -> "DriverCheckout":
    """:func:`driver_connection` on the engine the request is routed to (:func:`chosen_engine`);
    its ``execute`` (a write) runs on the primary."""
    primary = app_state.engine
    wait_seconds = app_state.settings.database_timeout
    return DriverCheckout(primary, wait_seconds, primary, route=(app_state, scope))


@asynccontextmanager
async def primary_connection(
    app_state: Any, conn: AsyncConnection
) -> AsyncIterator[AsyncConnection]:
    """``conn`` when it is the primary's, else a connection of the primary: for a write made
    while serving a read (the API key's last use)."""
    primary: AsyncEngine = app_state.engine
    if conn.engine is primary:
        yield conn
        return
    async with request_connection(primary, app_state.settings.database_timeout) as writer:
        yield writer


def driver_connection(
    engine: AsyncEngine, wait_seconds: float, primary: AsyncEngine | None = None
) -> "DriverCheckout":
    """The bare asyncpg connection of a pooled connection, for code that runs its statements
    on the driver (the hot path); same pool, same queue as request_connection.

    An ``AsyncConnection`` (what ``engine.connect()`` gives) costs ~150 us of CPU to check out
    and return: a greenlet hop each way, a ``Connection``, events. This costs ~25 us
    (:func:`checkout`). A connection whose statement failed is invalidated: after a timeout or
    a lost server its state is unknown (and asyncpg would wait for the statement's
    cancellation).
    """
    return DriverCheckout(engine, wait_seconds, primary)


class DriverCheckout:
    """The context of :func:`driver_connection` and :func:`routed_driver` (a class rather than
    generator-based context managers: the hot path enters one on every request)."""

    __slots__ = ("_driver", "_gate", "_route", "_wait_seconds", "engine", "primary")

    def __init__(
        self,
        engine: AsyncEngine,
        wait_seconds: float,
        primary: AsyncEngine | None = None,
        route: tuple[Any, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.primary = primary  # where a write goes when the engine is a replica's
        self._wait_seconds = wait_seconds
        self._route = route  # (the app's state, the request's scope): choose the engine
        self._gate: asyncio.Semaphore | None = None
        self._driver: Driver | None = None

    async def __aenter__(self) -> "Driver":
        if self._route is not None:
            self.engine = await chosen_engine(*self._route)
        self._gate = await _enter_gate(self.engine, self._wait_seconds)
        try:
            driver = Driver(self.engine, await checkout(self.engine))
        except BaseException:
            self._leave_gate()
            raise
        if self.primary is not None and self.primary is not self.engine:
            driver.writes_to = (self.primary, self._wait_seconds)
        self._driver = driver
        return driver

    async def __aexit__(self, _type: Any, error: BaseException | None, _tb: Any) -> None:
        driver, self._driver = self._driver, None
        try:
            if driver is None:
                return
            if error is not None:
                await driver.discard(error)
            else:
                await driver.give_back()
        finally:
            self._leave_gate()

    def _leave_gate(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()


class Driver:
    """A pooled connection's asyncpg connection, checked out by :func:`driver_connection`.

    ``fetch`` and ``execute`` are asyncpg's (``execute`` is for writes: on a replica's
    connection it runs on a connection of the primary, ``writes_to``); a statement that the
    driver refused unsent, because the server had terminated the connection (a restart), runs
    once more on a fresh connection (``db_outages.may_retry``). ``connection`` is the asyncpg
    connection itself.
    """

    __slots__ = ("_engine", "_pooled", "connection", "writes_to")

    def __init__(self, engine: AsyncEngine, pooled: Any) -> None:
        self._engine = engine
        self._pooled = pooled
        self.connection: asyncpg.Connection = pooled.driver_connection
        self.writes_to: tuple[AsyncEngine, float] | None = None

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            return await self.connection.fetch(sql, *args)
        except Exception as error:
            await self._reconnect_if_unsent(error)
            return await self.connection.fetch(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        if self.writes_to is not None:
            async with driver_connection(*self.writes_to) as primary:
                return await primary.execute(sql, *args)
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
        self._pooled = await checkout(self._engine)
        self.connection = self._pooled.driver_connection

    async def discard(self, error: BaseException) -> None:
        """Close the connection for good: after a failed statement its state is unknown. One
        the server terminated also condemns the pool's others of its generation."""
        pooled, self._pooled = self._pooled, None
        if pooled is not None:  # None: a reconnect failed, nothing is checked out
            await discard_pooled(self._engine, pooled, error)

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
    gate = await _enter_gate(engine, wait_seconds)
    try:
        yield
    finally:
        if gate is not None:
            gate.release()


async def _enter_gate(engine: AsyncEngine, wait_seconds: float) -> asyncio.Semaphore | None:
    """Wait for a turn at the pool (first come, first served: :func:`request_connection`);
    the gate to release after, or None when the pool needs none."""
    gate = _checkout_gate(engine)
    if gate is None:
        return None
    if gate.locked():
        async with asyncio.timeout(wait_seconds):
            await gate.acquire()
    else:
        await gate.acquire()  # free: no timer to arm and cancel
    return gate


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


async def discard_pooled(engine: AsyncEngine, pooled: Any, error: BaseException) -> None:
    """Close the asyncpg connection of ``pooled`` for good, after ``error``. One the server
    terminated condemns the pool's other connections opened on that server too."""
    if is_connection_broken(error):
        await greenlet_spawn(forget_pooled_connections, engine.sync_engine.pool, pooled)
    else:
        pooled.driver_connection.terminate()  # at once: a graceful close would wait
        await greenlet_spawn(pooled.invalidate)
