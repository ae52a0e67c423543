"""SQL of the dashboard's own reads (the writes all go through the domains' services)."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import businesses, product_partners, products
from product_partners.partnerships.enums import OPENING_SETTING, AffiliateStatus

# Status counts are counted up to this many (shown as "1000+"): a capped count reads at most
# COUNT_CAP + 1 index entries, so a product with a million partners costs what a small one does.
COUNT_CAP = 1000


def _capped_count(product_id: int, status: str) -> Any:
    rows = (
        select(literal(1))
        .where(product_partners.c.product_id == product_id)
        .where(product_partners.c.affiliate_status == status)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    return select(func.count()).select_from(rows).scalar_subquery()


async def status_counts(
    conn: AsyncConnection, product_ids: Iterable[int]
) -> dict[int, dict[str, int]]:
    """Partnerships per status of each product (each count capped at COUNT_CAP + 1), in one
    statement."""
    pairs = [(pid, status.value) for pid in product_ids for status in AffiliateStatus]
    if not pairs:
        return {}
    columns = [_capped_count(pid, status).label(f"c{i}") for i, (pid, status) in enumerate(pairs)]
    row = (await conn.execute(select(*columns))).one()
    counts: dict[int, dict[str, int]] = {}
    for (pid, status), value in zip(pairs, row, strict=True):
        counts.setdefault(pid, {})[status] = int(value)
    return counts


async def product_names(conn: AsyncConnection, product_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    stmt = select(products.c.id, products.c.name).where(products.c.id.in_(ids))
    return {r.id: r.name for r in await conn.execute(stmt)}


async def joinable_product(conn: AsyncConnection, product_id: int) -> Any | None:
    """A product open to at least one type of request, with its owner: what the join page
    shows (a product open to none is not revealed, as requestProductPartnership does)."""
    is_open = or_(*(products.c[setting].is_(True) for setting in OPENING_SETTING.values()))
    stmt = (
        select(
            products.c.id,
            products.c.name,
            products.c.business_id,
            products.c.affiliate_commission_rate,
            products.c.affiliate_pro_commission_rate,
            products.c.partnership_sales_letter,
            products.c.application_questions,
            *(products.c[setting] for setting in OPENING_SETTING.values()),
            businesses.c.unique_id.label("owner_unique_id"),
            businesses.c.account_holder.label("owner_name"),
        )
        .join(businesses, businesses.c.id == products.c.business_id)
        .where(products.c.id == product_id, is_open)
    )
    return (await conn.execute(stmt)).first()
