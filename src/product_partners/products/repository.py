"""SQL for products. Owner filters are applied here, once."""

from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.tables import businesses, product_partners, products

_OWNER_COLUMNS = tuple(c.label(f"owner_{c.name}") for c in BUSINESS_SIMPLE_COLUMNS)


def products_query() -> Select:
    """Products with their owner business."""
    return select(products, *_OWNER_COLUMNS).join(
        businesses, businesses.c.id == products.c.business_id
    )


async def insert_product(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """Insert a product; None when the owner already has a product with this slug."""
    from product_partners.db import insert_or_nothing

    stmt = (
        insert_or_nothing(conn, products, products.c.business_id, products.c.slug)
        .values(**values)
        .returning(products.c.id)
    )
    return (await conn.execute(stmt)).scalar()


async def get_product(conn: AsyncConnection, product_id: int) -> Any:
    return (await conn.execute(products_query().where(products.c.id == product_id))).first()


def owned_products(business_id: int) -> Select:
    return products_query().where(products.c.business_id == business_id)


def partner_products(partner_business_id: int) -> Select:
    """Products of other businesses where ``partner_business_id`` has a partnership."""
    has_partnership = exists().where(
        product_partners.c.product_id == products.c.id,
        product_partners.c.partner_business_id == partner_business_id,
    )
    return products_query().where(products.c.business_id != partner_business_id, has_partnership)
