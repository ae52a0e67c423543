"""The read-replica rules that need no standby: WAL positions, the setting, the primary's
position shared by concurrent writers (on the machine's PostgreSQL)."""

import asyncio
import uuid

import asyncpg
import pytest
from pydantic import ValidationError

from product_partners.db.replicas import (
    UNKNOWN,
    Positions,
    PrimaryPosition,
    RedisPositions,
    _Server,
    format_lsn,
    parse_lsn,
    run_on_primary,
)
from product_partners.settings import Settings, describe_settings_error
from tests.support.ops import REDIS_URL, asyncpg_dsn


@pytest.mark.parametrize("text", ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_wal_positions_read_and_write_back(text: str) -> None:
    assert format_lsn(parse_lsn(text)) == text


@pytest.mark.parametrize("text", ["", "16B3748", "0/", "/1", "x/1", "1/2/3", "123456789/0"])
def test_what_is_not_a_wal_position_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lsn(text)


def test_replica_urls_are_read_as_asyncpg_and_anything_else_refused() -> None:
    settings = Settings(database_replica_urls="postgres://u:secret@r1:5433/db, postgresql://r2/db")
    assert settings.database_replica_urls == (
        "postgresql+asyncpg://u:secret@r1:5433/db",
        "postgresql+asyncpg://r2/db",
    )
    assert Settings(database_replica_urls="").database_replica_urls == ()
    for wrong in ("sqlite:///x.db", "mysql://h/db", "not a url"):
        with pytest.raises(ValidationError) as refused:
            Settings(database_replica_urls=f"postgresql://u:secret@r1/db,{wrong}")
        message = describe_settings_error(refused.value)
        assert message.startswith("invalid setting: DATABASE_REPLICA_URLS=")
        assert "secret" not in message and "accepted: PostgreSQL URLs" in message
    with pytest.raises(ValidationError):
        Settings(database_replica_max_lag=0)


def test_a_bug_is_not_sent_to_the_primary() -> None:
    assert not run_on_primary(KeyError("x"))
    assert run_on_primary(ConnectionRefusedError())


@pytest.mark.postgres_only
async def test_concurrent_writers_share_reads_of_the_primary_position(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    server = _Server(database_url, settings)
    sent = 0
    fetchrow = server.fetchrow

    async def counted(sql: str) -> object:
        nonlocal sent
        sent += 1
        return await fetchrow(sql)

    server.fetchrow = counted  # type: ignore[method-assign]
    position = PrimaryPosition(server)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await position.read()
        await conn.execute("CREATE TEMP TABLE t (x int)")
        committed = parse_lsn(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))
        sent = 0
        answers = await asyncio.gather(*(position.read() for _ in range(50)))
    finally:
        await conn.close()
        await server.close()
    # Every writer got a position past the commits made before it asked, in few round trips.
    assert min(answers) >= committed
    assert 1 <= sent <= 2


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
async def test_a_business_position_only_moves_forward(shared: bool) -> None:
    prefix = f"pp-test-{uuid.uuid4().hex[:8]}"
    positions = RedisPositions(60, REDIS_URL, prefix) if shared else Positions(60)
    try:
        assert await positions.get(7) == 0
        await positions.remember(7, parse_lsn("16/B374D848"))
        await positions.remember(7, parse_lsn("16/B3740000"))  # an older write, answered later
        assert await positions.get(7) == parse_lsn("16/B374D848")
        assert await positions.get(8) == 0
        await positions.remember(7, UNKNOWN)  # the primary did not say: the primary serves
        assert await positions.get(7) == UNKNOWN
    finally:
        await positions.close()
