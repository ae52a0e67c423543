"""Hot-path query helpers: PreparedQuery gives what SQLAlchemy's own execution
gives (on PostgreSQL they bypass it), and the per-request pool admission is first come, first
served."""

import asyncio
import gc
import warnings
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy import DateTime, bindparam, func, select

from product_partners.db.connections import driver_connection, request_connection
from product_partners.db.engine import create_engine
from product_partners.db.prepared import PreparedQuery
from product_partners.db.tables import businesses, product_partners
from product_partners.settings import Settings

BY_UNIQUE_ID = PreparedQuery(
    select(businesses.c.id, businesses.c.unique_id, businesses.c.is_banned).where(
        businesses.c.unique_id == bindparam("unique_id")
    )
)
PARTNERS = PreparedQuery(
    select(product_partners.c.id, product_partners.c.partner_business_id)
    .where(product_partners.c.product_id == bindparam("product_id"))
    .order_by(product_partners.c.id.desc())
)


async def test_prepared_query_rows_read_like_sqlalchemy_rows(api, backend):
    business = await api.business()
    async with api.engine.connect() as conn:
        row = await BY_UNIQUE_ID.first(conn, unique_id=business["unique_id"])
        expected = (
            await conn.execute(BY_UNIQUE_ID.statement, {"unique_id": business["unique_id"]})
        ).one()
        assert row is not None
        assert (row.id, row.unique_id, bool(row.is_banned)) == (
            business["id"],
            business["unique_id"],
            False,
        )
        assert tuple(row) == tuple(expected)
        assert await BY_UNIQUE_ID.first(conn, unique_id="no-such-business") is None
        assert await BY_UNIQUE_ID.all(conn, unique_id="no-such-business") == []
    if backend == "postgres":
        assert BY_UNIQUE_ID.runs_on_driver, "on asyncpg the statement should run on the driver"


async def _partners_of_new_product(api, count: int) -> int:
    owner = await api.actor()
    product = await api.product(owner)
    for _ in range(count):
        partner = await api.business()
        response = await api.add_partner(owner, product["id"], partner["unique_id"])
        assert response.status_code == 200, response.text
    return product["id"]


async def test_prepared_query_gives_every_row_like_sqlalchemy(api, backend):
    product_id = await _partners_of_new_product(api, 7)
    async with api.engine.connect() as conn:
        rows = await PARTNERS.all(conn, product_id=product_id)
        expected = (await conn.execute(PARTNERS.statement, {"product_id": product_id})).all()
    assert len(rows) == 7
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    if backend == "postgres":
        assert PARTNERS.runs_on_driver


@pytest.mark.postgres_only
async def test_pool_admission_is_first_come_first_served(database_url):
    engine = create_engine(
        Settings(database_url=database_url, database_pool_size=1, database_max_overflow=0)
    )
    order: list[int] = []
    try:
        async with request_connection(engine, 5) as conn:
            # While the only connection is taken, requests queue up in order of arrival.
            async def request(i: int) -> None:
                async with request_connection(engine, 5):
                    order.append(i)
                    await asyncio.sleep(0.01)

            waiting = []
            for i in range(8):
                waiting.append(asyncio.create_task(request(i)))
                await asyncio.sleep(0.005)
            await conn.exec_driver_sql("SELECT 1")
        await asyncio.gather(*waiting)
        assert order == list(range(8))

        # Waiting longer than the timeout is a TimeoutError (the middleware's 503).
        async with request_connection(engine, 5):
            with pytest.raises(TimeoutError):
                async with request_connection(engine, 0.05):
                    pass
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_driver_connections_share_the_pool_and_a_failed_one_is_not_reused(settings):
    engine = create_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with driver_connection(engine, 1.0) as conn:
            first_pid = conn.connection.get_server_pid()
            assert await conn.connection.fetchval("SELECT 1") == 1
        # Back in the engine's pool: the next checkout, by either way, gets the same one.
        async with driver_connection(engine, 1.0) as conn:
            assert conn.connection.get_server_pid() == first_pid
        async with engine.connect() as sa_conn:
            raw = (await sa_conn.get_raw_connection()).driver_connection
            assert raw.get_server_pid() == first_pid

        with pytest.raises(asyncpg.PostgresError):
            async with driver_connection(engine, 1.0) as conn:
                await conn.fetch("SELECT 1/0")
        # Invalidated, not returned: the next request gets a fresh connection. (Its record is
        # idle in the pool, so the checkout first tries without a greenlet, finds it must
        # connect, and connects in one: no coroutine left unawaited, nothing held.)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with driver_connection(engine, 1.0) as conn:
                assert conn.connection.get_server_pid() != first_pid
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_a_connection_to_replace_among_idle_ones_is_replaced(settings):
    """The checkout without a greenlet takes the pool's first idle connection; one that must
    be opened again goes back to the end of the queue while the greenlet's checkout takes the
    next. Were every checkout to try without a greenlet first, it would never be reopened."""
    engine = create_engine(settings, pool_size=3, max_overflow=0)
    try:
        async with (
            driver_connection(engine, 1.0) as a,
            driver_connection(engine, 1.0) as b,
            driver_connection(engine, 1.0) as c,
        ):
            opened = {conn.connection.get_server_pid() for conn in (a, b, c)}
        with pytest.raises(asyncpg.PostgresError):
            async with driver_connection(engine, 1.0) as conn:
                await conn.fetch("SELECT 1/0")  # invalidated: to be opened again
        seen = set()
        for _ in range(12):
            async with driver_connection(engine, 1.0) as conn:
                seen.add(conn.connection.get_server_pid())
        assert len(seen - opened) == 1  # reopened, once
        assert engine.sync_engine.pool.checkedout() == 0
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_timestamps_read_as_text_are_the_same_aware_datetimes(settings):
    engine = create_engine(settings)
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=7)))
    try:
        async with driver_connection(engine, 1.0) as conn:
            value = await conn.connection.fetchval("SELECT $1::timestamptz", moment)
            assert value == moment and value.utcoffset() == timedelta(0)
            whole = await conn.connection.fetchval("SELECT '2026-03-01 05:30:15+00'::timestamptz")
            assert whole == datetime(2026, 3, 1, 5, 30, 15, tzinfo=UTC)
        async with engine.connect() as sa_conn:
            assert (
                await sa_conn.execute(select(func.cast(moment, DateTime(timezone=True))))
            ).scalar() == moment
    finally:
        await engine.dispose()
