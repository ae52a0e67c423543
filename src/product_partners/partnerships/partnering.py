"""What adding, listing and removing partners has in common for products and bundles.

A product's partners (``product_partners``) and a bundle's (``bundle_partners``) are rows that
link one item of the owner's to a partner business, unique per (item, partner). The rules are
the same for both, so they live here once, as statement pieces:

- :func:`add_statement` is the whole add in one ``INSERT ... SELECT``: the owner's item, the
  business named by its unique id, and :data:`PARTNER_RULES` (not the owner itself, not a
  banned business) as the ``WHERE``; ``ON CONFLICT DO NOTHING`` on the unique constraint, so
  of concurrent identical adds one wins. The routes run it; the hot path
  (``partnerships.hotpath``) runs the same statement inside the one that renders its answer.
- When it inserts nothing, :func:`explain_refused_add` reads the same pieces once more to say
  which rule failed: another business's item is 404 exactly like a missing one, an unknown
  business 404, a broken rule 422, otherwise a duplicate (409).
- Lists and deletes are scoped to the owner's item in the statement itself.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    delete,
    exists,
    false,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.bundles.errors import BundleNotFound
from product_partners.businesses.errors import BusinessBanned, BusinessNotFound
from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.db.tables import (
    bundle_partners,
    bundles,
    businesses,
    product_partners,
    products,
)
from product_partners.kit.errors import DomainError, NotFound
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships.errors import (
    PartnerAlreadyExists,
    PartnerNotFound,
    SelfPartnership,
)
from product_partners.products.errors import ProductNotFound


@dataclass(frozen=True, slots=True)
class PartnerLinks:
    """One kind of partnered item: its table, its link table and the link's item column."""

    noun: str
    items: Table
    links: Table
    item_column: str
    item_not_found: type[NotFound]

    @property
    def item_fk(self) -> Any:
        return self.links.c[self.item_column]

    def link_not_found(self) -> PartnerNotFound:
        return PartnerNotFound(self.noun)

    def owned_by(self, owner_business_id: int) -> ColumnElement[bool]:
        """The link's item belongs to ``owner_business_id`` (a correlated EXISTS)."""
        return exists().where(
            self.items.c.id == self.item_fk, self.items.c.business_id == owner_business_id
        )


PRODUCTS = PartnerLinks("product", products, product_partners, "product_id", ProductNotFound)
BUNDLES = PartnerLinks("bundle", bundles, bundle_partners, "bundle_id", BundleNotFound)

_FIELD = "partner_unique_id"


@dataclass(frozen=True, slots=True)
class PartnerRule:
    """A condition the business to add must meet (SQL over the ``target`` business, given the
    owner's id), and the refusal when it does not."""

    name: str
    holds: Callable[[FromClause, Any], ColumnElement[bool]]
    refusal: Callable[[PartnerLinks], DomainError]


PARTNER_RULES = (
    PartnerRule(
        "not_self",
        lambda target, owner: target.c.id != owner,
        lambda kind: SelfPartnership(kind.noun, field=_FIELD),
    ),
    PartnerRule(
        "not_banned",
        lambda target, _owner: target.c.is_banned == false(),
        lambda _kind: BusinessBanned(field=_FIELD),
    ),
)


def owned_item(kind: PartnerLinks, item_id: Any, owner: Any) -> FromClause:
    """The owner's item ``item_id`` (no row for another business's)."""
    return (
        select(kind.items.c.id)
        .where(kind.items.c.id == item_id, kind.items.c.business_id == owner)
        .subquery("owned")
    )


def target_business(partner_unique_id: Any) -> FromClause:
    """The business the owner names by its unique id, with BusinessSimple's columns."""
    return (
        select(*BUSINESS_SIMPLE_COLUMNS)
        .where(businesses.c.unique_id == partner_unique_id)
        .subquery("target")
    )


def add_statement(
    dialect: str,
    kind: PartnerLinks,
    item_id: Any,
    owner: Any,
    partner_unique_id: Any,
    values: dict[str, Any],
) -> Any:
    """The add, in one statement: ``INSERT INTO <links> SELECT <owned item>, <target>,
    <values> WHERE <PARTNER_RULES> ON CONFLICT DO NOTHING``, for ``dialect`` ("postgresql" or
    "sqlite"). Parameters may be values or ``bindparam()``s (the hot path compiles it once).
    Add ``.returning(...)``: no row returned means the add was refused."""
    owned, target = owned_item(kind, item_id, owner), target_business(partner_unique_id)
    given = (v if isinstance(v, ColumnElement) else literal(v) for v in values.values())
    rows = (
        select(owned.c.id, target.c.id, *given)
        .select_from(owned.join(target, true()))  # one row when both exist, else none
        .where(*(rule.holds(target, owner) for rule in PARTNER_RULES))
    )
    module = postgresql if dialect == "postgresql" else sqlite
    columns = [kind.item_column, "partner_business_id", *values]
    return (
        module.insert(kind.links)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=[kind.item_fk, kind.links.c.partner_business_id])
    )


async def add_link(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    partner_unique_id: str,
    values: dict[str, Any],
) -> int:
    """Add the business as partner of the owner's item; the new link's id, or the refusal
    (404 / 422 / 409) raised."""
    stmt = add_statement(
        conn.dialect.name, kind, item_id, owner_business_id, partner_unique_id, values
    ).returning(kind.links.c.id)
    row = (await conn.execute(stmt)).first()
    if row is None:
        await explain_refused_add(conn, kind, owner_business_id, item_id, partner_unique_id)
    return row.id


async def explain_refused_add(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    partner_unique_id: str,
) -> NoReturn:
    """Why :func:`add_statement` inserted nothing, from the same pieces, in one round trip."""
    owned, target = owned_item(kind, item_id, owner_business_id), target_business(partner_unique_id)
    existing = kind.links.alias("existing")
    rules = [rule.holds(target, owner_business_id).label(rule.name) for rule in PARTNER_RULES]
    status = (existing.c.affiliate_status if "affiliate_status" in existing.c else null()).label(
        "current_status"
    )
    one = select(literal(1).label("one")).subquery("one")
    stmt = (
        select(owned.c.id.label("item_id"), target.c.id.label("business_id"), *rules, status)
        .select_from(one)
        .outerjoin(owned, true())
        .outerjoin(target, true())
        .outerjoin(
            existing,
            (existing.c[kind.item_column] == owned.c.id)
            & (existing.c.partner_business_id == target.c.id),
        )
    )
    why = (await conn.execute(stmt)).one()
    if why.item_id is None:
        raise kind.item_not_found()
    if why.business_id is None:
        raise BusinessNotFound(partner_unique_id, field=_FIELD)
    for rule in PARTNER_RULES:
        if not getattr(why, rule.name):
            raise rule.refusal(kind)
    raise PartnerAlreadyExists(kind.noun, why.current_status)


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
