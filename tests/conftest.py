"""Test fixtures: every test runs on SQLite and on the machine's real PostgreSQL.

Each test session creates its own SQLite file and its own PostgreSQL database (dropped at the
end), so runs never see each other's data. Inside a session, tests isolate themselves by
creating their own businesses (random unique ids) rather than by truncating tables.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.app import create_app
from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade
from product_partners.settings import Settings
from tests.support.api import Api
from tests.support.databases import pg_database
from tests.support.dns import LoopbackDns
from tests.support.openapi import OpenApi, load_openapi
from tests.support.ops import REDIS_URL

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with pg_database(f"pp_test_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "test.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The migrated database of ``backend`` for this session."""
    fixture = "pg_database_url" if backend == "postgres" else "sqlite_database_url"
    url: str = request.getfixturevalue(fixture)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def loopback_dns() -> Iterator[LoopbackDns]:
    """The DNS server the app's resolver asks (DNS_NAMESERVERS): tests publish TXT records."""
    with LoopbackDns() as server:
        yield server


@pytest.fixture(scope="session")
def settings(database_url: str, loopback_dns: LoopbackDns) -> Settings:
    # Webhook receivers in tests listen on the loopback interface (plain http).
    return Settings(
        database_url=database_url,
        rate_limit_enabled=False,
        log_format="json",
        webhook_loopback_http=True,
        dns_nameservers=loopback_dns.address,
        dns_timeout=1.0,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def api(client: httpx.AsyncClient, engine: AsyncEngine) -> Api:
    return Api(client, engine)


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> "OpenApi":
    """The app's own OpenAPI document, for validating responses against it."""
    return await load_openapi(client)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of the test's own; its keys are deleted afterwards."""
    prefix = f"pp-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.postgres_only`` tests run once, on PostgreSQL (not skipped on SQLite:
    they are not generated for it at all)."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if item.get_closest_marker("postgres_only") and backend == "sqlite":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
