"""SQL for partnerships. Every query that serves a business is filtered by that business here."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import business_columns
from product_partners.businesses.views import PARTNER_PREFIX
from product_partners.db.prepared import PreparedQuery
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import (
    bundle_partners,
    businesses,
    custom_domains,
    partner_consents,
    partnership_domains,
    partnership_notes,
    product_partners,
    products,
    stores,
)
from product_partners.kit.text import contains_pattern
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import PartnershipType

pp = product_partners
partner_store = stores.alias("partner_store")
# For owner_scope(); built once: an alias built per request cost ~8% of a get-partner request.
owned_product = products.alias("owned_product")

PARTNERSHIP_COLUMN_NAMES = (
    "id",
    "product_id",
    "partner_business_id",
    "partnership_type",
    "affiliate_status",
    "message_to_product_owner",
    "requested_at",
    "approved_at",
    "rejected_at",
    "banned_at",
    "created_at",
    "updated_at",
    "store_id",
    "rejection_reason",
    "ban_reason",
    "ban_note",
    "version",
    "partner_unique_id",
    "affiliate_pro_consented_at",
    "tags",
    "commission_rate",
)
_PARTNER_COLUMNS = business_columns(PARTNER_PREFIX)
owner_business = businesses.alias("owner_business")
_OWNER_COLUMNS = business_columns("owner_", owner_business)


def partnerships_query(source: Any = pp) -> Select:
    """Partnerships with their partner business (none while the named unique id is no
    business's), whether the partner consented to share its contact data with the owner, the
    product, its owner and the partner store, unfiltered: what ``views.product_partner``
    renders. ``source`` is the partnerships table, or anything with its columns (the hot
    path's add reads the row its INSERT ... RETURNING made)."""
    return (
        select(
            *(source.c[name] for name in PARTNERSHIP_COLUMN_NAMES),
            *_PARTNER_COLUMNS,
            *_OWNER_COLUMNS,
            products.c.business_id.label("owner_business_id"),
            products.c.slug.label("product_slug"),
            products.c.is_affiliate_pro_enabled.label("product_affiliate_pro_enabled"),
            products.c.affiliate_commission_rate.label("product_affiliate_commission_rate"),
            products.c.affiliate_pro_commission_rate.label("product_affiliate_pro_commission_rate"),
            partner_store.c.unique_id.label("store_unique_id"),
            partner_consents.c.consented_at.label("partner_consented_at"),
        )
        .select_from(source)
        .join(products, products.c.id == source.c.product_id)
        .join(owner_business, owner_business.c.id == products.c.business_id)
        .outerjoin(businesses, businesses.c.id == source.c.partner_business_id)
        .outerjoin(
            partner_consents,
            and_(
                partner_consents.c.owner_business_id == products.c.business_id,
                partner_consents.c.partner_business_id == source.c.partner_business_id,
            ),
        )
        .outerjoin(partner_store, partner_store.c.id == source.c.store_id)
    )


def added_partnership(now: Any) -> dict[str, Any]:
    """The columns of a partnership the owner adds directly (the transition table's ``add``):
    an approved affiliate. ``now`` is a time or a ``bindparam()``; the vocabulary goes in as
    SQL literals, so that the statement needs no parameter for it (the hot path's)."""
    status = tt.target(tt.OWNER, "add")
    return {
        "partnership_type": literal_column(f"'{PartnershipType.affiliate}'"),
        "affiliate_status": literal_column(f"'{status}'"),
        "approved_at": now,
        "created_at": now,
        "updated_at": now,
    }


async def insert_partnership(conn: AsyncConnection, values: dict[str, Any]) -> Any | None:
    """Insert a requested partnership; None when the business already has one with the
    product, by its business or its unique id (the unique constraints decide, not a prior
    read)."""
    stmt = insert_or_nothing(conn, pp).values(**values).returning(pp.c.id)
    return (await conn.execute(stmt)).first()


# Only a verified domain is ever shown or linked (a product's custom_domains, affiliate_pro
# domains and links, on the routes and on the hot path): a claim proves nothing.
SHOWN_DOMAIN = custom_domains.c.is_verified.is_(True)


def _domain(row: Any) -> dict[str, Any]:
    """Scalev's Domain of a partnership (custom_domains and affiliate_pro_domains)."""
    return {"id": row.id, "business_id": row.business_id, "full_url": row.full_url}


# Built once (db.PreparedQuery): add, get and list all read the owner's domains.
_OWNER_DOMAINS = PreparedQuery(
    select(custom_domains.c.id, custom_domains.c.business_id, custom_domains.c.full_url)
    .join(stores, stores.c.custom_domain_id == custom_domains.c.id)
    .where(stores.c.business_id == bindparam("owner"), stores.c.is_active.is_(True), SHOWN_DOMAIN)
    .order_by(custom_domains.c.id)
)


async def owner_domains(conn: AsyncConnection, owner_business_id: int) -> list[dict[str, Any]]:
    """Verified custom domains of the owner's active stores: where its products can be
    viewed."""
    rows = await _OWNER_DOMAINS.all(conn, owner=owner_business_id)
    return [_domain(r) for r in rows]


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
        .where(stores.c.business_id.in_(owners), stores.c.is_active.is_(True), SHOWN_DOMAIN)
        .order_by(custom_domains.c.id)
    )
    for r in rows:
        result[r.business_id].append(_domain(r))
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
        .where(partnership_domains.c.partnership_id.in_(list(partnership_ids)), SHOWN_DOMAIN)
        .order_by(partnership_domains.c.partnership_id, custom_domains.c.id)
    )
    for r in rows:
        result[r.partnership_id].append(_domain(r))
    return result


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


def named_partner_scope(partner_unique_id: str, partnership_id: int) -> ColumnElement:
    """One partnership that names the caller's unique id, whether or not it knows the caller's
    business yet (an add that raced the business's creation): the caller's to claim."""
    return and_(pp.c.id == partnership_id, pp.c.partner_unique_id == partner_unique_id)


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


async def locked_state(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    """:func:`current_state`, the row locked until the transaction ends (PostgreSQL's
    ``FOR UPDATE``; SQLite's transaction already holds the write lock): the status a move
    starts from, as the move sees it."""
    stmt = select(pp.c.id, pp.c.affiliate_status, pp.c.version).where(where)
    return (await conn.execute(stmt.with_for_update(of=pp))).first()


async def current_state(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    """Status and version of the partnership ``where`` selects (after a failed guard)."""
    stmt = select(pp.c.id, pp.c.affiliate_status, pp.c.version, pp.c.partnership_type).where(where)
    return (await conn.execute(stmt)).first()


async def owned_partnership_named(
    conn: AsyncConnection, owner_business_id: int, product_id: int, partner_unique_id: str
) -> Any | None:
    """The partnership of the owner's product that names ``partner_unique_id``, if any (its
    id and status)."""
    stmt = select(pp.c.id, pp.c.affiliate_status).where(
        pp.c.product_id == product_id,
        pp.c.partner_unique_id == partner_unique_id,
        exists().where(
            owned_product.c.id == pp.c.product_id,
            owned_product.c.business_id == owner_business_id,
        ),
    )
    return (await conn.execute(stmt)).first()


async def fetch_partnership(conn: AsyncConnection, partnership_id: int) -> Any | None:
    return (await conn.execute(partnerships_query().where(pp.c.id == partnership_id))).first()


_FETCH_CHUNK = 500  # ids per statement (SQLite caps a statement's parameters)


async def fetch_partnerships(
    conn: AsyncConnection, product_id: int, ids: Sequence[int]
) -> list[Any]:
    """The partnerships ``ids`` of the product, by id, read in chunks."""
    rows: list[Any] = []
    for start in range(0, len(ids), _FETCH_CHUNK):
        chunk = list(ids[start : start + _FETCH_CHUNK])
        query = partnerships_query().where(pp.c.product_id == product_id, pp.c.id.in_(chunk))
        rows += (await conn.execute(query.order_by(pp.c.id))).all()
    return rows


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
        pp.c.partner_business_id,
        pp.c.affiliate_pro_consented_at,
        pp.c.commission_rate,
        products.c.business_id.label("owner_business_id"),
        store_ok,
    ).where(where, products.c.id == pp.c.product_id)
    return (await conn.execute(stmt)).first()


async def request_target(
    conn: AsyncConnection, partner_business_id: int, product_id: int, store_id: int | None
) -> Any | None:
    """In one round trip: the product's programme, the caller's partnership of it (if any,
    found by the unique id it names, with the business it knows), the caller's unique id, and
    whether ``store_id`` is one of the caller's stores. None if the product does not exist.
    """
    mine = pp.alias("mine")
    # (A platform-banned caller never gets here: auth.dependencies refuses its writes.)
    caller_unique_id = (
        select(businesses.c.unique_id)
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
            products.c.application_questions,
            products.c.partnership_rules,
            mine.c.id.label("partnership_id"),
            mine.c.partner_business_id.label("named_business_id"),
            mine.c.affiliate_status,
            mine.c.version,
            mine.c.rejected_at,
            caller_unique_id.label("caller_unique_id"),
            store_ok,
        )
        .select_from(products)
        # By the unique id the partnership names: an owner may have named the caller before
        # the row knew its business (see named_partner_scope).
        .outerjoin(
            mine,
            and_(mine.c.product_id == products.c.id, mine.c.partner_unique_id == caller_unique_id),
        )
        .where(products.c.id == product_id)
    )
    return (await conn.execute(stmt)).first()


async def record_consent(
    conn: AsyncConnection, owner_business_id: int, partner_business_id: int, now: Any
) -> None:
    """The partner consents to share its contact data with the owner (kept once given)."""
    await conn.execute(
        insert_or_nothing(conn, partner_consents).values(
            owner_business_id=owner_business_id,
            partner_business_id=partner_business_id,
            consented_at=now,
        )
    )


async def claim_partnership(
    conn: AsyncConnection, business_id: int, unique_id: str, partnership_id: int
) -> None:
    """The business claims one partnership that names its unique id without knowing it (see
    :func:`named_partner_scope`)."""
    await conn.execute(
        update(pp)
        .where(named_partner_scope(unique_id, partnership_id), pp.c.partner_business_id.is_(None))
        .values(partner_business_id=business_id)
    )


async def claim_named_partnerships(conn: AsyncConnection, business_id: int, unique_id: str) -> None:
    """Partnerships that named ``unique_id`` before any business had it now name the business
    that does (its partnerships list then shows who added it)."""
    for links in (pp, bundle_partners):
        await conn.execute(
            update(links)
            .where(links.c.partner_unique_id == unique_id, links.c.partner_business_id.is_(None))
            .values(partner_business_id=business_id)
        )


# --- affiliate_pro domains --------------------------------------------------------------------

cd = custom_domains
pd = partnership_domains


async def partnership_kind(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    """Type and partner of the partnership ``where`` selects (None: not the caller's)."""
    stmt = select(
        pp.c.id, pp.c.partnership_type, pp.c.partner_business_id, pp.c.affiliate_pro_consented_at
    ).where(where)
    return (await conn.execute(stmt)).first()


async def approve_pro_domain(conn: AsyncConnection, where: ColumnElement, domain_id: int) -> bool:
    """Approve the partner's verified domain on the affiliate_pro partnership ``where``
    selects, in one statement that inserts only if every rule holds; False when it did not
    (a rule failed, or the domain was approved already)."""
    source = (
        select(pp.c.id, cd.c.id)
        .select_from(pp.join(cd, cd.c.business_id == pp.c.partner_business_id))
        .where(where, pp.c.partnership_type == PartnershipType.affiliate_pro, cd.c.id == domain_id)
        .where(cd.c.is_verified.is_(True), pp.c.affiliate_pro_consented_at.is_not(None))
    )
    stmt = (
        insert_or_nothing(conn, pd)
        .from_select(["partnership_id", "custom_domain_id"], source)
        .returning(pd.c.partnership_id)
    )
    return (await conn.execute(stmt)).first() is not None


async def revoke_pro_domain(
    conn: AsyncConnection, where: ColumnElement, partnership_id: int, domain_id: int
) -> bool:
    """Withdraw a domain's approval on the partnership ``where`` selects; False if none."""
    result = await conn.execute(
        delete(pd).where(
            pd.c.partnership_id == partnership_id,
            pd.c.custom_domain_id == domain_id,
            exists().where(pp.c.id == pd.c.partnership_id, where),
        )
    )
    return result.rowcount > 0


async def partner_domain_verified(
    conn: AsyncConnection, domain_id: int, partner_business_id: int
) -> bool | None:
    """Whether the partner's domain ``domain_id`` is verified; None if it is not the
    partner's."""
    stmt = select(cd.c.is_verified).where(
        cd.c.id == domain_id, cd.c.business_id == partner_business_id
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else bool(row.is_verified)


async def bump_version(conn: AsyncConnection, partnership_id: int, now: Any) -> None:
    """A change that is not a status change (an approved domain) still changes the ETag."""
    await conn.execute(
        update(pp).where(pp.c.id == partnership_id).values(version=pp.c.version + 1, updated_at=now)
    )


def pro_domain_candidates(partnership_id: int, partner_business_id: int) -> Select:
    """The partner's verified domains, each with whether it is approved on the partnership."""
    approved = exists().where(
        pd.c.partnership_id == partnership_id, pd.c.custom_domain_id == cd.c.id
    )
    return select(cd.c.id, cd.c.business_id, cd.c.full_url, approved.label("is_approved")).where(
        cd.c.business_id == partner_business_id, cd.c.is_verified.is_(True)
    )


async def owns_product(conn: AsyncConnection, owner_business_id: int, product_id: int) -> bool:
    """Whether ``product_id`` is a product of ``owner_business_id``."""
    stmt = select(products.c.id).where(
        products.c.id == product_id, products.c.business_id == owner_business_id
    )
    return (await conn.execute(stmt)).first() is not None


# --- export: keyset batches (short statements; the connection is in AUTOCOMMIT mode) -----------


async def owned_product_ids(
    conn: AsyncConnection, owner_business_id: int, after_id: int, limit: int
) -> list[int]:
    """Up to ``limit`` of the owner's product ids above ``after_id``, in id order."""
    stmt = (
        select(products.c.id)
        .where(products.c.business_id == owner_business_id, products.c.id > after_id)
        .order_by(products.c.id)
        .limit(limit)
    )
    return list((await conn.execute(stmt)).scalars())


async def partnerships_after(
    conn: AsyncConnection, owner_business_id: int, product_id: int, after_id: int, limit: int
) -> list[Any]:
    """Up to ``limit`` partnerships of one of the owner's products above ``after_id``, in id
    order, as ``partnerships_query()`` reads them: one index range of (product_id, id),
    whatever the table's size."""
    stmt = (
        partnerships_query()
        .where(
            pp.c.product_id == product_id,
            products.c.business_id == owner_business_id,
            pp.c.id > after_id,
        )
        .order_by(pp.c.id)
        .limit(limit)
    )
    return list(await conn.execute(stmt))


# --- the owner's bookkeeping: tags, notes, commission -------------------------------------------

notes = partnership_notes


def stored_tags(tags: Sequence[str]) -> str:
    """The stored form of sorted tags: each between spaces (" a b "), "" for none."""
    return f" {' '.join(tags)} " if tags else ""


def has_tag(tag: str) -> ColumnElement[bool]:
    """Partnerships labelled ``tag`` (one LIKE on the stored form; tags hold no LIKE wildcard
    but ``_``, escaped)."""
    return pp.c.tags.like(contains_pattern(f" {tag} "), escape="\\")


async def locked_tags(conn: AsyncConnection, where: ColumnElement) -> Any | None:
    """The tags of the partnership ``where`` selects, locked until the transaction ends."""
    stmt = select(pp.c.id, pp.c.tags).where(where)
    return (await conn.execute(stmt.with_for_update(of=pp))).first()


async def save_tags(conn: AsyncConnection, partnership_id: int, tags: Sequence[str]) -> None:
    """Tags are the owner's bookkeeping: no version bump (the partner's ETag says nothing of
    them) and no updated_at."""
    await conn.execute(update(pp).where(pp.c.id == partnership_id).values(tags=stored_tags(tags)))


async def insert_note(conn: AsyncConnection, values: dict[str, Any]) -> Any:
    stmt = insert(notes).values(**values).returning(*notes.c)
    return (await conn.execute(stmt)).one()


def notes_query(partnership_id: int) -> Select:
    return select(notes).where(notes.c.partnership_id == partnership_id)


async def delete_note(conn: AsyncConnection, partnership_id: int, note_id: int) -> Any | None:
    stmt = (
        delete(notes)
        .where(notes.c.id == note_id, notes.c.partnership_id == partnership_id)
        .returning(*notes.c)
    )
    return (await conn.execute(stmt)).first()


async def lock_product_rates(
    conn: AsyncConnection, owner_business_id: int, product_id: int
) -> Any | None:
    """The owner's product's commission rates, locked until the transaction ends (a
    programme-wide change waits for a lock in progress)."""
    stmt = select(
        products.c.id,
        products.c.affiliate_commission_rate,
        products.c.affiliate_pro_commission_rate,
    ).where(products.c.id == product_id, products.c.business_id == owner_business_id)
    return (await conn.execute(stmt.with_for_update())).first()


async def lock_commissions(
    conn: AsyncConnection,
    product_id: int,
    rates: dict[str, Any],
    ids: Sequence[int] | None,
    now: Any,
) -> list[Any]:
    """ONE statement: every approved partnership of the product (of ``ids``, if given) whose
    type has a product rate and that has no override gets that rate as its override. The
    ``commission_rate IS NULL`` guard makes concurrent locks (and a concurrent set) safe: a
    partnership is locked once, and never over an override set meanwhile."""
    typed = [(t, r) for t, r in rates.items() if r is not None]
    if not typed:
        return []
    rate = case(*((pp.c.partnership_type == t, r) for t, r in typed))
    stmt = (
        update(pp)
        .where(
            pp.c.product_id == product_id,
            pp.c.affiliate_status == tt.APPROVED,
            pp.c.commission_rate.is_(None),
            pp.c.partnership_type.in_([t for t, _ in typed]),
        )
        .values(commission_rate=rate, version=pp.c.version + 1, updated_at=now)
        .returning(pp.c.id)
    )
    if ids is not None:
        stmt = stmt.where(pp.c.id.in_(list(ids)))
    return list((await conn.execute(stmt)).all())
