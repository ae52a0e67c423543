"""SQL for bundles; the owner filter is applied here."""

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import business_columns
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import bundle_partners, bundles, businesses

_OWNER_COLUMNS = business_columns("owner_")


def owned_bundles(business_id: int) -> Select:
    """The business's bundles, with their owner (BusinessSimple as ``owner_*`` columns)."""
    return (
        select(bundles, *_OWNER_COLUMNS)
        .join(businesses, businesses.c.id == bundles.c.business_id)
        .where(bundles.c.business_id == business_id)
    )


async def insert_bundle(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """Insert; None when the owner already has a bundle with this slug."""
    stmt = (
        insert_or_nothing(conn, bundles, bundles.c.business_id, bundles.c.slug)
        .values(**values)
        .returning(bundles.c.id)
    )
    return (await conn.execute(stmt)).scalar()


_PARTNER_COLUMNS = business_columns("partner_")


def bundle_partners_query() -> Select:
    """Bundle partner rows with their partner (``partner_*`` columns); scoped by the caller."""
    return select(bundle_partners.c.id, bundle_partners.c.created_at, *_PARTNER_COLUMNS).join(
        businesses, businesses.c.id == bundle_partners.c.partner_business_id
    )
