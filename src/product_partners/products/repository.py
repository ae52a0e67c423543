"""SQL for products. Owner filters are applied here, once."""

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import business_columns
from product_partners.db.tables import businesses, product_partners, products
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import AUTO_ACCEPT_TYPES, OPENING_SETTING, AffiliateStatus

_OWNER_COLUMNS = business_columns("owner_")


def products_query() -> Select:
    """Products with their owner business."""
    return select(products, *_OWNER_COLUMNS).join(
        businesses, businesses.c.id == products.c.business_id
    )


async def insert_product(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """Insert a product; None when the owner already has a product with this slug."""
    from product_partners.db.sql import insert_or_nothing

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
    # Not a product it is banned from: a banned partner sees nothing of its terms.
    has_partnership = exists().where(
        product_partners.c.product_id == products.c.id,
        product_partners.c.partner_business_id == partner_business_id,
        product_partners.c.affiliate_status != AffiliateStatus.banned,
    )
    return products_query().where(products.c.business_id != partner_business_id, has_partnership)


# --- partner-programme settings ---------------------------------------------------------------


def accepts_automatically(partnership_type: Any) -> ColumnElement:
    """SQL: the product (``products`` row in scope) auto-accepts requests of this type now:
    auto-accept is on, and the type is one it applies to and is open to requests."""
    return and_(
        products.c.is_affiliate_auto_accept.is_(True),
        or_(
            *(
                and_(partnership_type == kind, products.c[OPENING_SETTING[kind]].is_(True))
                for kind in AUTO_ACCEPT_TYPES
            )
        ),
    )


async def update_owned(
    conn: AsyncConnection, owner_business_id: int, product_id: int, values: dict[str, Any]
) -> bool:
    """Update one of the owner's products (a slug another of its products has raises the
    unique constraint's IntegrityError); False when it has no such product."""
    stmt = (
        update(products)
        .where(products.c.id == product_id, products.c.business_id == owner_business_id)
        .values(**values)
        .returning(products.c.id)
    )
    return (await conn.execute(stmt)).first() is not None


async def delete_owned(conn: AsyncConnection, owner_business_id: int, product_id: int) -> bool:
    stmt = (
        delete(products)
        .where(products.c.id == product_id, products.c.business_id == owner_business_id)
        .returning(products.c.id)
    )
    return (await conn.execute(stmt)).first() is not None


async def auto_approve_pending(conn: AsyncConnection, product_id: int, now: Any) -> list[int]:
    """Approve the product's pending requests that its settings now auto-accept (one UPDATE):
    the transition table's ``system`` ``auto_approve``, from the statuses it allows; the ids
    of the partnerships approved.

    Decided by the product row as the database sees it, not by values we read earlier.
    """
    stmt = (
        update(product_partners)
        .where(
            product_partners.c.product_id == product_id,
            product_partners.c.affiliate_status.in_(tt.sources(tt.SYSTEM, "auto_approve")),
            exists().where(
                products.c.id == product_partners.c.product_id,
                accepts_automatically(product_partners.c.partnership_type),
            ),
        )
        .values(
            affiliate_status=tt.target(tt.SYSTEM, "auto_approve"),
            approved_at=now,
            updated_at=now,
            version=product_partners.c.version + 1,
        )
        .returning(product_partners.c.id)
    )
    return sorted(row.id for row in await conn.execute(stmt))


async def partnership_counts(conn: AsyncConnection, product_id: int) -> dict[tuple[str, str], int]:
    stmt = (
        select(
            product_partners.c.partnership_type,
            product_partners.c.affiliate_status,
            func.count().label("n"),
        )
        .where(product_partners.c.product_id == product_id)
        .group_by(product_partners.c.partnership_type, product_partners.c.affiliate_status)
    )
    return {(r.partnership_type, r.affiliate_status): r.n for r in await conn.execute(stmt)}
