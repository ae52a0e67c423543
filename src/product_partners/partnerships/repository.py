"""SQL for partnerships. Every query that serves a business is filtered by that business here."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners import partnering
from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.tables import (
    businesses,
    custom_domains,
    partnership_domains,
    product_partners,
    products,
    stores,
)

pp = product_partners
partner_store = stores.alias("partner_store")

PARTNERSHIP_COLUMNS = (
    pp.c.id,
    pp.c.product_id,
    pp.c.partner_business_id,
    pp.c.partnership_type,
    pp.c.affiliate_status,
    pp.c.message_to_product_owner,
    pp.c.requested_at,
    pp.c.approved_at,
    pp.c.rejected_at,
    pp.c.banned_at,
    pp.c.created_at,
    pp.c.updated_at,
    pp.c.store_id,
    pp.c.rejection_reason,
    pp.c.ban_reason,
    pp.c.ban_note,
    pp.c.version,
)
_PARTNER_COLUMNS = tuple(c.label(f"partner_{c.name}") for c in BUSINESS_SIMPLE_COLUMNS)


def partnerships_query() -> Select:
    """Partnerships with their partner business, product and partner store, unfiltered."""
    return (
        select(
            *PARTNERSHIP_COLUMNS,
            *_PARTNER_COLUMNS,
            products.c.business_id.label("owner_business_id"),
            products.c.slug.label("product_slug"),
            partner_store.c.unique_id.label("store_unique_id"),
        )
        .select_from(pp)
        .join(businesses, businesses.c.id == pp.c.partner_business_id)
        .join(products, products.c.id == pp.c.product_id)
        .outerjoin(partner_store, partner_store.c.id == pp.c.store_id)
    )


def partner_of(row: Any) -> dict[str, Any]:
    return {
        "id": row.partner_id,
        "unique_id": row.partner_unique_id,
        "username": row.partner_username,
        "account_holder": row.partner_account_holder,
        "email": row.partner_email,
        "logo": row.partner_logo,
        "is_banned": bool(row.partner_is_banned),
    }


async def insert_partnership(conn: AsyncConnection, values: dict[str, Any]) -> Any | None:
    """Insert; None when the business is already a partner of the product (unique constraint)."""
    return await partnering.insert_link(conn, partnering.PRODUCTS, values, pp.c.id, pp.c.created_at)


async def owner_domains(conn: AsyncConnection, owner_business_id: int) -> list[dict[str, Any]]:
    """Custom domains of the owner's active stores: where its products can be viewed."""
    rows = await conn.execute(
        select(custom_domains.c.id, custom_domains.c.business_id, custom_domains.c.full_url)
        .join(stores, stores.c.custom_domain_id == custom_domains.c.id)
        .where(stores.c.business_id == owner_business_id, stores.c.is_active.is_(True))
        .order_by(custom_domains.c.id)
    )
    return [{"id": r.id, "business_id": r.business_id, "full_url": r.full_url} for r in rows]


async def owner_domains_by_owner(
    conn: AsyncConnection, owner_ids: Iterable[int]
) -> dict[int, list[dict[str, Any]]]:
    owners = sorted(set(owner_ids))
    result: dict[int, list[dict[str, Any]]] = {o: [] for o in owners}
    if not owners:
        return result
    rows = await conn.execute(
        select(custom_domains.c.id, custom_domains.c.business_id, custom_domains.c.full_url)
        .join(stores, stores.c.custom_domain_id == custom_domains.c.id)
        .where(stores.c.business_id.in_(owners), stores.c.is_active.is_(True))
        .order_by(custom_domains.c.id)
    )
    for r in rows:
        result[r.business_id].append(
            {"id": r.id, "business_id": r.business_id, "full_url": r.full_url}
        )
    return result


async def approved_pro_domains(
    conn: AsyncConnection, partnership_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """The partner domains approved for each affiliate_pro partnership."""
    result: dict[int, list[dict[str, Any]]] = {pid: [] for pid in partnership_ids}
    if not partnership_ids:
        return result
    rows = await conn.execute(
        select(
            partnership_domains.c.partnership_id,
            custom_domains.c.id,
            custom_domains.c.business_id,
            custom_domains.c.full_url,
        )
        .join(custom_domains, custom_domains.c.id == partnership_domains.c.custom_domain_id)
        .where(partnership_domains.c.partnership_id.in_(list(partnership_ids)))
        .order_by(partnership_domains.c.partnership_id, custom_domains.c.id)
    )
    for r in rows:
        result[r.partnership_id].append(
            {"id": r.id, "business_id": r.business_id, "full_url": r.full_url}
        )
    return result


def owned_partnerships_query(owner_business_id: int, product_id: int) -> Select:
    """A product's partnerships, only if the product belongs to ``owner_business_id``."""
    return partnerships_query().where(
        and_(pp.c.product_id == product_id, products.c.business_id == owner_business_id)
    )


async def product_is_owned(conn: AsyncConnection, owner_business_id: int, product_id: int) -> Any:
    return (
        await conn.execute(
            select(products.c.id, products.c.slug).where(
                products.c.id == product_id, products.c.business_id == owner_business_id
            )
        )
    ).first()
