"""PostgreSQL outages: 503 in the contract's body within a bounded time while the database is
away, and the same process serves again once it is back, without a restart.

The app reaches the real PostgreSQL server through a TCP proxy that the test stops, starts and
freezes (the server itself is shared with other test runs and is never stopped). To see what a
restart does to pooled connections, the test terminates the server processes behind the
proxy's own connections (``pg_terminate_backend``: the server sends FATAL "terminating
connection" and closes), and the proxy can hold that close back from the client: the
connection then looks open to asyncpg, as it does in the moment before a restart's close is
processed. Real restarts and crashes are in test_outage_restart.py.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.connections import request_connection, transaction
from product_partners.db.engine import create_engine
from product_partners.db.faults import is_database_unavailable
from product_partners.db.migrate import upgrade
from product_partners.db.outages import QuietPoolNoise
from product_partners.kit.ops.logs import Throttle
from product_partners.settings import Settings
from tests.support.api import Api
from tests.support.databases import PG_ADMIN_DSN
from tests.support.ops import TcpProxy, app_client, postgres_partnership_locked, via_port
from tests.support.servers import free_port
from tests.support.timing import LOADED_MACHINE_ROOM

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

TIMEOUT = 1.0
# Connect or statement timeout, plus the time to answer.
BOUND = TIMEOUT * 2 + LOADED_MACHINE_ROOM


@pytest.fixture(scope="module")
def migrated_pg_url(pg_database_url: str) -> str:
    upgrade(pg_database_url)
    return pg_database_url


@pytest.fixture
async def proxy(migrated_pg_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(migrated_pg_url)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield proxy
    await proxy.stop()


async def _timed(client: httpx.AsyncClient, method: str, url: str, **kw: object) -> tuple:
    started = time.monotonic()
    response = await client.request(method, url, **kw)  # type: ignore[arg-type]
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert elapsed < BOUND, f"took {elapsed:.2f}s"
    body = response.json()
    assert set(body) == {"error", "error_code", "message", "errors"}
    assert body["error_code"] == "service_unavailable"
    assert response.headers["retry-after"] == "1"
    assert "traceback" not in response.text.lower()


async def test_requests_get_503_while_postgres_is_down_and_succeed_after_it_returns(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    settings = Settings(
        database_url=via_port(migrated_pg_url, proxy.port), database_timeout=TIMEOUT
    )
    engine = create_engine(settings)
    try:
        async with app_client(engine, database_timeout=TIMEOUT, rate_limit_enabled=False) as (
            client,
            _app,
        ):
            api = Api(client, engine)
            owner = await api.actor()
            partner = await api.business()
            product = await api.product(owner)
            partners_url = f"/v3/products/{product['id']}/partners"
            assert (await client.get(partners_url, headers=owner.headers)).status_code == 200

            await proxy.stop()  # PostgreSQL is gone: refused, and pooled connections die
            for method, body in (("GET", None), ("POST", {"partner_unique_id": "x"})):
                response, elapsed = await _timed(
                    client, method, partners_url, headers=owner.headers, json=body
                )
                _assert_unavailable(response, elapsed)
            ready, elapsed = await _timed(client, "GET", "/readyz")
            assert ready.status_code == 503 and elapsed < BOUND
            assert ready.json()["error_code"] == "database_unavailable"
            assert (await client.get("/healthz")).status_code == 200

            await proxy.start()  # back on the same port: the very next request succeeds
            response = await api.add_partner(owner, product["id"], partner["unique_id"])
            assert response.status_code == 200, response.text
            listed = await client.get(partners_url, headers=owner.headers)
            assert listed.status_code == 200
            assert [p["partner"]["unique_id"] for p in listed.json()["data"]] == [
                partner["unique_id"]
            ]
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await engine.dispose()


async def test_connections_closed_during_an_idle_outage_are_replaced_before_use(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    settings = Settings(
        database_url=via_port(migrated_pg_url, proxy.port), database_timeout=TIMEOUT
    )
    engine = create_engine(settings)
    try:
        async with app_client(engine, rate_limit_enabled=False) as (client, _app):
            api = Api(client, engine)
            owner = await api.actor()
            assert (await client.get("/v3/products", headers=owner.headers)).status_code == 200
            # A restart nobody sent a request during: every pooled connection is dead.
            await proxy.stop()
            await asyncio.sleep(0.1)
            await proxy.start()
            for _ in range(3):
                response = await client.get("/v3/products", headers=owner.headers)
                assert response.status_code == 200, response.text
    finally:
        await engine.dispose()


async def test_a_hung_postgres_gives_503_within_the_database_timeout_then_recovers(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    settings = Settings(
        database_url=via_port(migrated_pg_url, proxy.port), database_timeout=TIMEOUT
    )
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    try:
        async with app_client(engine, database_timeout=TIMEOUT, rate_limit_enabled=False) as (
            client,
            _app,
        ):
            api = Api(client, engine)
            owner = await api.actor()
            product = await api.product(owner)
            partners_url = f"/v3/products/{product['id']}/partners"

            proxy.freeze()  # connections stay open, nothing answers
            for _ in range(3):  # more requests than pooled connections
                response, elapsed = await _timed(client, "GET", partners_url, headers=owner.headers)
                _assert_unavailable(response, elapsed)

            await proxy.stop()
            await proxy.start()
            # Connections stuck in the hang were invalidated; fresh ones are opened.
            deadline = time.monotonic() + 5
            statuses = []
            while time.monotonic() < deadline:
                response = await client.get(partners_url, headers=owner.headers)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    break
            assert statuses[-1] == 200, statuses
            assert statuses.count(503) <= 1, statuses
    finally:
        await engine.dispose()


# --- connections the server terminated ---------------------------------------------------------


async def _admin_fetchval(sql: str, *args: object) -> object:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


_BEHIND_PROXY = "client_addr = '127.0.0.1' AND client_port = ANY($1::int[])"


async def _terminate_backends_behind(proxy: TcpProxy, waiting_on_lock: bool = False) -> int:
    """Terminate the server processes of the proxy's connections (those waiting on a lock
    only, with ``waiting_on_lock``); how many."""
    where = _BEHIND_PROXY + (" AND wait_event_type = 'Lock'" if waiting_on_lock else "")
    sql = f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {where}"
    count = await _admin_fetchval(sql, list(proxy.upstream_ports))
    await asyncio.sleep(0.3)  # the FATAL reaches the client (its close, with hold_closes, not)
    return int(count)  # type: ignore[call-overload]


async def _assert_pool_hands_out_a_terminated_connection(engine: AsyncEngine) -> None:
    """What the fix is for: a pooled connection whose server process is gone looks open."""
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert not driver.is_closed()
        alive = await _admin_fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", driver.get_server_pid()
        )
        assert alive == 0
    finally:
        pooled.close()


def _proxied(url: str, proxy: TcpProxy, **settings: object) -> Settings:
    return Settings(database_url=via_port(url, proxy.port), **settings)  # type: ignore[arg-type]


async def test_connections_the_server_terminated_while_idle_are_replaced_and_the_request_served(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    engine = create_engine(_proxied(migrated_pg_url, proxy), pool_size=2, max_overflow=0)
    try:
        async with app_client(engine, rate_limit_enabled=False) as (client, _app):
            api = Api(client, engine)
            owner = await api.actor()
            product = await api.product(owner)
            partner = await api.business()
            partners_url = f"/v3/products/{product['id']}/partners"
            added: list[int] = []

            async def hot_path_add() -> httpx.Response:
                response = await api.add_partner(owner, product["id"], partner["unique_id"])
                added.append(response.json().get("id"))
                return response

            requests = {
                "hot path add": hot_path_add,
                "hot path get": lambda: client.get(
                    f"{partners_url}/{added[0]}", headers=owner.headers
                ),
                "route": lambda: client.get("/v3/products", headers=owner.headers),
            }
            proxy.hold_closes = True
            for name, request in requests.items():
                assert (await client.get(partners_url, headers=owner.headers)).status_code == 200
                assert await _terminate_backends_behind(proxy) >= 1
                await _assert_pool_hands_out_a_terminated_connection(engine)
                response = await request()
                assert response.status_code == 200, (name, response.text)
    finally:
        await engine.dispose()


async def test_a_statement_refused_unsent_runs_once_more_but_never_inside_a_transaction(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    engine = create_engine(_proxied(migrated_pg_url, proxy), pool_size=1, max_overflow=0)
    backend_pid = text("SELECT pg_backend_pid()")
    try:
        async with request_connection(engine, 1.0) as conn:
            first = (await conn.execute(backend_pid)).scalar()
        proxy.hold_closes = True
        assert await _terminate_backends_behind(proxy) == 1
        async with request_connection(engine, 1.0) as conn:
            # The statement SQLAlchemy sends is refused unsent, and runs on a fresh connection.
            second = (await conn.execute(backend_pid)).scalar()
        assert second != first

        with pytest.raises(Exception) as caught:
            async with request_connection(engine, 1.0) as conn, transaction(conn):
                await conn.execute(text("SELECT 1"))
                assert await _terminate_backends_behind(proxy) == 1
                # The transaction died with its connection: this statement must not run on
                # another one, outside it.
                await conn.execute(text("SELECT 2"))
        assert is_database_unavailable(caught.value), repr(caught.value)
        async with request_connection(engine, 1.0) as conn:
            assert (await conn.execute(text("SELECT 3"))).scalar() == 3
    finally:
        await engine.dispose()


async def test_a_write_cut_off_while_it_ran_is_answered_503_and_not_retried(
    proxy: TcpProxy, migrated_pg_url: str
) -> None:
    settings = _proxied(migrated_pg_url, proxy, database_timeout=5.0)
    engine = create_engine(settings, pool_size=2, max_overflow=0)
    try:
        async with app_client(engine, rate_limit_enabled=False) as (client, _app):
            api = Api(client, engine)
            owner = await api.actor()
            product = await api.product(owner)
            partner = await api.business()
            async with postgres_partnership_locked(migrated_pg_url, product["id"], partner["id"]):
                add = asyncio.create_task(
                    api.add_partner(owner, product["id"], partner["unique_id"])
                )
                deadline = time.monotonic() + 2
                # The add waits on the other client's row: cut its connection there.
                while not await _terminate_backends_behind(proxy, waiting_on_lock=True):
                    assert time.monotonic() < deadline, "the add never waited on the lock"
                response = await add
            _assert_unavailable(response, 0.0)
            # Whether an add cut off like this committed is unknown to the service: it answers
            # 503, never a retry that could turn the caller's own add into a 409. (Here it
            # could not commit: it waited on the lock.) Adding again succeeds.
            again = await api.add_partner(owner, product["id"], partner["unique_id"])
            assert again.status_code == 200, again.text
    finally:
        await engine.dispose()


async def test_pool_noise_about_terminated_connections_is_one_warning_and_bugs_stay_errors(
    migrated_pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(Settings(database_url=migrated_pg_url))
    try:
        pool_logger = engine.sync_engine.pool.logger
        quiet = next(f for f in pool_logger.filters if isinstance(f, QuietPoolNoise))
        quiet.throttle = Throttle()  # as at the start of an outage
        with caplog.at_level(logging.WARNING, logger="sqlalchemy.pool"):
            for _ in range(50):  # a restart: every pooled connection fails to close
                try:
                    await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/x")
                except OSError:
                    pool_logger.error("Exception closing connection %r", "c", exc_info=True)
            try:
                _ = 1 / 0  # what is not the database's fault stays an error, traceback and all
            except ZeroDivisionError:
                pool_logger.error("Exception closing connection %r", "c", exc_info=True)
        records = [r for r in caplog.records if r.name.startswith("sqlalchemy.pool")]
        assert [r.levelname for r in records] == ["WARNING", "ERROR"], records
        assert "database terminated" in records[0].getMessage() and not records[0].exc_info
        assert records[1].exc_info is not None
    finally:
        await engine.dispose()
