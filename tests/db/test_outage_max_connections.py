"""PostgreSQL out of connection slots: the service's pools want more connections than the
server's ``max_connections`` allows (a cluster of the test's own, started with a low limit).

A request that cannot get a connection is a 503 in the contract's body at once ("sorry, too
many clients already"), never a 500 and never a wait beyond ``DATABASE_TIMEOUT``; the others
are served on the connections the service holds, and every acknowledged add is stored.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from product_partners.db.engine import create_engine
from product_partners.settings import Settings
from tests.support.clusters import pg_cluster
from tests.support.load import WriteLoad, owner_and_product, seed_partners
from tests.support.servers import log_records, serve_with_pid
from tests.support.timing import LOADED_MACHINE_ROOM

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

MAX_CONNECTIONS = 8
WORKERS = 2
POOL_SIZE = 10  # per worker, with as much overflow: 40 wanted for 8 slots
DATABASE_TIMEOUT = 2.0
ADDS = 600


@pytest.fixture(scope="module")
def small_cluster_url() -> Iterator[str]:
    with pg_cluster(max_connections=str(MAX_CONNECTIONS)) as cluster:
        yield cluster.migrated_database()


async def test_a_server_out_of_connection_slots_is_503_at_once_and_loses_no_write(
    small_cluster_url: str, tmp_path: Path
) -> None:
    url = small_cluster_url
    engine = create_engine(Settings(database_url=url), pool_size=1, max_overflow=0)
    try:
        partners = await seed_partners(engine, ADDS)
        await engine.dispose()  # every slot for the service
        log = tmp_path / "serve.log"
        with serve_with_pid(
            url,
            WORKERS,
            log=log,
            RATE_LIMIT_ENABLED="false",
            LOG_FORMAT="json",
            DATABASE_POOL_SIZE=str(POOL_SIZE),
            DATABASE_MAX_OVERFLOW=str(POOL_SIZE),
            DATABASE_TIMEOUT=str(DATABASE_TIMEOUT),
        ) as (base, _pid):
            owner, product_id = await owner_and_product(base, engine)
            await engine.dispose()
            load = WriteLoad(base, owner, product_id, partners)
            await load.run(asyncio.Event())
        print(f"\n{load.count(200)} added, {load.count(503)} answered 503")
        load.assert_faults_answered_503()
        assert load.count(503) > 0, "the service never ran out of connection slots"
        assert load.count(200) > 0, "nothing was served on the connections the service holds"
        assert load.slowest() < DATABASE_TIMEOUT + LOADED_MACHINE_ROOM, load.slowest()
        await load.assert_no_write_lost_or_duplicated(engine)
        assert not log_records(log, "error")
    finally:
        await engine.dispose()
