"""PostgreSQL outages: 503 in the contract's body within a bounded time while the database is
away, and the same process serves again once it is back, without a restart.

The app reaches the real PostgreSQL server through a TCP proxy that the test stops, starts and
freezes (the server itself is shared with other test runs and is never stopped).
"""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from product_partners.db import create_engine
from product_partners.migrate import upgrade
from product_partners.settings import Settings
from tests.ops_support import TcpProxy, app_client, via_port
from tests.support import Api

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

TIMEOUT = 1.0
# Connect or statement timeout, plus the time to answer.
BOUND = TIMEOUT * 2 + 1.0


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
