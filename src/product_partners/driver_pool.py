"""The hot path's own asyncpg pool: a connection per request for ~25 us of CPU.

Checking a connection out of SQLAlchemy's async pool and returning it costs ~150 us of CPU
(an ``AsyncConnection``, a greenlet hop each way, pool events), more than the statement the
hot path then runs on the bare asyncpg connection. So fastpath.py takes its connections from a
plain ``asyncpg`` pool with the engine's database, connection arguments and capacity:

- **Opened lazily** (no connection until the first hot-path request, none kept when idle for
  ``IDLE_SECONDS``), and closed with the app, or terminated when its engine is disposed.
- **No reset query on release.** asyncpg's default runs ``RESET ALL; UNLISTEN *; ...`` (a
  round trip per request). The hot path changes no session state; asyncpg still rolls back a
  transaction left open before any custom reset runs.
- **First come, first served**, as ``db.request_connection``: a FIFO semaphore sized to the
  pool admits requests in arrival order; waiting longer than ``DATABASE_TIMEOUT`` raises
  TimeoutError, which the request middleware answers with 503.
- **Timestamps travel as text** (``timestamptz``, session time zone UTC) and are parsed by
  ``datetime.fromisoformat`` (C): asyncpg's binary decoder builds each value with Python
  arithmetic, ~1.4 us of CPU against ~0.2 us, and a page of partnerships holds ~150 of them.
- **A connection that failed a statement is terminated**, not returned: after a timeout or a
  lost server its state is unknown, and asyncpg would otherwise wait for the cancellation of
  the statement before reuse (forever on a hung server).

A worker therefore holds at most twice ``DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW``
connections: this pool's and SQLAlchemy's (README, "Configuration").
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from product_partners.db import asyncpg_connect_args
from product_partners.settings import Settings

IDLE_SECONDS = 60.0


async def keep_session(_connection: asyncpg.Connection) -> None:
    """Nothing to reset: the hot path sets no session state (see module docstring)."""


async def text_timestamps(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=datetime.isoformat,
        decoder=datetime.fromisoformat,
        format="text",
    )


class DriverPool:
    """asyncpg connections for ``engine``'s database, one per request."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = _capacity(engine, settings)
        self.timeout = settings.database_timeout
        self.connect_args = asyncpg_connect_args(settings)
        # Timestamps are read as text (see text_timestamps): in UTC, as the engine returns them.
        self.connect_args["server_settings"]["timezone"] = "UTC"
        self._pool: asyncpg.Pool | None = None
        self._gate: asyncio.Semaphore | None = None
        self._opening: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Tests and tools dispose engines without running the app's shutdown: close with it.
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: self.terminate())

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool, gate = await self._ready()
        if gate.locked():
            async with asyncio.timeout(self.timeout):
                await gate.acquire()
        else:
            await gate.acquire()  # free: no timer to arm and cancel
        try:
            connection = await pool.acquire()
            try:
                yield connection
            except BaseException:
                connection.terminate()
                raise
            finally:
                await pool.release(connection)
        finally:
            gate.release()

    async def _ready(self) -> tuple[asyncpg.Pool, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._gate is not None and self._loop is loop:
            return self._pool, self._gate
        if self._opening is None or self._loop is not loop:
            self._opening, self._loop, self._pool = asyncio.Lock(), loop, None
        async with self._opening:
            if self._pool is None:
                # min_size=0: opening the pool connects to nothing, so it works (and the request
                # gets its 503 from the connect) while the database is away.
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=self.size,
                    max_inactive_connection_lifetime=IDLE_SECONDS,
                    reset=keep_session,
                    init=text_timestamps,
                    **self.connect_args,
                )
                self._gate = asyncio.Semaphore(self.size)
        assert self._pool is not None and self._gate is not None
        return self._pool, self._gate

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self.timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            pool.terminate()

    def terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()


def _capacity(engine: AsyncEngine, settings: Settings) -> int:
    """As many connections as the engine's pool may hold at once."""
    pool: Any = engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        return pool.size() + max(pool._max_overflow, 0)
    return settings.database_pool_size + settings.database_max_overflow
