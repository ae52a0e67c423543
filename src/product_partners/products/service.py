"""Business rules of products."""

import re
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.errors import Conflict, NotFound
from product_partners.ids import parse_id
from product_partners.pagination import PageRequest, fetch_page
from product_partners.partnerships import repository as partnership_repo
from product_partners.partnerships.service import render_partnerships
from product_partners.products import repository as repo
from product_partners.products import views
from product_partners.products.schemas import CreateRequestProduct
from product_partners.tables import product_partners, products


def product_not_found() -> NotFound:
    return NotFound("No such product.", error_code="product_not_found")


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100]
    return slug or "product"


async def create_product(
    conn: AsyncConnection, owner_business_id: int, data: CreateRequestProduct
) -> dict[str, Any]:
    values = data.model_dump(exclude_none=True)
    values["item_type"] = data.item_type.value
    explicit_slug = data.slug is not None
    if not explicit_slug:
        # A readable slug, made unique per business by a short random suffix.
        values["slug"] = f"{slugify(data.name)}-{secrets.token_hex(3)}"
    now = datetime.now(UTC)
    values.update(business_id=owner_business_id, created_at=now, last_updated_at=now)
    product_id = await repo.insert_product(conn, values)
    if product_id is None:
        raise Conflict(
            "You already have a product with this slug.",
            error_code="slug_taken",
            errors={"slug": ["is already used by another of your products"]},
        )
    return await get_product(conn, owner_business_id, product_id)


async def get_product(
    conn: AsyncConnection, business_id: int, product_id: str | int
) -> dict[str, Any]:
    """A product the caller owns (partners see theirs through listProducts?is_owned=false)."""
    pid = parse_id(product_id, product_not_found())
    row = await repo.get_product(conn, pid)
    if row is None or row.business_id != business_id:
        raise product_not_found()
    domains = await partnership_repo.owner_domains(conn, row.business_id)
    return views.product(row, domains)


async def list_products(
    conn: AsyncConnection,
    business_id: int,
    page: PageRequest,
    scheme: str,
    is_owned: bool | None = None,
    is_product_sharing: bool | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """Owned products (default, or ``is_owned=true``) or partner products (``is_owned=false``).

    A partner product carries ``product_partners``: the caller's partnership rows for it.
    """
    partner_view = is_owned is False
    query = repo.partner_products(business_id) if partner_view else repo.owned_products(business_id)
    if is_product_sharing is not None:
        query = query.where(products.c.is_product_sharing.is_(is_product_sharing))
    if search:
        query = query.where(products.c.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    rows, fields = await fetch_page(conn, query, products.c.id, page)
    domains = await partnership_repo.owner_domains_by_owner(conn, (r.business_id for r in rows))
    mine: dict[int, list[dict[str, Any]]] = {}
    if partner_view and rows:
        partnership_rows = (
            await conn.execute(
                partnership_repo.partnerships_query().where(
                    product_partners.c.partner_business_id == business_id,
                    product_partners.c.product_id.in_([r.id for r in rows]),
                )
            )
        ).all()
        rendered = await render_partnerships(conn, list(partnership_rows), scheme)
        for prow, body in zip(partnership_rows, rendered, strict=True):
            mine.setdefault(prow.product_id, []).append(body)
    data = []
    for r in rows:
        body = views.product(r, domains[r.business_id])
        body["product_partners"] = mine.get(r.id, []) if partner_view else None
        data.append(body)
    return {"data": data, **fields}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
