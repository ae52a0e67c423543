"""Migrations: from an empty database to head, and the result matches tables.py exactly."""

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from product_partners.db.engine import create_engine
from product_partners.db.migrate import alembic_config, current_revision, head_revision
from product_partners.db.tables import metadata
from product_partners.settings import Settings
from tests.support.databases import empty_database


@pytest.fixture
def empty_database_url(backend, tmp_path):
    with empty_database(backend, tmp_path) as url:
        yield url


async def _diff_and_revision(url: str) -> tuple[list, str | None]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(context, metadata)

            return await conn.run_sync(diff), await current_revision(conn)
    finally:
        await engine.dispose()


def test_upgrade_from_empty_matches_the_tables(empty_database_url):
    command.upgrade(alembic_config(empty_database_url), "head")
    diffs, revision = asyncio.run(_diff_and_revision(empty_database_url))
    assert revision == head_revision()
    assert diffs == []


def test_downgrade_to_base_and_upgrade_again(empty_database_url):
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    _, revision = asyncio.run(_diff_and_revision(empty_database_url))
    assert revision is None
    command.upgrade(config, "head")
    diffs, revision = asyncio.run(_diff_and_revision(empty_database_url))
    assert revision == head_revision() and diffs == []
