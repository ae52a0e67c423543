"""SQL for partnerships. Every query that serves a business is filtered by that business here."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.db.prepared import PreparedQuery
from product_partners.db.tables import (
    businesses,
    custom_domains,
    partnership_domains,
    product_partners,
    products,
    stores,
)
from product_partners.partnerships import partnering

pp = product_partners
partner_store = stores.alias("partner_store")
# For owner_scope(); built once: an alias built per request cost ~8% of a get-partner request.
owned_product = products.alias("owned_product")

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
            products.c.is_affiliate_pro_enabled.label("product_affiliate_pro_enabled"),
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


# Built once (db.PreparedQuery): add, get and list all read the owner's domains.
_OWNER_DOMAINS = PreparedQuery(
    select(custom_domains.c.id, custom_domains.c.business_id, custom_domains.c.full_url)
    .join(stores, stores.c.custom_domain_id == custom_domains.c.id)
    .where(stores.c.business_id == bindparam("owner"), stores.c.is_active.is_(True))
    .order_by(custom_domains.c.id)
)


async def owner_domains(conn: AsyncConnection, owner_business_id: int) -> list[dict[str, Any]]:
    """Custom domains of the owner's active stores: where its products can be viewed."""
    rows = await _OWNER_DOMAINS.all(conn, owner=owner_business_id)
    return [{"id": r.id, "business_id": r.business_id, "full_url": r.full_url} for r in rows]


async def owner_domains_by_owner(
    conn: AsyncConnection, owner_ids: Iterable[int]
) -> dict[int, list[dict[str, Any]]]:
    owners = sorted(set(owner_ids))
    if len(owners) == 1:  # the owner's own views: the prepared query
        return {owners[0]: await owner_domains(conn, owners[0])}
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


# --- lifecycle: tenant scopes and single-statement conditional writes --------------------------


def owner_scope(owner_business_id: int, product_id: int, partnership_id: int) -> ColumnElement:
    """One partnership of one of the owner's products (another business's: no row)."""
    # An alias: the scope is used both in UPDATE/DELETE and in partnerships_query(), which
    # already joins ``products`` (a correlated EXISTS over that same table would be empty).
    return and_(
        pp.c.id == partnership_id,
        pp.c.product_id == product_id,
        exists().where(
            owned_product.c.id == pp.c.product_id,
            owned_product.c.business_id == owner_business_id,
        ),
    )


def partner_scope(partner_business_id: int, partnership_id: int) -> ColumnElement:
    """One partnership where the caller is the partner."""
    return and_(pp.c.id == partnership_id, pp.c.partner_business_id == partner_business_id)


def _guard(
    where: ColumnElement, sources: Sequence[str], versions: Sequence[int] | None
) -> ColumnElement:
    clause = and_(where, pp.c.affiliate_status.in_(list(sources)))
    if versions is not None:
        clause = and_(clause, pp.c.version.in_(list(versions)))
    return clause


async def conditional_update(
    conn: AsyncConnection,
    where: ColumnElement,
    sources: Sequence[str],
    versions: Sequence[int] | None,
    values: dict[str, Any],
) -> Any | None:
    """One ``UPDATE ... WHERE <scope> AND status IN (sources) [AND version IN (...)] RETURNING``.

    The database decides: of concurrent writers, only those whose guard still holds change the
    row, and each bumps ``version``. None when the guard failed (see :func:`current_state`).
    """
    stmt = (
        update(pp)
        .where(_guard(where, sources, versions))
        .values(**values, version=pp.c.version + 1)
        .returning(pp.c.id, pp.c.version)
    )
    return (await conn.execute(stmt)).first()


async def conditional_delete(
    conn: AsyncConnection,
    where: ColumnElement,
    sources: Sequence[str],
    versions: Sequence[int] | None,
) -> Any | None:
    stmt = delete(pp).where(_guard(where, sources, versions)).returning(pp.c.id)
    return (await conn.execute(stmt)).first()


async def current_state(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    """Status and version of the partnership ``where`` selects (after a failed guard)."""
    stmt = select(pp.c.id, pp.c.affiliate_status, pp.c.version, pp.c.partnership_type).where(where)
    return (await conn.execute(stmt)).first()


async def fetch_partnership(conn: AsyncConnection, partnership_id: int) -> Any | None:
    return (await conn.execute(partnerships_query().where(pp.c.id == partnership_id))).first()


async def fetch_scoped(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    return (await conn.execute(partnerships_query().where(where))).first()


# getProductPartner's read, built once (db.PreparedQuery): owner_scope() as bind parameters
# (partnerships_query() already joins the product, so its owner is a plain condition).
_OWNED_PARTNERSHIP = PreparedQuery(
    partnerships_query().where(
        pp.c.id == bindparam("partnership_id"),
        pp.c.product_id == bindparam("product_id"),
        products.c.business_id == bindparam("owner"),
    )
)


async def fetch_owned(
    conn: AsyncConnection, owner_business_id: int, product_id: int, partnership_id: int
) -> Any | None:
    """One partnership of one of the owner's products, as ``fetch_scoped(owner_scope(...))``."""
    return await _OWNED_PARTNERSHIP.first(
        conn, partnership_id=partnership_id, product_id=product_id, owner=owner_business_id
    )


async def update_target(
    conn: AsyncConnection, where: ColumnElement, store_id: int | None
) -> Any | None:
    """The partnership to update, and whether ``store_id`` is a store of its partner."""
    store_ok = (
        exists()
        .where(stores.c.id == store_id, stores.c.business_id == pp.c.partner_business_id)
        .label("store_ok")
        if store_id is not None
        else literal(True).label("store_ok")
    )
    stmt = select(
        pp.c.id,
        pp.c.affiliate_status,
        pp.c.version,
        pp.c.partnership_type,
        pp.c.store_id,
        store_ok,
    ).where(where)
    return (await conn.execute(stmt)).first()


async def request_target(
    conn: AsyncConnection, partner_business_id: int, product_id: int, store_id: int | None
) -> Any | None:
    """In one round trip: the product's programme, the caller's partnership of it (if any),
    whether the caller is banned, and whether ``store_id`` is one of the caller's stores.
    None if the product does not exist.
    """
    mine = pp.alias("mine")
    caller_banned = (
        select(businesses.c.is_banned)
        .where(businesses.c.id == partner_business_id)
        .scalar_subquery()
    )
    store_ok = (
        exists()
        .where(stores.c.id == store_id, stores.c.business_id == partner_business_id)
        .label("store_ok")
        if store_id is not None
        else literal(True).label("store_ok")
    )
    stmt = (
        select(
            products.c.id.label("product_id"),
            products.c.business_id.label("owner_business_id"),
            products.c.is_affiliate_enabled,
            products.c.is_affiliate_pro_enabled,
            products.c.is_product_sharing,
            products.c.is_affiliate_auto_accept,
            products.c.rerequest_cooldown_seconds,
            mine.c.id.label("partnership_id"),
            mine.c.affiliate_status,
            mine.c.version,
            mine.c.rejected_at,
            caller_banned.label("caller_banned"),
            store_ok,
        )
        .select_from(products)
        .outerjoin(
            mine,
            and_(
                mine.c.product_id == products.c.id,
                mine.c.partner_business_id == partner_business_id,
            ),
        )
        .where(products.c.id == product_id)
    )
    return (await conn.execute(stmt)).first()


async def status_of(conn: AsyncConnection, product_id: int, partner_business_id: int) -> str | None:
    stmt = select(pp.c.affiliate_status).where(
        pp.c.product_id == product_id, pp.c.partner_business_id == partner_business_id
    )
    return (await conn.execute(stmt)).scalar()
