"""Helpers for the operations tests: app instances of their own, a TCP proxy to cut and restore
the path to PostgreSQL or Redis (the machine's servers are shared: never stop them)."""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.app import create_app
from product_partners.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def via_port(url: str, port: int) -> str:
    """``url`` with its host and port replaced by 127.0.0.1:``port``."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def app_client(
    engine: AsyncEngine, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """An app of our own on ``engine`` (rate limiting on unless said otherwise)."""
    settings.setdefault("database_url", engine.url.render_as_string(hide_password=False))
    settings.setdefault("log_format", "json")
    app = create_app(Settings(**settings), engine=engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app
    finally:
        limiter = app.state.rate_limiter
        if limiter is not None:
            await limiter.close()


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``. ``stop()`` closes the listener and every
    connection (the server looks down: refused, and open sockets die); ``freeze()`` keeps
    everything open but forwards nothing (the server looks hung). With ``hold_closes`` set, a
    connection the server closes stays open towards the client: what the server sent last
    arrives, its close does not (yet). ``upstream_ports``: the local ports of the proxy's
    connections to the server (``client_port`` in PostgreSQL's ``pg_stat_activity``)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.hold_closes = False
        self.upstream_ports: set[int] = set()
        self._flowing = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> "TcpProxy":
        self._flowing.set()
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def freeze(self) -> None:
        self._flowing.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        self.upstream_ports.add(up_writer.get_extra_info("sockname")[1])
        for src, dst, to_client in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(src, dst, to_client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, to_client: bool
    ) -> None:
        try:
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not (to_client and self.hold_closes):
                dst.transport.abort()


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as a DSN for asyncpg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def postgres_partnership_locked(
    database_url: str, product_id: int, partner_id: int
) -> AsyncIterator[asyncpg.Connection]:
    """Another client's uncommitted add of ``partner_id`` to ``product_id``: an add of the same
    pair waits on its row lock until the block ends (then rolled back). Yields that client."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        locking = conn.transaction()
        await locking.start()
        await conn.execute(
            "INSERT INTO product_partners (product_id, partner_business_id, partner_unique_id,"
            " partnership_type, affiliate_status) SELECT $1, id, unique_id, 'affiliate',"
            " 'approved' FROM businesses WHERE id = $2",
            product_id,
            partner_id,
        )
        try:
            yield conn
        finally:
            await locking.rollback()
    finally:
        await conn.close()


@contextlib.contextmanager
def sqlite_write_locked(database_url: str) -> Iterator[None]:
    """Another client holds SQLite's write lock until the block ends."""
    conn = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()
