"""SQL for custom domains; every query is filtered by the owning business here."""

from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import custom_domains, stores

cd = custom_domains

DOMAIN_COLUMNS = (
    cd.c.id,
    cd.c.business_id,
    cd.c.full_url,
    cd.c.is_verified,
    cd.c.created_at,
    stores.c.id.label("store_id"),
)


def domains_query(business_id: int) -> Select:
    return (
        select(*DOMAIN_COLUMNS)
        .select_from(cd)
        .outerjoin(stores, stores.c.custom_domain_id == cd.c.id)
        .where(cd.c.business_id == business_id)
    )


async def insert_domain(conn: AsyncConnection, business_id: int, full_url: str) -> int | None:
    """Insert; None when any business already has this domain (the unique constraint says)."""
    stmt = (
        insert_or_nothing(conn, cd, cd.c.full_url)
        .values(business_id=business_id, full_url=full_url)
        .returning(cd.c.id)
    )
    return (await conn.execute(stmt)).scalar()


async def get_domain(conn: AsyncConnection, business_id: int, domain_id: int) -> Any:
    return (await conn.execute(domains_query(business_id).where(cd.c.id == domain_id))).first()


async def delete_domain(conn: AsyncConnection, business_id: int, domain_id: int) -> bool:
    result = await conn.execute(
        delete(cd).where(cd.c.id == domain_id, cd.c.business_id == business_id)
    )
    return result.rowcount > 0


async def set_verified(conn: AsyncConnection, domain_id: int, verified: bool) -> int | None:
    """Any business's domain (operator action); returns the owning business id."""
    stmt = (
        update(cd)
        .where(cd.c.id == domain_id)
        .values(is_verified=verified)
        .returning(cd.c.business_id)
    )
    return (await conn.execute(stmt)).scalar()
