"""Business rules of products."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import rolled_back, transaction
from product_partners.db.sql import name_contains
from product_partners.db.tables import product_partners, products
from product_partners.events.enums import EventType
from product_partners.events.service import SYSTEM, record
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, count_of, fetch_page
from product_partners.kit.text import unique_slug
from product_partners.partnerships import decisions
from product_partners.partnerships import repository as partnership_repo
from product_partners.partnerships import rules as partnership_rules
from product_partners.partnerships import views as partnership_views
from product_partners.partnerships.enums import (
    AUTO_ACCEPT_TYPES,
    OPENING_SETTING,
    AffiliateStatus,
    PartnershipType,
)
from product_partners.partnerships.errors import RuleQuestionUnknown
from product_partners.products import repository as repo
from product_partners.products import views
from product_partners.products.errors import ProductNotFound, SlugTaken
from product_partners.products.schemas import (
    CreateRequestProduct,
    ProductPartnershipSettings,
    ProgrammeSettings,
    UpdateRequestProduct,
)


async def create_product(
    conn: AsyncConnection, owner_business_id: int, data: CreateRequestProduct
) -> dict[str, Any]:
    values = data.model_dump(exclude_none=True)
    values["item_type"] = data.item_type.value
    if data.slug is None:
        values["slug"] = unique_slug(data.name)
    now = datetime.now(UTC)
    values.update(business_id=owner_business_id, created_at=now, last_updated_at=now)
    product_id = await repo.insert_product(conn, values)
    if product_id is None:
        raise SlugTaken()
    return await get_product(conn, owner_business_id, product_id)


async def get_product(
    conn: AsyncConnection, business_id: int, product_id: str | int
) -> dict[str, Any]:
    """A product the caller owns (partners see theirs through listProducts?is_owned=false)."""
    pid = parse_id(product_id, ProductNotFound)
    row = await repo.get_product(conn, pid)
    if row is None or row.business_id != business_id:
        raise ProductNotFound()
    domains = await partnership_repo.owner_domains(conn, row.business_id)
    return views.product(row, domains)


def products_filtered(
    business_id: int,
    is_owned: bool | None = None,
    is_product_sharing: bool | None = None,
    search: str | None = None,
    item_type: str | None = None,
) -> Select:
    """The products a list, a simplified list or a count reads: owned (default, or
    ``is_owned=true``) or partner products (``is_owned=false``), filtered."""
    query = (
        repo.partner_products(business_id)
        if is_owned is False
        else repo.owned_products(business_id)
    )
    if is_product_sharing is not None:
        query = query.where(products.c.is_product_sharing.is_(is_product_sharing))
    if search:
        query = query.where(name_contains(products.c.name, search))
    if item_type is not None:
        query = query.where(products.c.item_type == item_type)
    return query


async def count_products(conn: AsyncConnection, business_id: int, **filters: Any) -> dict[str, int]:
    query = products_filtered(business_id, **filters)
    return {"count": await count_of(conn, query, products.c.id)}


async def list_products_simplified(
    conn: AsyncConnection, business_id: int, page: PageRequest, **filters: Any
) -> dict[str, Any]:
    query = products_filtered(business_id, **filters)
    rows, fields = await fetch_page(conn, query, products.c.id, page)
    return {"data": [views.product_simplified(r) for r in rows], **fields}


async def list_products(
    conn: AsyncConnection,
    business_id: int,
    page: PageRequest,
    scheme: str,
    is_owned: bool | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """Owned products (default, or ``is_owned=true``) or partner products (``is_owned=false``).

    A partner product carries ``product_partners``: the caller's partnership rows for it.
    """
    partner_view = is_owned is False
    query = products_filtered(business_id, is_owned, **filters)
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
        rendered = await partnership_views.product_partners(
            conn, list(partnership_rows), scheme, for_partner=True
        )
        for prow, body in zip(partnership_rows, rendered, strict=True):
            mine.setdefault(prow.product_id, []).append(body)
    data = []
    for r in rows:
        body = views.product(r, domains[r.business_id], for_owner=not partner_view)
        body["product_partners"] = mine.get(r.id, []) if partner_view else None
        data.append(body)
    return {"data": data, **fields}


# --- partner-programme settings (updateProductPartnership, checkProductPartnershipChanges) -----
#
# What a settings change does to existing partnerships (README, "Programme settings"):
# - opening or closing a type only governs NEW requests: existing partnerships keep their
#   status, and pending requests of a closed type stay pending for the owner to decide;
# - switching affiliate_pro off suspends the affiliate_pro links of approved partnerships
#   (they are not rendered); switching it on again restores them. Nothing is deleted;
# - whenever auto-accept ends up on, pending affiliate/affiliate_pro requests of enabled types
#   are approved in the same transaction as the change (so "auto-accept on" never leaves a
#   request of an open type waiting).

SETTINGS_FIELDS = tuple(ProgrammeSettings.model_fields)
# The settings that decide on requests (partnerships/questions.py, partnerships/rules.py).
DECISION_FIELDS = ("application_questions", "partnership_rules")
CHECK_PREVIEW_LIMIT = 100
_PRO, _PENDING = PartnershipType.affiliate_pro, AffiliateStatus.pending


async def update_partnership_settings(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    patch: ProductPartnershipSettings | UpdateRequestProduct,
    scheme: str,
) -> dict[str, Any]:
    """Save the sent fields (updateProductPartnership's settings, or updateProduct's fields
    and settings) and apply their consequences atomically; returns the Product.

    Records ``product.partnership_settings_updated`` (the caller's) and one
    ``product_partner.approved`` by ``system`` per request the change auto-approved, in the
    change's transaction."""
    pid = parse_id(product_id, ProductNotFound)
    if not patch.changes():
        return await get_product(conn, owner_business_id, pid)
    try:
        async with transaction(conn):
            product, _ = await _apply_settings(conn, owner_business_id, pid, patch, scheme)
    except IntegrityError:
        # The one unique constraint an update can meet: (business_id, slug).
        raise SlugTaken() from None
    return product


async def _apply_settings(
    conn: AsyncConnection,
    owner_business_id: int,
    pid: int,
    patch: ProductPartnershipSettings | UpdateRequestProduct,
    scheme: str,
) -> tuple[dict[str, Any], list[int]]:
    """Save the fields, approve what the settings now auto-accept and record the events (in
    the caller's transaction); the Product and the ids of the partnerships approved."""
    now = datetime.now(UTC)
    changes = patch.changes()
    if _decides_requests(changes):
        row = await repo.get_product(conn, pid)
        if row is None or row.business_id != owner_business_id:
            raise ProductNotFound()
        _check_rule_references(row, changes)
    values = {**changes, "last_updated_at": now}
    if not await repo.update_owned(conn, owner_business_id, pid, values):
        raise ProductNotFound()
    approved = await repo.auto_approve_pending(conn, pid, now)
    product = await get_product(conn, owner_business_id, pid)
    await record(
        conn,
        EventType.product_partnership_settings_updated,
        resource_id=pid,
        product_id=pid,
        data=product,
        owner_business_id=owner_business_id,
    )
    await _record_auto_approvals(conn, approved, scheme)
    return product, approved


def _decides_requests(changes: dict[str, Any]) -> bool:
    return any(name in changes for name in DECISION_FIELDS)


def _check_rule_references(row: Any, changes: dict[str, Any]) -> None:
    """Every rule that looks at an answer names a question the product will ask (the sent
    lists, or the saved ones where not sent); 400 ``rule_question_unknown`` otherwise. (A
    question removed by a concurrent change leaves such a rule seeing no answer.)"""
    questions = changes.get("application_questions", row.application_questions)
    rules = changes.get("partnership_rules", row.partnership_rules)
    unknown = partnership_rules.unknown_questions(rules, questions)
    if unknown:
        raise RuleQuestionUnknown(unknown)


async def _record_auto_approvals(conn: AsyncConnection, ids: list[int], scheme: str) -> None:
    if not ids:
        return
    query = partnership_repo.partnerships_query().where(product_partners.c.id.in_(ids))
    rows = list((await conn.execute(query.order_by(product_partners.c.id))).all())
    bodies = await partnership_views.product_partners(conn, rows, scheme)
    for row, body in zip(rows, bodies, strict=True):
        await record(
            conn,
            EventType.product_partner_approved,
            resource_id=row.id,
            product_id=row.product_id,
            from_status=AffiliateStatus.pending.value,
            to_status=row.affiliate_status,
            data=partnership_views.shared(body),
            owner_business_id=row.owner_business_id,
            partner_business_id=row.partner_business_id,
            actor=SYSTEM,
        )


async def delete_product(conn: AsyncConnection, owner_business_id: int, product_id: str) -> None:
    """Delete one of your products; its partnerships go with it."""
    if not await repo.delete_owned(conn, owner_business_id, parse_id(product_id, ProductNotFound)):
        raise ProductNotFound()


async def dry_run_partnership_settings(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    patch: ProductPartnershipSettings,
    scheme: str,
) -> dict[str, Any]:
    """``?dry_run=true`` on updateProductPartnership: the real change (its events included) in
    a transaction that is rolled back; the resulting Product, the partnerships it would
    approve and the events it would record."""
    pid = parse_id(product_id, ProductNotFound)

    async def work() -> dict[str, Any]:
        approved: list[int] = []
        if not patch.changes():
            product = await get_product(conn, owner_business_id, pid)
        else:
            product, approved = await _apply_settings(conn, owner_business_id, pid, patch, scheme)
        events: list[dict[str, Any]] = []
        if patch.changes():
            events.append(
                {"type": EventType.product_partnership_settings_updated.value, "product_id": pid}
            )
        events += [
            {
                "type": EventType.product_partner_approved.value,
                "partnership_id": ppid,
                "product_id": pid,
            }
            for ppid in approved
        ]
        return {
            "dry_run": True,
            "result": product,
            "approved_partnerships": approved,
            "events": events,
        }

    return await rolled_back(conn, work)


async def check_partnership_changes(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    patch: ProductPartnershipSettings,
) -> dict[str, Any]:
    """What :func:`update_partnership_settings` would do with ``patch``; nothing is saved."""
    pid = parse_id(product_id, ProductNotFound)
    row = await repo.get_product(conn, pid)
    if row is None or row.business_id != owner_business_id:
        raise ProductNotFound()
    counts = await repo.partnership_counts(conn, pid)
    sent = patch.changes()
    before = {name: getattr(row, name) for name in (*SETTINGS_FIELDS, *DECISION_FIELDS)}
    after = {**before, **sent}
    if _decides_requests(sent):
        _check_rule_references(row, sent)
    by_rules = None
    if "partnership_rules" in sent:
        preview = await decisions.preview_queue(
            conn,
            row,
            after["partnership_rules"],
            bool(after["is_affiliate_auto_accept"]),
            limit=CHECK_PREVIEW_LIMIT,
        )
        by_rules = {"evaluated": len(preview["data"]), **preview["summary"]}

    def is_open(settings: dict[str, Any], ptype: PartnershipType) -> bool:
        return bool(settings[OPENING_SETTING[ptype]])

    def count(ptype: str, status: str) -> int:
        return counts.get((ptype, status), 0)

    opened = [t.value for t in PartnershipType if is_open(after, t) and not is_open(before, t)]
    closed = [t.value for t in PartnershipType if is_open(before, t) and not is_open(after, t)]
    auto_types = (
        [t for t in AUTO_ACCEPT_TYPES if is_open(after, t)]
        if after["is_affiliate_auto_accept"]
        else []
    )
    pro_before, pro_after = is_open(before, _PRO), is_open(after, _PRO)
    approved_pro = count(_PRO, AffiliateStatus.approved)
    by_status = {status.value: 0 for status in AffiliateStatus}
    for (_ptype, status), n in counts.items():
        by_status[status] += n
    return {
        "product_id": pid,
        "changes": {
            name: {"before": before[name], "after": after[name]}
            for name in sent
            if before[name] != after[name]
        },
        "pending_requests_approved": sum(count(t, _PENDING) for t in auto_types),
        "affiliate_pro_partnerships_losing_links": approved_pro
        if pro_before and not pro_after
        else 0,
        "affiliate_pro_partnerships_regaining_links": approved_pro
        if pro_after and not pro_before
        else 0,
        "types_opened_to_requests": opened,
        "types_closed_to_requests": closed,
        "pending_requests_of_closed_types": sum(count(t, _PENDING) for t in closed),
        "partnerships_by_status": by_status,
        "pending_requests_by_rules": by_rules,
    }
