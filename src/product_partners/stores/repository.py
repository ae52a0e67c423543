"""SQL for stores; every query is filtered by the owning business here."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import custom_domains, stores
from product_partners.domains.repository import live

cd = custom_domains

STORE_COLUMNS = (
    stores.c.id,
    stores.c.unique_id,
    stores.c.name,
    stores.c.business_id,
    stores.c.is_active,
    stores.c.is_public,
    stores.c.logo,
    stores.c.custom_domain_id,
    stores.c.created_at,
    stores.c.last_updated_at,
    cd.c.full_url.label("domain_full_url"),
    cd.c.is_verified.label("domain_is_verified"),
)


def stores_query(business_id: int) -> Select:
    return (
        select(*STORE_COLUMNS)
        .select_from(stores)
        # A lapsed domain claim is shown nowhere, a store included (it is purged later).
        .outerjoin(cd, and_(cd.c.id == stores.c.custom_domain_id, live(datetime.now(UTC))))
        .where(stores.c.business_id == business_id)
    )


def store_ref(ref: int | str) -> ColumnElement[bool]:
    """A store by numeric id or by its public ``store_...`` unique id."""
    return stores.c.unique_id == ref if isinstance(ref, str) else stores.c.id == ref


def domain_is_owned(business_id: int, domain_id: int) -> ColumnElement[bool]:
    return exists().where(cd.c.id == domain_id, cd.c.business_id == business_id)


async def insert_store(
    conn: AsyncConnection, business_id: int, unique_id: str, name: str, domain_id: int | None
) -> int | None:
    """Insert in one statement; None when the domain is not the business's or already used.

    With a domain, the row is inserted from a SELECT of that domain restricted to the business:
    ownership and the one-store-per-domain constraint are checked by the same statement.
    """
    stmt = insert_or_nothing(conn, stores)
    if domain_id is None:
        stmt = stmt.values(business_id=business_id, unique_id=unique_id, name=name)
    else:
        source = select(
            literal(business_id, stores.c.business_id.type),
            literal(unique_id, stores.c.unique_id.type),
            literal(name, stores.c.name.type),
            cd.c.id,
        ).where(cd.c.id == domain_id, cd.c.business_id == business_id)
        stmt = stmt.from_select(["business_id", "unique_id", "name", "custom_domain_id"], source)
    return (await conn.execute(stmt.returning(stores.c.id))).scalar()


async def get_store(conn: AsyncConnection, business_id: int, ref: int | str) -> Any:
    return (await conn.execute(stores_query(business_id).where(store_ref(ref)))).first()


async def update_store(
    conn: AsyncConnection, business_id: int, ref: int | str, values: dict[str, Any]
) -> int | None:
    """Update; None when the store is not the business's or a new domain is not its own."""
    stmt = update(stores).where(store_ref(ref), stores.c.business_id == business_id)
    domain_id = values.get("custom_domain_id")
    if domain_id is not None:
        stmt = stmt.where(domain_is_owned(business_id, domain_id))
    return (await conn.execute(stmt.values(**values).returning(stores.c.id))).scalar()


async def delete_store(conn: AsyncConnection, business_id: int, ref: int | str) -> bool:
    result = await conn.execute(
        delete(stores).where(store_ref(ref), stores.c.business_id == business_id)
    )
    return result.rowcount > 0


async def domain_owner(conn: AsyncConnection, domain_id: int) -> int | None:
    return (await conn.execute(select(cd.c.business_id).where(cd.c.id == domain_id))).scalar()


async def store_exists(conn: AsyncConnection, business_id: int, ref: int | str) -> bool:
    stmt = select(stores.c.id).where(store_ref(ref), stores.c.business_id == business_id)
    return (await conn.execute(stmt)).first() is not None
