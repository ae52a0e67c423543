"""Business rules of bundles and bundle partners.

Adding, listing and removing a bundle's partners follow exactly the product rules: both go
through ``product_partners.partnering``.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.bundles import repository as repo
from product_partners.bundles.schemas import BundleCreateRequest
from product_partners.businesses.repository import business_simple
from product_partners.db.tables import bundle_partners, bundles
from product_partners.kit.errors import Conflict
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships import partnering
from product_partners.partnerships.repository import partner_of
from product_partners.products.service import slugify
from product_partners.products.views import owner_of

KIND = partnering.BUNDLES


def _bundle_id(raw: str | int) -> int:
    return parse_id(raw, KIND.item_not_found())


def bundle_body(row: Any, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "public_name": row.public_name,
        "display": row.public_name,
        "slug": row.slug,
        "description": row.description,
        "business": owner_of(row),
        "is_bundle_sharing": bool(row.is_product_sharing),
        "images": [],
        "labels": [],
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }
    if full:
        body["bundlelines"] = []
        body["bundle_price_options"] = []
    return body


async def create_bundle(
    conn: AsyncConnection, owner_business_id: int, data: BundleCreateRequest
) -> dict[str, Any]:
    now = datetime.now(UTC)
    bundle_id = await repo.insert_bundle(
        conn,
        {
            "business_id": owner_business_id,
            "name": data.name,
            "public_name": data.public_name,
            "description": data.description,
            # Bundles keep the programme columns of products; bundle sharing is product sharing.
            "is_product_sharing": data.is_bundle_sharing,
            # A readable slug, unique per business thanks to a short random suffix.
            "slug": f"{slugify(data.name)}-{secrets.token_hex(3)}",
            "created_at": now,
            "last_updated_at": now,
        },
    )
    if bundle_id is None:
        raise Conflict("Could not allocate a unique slug; retry.", error_code="slug_taken")
    return await get_bundle(conn, owner_business_id, bundle_id)


async def get_bundle(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int
) -> dict[str, Any]:
    query = repo.owned_bundles(owner_business_id).where(bundles.c.id == _bundle_id(bundle_id))
    row = (await conn.execute(query)).first()
    if row is None:
        raise KIND.item_not_found()
    return bundle_body(row)


async def list_bundles(
    conn: AsyncConnection,
    owner_business_id: int,
    page: PageRequest,
    search: str | None = None,
    is_bundle_sharing: bool | None = None,
) -> dict[str, Any]:
    query = repo.owned_bundles(owner_business_id)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(bundles.c.name.ilike(f"%{escaped}%", escape="\\"))
    if is_bundle_sharing is not None:
        query = query.where(bundles.c.is_product_sharing.is_(is_bundle_sharing))
    rows, fields = await fetch_page(conn, query, bundles.c.id, page)
    return {"data": [bundle_body(r, full=False) for r in rows], **fields}


async def add_partner(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, partner_unique_id: str
) -> dict[str, Any]:
    """The owner adds a business as partner of a bundle (two round trips)."""
    bid = _bundle_id(bundle_id)
    partner = await partnering.resolve_new_partner(
        conn, KIND, owner_business_id, bid, partner_unique_id
    )
    now = datetime.now(UTC)
    inserted = await partnering.insert_link(
        conn,
        KIND,
        {"bundle_id": bid, "partner_business_id": partner.id, "created_at": now},
        bundle_partners.c.id,
        bundle_partners.c.created_at,
    )
    if inserted is None:
        raise partnering.already_partner(KIND)
    return {"id": inserted.id, "partner": business_simple(partner), "created_at": now}


async def list_partners(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, page: PageRequest
) -> dict[str, Any]:
    """One page of a bundle's partners, newest first."""
    rows, fields = await partnering.list_links(
        conn, KIND, owner_business_id, _bundle_id(bundle_id), repo.bundle_partners_query(), page
    )
    data = [{"id": r.id, "partner": partner_of(r), "created_at": r.created_at} for r in rows]
    return {"data": data, **fields}


async def delete_partner(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, partner_id: str | int
) -> None:
    """Remove a partner (``partner_id`` is the BundlePartner id) from one of your bundles."""
    bid = _bundle_id(bundle_id)
    link_id = parse_id(partner_id, KIND.link_not_found())
    await partnering.delete_link(conn, KIND, owner_business_id, bid, link_id)
