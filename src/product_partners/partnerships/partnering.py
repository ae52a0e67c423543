"""What adding, listing and removing partners has in common for products and bundles.

A product's partners (``product_partners``) and a bundle's (``bundle_partners``) are rows that
link one item of the owner's to a partner business, unique per (item, partner). The rules are
the same for both, so they live here once:

- the owner's item and the partner business are resolved in one query; another business's item
  is 404 exactly like a missing one, an unknown partner is 404, the owner itself or a banned
  business is 422;
- the link is inserted with ``INSERT ... ON CONFLICT DO NOTHING``: the unique constraint, not a
  prior SELECT, decides a duplicate (409, :func:`already_partner`), so concurrent identical
  adds give one winner;
- lists and deletes are scoped to the owner's item in the statement itself.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import (
    bundle_partners,
    bundles,
    businesses,
    product_partners,
    products,
)
from product_partners.kit.errors import Conflict, NotFound, Unprocessable
from product_partners.kit.pagination import PageRequest, fetch_page


@dataclass(frozen=True, slots=True)
class PartnerLinks:
    """One kind of partnered item: its table, its link table and the link's item column."""

    noun: str
    items: Table
    links: Table
    item_column: str

    @property
    def item_fk(self) -> Any:
        return self.links.c[self.item_column]

    def item_not_found(self) -> NotFound:
        return NotFound(f"No such {self.noun}.", error_code=f"{self.noun}_not_found")

    def link_not_found(self) -> NotFound:
        return NotFound(f"No such partner of this {self.noun}.", error_code="partner_not_found")

    def owned_by(self, owner_business_id: int) -> ColumnElement[bool]:
        """The link's item belongs to ``owner_business_id`` (a correlated EXISTS)."""
        return exists().where(
            self.items.c.id == self.item_fk, self.items.c.business_id == owner_business_id
        )


PRODUCTS = PartnerLinks("product", products, product_partners, "product_id")
BUNDLES = PartnerLinks("bundle", bundles, bundle_partners, "bundle_id")


async def resolve_new_partner(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    partner_unique_id: str,
) -> Any:
    """The partner business (a row of BusinessSimple columns) the owner may add to its item.

    One round trip answers both "is the item the owner's?" and "who is the partner?".
    """
    owned_item = (
        select(kind.items.c.id)
        .where(kind.items.c.id == item_id, kind.items.c.business_id == owner_business_id)
        .scalar_subquery()
    )
    one = select(literal(1).label("one")).subquery("one")
    stmt = (
        select(owned_item.label("item_id"), *BUSINESS_SIMPLE_COLUMNS)
        .select_from(one)
        .outerjoin(businesses, businesses.c.unique_id == partner_unique_id)
    )
    target = (await conn.execute(stmt)).one()
    if target.item_id is None:
        raise kind.item_not_found()
    if target.id is None:
        raise NotFound(
            f"No business with unique id {partner_unique_id!r}.",
            error_code="business_not_found",
            errors={"partner_unique_id": ["no business has this unique id"]},
        )
    if target.id == owner_business_id:
        raise Unprocessable(
            f"A business cannot be a partner of its own {kind.noun}.",
            error_code="self_partnership",
            errors={"partner_unique_id": [f"is the {kind.noun} owner"]},
        )
    if target.is_banned:
        raise Unprocessable(
            "This business is banned and cannot become a partner.",
            error_code="business_banned",
            errors={"partner_unique_id": ["belongs to a banned business"]},
        )
    return target


async def insert_link(
    conn: AsyncConnection, kind: PartnerLinks, values: dict[str, Any], *returning: Any
) -> Any | None:
    """Insert the link; None when the business already is a partner of the item (raise
    :func:`already_partner`)."""
    stmt = (
        insert_or_nothing(conn, kind.links, kind.item_fk, kind.links.c.partner_business_id)
        .values(**values)
        .returning(*returning)
    )
    return (await conn.execute(stmt)).first()


def already_partner(kind: PartnerLinks, status: str | None = None) -> Conflict:
    """409 for a duplicate link; ``status`` is the existing partnership's, when it has one."""
    detail = f" (status: {status})" if status else ""
    return Conflict(
        f"This business is already a partner of the {kind.noun}{detail}.",
        error_code="partner_already_exists",
        errors={"partner_unique_id": [f"is already a partner of this {kind.noun}"]},
    )


async def ensure_owned(
    conn: AsyncConnection, kind: PartnerLinks, owner_business_id: int, item_id: int
) -> None:
    stmt = select(kind.items.c.id).where(
        kind.items.c.id == item_id, kind.items.c.business_id == owner_business_id
    )
    if (await conn.execute(stmt)).first() is None:
        raise kind.item_not_found()


async def list_links(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    query: Select,
    page: PageRequest,
) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``query`` (rows of the link table) for one of the owner's items."""
    await ensure_owned(conn, kind, owner_business_id, item_id)
    return await fetch_page(conn, query.where(kind.item_fk == item_id), kind.links.c.id, page)


async def delete_link(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    link_id: int,
) -> None:
    """Delete one link of one of the owner's items, in one statement; 404 if nothing matched."""
    result = await conn.execute(
        delete(kind.links).where(
            kind.links.c.id == link_id,
            kind.item_fk == item_id,
            kind.owned_by(owner_business_id),
        )
    )
    if result.rowcount == 0:
        await ensure_owned(conn, kind, owner_business_id, item_id)
        raise kind.link_not_found()
