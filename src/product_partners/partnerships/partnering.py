"""What adding, listing and removing partners has in common for products and bundles.

A product's partners (``product_partners``) and a bundle's (``bundle_partners``) are rows that
link one item of the owner's to a partner business, unique per (item, partner). The rules are
the same for both, so they live here once, as statement pieces:

- :func:`add_statement` is the whole add in one ``INSERT ... SELECT``: the owner's item, the
  unique id the owner named (and the business that has it, if any), and
  :data:`PARTNER_RULES` (not the owner itself; not a banned business the owner knows) as the
  ``WHERE``; ``ON CONFLICT DO NOTHING`` on the unique constraints, so of concurrent
  identical adds one wins. The routes run it; the hot path (``partnerships.hotpath``) runs
  the same statement inside the one that renders its answer.
- An owner with no relation to a business (the business never consented to it) learns
  nothing from an add: a unique id that no business has is added alike (the link names it by
  the unique id; the business that gets it later finds the partnership), and the partner's
  contact data stays hidden until it consents (``views.partner``).
- When it inserts nothing, :func:`explain_refused_add` reads the same pieces once more to say
  which rule failed: another business's item is 404 exactly like a missing one, a broken
  rule 400, otherwise a duplicate (409).
- Lists and deletes are scoped to the owner's item in the statement itself.
"""

from collections.abc import Callable, Sequence
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
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.bundles.errors import BundleNotFound
from product_partners.businesses.errors import BusinessBanned
from product_partners.businesses.repository import BUSINESS_SIMPLE_COLUMNS
from product_partners.db.tables import (
    bundle_partners,
    bundles,
    businesses,
    partner_consents,
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
    """A condition the business to add must meet, as SQL over the ``target`` business (NULL
    when the unique id is no business's), the owner's id, and whether the business consented
    to the owner (``related``); and the refusal when it does not."""

    name: str
    holds: Callable[[FromClause, Any, ColumnElement[bool]], ColumnElement[bool]]
    refusal: Callable[[PartnerLinks], DomainError]


NOT_SELF = PartnerRule(
    "not_self",
    lambda target, owner, _related: or_(target.c.id.is_(None), target.c.id != owner),
    lambda kind: SelfPartnership(kind.noun, field=_FIELD),
)
PARTNER_RULES = (
    NOT_SELF,
    # A banned business the owner has a relation with is refused as before; to an owner with
    # none, it is added like an unknown unique id (answering alike, binding no one).
    PartnerRule(
        "not_banned_partner",
        lambda target, _owner, related: or_(
            target.c.id.is_(None), target.c.is_banned == false(), not_(related)
        ),
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


def consented(owner: Any, partner_id: Any) -> ColumnElement[bool]:
    """The business ``partner_id`` consented to share its contact data with ``owner``."""
    return exists().where(
        partner_consents.c.owner_business_id == owner,
        partner_consents.c.partner_business_id == partner_id,
    )


def add_statement(
    dialect: str,
    kind: PartnerLinks,
    item_id: Any,
    owner: Any,
    partner_unique_id: Any,
    values: dict[str, Any],
    rules: Sequence[PartnerRule] | None = None,
) -> Any:
    """The add, in one statement: ``INSERT INTO <links> SELECT <owned item>, <the business
    with that unique id, if any>, <values> WHERE <PARTNER_RULES> ON CONFLICT DO NOTHING``, for
    ``dialect`` ("postgresql" or "sqlite"). Parameters may be values or ``bindparam()``s (the
    hot path compiles it once). Add ``.returning(...)``: no row returned means the add was
    refused.

    The link names its partner by the unique id, and the business when one has it (a
    business always sees who added it), while the owner gets the same answer whether or not
    the unique id exists."""
    rows = add_rows(kind, item_id, owner, partner_unique_id, values, rules)
    module = postgresql if dialect == "postgresql" else sqlite
    columns = [kind.item_column, "partner_business_id", "partner_unique_id", *values]
    # Any unique constraint decides a duplicate: (item, business) and (item, unique id).
    return module.insert(kind.links).from_select(columns, rows).on_conflict_do_nothing()


def add_rows(
    kind: PartnerLinks,
    item_id: Any,
    owner: Any,
    partner_unique_id: Any,
    values: dict[str, Any],
    rules: Sequence[PartnerRule] | None = None,
) -> Select:
    """What :func:`add_statement` inserts: one row when the add passes the rules (a duplicate
    aside, which only the insert sees), each column labelled with the link column it fills."""
    owned, target = owned_item(kind, item_id, owner), target_business(partner_unique_id)
    related = consented(owner, target.c.id)
    given = [_sql(partner_unique_id).label("partner_unique_id")]
    given += [_sql(v).label(name) for name, v in values.items()]
    return (
        select(owned.c.id.label(kind.item_column), target.c.id.label("partner_business_id"), *given)
        .select_from(owned.outerjoin(target, true()))  # one row when the item is the owner's
        .where(*(rule.holds(target, owner, related) for rule in rules or PARTNER_RULES))
    )


def _sql(value: Any) -> Any:
    return value if isinstance(value, ColumnElement) else literal(value)


async def add_link(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    partner_unique_id: str,
    values: dict[str, Any],
    rules: Sequence[PartnerRule] | None = None,
) -> int:
    """Add the business as partner of the owner's item (under ``rules``, by default
    ``PARTNER_RULES``); the new link's id, or the refusal (404 / 400 / 409) raised."""
    stmt = add_statement(
        conn.dialect.name, kind, item_id, owner_business_id, partner_unique_id, values, rules
    ).returning(kind.links.c.id)
    row = (await conn.execute(stmt)).first()
    if row is None:
        await explain_refused_add(conn, kind, owner_business_id, item_id, partner_unique_id, rules)
    return row.id


async def explain_refused_add(
    conn: AsyncConnection,
    kind: PartnerLinks,
    owner_business_id: int,
    item_id: int,
    partner_unique_id: str,
    rules: Sequence[PartnerRule] | None = None,
) -> NoReturn:
    """Why :func:`add_statement` inserted nothing, from the same pieces, in one round trip."""
    owned = owned_item(kind, item_id, owner_business_id)
    target = target_business(partner_unique_id)
    related = consented(owner_business_id, target.c.id)
    existing = kind.links.alias("existing")
    rules = rules or PARTNER_RULES
    checks = [rule.holds(target, owner_business_id, related).label(rule.name) for rule in rules]
    status = (existing.c.affiliate_status if "affiliate_status" in existing.c else null()).label(
        "current_status"
    )
    one = select(literal(1).label("one")).subquery("one")
    stmt = (
        select(owned.c.id.label("item_id"), *checks, status)
        .select_from(one)
        .outerjoin(owned, true())
        .outerjoin(target, true())
        .outerjoin(
            existing,
            (existing.c[kind.item_column] == owned.c.id)
            & (existing.c.partner_unique_id == partner_unique_id),
        )
    )
    why = (await conn.execute(stmt)).one()
    if why.item_id is None:
        raise kind.item_not_found()
    for rule in rules:
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
