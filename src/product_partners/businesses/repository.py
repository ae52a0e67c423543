"""SQL for businesses."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import businesses

BUSINESS_SIMPLE_COLUMNS = (
    businesses.c.id,
    businesses.c.unique_id,
    businesses.c.username,
    businesses.c.account_holder,
    businesses.c.email,
    businesses.c.logo,
    businesses.c.is_banned,
)


def business_simple(row: Any) -> dict[str, Any]:
    """Scalev's BusinessSimple from a row holding BUSINESS_SIMPLE_COLUMNS."""
    return {
        "id": row.id,
        "unique_id": row.unique_id,
        "username": row.username,
        "account_holder": row.account_holder,
        "email": row.email,
        "logo": row.logo,
        "is_banned": bool(row.is_banned),
    }


async def get_business_by_unique_id(conn: AsyncConnection, unique_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*BUSINESS_SIMPLE_COLUMNS).where(businesses.c.unique_id == unique_id)
        )
    ).first()
    return business_simple(row) if row else None


async def insert_business(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any] | None:
    """Insert a business; None if its unique_id is taken (checked by the database)."""
    row = (
        await conn.execute(
            insert_or_nothing(conn, businesses, businesses.c.unique_id)
            .values(**values)
            .returning(*BUSINESS_SIMPLE_COLUMNS)
        )
    ).first()
    return business_simple(row) if row else None
