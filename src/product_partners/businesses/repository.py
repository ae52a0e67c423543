"""SQL for businesses."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.views import FIELDS, business_simple
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import businesses

BUSINESS_SIMPLE_COLUMNS = tuple(businesses.c[name] for name in FIELDS)


def business_columns(prefix: str, table: Any = businesses) -> tuple[Any, ...]:
    """BusinessSimple's columns (of ``table``: ``businesses`` or an alias of it) labelled
    ``<prefix><name>``, for a query that joins a business to other rows
    (``views.business_simple(row, prefix)`` reads them)."""
    return tuple(table.c[name].label(f"{prefix}{name}") for name in FIELDS)


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
