"""Business rules of partnerships, as plain async functions (callable from tests and the CLI)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners import partnering
from product_partners.businesses.repository import business_simple
from product_partners.errors import NotFound
from product_partners.ids import parse_id
from product_partners.pagination import PageRequest
from product_partners.partnerships import repository as repo
from product_partners.partnerships.views import product_partner
from product_partners.tables import product_partners as pp


def product_not_found() -> NotFound:
    return NotFound("No such product.", error_code="product_not_found")


async def add_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partner_unique_id: str,
) -> dict[str, Any]:
    """The owner adds a business as partner: an approved ``affiliate`` partnership.

    Round trips: one to resolve product and partner, one insert. The unique constraint on
    (product, partner) decides duplicates, so concurrent identical adds yield one 201.
    """
    pid = parse_id(product_id, product_not_found())
    # The rules shared with bundle partners (404 / 422 / 409): see product_partners.partnering.
    target = await partnering.resolve_new_partner(
        conn, partnering.PRODUCTS, owner_business_id, pid, partner_unique_id
    )
    now = datetime.now(UTC)
    inserted = await repo.insert_partnership(
        conn,
        {
            "product_id": pid,
            "partner_business_id": target.id,
            "partnership_type": "affiliate",
            "affiliate_status": "approved",
            "approved_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    if inserted is None:
        raise partnering.already_partner(partnering.PRODUCTS)
    domains = await repo.owner_domains(conn, owner_business_id)
    return {
        "id": inserted.id,
        "partner": business_simple(target),
        "partnership_type": "affiliate",
        "affiliate_status": "approved",
        "message_to_product_owner": None,
        "requested_at": None,
        "approved_at": now,
        "rejected_at": None,
        "created_at": now,
        "store_id": None,
        "custom_domains": domains,
        "affiliate_pro_domains": [],
        "affiliate_pro_links": [],
    }


async def render_partnerships(
    conn: AsyncConnection, rows: list[Any], scheme: str
) -> list[dict[str, Any]]:
    """ProductPartner bodies for rows of ``partnerships_query``: two more queries at most."""
    if not rows:
        return []
    domains = await repo.owner_domains_by_owner(conn, (r.owner_business_id for r in rows))
    pro_ids = [r.id for r in rows if r.partnership_type == "affiliate_pro"]
    pro = await repo.approved_pro_domains(conn, pro_ids) if pro_ids else {}
    return [
        product_partner(r, domains[r.owner_business_id], pro.get(r.id, []), scheme) for r in rows
    ]


async def list_partners(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    page: PageRequest,
    scheme: str,
    affiliate_status: str | None = None,
    partnership_type: str | None = None,
) -> dict[str, Any]:
    """One page of a product's partners, newest first (the owner's view)."""
    pid = parse_id(product_id, product_not_found())
    query = repo.partnerships_query()
    if affiliate_status is not None:
        query = query.where(pp.c.affiliate_status == affiliate_status)
    if partnership_type is not None:
        query = query.where(pp.c.partnership_type == partnership_type)
    rows, fields = await partnering.list_links(
        conn, partnering.PRODUCTS, owner_business_id, pid, query, page
    )
    return {"data": await render_partnerships(conn, rows, scheme), **fields}
