"""The defaults are the fast configuration, and the benchmark measures exactly them."""

from bench.delivery import worker_environment
from bench.run import Config, service_environment
from sqlalchemy.pool import QueuePool

from product_partners.db.engine import create_engine
from product_partners.settings import Settings


async def test_the_default_pool_is_fixed_with_no_overflow(pg_database_url):
    engine = create_engine(Settings(database_url=pg_database_url))
    try:
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        # Overflow connections were opened and closed under load (0.3-0.5x the throughput).
        assert pool.size() == 20 and pool._max_overflow == 0
    finally:
        await engine.dispose()


def test_the_benchmark_runs_the_service_on_its_defaults(monkeypatch):
    monkeypatch.delenv("BENCH_SERVICE_ENV", raising=False)
    env = service_environment("postgresql+asyncpg://bench@127.0.0.1/bench")
    defaults = Settings.model_fields
    for name in ("DATABASE_POOL_SIZE", "DATABASE_MAX_OVERFLOW", "DATABASE_TIMEOUT", "HOT_PATH"):
        assert name not in env
    # Only a rate limit far above the load: counting stays on.
    assert set(env) == {
        "DATABASE_URL",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "RATE_LIMIT",
        "PARTNER_ADD_LIMIT",
    }
    assert env["LOG_LEVEL"] == defaults["log_level"].default
    # The floor gets as many connections as the service's default pool.
    assert Config().pool_size == defaults["database_pool_size"].default


def test_the_delivery_benchmark_runs_the_worker_on_its_defaults(monkeypatch):
    monkeypatch.delenv("BENCH_DELIVERY_SERVICE_ENV", raising=False)
    env = worker_environment("postgresql+asyncpg://bench@127.0.0.1/bench")
    # Plain http to the receiver on this machine is the one setting changed (refused by
    # default on PostgreSQL); batch, timeout, lease, pool and log level are the worker's own.
    assert set(env) == {"DATABASE_URL", "WEBHOOK_LOOPBACK_HTTP"}
    assert env["WEBHOOK_LOOPBACK_HTTP"] == "true"
