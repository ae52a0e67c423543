"""Real PostgreSQL restarts and crashes under write load, on ``serve --workers 3``.

The service runs on a PostgreSQL cluster of the test's own (tests/pg_cluster.py: the machine's
server is shared and never restarted). 32 clients add distinct partnerships without pause
while the test restarts the server with ``pg_ctl restart -m fast`` (clients are told to go),
crashes it with ``-m immediate`` (no checkpoint: the next start replays the WAL) and kills
workers with SIGKILL, in ten cycles with a burst of writes between them. Then:

- no answer was a 500: every fault that reached a client is a 503 in the contract's body;
- every acknowledged add is in the database with its id, and no partner has two rows;
- after each fault the service answered 200 again within 15 s, without a restart of its own;
- the pool's complaints about the connections the server terminated are a few warnings, not a
  flood of errors.
"""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.settings import Settings
from tests.support.clusters import PgCluster, pg_cluster
from tests.support.load import WriteLoad, owner_and_product, seed_partners
from tests.support.servers import log_records, serve_with_pid, worker_pids

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

# Ten faults: seven restarts (two of them crashes) and three killed workers.
FAULTS = (
    "fast",
    "kill-worker",
    "fast",
    "immediate",
    "fast",
    "fast",
    "kill-worker",
    "immediate",
    "fast",
    "kill-worker",
)
BURST = 120  # acknowledged adds between two faults
BACK_WITHIN = 15.0
WORKERS = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster_url(cluster: PgCluster) -> str:
    return cluster.migrated_database()


@pytest.fixture
async def cluster_engine(cluster_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=cluster_url))
    yield engine
    await engine.dispose()


async def _inject(fault: str, cluster: PgCluster, supervisor: int) -> None:
    if fault == "kill-worker":
        os.kill(worker_pids(supervisor)[0], signal.SIGKILL)
    else:
        await asyncio.to_thread(cluster.restart, fault)


async def test_restarts_crashes_and_killed_workers_answer_503_and_lose_no_write(
    cluster: PgCluster, cluster_url: str, cluster_engine: AsyncEngine, tmp_path: Path
) -> None:
    partners = await seed_partners(cluster_engine, BURST * len(FAULTS) * 4)
    log = tmp_path / "serve.log"
    with serve_with_pid(
        cluster_url, WORKERS, log=log, RATE_LIMIT_ENABLED="false", LOG_FORMAT="json"
    ) as (base, supervisor):
        owner, product_id = await owner_and_product(base, cluster_engine)
        load = WriteLoad(base, owner, product_id, partners)
        stop = asyncio.Event()
        running = asyncio.create_task(load.run(stop))
        recoveries: list[tuple[str, float]] = []
        try:
            for cycle, fault in enumerate(FAULTS, start=1):
                await load.wait_until_acknowledged(BURST * cycle)
                await _inject(fault, cluster, supervisor)
                injected = time.monotonic()
                while (back := load.first_success_after(injected)) is None:
                    assert time.monotonic() - injected < BACK_WITHIN, f"not back after {fault}"
                    await asyncio.sleep(0.05)
                recoveries.append((fault, round(back - injected, 2)))
            await load.wait_until_acknowledged(BURST * (len(FAULTS) + 1))
        finally:
            stop.set()
            await running

    statuses = {s: load.count(s) for s in sorted({a.status for a in load.answers.values()})}
    errors = log_records(log, "error")
    warnings = log_records(log, "warning")
    print(f"\nanswers by status: {statuses}; back after: {recoveries}")
    print(f"server log: {len(errors)} errors, {len(warnings)} warnings")
    load.assert_faults_answered_503()
    await load.assert_no_write_lost_or_duplicated(cluster_engine)
    assert not errors, [e.get("msg") for e in errors[:5]]
