"""Bounded statements and a full disk: a statement that runs (or waits) longer than
``DATABASE_STATEMENT_TIMEOUT``, or a write with no room left, is a 503 in the contract's body,
answered within ``DATABASE_TIMEOUT``, never a 500 and never a hang.

The slow statement is a real add waiting on a real lock held by another client: on
PostgreSQL an uncommitted add of the same partnership (the add waits on its row until the
server's ``statement_timeout`` cancels it), on SQLite the write lock (until the busy timeout).
"""

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade_async
from product_partners.settings import Settings
from tests.support.api import ERROR_FIELDS, Api
from tests.support.load import seed_partners, stored_partnerships
from tests.support.ops import app_client, postgres_partnership_locked, sqlite_write_locked

STATEMENT_TIMEOUT = 0.5
DATABASE_TIMEOUT = 3.0
TIMEOUTS_METRIC = "product_partners_database_statement_timeouts_total"


def _assert_503(response: httpx.Response, retry_after: str, mentions: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS and body["error_code"] == "service_unavailable"
    assert mentions in body["message"], body
    assert response.headers["retry-after"] == retry_after


def _counted_timeouts(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(TIMEOUTS_METRIC + " "):
            return float(line.split()[1])
    raise AssertionError(f"{TIMEOUTS_METRIC} is not in /metrics")


def _held_lock(
    backend: str, database_url: str, product_id: int, partner_id: int
) -> AbstractAsyncContextManager[Any]:
    if backend == "postgres":
        return postgres_partnership_locked(database_url, product_id, partner_id)
    return _async(sqlite_write_locked(database_url))


@asynccontextmanager
async def _async(sync_context: AbstractContextManager[Any]) -> AsyncIterator[None]:
    with sync_context:
        yield


async def test_a_statement_beyond_the_statement_timeout_is_503_and_counted(
    backend: str, database_url: str
) -> None:
    settings = {
        "database_statement_timeout": STATEMENT_TIMEOUT,
        "database_timeout": DATABASE_TIMEOUT,
        "rate_limit_enabled": False,
    }
    engine = create_engine(Settings(database_url=database_url, **settings))
    # On PostgreSQL, adds take the hot path; with it off (and on SQLite), the route.
    hot_path_modes = [True, False] if backend == "postgres" else [False]
    try:
        for hot_path in hot_path_modes:
            async with app_client(engine, hot_path=hot_path, **settings) as (client, _app):
                api = Api(client, engine)
                owner = await api.actor()
                product = await api.product(owner)
                partner = await api.business()
                before = _counted_timeouts((await client.get("/metrics")).text)
                async with _held_lock(backend, database_url, product["id"], partner["id"]):
                    started = time.monotonic()
                    response = await api.add_partner(owner, product["id"], partner["unique_id"])
                    elapsed = time.monotonic() - started
                _assert_503(response, "1", "in time")
                assert STATEMENT_TIMEOUT <= elapsed < DATABASE_TIMEOUT, (hot_path, elapsed)
                after = _counted_timeouts((await client.get("/metrics")).text)
                assert after == before + 1, hot_path
                # The lock is gone: the same add goes through.
                again = await api.add_partner(owner, product["id"], partner["unique_id"])
                assert again.status_code == 200, again.text
    finally:
        await engine.dispose()


# --- SQLite: the disk is full --------------------------------------------------------------


@pytest.fixture
async def capped_sqlite(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, dict[str, Any]]]:
    """A SQLite database of its own whose connections may grow it to ``cap["pages"]`` pages
    (``PRAGMA max_page_count``: beyond it SQLite answers SQLITE_FULL, "database or disk is
    full", exactly as on a full disk); ``None``: no cap. A new cap applies to new connections."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'capped.db'}"
    await upgrade_async(url)
    engine = create_engine(Settings(database_url=url))
    cap: dict[str, Any] = {"pages": None}

    @event.listens_for(engine.sync_engine, "connect")
    def apply_cap(dbapi_connection: Any, _record: Any) -> None:
        if cap["pages"] is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {cap['pages']}")
            cursor.close()

    yield engine, cap
    await engine.dispose()


async def test_a_full_sqlite_disk_is_503_with_a_clear_message_and_reads_still_work(
    capped_sqlite: tuple[AsyncEngine, dict[str, Any]],
) -> None:
    engine, cap = capped_sqlite
    async with app_client(engine, rate_limit_enabled=False) as (client, _app):
        api = Api(client, engine)
        owner = await api.actor()
        product = await api.product(owner)
        partners = await seed_partners(engine, 400)
        async with engine.connect() as conn:
            cap["pages"] = (await conn.execute(text("PRAGMA page_count"))).scalar()
        await engine.dispose()  # the cap applies from the next connection on

        acknowledged: dict[str, int] = {}
        full = None
        for uid in partners:
            response = await api.add_partner(owner, product["id"], uid)
            if response.status_code != 200:
                full = (uid, response)
                break
            acknowledged[uid] = response.json()["id"]
        assert full is not None, "the capped database never filled up"
        uid, response = full
        _assert_503(response, "30", "no space left")
        listed = await client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
        assert listed.status_code == 200

        cap["pages"] = None  # the operator frees space
        await engine.dispose()
        response = await api.add_partner(owner, product["id"], uid)
        assert response.status_code == 200, response.text
        acknowledged[uid] = response.json()["id"]
    stored = await stored_partnerships(engine, product["id"])
    assert stored == {u: [i] for u, i in acknowledged.items()}
