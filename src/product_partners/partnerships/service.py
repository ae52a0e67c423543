"""Business rules of partnerships, as plain async functions (callable from the routes, the CLI
and tests alike).

Every status change is ONE conditional write whose guard is the transition table's allowed
source statuses (and the If-Match versions, if any): of concurrent decisions exactly one wins.
Only when the guard fails is the row read again, to say why (404, 412 or 409).
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, literal_column
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.db.sql import name_contains
from product_partners.db.tables import product_partners as pp
from product_partners.events.enums import EventType
from product_partners.events.service import SYSTEM, Actor, record
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships import decisions, partnering, questions, views
from product_partners.partnerships import repository as repo
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import (
    OPENING_SETTING,
    BanReason,
    PartnershipType,
)
from product_partners.partnerships.errors import (
    CommissionNotApplicable,
    ConcurrentChange,
    NotAffiliatePro,
    PartnerAlreadyExists,
    PartnerNotFound,
    PartnershipTypeNotOpen,
    PartnerStoreNotFound,
    RerequestCooldown,
    SelfPartnership,
    StalePartnership,
    StoreIsPartnersChoice,
    StoreRequiresAffiliatePro,
    UnknownBanReason,
)
from product_partners.partnerships.etags import etag
from product_partners.partnerships.schemas import (
    AcceptPartnershipRequest,
    PartnershipRequest,
    ProductPartnerUpdate,
)
from product_partners.products.errors import ProductNotFound

Versions = Sequence[int] | None  # the If-Match versions (etags.parse_if_match); None: any
_RETRIES = 3  # re-reads after a concurrent change when the client sent no If-Match
_RESELLER = PartnershipType.reseller


# --- the owner's side --------------------------------------------------------------------------


async def add_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partner_unique_id: str,
    scheme: str,
) -> dict[str, Any]:
    """The owner adds a business as partner: an approved ``affiliate`` partnership.

    One statement decides (``partnering.add_statement``): the owner's product, the business,
    the rules and the unique constraint on (product, partner), so concurrent identical adds
    give one 200 and 409s."""
    pid = parse_id(product_id, ProductNotFound)
    values = repo.added_partnership(datetime.now(UTC))
    async with transaction(conn):
        new_id = await partnering.add_link(
            conn, partnering.PRODUCTS, owner_business_id, pid, partner_unique_id, values
        )
        return await recorded(conn, EventType.product_partner_created, new_id, scheme, None)


async def owned_product_id(
    conn: AsyncConnection, owner_business_id: int, product_id: str | int
) -> int:
    """The id of one of the owner's products; 404 (``product_not_found``) for another's."""
    pid = parse_id(product_id, ProductNotFound)
    await partnering.ensure_owned(conn, partnering.PRODUCTS, owner_business_id, pid)
    return pid


async def list_partners(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    page: PageRequest,
    scheme: str,
    affiliate_status: str | None = None,
    partnership_type: str | None = None,
    partner_search: str | None = None,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """One page of a product's partners, newest first (the owner's view); ``partner_search``:
    only partners whose unique id contains it (the dashboard's search); ``tags``: only those
    carrying every one of them."""
    pid = parse_id(product_id, ProductNotFound)
    query = _filtered(repo.partnerships_query(), affiliate_status, partnership_type)
    if partner_search:
        query = query.where(name_contains(pp.c.partner_unique_id, partner_search))
    for tag in tags:
        query = query.where(repo.has_tag(tag))
    rows, fields = await partnering.list_links(
        conn, partnering.PRODUCTS, owner_business_id, pid, query, page
    )
    return {"data": await views.product_partners(conn, rows, scheme), **fields}


async def get_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """One partnership of one of the owner's products."""
    pid = parse_id(product_id, ProductNotFound)
    ppid = parse_id(partnership_id, PartnerNotFound)
    row = await repo.fetch_owned(conn, owner_business_id, pid, ppid)
    if row is None:
        raise PartnerNotFound()
    return (await views.product_partners(conn, [row], scheme))[0]


async def approve_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    versions: Versions = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {"approved_at": now, "rejected_at": None, "rejection_reason": None}
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _decide(conn, where, tt.OWNER, "approve", versions, values, now, scheme)


async def reject_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    reason: str | None = None,
    versions: Versions = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {"rejected_at": now, "rejection_reason": reason, "approved_at": None}
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _decide(conn, where, tt.OWNER, "reject", versions, values, now, scheme)


async def ban_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    reason: str,
    note: str | None = None,
    versions: Versions = None,
) -> dict[str, Any]:
    if reason not in tuple(BanReason):
        raise UnknownBanReason(reason, tuple(BanReason))
    now = datetime.now(UTC)
    values = {"banned_at": now, "ban_reason": reason, "ban_note": note}
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _decide(conn, where, tt.OWNER, "ban", versions, values, now, scheme)


async def ban_business(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partner_unique_id: str,
    scheme: str,
    reason: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Ban a business from the product by its unique id, partner or not: the product's block
    list. One with a partnership is banned as ``ban_partner`` bans it; one without (it never
    asked, or it left before the owner banned it) gets a banned partnership, so that it cannot
    ask again. A unique id that no business has is blocked alike."""
    pid = parse_id(product_id, ProductNotFound)
    if reason not in tuple(BanReason):
        raise UnknownBanReason(reason, tuple(BanReason))
    for _ in range(_RETRIES):
        existing = await repo.owned_partnership_named(
            conn, owner_business_id, pid, partner_unique_id
        )
        if existing is not None:
            try:
                return await ban_partner(
                    conn, owner_business_id, pid, existing.id, scheme, reason, note
                )
            except PartnerNotFound:
                continue  # it left meanwhile: block it all the same
        now = datetime.now(UTC)
        values = {
            "partnership_type": literal_column(f"'{PartnershipType.affiliate}'"),
            "affiliate_status": literal_column(f"'{tt.check(tt.OWNER, None, 'ban').target}'"),
            "banned_at": now,
            "ban_reason": reason,
            "ban_note": note,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with transaction(conn):
                new_id = await partnering.add_link(
                    conn,
                    partnering.PRODUCTS,
                    owner_business_id,
                    pid,
                    partner_unique_id,
                    values,
                    rules=(partnering.NOT_SELF,),
                )
                return await recorded(
                    conn,
                    EventType.product_partner_banned,
                    new_id,
                    scheme,
                    None,
                    reason=reason,
                    note=note,
                )
        except PartnerAlreadyExists:
            continue  # it asked or was added meanwhile: ban that partnership
    raise ConcurrentChange()


async def unban_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    versions: Versions = None,
) -> dict[str, Any]:
    """Banned -> rejected: no access is granted; the partner may request again after the
    cool-down, counted from now."""
    now = datetime.now(UTC)
    values = {
        "rejected_at": now,
        "approved_at": None,
        "banned_at": None,
        "ban_reason": None,
        "ban_note": None,
    }
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _decide(conn, where, tt.OWNER, "unban", versions, values, now, scheme)


async def remove_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    versions: Versions = None,
) -> None:
    """Delete a partnership (not a banned one: unban first, so a ban cannot be lost by accident)."""
    where = _owner_where(owner_business_id, product_id, partnership_id)
    await _delete(conn, where, tt.OWNER, "remove", versions)


async def update_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    patch: ProductPartnerUpdate,
    scheme: str,
    versions: Versions = None,
) -> dict[str, Any]:
    """Change type, routing store and/or commission rate. Leaving affiliate_pro clears
    ``store_id``; becoming a reseller clears ``commission_rate`` (a reseller earns none)."""
    where = _owner_where(owner_business_id, product_id, partnership_id)
    store_sent = "store_id" in patch.model_fields_set
    rate_sent = "commission_rate" in patch.model_fields_set
    for _ in range(_RETRIES):
        target = await repo.update_target(conn, where, patch.store_id)
        if target is None:
            raise PartnerNotFound()
        if versions is not None and target.version not in versions:
            await _explain(conn, where, tt.OWNER, "update", versions)
        tt.check(tt.OWNER, target.affiliate_status, "update")
        if store_sent and patch.store_id is not None:
            # Whatever the store: the owner learns nothing of the partner's stores by trying.
            raise StoreIsPartnersChoice()
        new_type = patch.partnership_type or target.partnership_type
        if rate_sent and patch.commission_rate is not None and new_type == _RESELLER:
            raise CommissionNotApplicable()
        type_kept = new_type == target.partnership_type
        new_store = target.store_id if type_kept and not store_sent else None
        new_rate = patch.commission_rate if rate_sent else target.commission_rate
        if new_type == _RESELLER:
            new_rate = None
        rate_changed = _rate(new_rate) != _rate(target.commission_rate)
        updated = not type_kept or new_store != target.store_id
        if not updated and not rate_changed:
            return await render_one(conn, target.id, scheme)
        values = {
            "partnership_type": str(new_type),
            "store_id": new_store,
            # The partner agreed to the type it asked for or accepted, not to a new one.
            "affiliate_pro_consented_at": target.affiliate_pro_consented_at if type_kept else None,
            "commission_rate": new_rate,
        }
        # Guarded by the version we read: a concurrent change makes us re-read, never overwrite.
        async with transaction(conn):
            row = await repo.conditional_update(
                conn,
                where,
                tt.sources(tt.OWNER, "update"),
                [target.version],
                {**values, "updated_at": datetime.now(UTC)},
            )
            if row is None:
                continue
            body = await render_one(conn, row.id, scheme)
            if updated:
                body = await recorded(
                    conn,
                    EventType.product_partner_updated,
                    row.id,
                    scheme,
                    target.affiliate_status,
                )
            if rate_changed:
                changed = await repo.fetch_partnership(conn, row.id)
                await record_commission_change(conn, changed, body, target.commission_rate)
            return body
    raise ConcurrentChange()


def _rate(value: Any) -> str | None:
    """A commission rate as the wire and the event log write it ("12.50"), or None."""
    return None if value is None else f"{Decimal(value):.2f}"


async def record_commission_change(
    conn: AsyncConnection, row: Any, body: dict[str, Any], before: Any
) -> None:
    """product_partner.commission_changed for the partnership ``row`` (just changed; ``body``
    its owner's body), its from/to the override before and after (in the event's
    from_status/to_status; null: the product's rate)."""
    if row is None:
        raise PartnerNotFound()
    await _record(
        conn,
        EventType.product_partner_commission_changed,
        row,
        body,
        _rate(before),
        _rate(row.commission_rate),
    )


# --- the partner's side ------------------------------------------------------------------------


async def request_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    product_id: str | int,
    body: PartnershipRequest,
    scheme: str,
) -> dict[str, Any]:
    """The caller asks to join a product's programme (new, or again after a rejection).

    Its ``answers`` must fit the product's application questions (``questions.py``; 400
    before anything is written). The product's rules then decide, on facts read in the
    request's transaction (``decisions.py``, ``rules.py``): approved (``system``
    ``auto_approve``), rejected with the rule's reason (``system`` ``auto_reject``) or
    pending; the decision's trace is saved with the request. A product that is not open to
    any request (and that the caller has no partnership with) is 404: its existence is not
    revealed.
    """
    pid = parse_id(product_id, ProductNotFound)
    for _ in range(_RETRIES):
        t = await repo.request_target(conn, partner_business_id, pid, body.store_id)
        if t is None:
            raise ProductNotFound()
        if t.partnership_id is not None and t.named_business_id is None:
            # Named before the row knew this business (an add racing its creation): its own,
            # whatever this request's fate (it then sees who added it, and any ban binds it).
            await repo.claim_partnership(
                conn, partner_business_id, t.caller_unique_id, t.partnership_id
            )
        _check_request(t, partner_business_id, body)
        status = tt.check(tt.PARTNER, t.affiliate_status, "request").target
        now = datetime.now(UTC)
        _check_cooldown(t, now)
        ptype = body.partnership_type.value
        answers = questions.checked_answers(t.application_questions or [], ptype, body.answers)
        is_pro = body.partnership_type == PartnershipType.affiliate_pro
        values = {
            "partnership_type": ptype,
            "affiliate_status": status,
            "message_to_product_owner": body.message_to_product_owner,
            "store_id": body.store_id,
            "requested_at": now,
            "approved_at": None,
            "rejected_at": None,
            "rejection_reason": None,
            "affiliate_pro_consented_at": now if is_pro else None,
            "updated_at": now,
        }
        # Asking to join shares the partner's contact data with the owner, and the product's
        # rules decide on facts read here: all in the request's transaction, so that none of
        # the request, the consent and the decision is ever saved without the others.
        async with transaction(conn):
            decision = await decisions.decide(conn, t, partner_business_id, ptype, answers, now)
            values.update(decisions.outcome_values(decision, now))
            if t.partnership_id is None:
                new = {
                    **values,
                    "product_id": pid,
                    "partner_business_id": partner_business_id,
                    "partner_unique_id": t.caller_unique_id,
                    "created_at": now,
                }
                row = await repo.insert_partnership(conn, new)
            else:
                row = await repo.conditional_update(
                    conn,
                    repo.partner_scope(partner_business_id, t.partnership_id),
                    [t.affiliate_status],
                    [t.version],
                    values,
                )
            if row is not None:
                await repo.record_consent(conn, t.owner_business_id, partner_business_id, now)
                again = t.partnership_id is not None
                await decisions.save(conn, row.id, decision, answers, now, replace=again)
                return await _record_request(conn, row.id, scheme, t.affiliate_status, decision)
        # A concurrent request or decision got there first: read again and decide again.
    raise ConcurrentChange()


async def accept_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    body: AcceptPartnershipRequest,
    scheme: str,
    versions: Versions = None,
) -> dict[str, Any]:
    """The partner accepts a partnership an owner created: its contact data is shared with the
    owner; on affiliate_pro, it agrees to be routed (to ``store_id``, one of its own stores:
    call again to change it) and the owner may approve its domains."""
    where = _partner_where(partner_business_id, partnership_id)
    for _ in range(_RETRIES):
        target = await repo.update_target(conn, where, body.store_id)
        if target is None:
            raise PartnerNotFound()
        if versions is not None and target.version not in versions:
            await _explain(conn, where, tt.PARTNER, "accept", versions)
        tt.check(tt.PARTNER, target.affiliate_status, "accept")
        is_pro = target.partnership_type == PartnershipType.affiliate_pro
        if body.store_id is not None:
            if not is_pro:
                # The partnership's state, not the body, is in the way (the owner may have
                # just changed its type): a conflict to re-read, nothing half-accepted.
                raise NotAffiliatePro(target.partnership_type, field="store_id")
            if not target.store_ok:
                raise PartnerStoreNotFound(asked_by_partner=True)
        now = datetime.now(UTC)
        values: dict[str, Any] = {"updated_at": now}
        if is_pro:
            values["affiliate_pro_consented_at"] = now
            if "store_id" in body.model_fields_set:
                values["store_id"] = body.store_id
        sources = tt.sources(tt.PARTNER, "accept")
        async with transaction(conn):
            row = await repo.conditional_update(conn, where, sources, [target.version], values)
            if row is not None:
                await repo.record_consent(conn, target.owner_business_id, partner_business_id, now)
                return await recorded(
                    conn,
                    EventType.product_partner_accepted,
                    row.id,
                    scheme,
                    target.affiliate_status,
                    for_partner=True,
                )
    raise ConcurrentChange()


def _check_request(t: Any, partner_business_id: int, body: PartnershipRequest) -> None:
    """The rules of a request, on what ``repository.request_target`` read (one round trip)."""
    ptype = body.partnership_type
    open_types = {kind: bool(getattr(t, setting)) for kind, setting in OPENING_SETTING.items()}
    if t.owner_business_id == partner_business_id:
        raise SelfPartnership("product")
    if not open_types[ptype]:
        if not any(open_types.values()) and t.partnership_id is None:
            raise ProductNotFound()
        raise PartnershipTypeNotOpen(ptype)
    if body.store_id is not None:
        if ptype != PartnershipType.affiliate_pro:
            raise StoreRequiresAffiliatePro()
        if not t.store_ok:
            raise PartnerStoreNotFound(asked_by_partner=True)


def _check_cooldown(t: Any, now: datetime) -> None:
    rejected_at = _aware(t.rejected_at)
    if t.affiliate_status != tt.REJECTED or not t.rerequest_cooldown_seconds or not rejected_at:
        return
    allowed_at = rejected_at + timedelta(seconds=t.rerequest_cooldown_seconds)
    if now < allowed_at:
        raise RerequestCooldown(allowed_at, int((allowed_at - now).total_seconds()) + 1)


async def withdraw_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    versions: Versions = None,
) -> None:
    where = _partner_where(partner_business_id, partnership_id)
    await _delete(conn, where, tt.PARTNER, "withdraw", versions)


async def leave_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    versions: Versions = None,
) -> None:
    where = _partner_where(partner_business_id, partnership_id)
    await _delete(conn, where, tt.PARTNER, "leave", versions)


async def get_my_partnership(
    conn: AsyncConnection, partner_business_id: int, partnership_id: str | int, scheme: str
) -> dict[str, Any]:
    row = await repo.fetch_scoped(conn, _partner_where(partner_business_id, partnership_id))
    if row is None:
        raise PartnerNotFound()
    return (await views.product_partners(conn, [row], scheme, for_partner=True))[0]


async def list_my_partnerships(
    conn: AsyncConnection,
    partner_business_id: int,
    page: PageRequest,
    scheme: str,
    affiliate_status: str | None = None,
    partnership_type: str | None = None,
) -> dict[str, Any]:
    """Every partnership where the caller is the partner, across owners, newest first."""
    query = repo.partnerships_query().where(pp.c.partner_business_id == partner_business_id)
    query = _filtered(query, affiliate_status, partnership_type)
    rows, fields = await fetch_page(conn, query, pp.c.id, page)
    return {"data": await views.product_partners(conn, rows, scheme, for_partner=True), **fields}


# --- shared steps ------------------------------------------------------------------------------


async def render_one(
    conn: AsyncConnection, partnership_id: int, scheme: str, for_partner: bool = False
) -> dict[str, Any]:
    row = await repo.fetch_partnership(conn, partnership_id)
    if row is None:  # deleted between our write and this read
        raise PartnerNotFound()
    return (await views.product_partners(conn, [row], scheme, for_partner))[0]


async def _decide(
    conn: AsyncConnection,
    where: ColumnElement,
    actor: str,
    action: str,
    versions: Versions,
    values: dict[str, Any],
    now: datetime,
    scheme: str,
) -> dict[str, Any]:
    """A status change: the transition table's target status, guarded by its sources, and its
    event, in one transaction."""
    changes = {**values, "affiliate_status": tt.target(actor, action), "updated_at": now}
    async with transaction(conn):
        before = await repo.locked_state(conn, where)
        row = await repo.conditional_update(
            conn, where, tt.sources(actor, action), versions, changes
        )
        if row is None or before is None:
            await _explain(conn, where, actor, action, versions)
        return await recorded(
            conn,
            MOVE_EVENTS[action],
            row.id,
            scheme,
            before.affiliate_status,
            reason=values.get("rejection_reason") or values.get("ban_reason"),
            note=values.get("ban_note"),
        )


async def _delete(
    conn: AsyncConnection, where: ColumnElement, actor: str, action: str, versions: Versions
) -> None:
    """A guarded delete and its event (the partnership as it was), in one transaction."""
    async with transaction(conn):
        before = await repo.locked_state(conn, where)
        row = await repo.fetch_scoped(conn, where) if before is not None else None
        deleted = await repo.conditional_delete(conn, where, tt.sources(actor, action), versions)
        if deleted is None or row is None:
            await _explain(conn, where, actor, action, versions)
        body = (await views.product_partners(conn, [row], LINKLESS))[0]
        await _record(conn, MOVE_EVENTS[action], row, body, row.affiliate_status, None)


# The event of each move of the transition table.
MOVE_EVENTS: dict[str, EventType] = {
    "approve": EventType.product_partner_approved,
    "reject": EventType.product_partner_rejected,
    "ban": EventType.product_partner_banned,
    "unban": EventType.product_partner_unbanned,
    "remove": EventType.product_partner_deleted,
    "withdraw": EventType.product_partner_withdrawn,
    "leave": EventType.product_partner_left,
}
# A deleted partnership has no links: the scheme of its last body does not matter.
LINKLESS = "https"


async def recorded(
    conn: AsyncConnection,
    event_type: EventType,
    partnership_id: int,
    scheme: str,
    from_status: str | None,
    *,
    reason: str | None = None,
    note: str | None = None,
    actor: Actor | None = None,
    for_partner: bool = False,
) -> dict[str, Any]:
    """Record ``event_type`` for a partnership just changed, inside the change's transaction
    (its data: the owner's view of the partnership now); the body the caller gets."""
    row = await repo.fetch_partnership(conn, partnership_id)
    if row is None:
        raise PartnerNotFound()
    body = (await views.product_partners(conn, [row], scheme))[0]
    await _record(
        conn, event_type, row, body, from_status, row.affiliate_status, reason, note, actor
    )
    if for_partner:
        return (await views.product_partners(conn, [row], scheme, for_partner=True))[0]
    return body


async def _record(
    conn: AsyncConnection,
    event_type: EventType,
    row: Any,
    body: dict[str, Any],
    from_status: str | None,
    to_status: str | None,
    reason: str | None = None,
    note: str | None = None,
    actor: Actor | None = None,
) -> None:
    await record(
        conn,
        event_type,
        resource_id=row.id,
        product_id=row.product_id,
        data=views.shared(body),  # the partner is in the audience: no private field
        owner_business_id=row.owner_business_id,
        partner_business_id=row.partner_business_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        note=note,
        actor=actor,
    )


async def _record_request(
    conn: AsyncConnection,
    partnership_id: int,
    scheme: str,
    before: str | None,
    decision: dict[str, Any],
) -> dict[str, Any]:
    """A request's event, and the system's approval or rejection when the product's rules
    (or auto-accept) decided on it: actor ``system``, the rule and its trace in the note."""
    requested = tt.check(tt.PARTNER, before, "request").target
    row = await repo.fetch_partnership(conn, partnership_id)
    if row is None:
        raise PartnerNotFound()
    body = (await views.product_partners(conn, [row], scheme))[0]
    await _record(conn, EventType.product_partner_requested, row, body, before, requested)
    if row.affiliate_status != requested:
        decided = EventType.product_partner_approved
        if decision["outcome"] == "reject":
            decided = EventType.product_partner_rejected
        await _record(
            conn,
            decided,
            row,
            body,
            requested,
            row.affiliate_status,
            reason=decision["reason"],
            note=decisions.trace_note(decision),
            actor=SYSTEM,
        )
    return (await views.product_partners(conn, [row], scheme, for_partner=True))[0]


async def _explain(
    conn: AsyncConnection, where: ColumnElement, actor: str, action: str, versions: Versions
) -> NoReturn:
    """Why a guarded write changed nothing: gone (404), changed since read (412), or a move
    the transition table does not allow from its status (409)."""
    state = await repo.current_state(conn, where)
    if state is None:
        raise PartnerNotFound()
    if versions is not None and state.version not in versions:
        raise StalePartnership(etag(state.version), state.affiliate_status)
    raise tt.invalid_transition(actor, action, state.affiliate_status)


def _owner_where(
    owner_business_id: int, product_id: str | int, partnership_id: str | int
) -> ColumnElement:
    pid = parse_id(product_id, ProductNotFound)
    ppid = parse_id(partnership_id, PartnerNotFound)
    return repo.owner_scope(owner_business_id, pid, ppid)


def _partner_where(partner_business_id: int, partnership_id: str | int) -> ColumnElement:
    return repo.partner_scope(partner_business_id, parse_id(partnership_id, PartnerNotFound))


def _filtered(query: Any, affiliate_status: str | None, partnership_type: str | None) -> Any:
    """``query`` narrowed to one status and/or one type (the lists' optional filters)."""
    if affiliate_status is not None:
        query = query.where(pp.c.affiliate_status == affiliate_status)
    if partnership_type is not None:
        query = query.where(pp.c.partnership_type == partnership_type)
    return query


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes; they are UTC by construction.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
