"""SQL for idempotency keys: the claim, the stored response, the sweep of expired keys."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import idempotency_keys
from product_partners.idempotency.enums import KeyState

k = idempotency_keys


def _the_key(business_id: int, key: str) -> Any:
    return (k.c.business_id == business_id) & (k.c.key == key)


def _the_claim(business_id: int, key: str, claimed_at: datetime) -> Any:
    """The in_flight row of one claim (not a later claim of the same key, after a takeover)."""
    return (
        _the_key(business_id, key)
        & (k.c.state == KeyState.in_flight)
        & (k.c.created_at == claimed_at)
    )


async def insert_claim(
    conn: AsyncConnection,
    business_id: int,
    key: str,
    fingerprint: str,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Insert the in_flight row; False if the key has a row already (the primary key decides,
    so of concurrent claims exactly one wins, on any process)."""
    stmt = (
        insert_or_nothing(conn, k, k.c.business_id, k.c.key)
        .values(
            business_id=business_id,
            key=key,
            fingerprint=fingerprint,
            state=KeyState.in_flight,
            created_at=now,
            expires_at=lease_until,
        )
        .returning(k.c.key)
    )
    return (await conn.execute(stmt)).first() is not None


async def find(conn: AsyncConnection, business_id: int, key: str) -> Any:
    return (await conn.execute(select(k).where(_the_key(business_id, key)))).first()


async def delete_expired(conn: AsyncConnection, business_id: int, key: str, now: datetime) -> None:
    await conn.execute(delete(k).where(_the_key(business_id, key) & (k.c.expires_at <= now)))


async def complete(
    conn: AsyncConnection,
    business_id: int,
    key: str,
    claimed_at: datetime,
    *,
    status: int,
    headers: str,
    body: bytes,
    expires_at: datetime,
) -> None:
    await conn.execute(
        update(k)
        .where(_the_claim(business_id, key, claimed_at))
        .values(
            state=KeyState.completed,
            status=status,
            headers=headers,
            body=body,
            expires_at=expires_at,
        )
    )


async def release(conn: AsyncConnection, business_id: int, key: str, claimed_at: datetime) -> None:
    await conn.execute(delete(k).where(_the_claim(business_id, key, claimed_at)))


async def delete_all_expired(conn: AsyncConnection, now: datetime) -> int:
    result = await conn.execute(delete(k).where(k.c.expires_at <= now))
    return result.rowcount or 0
