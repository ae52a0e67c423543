"""SQL for bundles; the owner filter is applied here."""

from typing import Any

from sqlalchemy import Select, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import business_columns
from product_partners.businesses.views import PARTNER_PREFIX
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import bundle_partners, bundles, businesses, partner_consents

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


async def update_owned(
    conn: AsyncConnection, owner_business_id: int, bundle_id: int, values: dict[str, Any]
) -> bool:
    """False when the owner has no such bundle."""
    stmt = (
        update(bundles)
        .where(bundles.c.id == bundle_id, bundles.c.business_id == owner_business_id)
        .values(**values)
        .returning(bundles.c.id)
    )
    return (await conn.execute(stmt)).first() is not None


async def delete_owned(conn: AsyncConnection, owner_business_id: int, bundle_id: int) -> bool:
    stmt = (
        delete(bundles)
        .where(bundles.c.id == bundle_id, bundles.c.business_id == owner_business_id)
        .returning(bundles.c.id)
    )
    return (await conn.execute(stmt)).first() is not None


_PARTNER_COLUMNS = business_columns(PARTNER_PREFIX)


def bundle_partners_query() -> Select:
    """Bundle partner rows with their partner (``partner_*`` columns; none while the named
    unique id is no business's) and whether it consented to the bundle's owner; scoped by the
    caller."""
    return (
        select(
            bundle_partners.c.id,
            bundle_partners.c.created_at,
            bundle_partners.c.partner_unique_id,
            bundle_partners.c.partner_business_id,
            *_PARTNER_COLUMNS,
            partner_consents.c.consented_at.label("partner_consented_at"),
        )
        .select_from(bundle_partners)
        .join(bundles, bundles.c.id == bundle_partners.c.bundle_id)
        .outerjoin(businesses, businesses.c.id == bundle_partners.c.partner_business_id)
        .outerjoin(
            partner_consents,
            and_(
                partner_consents.c.owner_business_id == bundles.c.business_id,
                partner_consents.c.partner_business_id == bundle_partners.c.partner_business_id,
            ),
        )
    )


def partner_bundles_query(partner_business_id: int) -> Select:
    """The bundle partnerships of ``partner_business_id`` (the partner side), with the bundle
    and its owner (``owner_*`` columns): whoever added it, it sees who."""
    return (
        select(
            bundle_partners.c.id,
            bundle_partners.c.created_at,
            bundles.c.id.label("bundle_id"),
            bundles.c.name.label("bundle_name"),
            *_OWNER_COLUMNS,
        )
        .select_from(bundle_partners)
        .join(bundles, bundles.c.id == bundle_partners.c.bundle_id)
        .join(businesses, businesses.c.id == bundles.c.business_id)
        .where(bundle_partners.c.partner_business_id == partner_business_id)
    )
