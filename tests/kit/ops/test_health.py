"""/healthz and /readyz: no key needed, 503 with a reason when the database is not ready."""

import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.db.migrate import head_revision
from product_partners.settings import Settings
from tests.support.ops import app_client
from tests.support.servers import free_port
from tests.support.timing import LOADED_MACHINE_ROOM


async def test_healthz_answers_without_touching_anything(engine: AsyncEngine) -> None:
    async with app_client(engine) as (client, _app):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["x-request-id"]


async def test_readyz_reports_the_migrated_database(engine: AsyncEngine) -> None:
    async with app_client(engine) as (client, _app):
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "database": "ok", "revision": head_revision()}


async def test_readyz_is_503_until_migrations_reach_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    engine = create_engine(Settings(database_url=url))
    try:
        async with app_client(engine) as (client, _app):
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["error_code"] == "migrations_pending"
            assert "product-partners db upgrade" in body["message"]
            assert set(body) == {"error", "error_code", "message", "errors"}
    finally:
        await engine.dispose()


async def test_readyz_is_503_quickly_when_the_database_is_unreachable() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    settings = Settings(database_url=url, database_timeout=1)
    engine = create_engine(settings)
    try:
        async with app_client(engine, database_timeout=1) as (client, _app):
            started = time.monotonic()
            response = await client.get("/readyz")
            # Bounded by the connect timeout, never the driver's default wait.
            assert time.monotonic() - started < settings.database_timeout + LOADED_MACHINE_ROOM
            assert response.status_code == 503
            assert response.json()["error_code"] == "database_unavailable"
            assert response.headers["retry-after"] == "1"
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await engine.dispose()


async def test_operator_routes_stay_out_of_the_api_document(engine: AsyncEngine) -> None:
    async with app_client(engine) as (client, _app):
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not {"/healthz", "/readyz", "/metrics"} & set(paths)
