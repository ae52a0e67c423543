"""Writes with a subscribed endpoint do not read the event log.

PostgreSQL checks a foreign key with a statement each connection plans once and keeps. When
the outbox had a key to ``events``, a pooled connection that planned that check while the log
was small (a fresh install) read the whole log for every add-partner with a subscribed
endpoint, for as long as the connection lived: 3.5 ms a write after 15,000 events, growing
(migration 0010). Here a fresh database with the statistics of an empty log, one pooled
connection, an endpoint, and adds while the log grows: none of them scans ``events``; the
worker's fan-out then queues a delivery for each.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade_async
from product_partners.settings import Settings
from tests.support.api import Api
from tests.support.databases import pg_database
from tests.support.fanout import fan_out_all
from tests.support.ops import app_client

pytestmark = pytest.mark.postgres_only

ADDS = 30


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    with pg_database("pp_outbox") as url:
        yield url


async def _event_log_scans(engine) -> int:
    """Sequential scans of ``events`` so far, counting those of the pool's one connection
    (it flushes its counters when its transaction ends)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
    async with engine.connect() as conn:
        row = await conn.execute(
            text("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'")
        )
        return int(row.scalar_one() or 0)


async def test_adds_with_a_subscribed_endpoint_never_scan_the_event_log(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    await upgrade_async(url)
    # Statistics of an empty log, as after a routine VACUUM ANALYZE (or autovacuum's first
    # pass) on a fresh install: a plan made now takes the log for a page or two.
    engine = create_engine(Settings(database_url=url), pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        async with app_client(engine, rate_limit_enabled=False) as (client, _app):
            api = Api(client, engine)
            owner = await api.actor()
            response = await client.post(
                "/v3/webhook-endpoints",
                json={"url": "https://hooks.example.com/pp"},
                headers=owner.headers,
            )
            assert response.status_code == 200, response.text
            product = await api.product(owner)
            partners = [await api.business() for _ in range(ADDS)]
            # The first add plans its statements on the one connection, with a log of a
            # few events; the rest run those plans while the log grows.
            before = await _event_log_scans(engine)
            for partner in partners:
                added = await api.add_partner(owner, product["id"], partner["unique_id"])
                assert added.status_code == 200, added.text
            assert await _event_log_scans(engine) == before
            await fan_out_all(engine)
            async with engine.connect() as conn:
                deliveries = await conn.execute(
                    text("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :e"),
                    {"e": response.json()["id"]},
                )
                # Every add's event has its delivery (and the endpoint's creation).
                assert deliveries.scalar_one() == ADDS + 1
    finally:
        await engine.dispose()
