"""Business rules of bundles and bundle partners.

Adding, listing and removing a bundle's partners follow exactly the product rules: both go
through ``partnerships.partnering``.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.bundles import repository as repo
from product_partners.bundles import views
from product_partners.bundles.errors import BundleNotFound, BundleSlugUnavailable
from product_partners.bundles.schemas import BundleCreateRequest, BundleUpdateRequest
from product_partners.db.sql import name_contains
from product_partners.db.tables import bundle_partners, bundles
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, count_of, fetch_page
from product_partners.kit.text import unique_slug
from product_partners.partnerships import partnering
from product_partners.partnerships import views as partner_views
from product_partners.partnerships.errors import PartnerNotFound

KIND = partnering.BUNDLES


def _bundle_id(raw: str | int) -> int:
    return parse_id(raw, BundleNotFound)


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
            "slug": unique_slug(data.name),
            "created_at": now,
            "last_updated_at": now,
        },
    )
    if bundle_id is None:
        raise BundleSlugUnavailable()
    return await get_bundle(conn, owner_business_id, bundle_id)


async def get_bundle(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int
) -> dict[str, Any]:
    query = repo.owned_bundles(owner_business_id).where(bundles.c.id == _bundle_id(bundle_id))
    row = (await conn.execute(query)).first()
    if row is None:
        raise BundleNotFound()
    return views.bundle(row)


def bundles_filtered(
    owner_business_id: int, search: str | None = None, is_bundle_sharing: bool | None = None
) -> Select:
    """The bundles a list, a simplified list or a count reads."""
    query = repo.owned_bundles(owner_business_id)
    if search:
        query = query.where(name_contains(bundles.c.name, search))
    if is_bundle_sharing is not None:
        query = query.where(bundles.c.is_product_sharing.is_(is_bundle_sharing))
    return query


async def list_bundles(
    conn: AsyncConnection, owner_business_id: int, page: PageRequest, **filters: Any
) -> dict[str, Any]:
    query = bundles_filtered(owner_business_id, **filters)
    rows, fields = await fetch_page(conn, query, bundles.c.id, page)
    return {"data": [views.bundle(r, full=False) for r in rows], **fields}


async def list_bundles_simplified(
    conn: AsyncConnection, owner_business_id: int, page: PageRequest, **filters: Any
) -> dict[str, Any]:
    query = bundles_filtered(owner_business_id, **filters)
    rows, fields = await fetch_page(conn, query, bundles.c.id, page)
    return {"data": [views.bundle_simplified(r) for r in rows], **fields}


async def count_bundles(
    conn: AsyncConnection, owner_business_id: int, **filters: Any
) -> dict[str, int]:
    query = bundles_filtered(owner_business_id, **filters)
    return {"count": await count_of(conn, query, bundles.c.id)}


async def update_bundle(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str, patch: BundleUpdateRequest
) -> dict[str, Any]:
    """Change the sent fields of one of your bundles; returns the Bundle."""
    bid = _bundle_id(bundle_id)
    values: dict[str, Any] = {
        name: getattr(patch, name) for name in patch.model_fields_set - {"is_bundle_sharing"}
    }
    if "is_bundle_sharing" in patch.model_fields_set:
        values["is_product_sharing"] = patch.is_bundle_sharing
    if values:
        values["last_updated_at"] = datetime.now(UTC)
        if not await repo.update_owned(conn, owner_business_id, bid, values):
            raise BundleNotFound()
    return await get_bundle(conn, owner_business_id, bid)


async def delete_bundle(conn: AsyncConnection, owner_business_id: int, bundle_id: str) -> None:
    """Delete one of your bundles and its partners."""
    if not await repo.delete_owned(conn, owner_business_id, _bundle_id(bundle_id)):
        raise BundleNotFound()


async def add_partner(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, partner_unique_id: str
) -> dict[str, Any]:
    """The owner adds a business as partner of a bundle (``partnering.add_link``)."""
    bid = _bundle_id(bundle_id)
    values = {"created_at": datetime.now(UTC)}
    link_id = await partnering.add_link(
        conn, KIND, owner_business_id, bid, partner_unique_id, values
    )
    query = repo.bundle_partners_query().where(bundle_partners.c.id == link_id)
    return _partner_body((await conn.execute(query)).one())


async def list_partners(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, page: PageRequest
) -> dict[str, Any]:
    """One page of a bundle's partners, newest first."""
    rows, fields = await partnering.list_links(
        conn, KIND, owner_business_id, _bundle_id(bundle_id), repo.bundle_partners_query(), page
    )
    return {"data": [_partner_body(r) for r in rows], **fields}


async def list_my_bundle_partnerships(
    conn: AsyncConnection, partner_business_id: int, page: PageRequest
) -> dict[str, Any]:
    """One page of the bundles the caller is a partner of, newest first, each with its owner."""
    query = repo.partner_bundles_query(partner_business_id)
    rows, fields = await fetch_page(conn, query, bundle_partners.c.id, page)
    return {"data": [views.my_bundle_partnership(r) for r in rows], **fields}


def _partner_body(row: Any) -> dict[str, Any]:
    return views.bundle_partner(row.id, partner_views.partner(row, False), row.created_at)


async def delete_partner(
    conn: AsyncConnection, owner_business_id: int, bundle_id: str | int, partner_id: str | int
) -> None:
    """Remove a partner (``partner_id`` is the BundlePartner id) from one of your bundles."""
    bid = _bundle_id(bundle_id)
    link_id = parse_id(partner_id, lambda: PartnerNotFound(KIND.noun))
    await partnering.delete_link(conn, KIND, owner_business_id, bid, link_id)
