"""Migration 0004 keeps the custom domains: verified ones stay verified (no token, no expiry),
unverified ones become claims, each with its own token and an expiry."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from product_partners.db.engine import create_engine
from product_partners.db.migrate import alembic_config
from product_partners.settings import Settings
from tests.support.databases import empty_database


@pytest.fixture
def old_database_url(backend, tmp_path):
    with empty_database(backend, tmp_path) as url:
        yield url


async def _run(url: str, *statements: str) -> list:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as conn:
            rows: list = []
            for statement in statements:
                result = await conn.execute(text(statement))
                rows = result.all() if result.returns_rows else []
            return rows
    finally:
        await engine.dispose()


def test_existing_domains_keep_their_state_and_claims_get_a_token_and_an_expiry(
    old_database_url,
):
    config = alembic_config(old_database_url)
    command.upgrade(config, "0003")
    asyncio.run(
        _run(
            old_database_url,
            "INSERT INTO businesses (unique_id, username, account_holder, email) VALUES "
            "('a', 'a', 'A', 'a@example.com'), ('b', 'b', 'B', 'b@example.com')",
            "INSERT INTO custom_domains (business_id, full_url, is_verified) VALUES "
            "(1, 'shop.a.example', true), (1, 'claim.a.example', false), "
            "(2, 'claim.b.example', false)",
        )
    )
    command.upgrade(config, "head")
    rows = asyncio.run(
        _run(
            old_database_url,
            "SELECT full_url, is_verified, verification_token, claim_expires_at "
            "FROM custom_domains ORDER BY id",
        )
    )
    assert [(r.full_url, bool(r.is_verified)) for r in rows] == [
        ("shop.a.example", True),
        ("claim.a.example", False),
        ("claim.b.example", False),
    ]
    verified, *claims = rows
    assert verified.verification_token is None and verified.claim_expires_at is None
    tokens = {c.verification_token for c in claims}
    assert len(tokens) == 2 and all(len(t) >= 32 for t in tokens)
    for claim in claims:
        expires = claim.claim_expires_at
        if isinstance(expires, str):  # SQLite
            expires = datetime.fromisoformat(expires)
        expires = expires.replace(tzinfo=expires.tzinfo or UTC)
        assert timedelta(days=2) < expires - datetime.now(UTC) <= timedelta(days=3)
    # Back down: one business per name again, and up once more.
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
