"""Read replicas on a real streaming replica: a primary cluster of the test's own and a standby
made from it with ``pg_basebackup -R`` on another port (tests/support/clusters.py).

- GET requests read on the replica, writes run on the primary; after a business writes, its
  reads never go back in time, through another process (a second app, sharing Redis) and
  another of its keys, while the replica really is behind (it applies the WAL 400 ms late);
- a replica stopped under reads costs no request an error (the primary serves), and serves
  again once it is back; a replica paused beyond ``DATABASE_REPLICA_MAX_LAG`` is skipped;
- /readyz and /metrics report each replica's state and lag.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.db.replicas import parse_lsn
from product_partners.db.tables import api_keys, product_partners
from product_partners.settings import Settings
from tests.support.api import Actor, Api, unique
from tests.support.clusters import PgCluster, pg_cluster, standby_of
from tests.support.ops import REDIS_URL, app_client, asyncpg_dsn

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

CAUGHT_UP_WITHIN = 20.0


@pytest.fixture(scope="module")
def primary() -> Iterator[PgCluster]:
    with pg_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def primary_url(primary: PgCluster) -> str:
    return primary.migrated_database()


@pytest.fixture(scope="module")
def standby(primary: PgCluster, primary_url: str) -> Iterator[PgCluster]:
    with standby_of(primary) as standby:
        yield standby


@pytest.fixture(scope="module")
def replica_url(standby: PgCluster) -> str:
    return standby.url("product_partners")


@pytest.fixture
async def primary_engine(primary_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=primary_url))
    yield engine
    await engine.dispose()


@asynccontextmanager
async def replicated_app(
    engine: AsyncEngine, replica_url: str, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """An app (a process of its own: its engine, replica monitor and memory) on ``engine``
    with ``replica_url`` as its replica."""
    settings.setdefault("rate_limit_enabled", False)
    settings.setdefault("database_replica_max_lag", 30.0)
    async with AsyncExitStack() as stack:
        own_engine = create_engine(Settings(database_url=engine.url.render_as_string(False)))
        stack.push_async_callback(own_engine.dispose)
        client, app = await stack.enter_async_context(
            app_client(own_engine, database_replica_urls=replica_url, **settings)
        )
        stack.push_async_callback(app.state.replicas.close)
        await until(lambda: _all_up(app), "the replica is up")
        yield client, app


async def _all_up(app: FastAPI) -> bool:
    return all(s["up"] and s["lag_seconds"] == 0 for s in app.state.replicas.status())


async def caught_up(app: FastAPI, engine: AsyncEngine) -> None:
    """Wait until the app's monitor has seen every replica replay what the primary has now."""
    async with engine.connect() as conn:
        now = parse_lsn(await conn.scalar(text("SELECT pg_current_wal_lsn()::text")))

    async def check() -> bool:
        return all(r.up and r.replayed >= now for r in app.state.replicas.replicas)

    await until(check, "the replica replays the primary's position")


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + CAUGHT_UP_WITHIN
    while not await check():
        assert time.monotonic() < deadline, f"not within {CAUGHT_UP_WITHIN}s: {what}"
        await asyncio.sleep(0.05)


def reads(app: FastAPI, served_by: str) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "product_partners_database_reads_total", {"served_by": served_by}
    )
    return value or 0.0


async def second_key(api: Api, actor: Actor) -> dict[str, str]:
    key = await api.key_for(actor.unique_id)
    return {"Authorization": f"Bearer {key['key']}"}


async def on_standby(standby: PgCluster, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(standby.url("product_partners")))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_reads_never_go_back_in_time_under_concurrent_writes(
    primary_engine: AsyncEngine, replica_url: str, standby: PgCluster
) -> None:
    """Eight owners each add partners and at once read them back through another process and
    another key, while the replica applies the WAL 400 ms late; bystanders' reads meanwhile
    go to the replica."""
    prefix = f"pp-test-{uuid.uuid4().hex[:8]}"
    common = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    async with (
        replicated_app(primary_engine, replica_url, **common) as (writer, writer_app),
        replicated_app(primary_engine, replica_url, **common) as (reader, reader_app),
    ):
        api = Api(writer, primary_engine)
        owners = [await api.actor() for _ in range(8)]
        products = [await api.product(owner) for owner in owners]
        readers = [await second_key(api, owner) for owner in owners]
        bystander = await api.actor()
        bystander_product = await api.product(bystander)
        # Each credential once, so that the reading process knows its business.
        pairs = [*zip(readers, products, strict=True), (bystander.headers, bystander_product)]
        for headers, product in pairs:
            answer = await reader.get(f"/v3/products/{product['id']}/partners", headers=headers)
            assert answer.status_code == 200, answer.text
        await asyncio.to_thread(standby.configure, recovery_min_apply_delay="'400ms'")
        try:
            stale_seen = 0

            async def owner_loop(owner: Actor, product: dict, headers: dict[str, str]) -> None:
                nonlocal stale_seen
                path = f"/v3/products/{product['id']}/partners"
                for _ in range(5):
                    added = await writer.post(
                        path, json={"partner_unique_id": unique("p")}, headers=owner.headers
                    )
                    assert added.status_code == 200, added.text
                    position = parse_lsn(added.headers["x-write-position"])
                    assert position > 0
                    row_id = added.json()["id"]
                    on_replica = await on_standby(
                        standby, "SELECT count(*) FROM product_partners WHERE id = $1", row_id
                    )
                    stale_seen += on_replica == 0
                    listed = await reader.get(path, headers=headers)
                    assert listed.status_code == 200, listed.text
                    assert listed.json()["data"][0]["id"] == row_id
                    got = await reader.get(f"{path}/{row_id}", headers=headers)
                    assert got.status_code == 200, got.text

            async def bystander_loop(stop: asyncio.Event) -> None:
                path = f"/v3/products/{bystander_product['id']}/partners"
                while not stop.is_set():
                    answer = await reader.get(path, headers=bystander.headers)
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["data"] == []
                    await asyncio.sleep(0.01)

            stop = asyncio.Event()
            bystanders = asyncio.create_task(bystander_loop(stop))
            before = reads(reader_app, "replica")
            await asyncio.gather(*map(owner_loop, owners, products, readers))
            stop.set()
            await bystanders
        finally:
            await asyncio.to_thread(standby.configure, recovery_min_apply_delay="0")
        # The replica really was behind the writes, and did serve reads meanwhile.
        assert stale_seen > 0
        assert reads(reader_app, "replica") > before
        assert reads(reader_app, "primary") >= 8 * 5 * 2


async def test_a_replica_that_stops_costs_no_request_and_serves_again_when_back(
    primary_engine: AsyncEngine, replica_url: str, standby: PgCluster
) -> None:
    async with replicated_app(primary_engine, replica_url) as (client, app):
        api = Api(client, primary_engine)
        owner = await api.actor()
        product = await api.product(owner)
        path = f"/v3/products/{product['id']}/partners"
        added = await api.add_partner(owner, product["id"], unique("p"))
        assert added.status_code == 200
        await caught_up(app, primary_engine)
        statuses: list[int] = []
        stop = asyncio.Event()

        async def read_loop(headers: dict[str, str]) -> None:
            while not stop.is_set():
                answer = await client.get(path, headers=headers)
                statuses.append(answer.status_code)
                assert answer.status_code == 200, answer.text
                assert answer.json()["data"][0]["id"] == added.json()["id"]

        keys = [owner.headers, *[await second_key(api, owner) for _ in range(3)]]
        loops = [asyncio.create_task(read_loop(headers)) for headers in keys]
        await until(lambda: _true(reads(app, "replica") > 20), "reads on the replica")
        await asyncio.to_thread(standby.shut_down)
        await until(lambda: _replica_up(client, False), "/readyz: the replica is down")
        on_primary = reads(app, "primary")
        await until(lambda: _true(reads(app, "primary") > on_primary + 20), "primary reads")
        await asyncio.to_thread(standby.start)
        await until(lambda: _replica_up(client, True), "/readyz: the replica is up again")
        on_replica = reads(app, "replica")
        await until(lambda: _true(reads(app, "replica") > on_replica + 20), "replica again")
        stop.set()
        await asyncio.gather(*loops)
        assert len(statuses) > 60 and set(statuses) == {200}


async def _true(value: bool) -> bool:
    return value


async def _replica_up(client: httpx.AsyncClient, up: bool) -> bool:
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text  # the primary serves: ready either way
    (replica,) = ready.json()["replicas"]
    return bool(replica["up"] is up)


async def test_lag_is_reported_and_a_replica_beyond_the_limit_is_skipped(
    primary_engine: AsyncEngine, replica_url: str, standby: PgCluster
) -> None:
    """Replay paused: a partnership inserted straight on the primary (no position recorded)
    is missing from reads the replica serves, until the lag passes the limit and the primary
    serves them; /metrics and /readyz show the lag; resumed, the replica serves again."""
    async with replicated_app(primary_engine, replica_url, database_replica_max_lag=1.5) as (
        client,
        app,
    ):
        api = Api(client, primary_engine)
        owner = await api.actor()
        product = await api.product(owner)
        partner = await api.business()
        path = f"/v3/products/{product['id']}/partners"
        assert (await client.get(path, headers=owner.headers)).json()["data"] == []
        await caught_up(app, primary_engine)
        await on_standby(standby, "SELECT pg_wal_replay_pause()")
        try:
            async with primary_engine.connect() as conn:
                await conn.execute(
                    insert(product_partners).values(
                        product_id=product["id"],
                        partner_business_id=partner["id"],
                        partner_unique_id=partner["unique_id"],
                        partnership_type="affiliate",
                        affiliate_status="approved",
                    )
                )
            # Behind, within the limit: the replica serves (the partner is not there yet).
            stale = await client.get(path, headers=owner.headers)
            assert stale.json()["data"] == [] and reads(app, "replica") >= 1
            await until(lambda: _lag_above(client, 1.5), "/metrics: the lag passes the limit")
            ready = (await client.get("/readyz")).json()["replicas"][0]
            assert ready["up"] is True and ready["lag_seconds"] > 1.5 and ready["lag_bytes"] > 0
            assert ready["serving"] is False
            fresh = await client.get(path, headers=owner.headers)
            assert fresh.status_code == 200 and len(fresh.json()["data"]) == 1
        finally:
            await on_standby(standby, "SELECT pg_wal_replay_resume()")
        await caught_up(app, primary_engine)
        on_replica = reads(app, "replica")
        again = await client.get(path, headers=owner.headers)
        assert again.status_code == 200 and reads(app, "replica") == on_replica + 1


async def _lag_above(client: httpx.AsyncClient, seconds: float) -> bool:
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("product_partners_database_replica_lag_seconds{"):
            return float(line.rsplit(" ", 1)[1]) > seconds
    return False


async def test_a_read_on_the_replica_marks_the_key_used_on_the_primary(
    primary_engine: AsyncEngine, replica_url: str
) -> None:
    """An API key's last use is a write made while reading: on the primary, whether the
    read is the hot path's (list) or a route's (a filtered list, the partner side)."""
    async with replicated_app(primary_engine, replica_url) as (client, app):
        api = Api(client, primary_engine)
        owner = await api.actor()
        product = await api.product(owner)
        paths = [
            f"/v3/products/{product['id']}/partners",
            f"/v3/products/{product['id']}/partners?affiliate_status=approved",
            "/v3/partnerships",
        ]
        for path in paths:
            async with primary_engine.connect() as conn:
                await conn.execute(
                    update(api_keys).where(api_keys.c.id == owner.key_id).values(last_used_at=None)
                )
            await caught_up(app, primary_engine)
            on_replica = reads(app, "replica")
            answer = await client.get(path, headers=owner.headers)
            assert answer.status_code == 200, answer.text
            assert reads(app, "replica") == on_replica + 1, path  # not run again elsewhere
            async with primary_engine.connect() as conn:
                used = await conn.scalar(
                    select(api_keys.c.last_used_at).where(api_keys.c.id == owner.key_id)
                )
            assert used is not None, path


async def test_without_the_primary_position_a_replica_stops_serving_within_the_limit(
    primary: PgCluster, primary_engine: AsyncEngine, replica_url: str
) -> None:
    """The primary down: the replica's lag cannot be judged, so it serves nothing once the
    last position is older than the limit; the primary back, it serves again."""
    async with replicated_app(primary_engine, replica_url, database_replica_max_lag=0.5) as (
        _client,
        app,
    ):
        replicas = app.state.replicas

        async def serving(expected: bool) -> bool:
            return all(s["serving"] is expected for s in replicas.status())

        await until(lambda: serving(True), "the replica serves")
        await asyncio.to_thread(primary.shut_down)
        try:
            await until(lambda: serving(False), "the replica stops serving")
        finally:
            await asyncio.to_thread(primary.start)
        await until(lambda: serving(True), "the replica serves again")
