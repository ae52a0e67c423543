"""The machine's PostgreSQL server, as the tests use it: its admin connection, and URLs of the
databases the tests create on it (each run its own)."""

import os

import asyncpg

PG_ADMIN_DSN = os.environ.get(
    "PP_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pg_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
