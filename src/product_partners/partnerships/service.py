"""Business rules of partnerships, as plain async functions (callable from tests and the CLI)."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.repository import business_simple
from product_partners.db.tables import product_partners as pp
from product_partners.kit.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships import partnering
from product_partners.partnerships import repository as repo
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.schemas import PartnershipRequest, ProductPartnerUpdate
from product_partners.partnerships.views import etag, product_partner


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
        current = await repo.status_of(conn, pid, target.id)
        raise partnering.already_partner(partnering.PRODUCTS, current)
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
        "product_id": pid,
        "banned_at": None,
        "updated_at": now,
        "rejection_reason": None,
        "ban_reason": None,
        "ban_note": None,
        "version": 1,
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
    query = _filtered(query, affiliate_status, partnership_type)
    rows, fields = await partnering.list_links(
        conn, partnering.PRODUCTS, owner_business_id, pid, query, page
    )
    return {"data": await render_partnerships(conn, rows, scheme), **fields}


# --- lifecycle ---------------------------------------------------------------------------------
#
# Every status change is ONE conditional write whose guard is the transition table's allowed
# source statuses (and the If-Match versions, if any): of concurrent decisions exactly one
# wins. Only when the guard fails is the row read again, to say why (404, 412 or 409).


def _filtered(query: Any, affiliate_status: str | None, partnership_type: str | None) -> Any:
    """``query`` narrowed to one status and/or one type (the lists' optional filters)."""
    if affiliate_status is not None:
        query = query.where(pp.c.affiliate_status == affiliate_status)
    if partnership_type is not None:
        query = query.where(pp.c.partnership_type == partnership_type)
    return query


def partner_not_found() -> NotFound:
    return NotFound("No such partnership.", error_code="partner_not_found")


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an If-Match header accepts; None when there is no precondition.

    ``*`` only requires the partnership to exist, which every write checks anyway. Tags are
    compared by version (``W/`` is tolerated); a header naming no valid tag matches nothing.
    """
    if header is None or header.strip() == "*":
        return None
    versions = []
    for raw in header.split(","):
        tag = raw.strip().removeprefix("W/")
        inner = tag[1:-1]
        if (
            len(tag) >= 3
            and tag[0] == tag[-1] == '"'
            and inner.isascii()
            and inner.isdigit()
            and len(inner) < 10
        ):
            versions.append(int(inner))
    return versions


async def _explain(
    conn: AsyncConnection,
    where: ColumnElement,
    actor: str,
    action: str,
    versions: Sequence[int] | None,
) -> NoReturn:
    state = await repo.current_state(conn, where)
    if state is None:
        raise partner_not_found()
    if versions is not None and state.version not in versions:
        raise PreconditionFailed(
            f"If-Match does not match: the partnership is now at ETag {etag(state.version)} "
            f"(status {state.affiliate_status}). Fetch it again and retry.",
            headers={"ETag": etag(state.version)},
        )
    raise tt.invalid_transition(actor, action, state.affiliate_status)


async def render_one(conn: AsyncConnection, partnership_id: int, scheme: str) -> dict[str, Any]:
    row = await repo.fetch_partnership(conn, partnership_id)
    if row is None:  # deleted between our write and this read
        raise partner_not_found()
    return (await render_partnerships(conn, [row], scheme))[0]


def _owner_where(
    owner_business_id: int, product_id: str | int, partnership_id: str | int
) -> ColumnElement:
    pid = parse_id(product_id, product_not_found())
    ppid = parse_id(partnership_id, partner_not_found())
    return repo.owner_scope(owner_business_id, pid, ppid)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes; they are UTC by construction.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def _status_change(
    conn: AsyncConnection,
    where: ColumnElement,
    actor: str,
    action: str,
    if_match: str | None,
    values: dict[str, Any],
    scheme: str,
) -> dict[str, Any]:
    versions = parse_if_match(if_match)
    row = await repo.conditional_update(conn, where, tt.sources(actor, action), versions, values)
    if row is None:
        await _explain(conn, where, actor, action, versions)
    return await render_one(conn, row.id, scheme)


async def get_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """One partnership of one of the owner's products."""
    pid = parse_id(product_id, product_not_found())
    ppid = parse_id(partnership_id, partner_not_found())
    row = await repo.fetch_owned(conn, owner_business_id, pid, ppid)
    if row is None:
        raise partner_not_found()
    return (await render_partnerships(conn, [row], scheme))[0]


async def approve_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {
        "affiliate_status": "approved",
        "approved_at": now,
        "rejected_at": None,
        "rejection_reason": None,
        "updated_at": now,
    }
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _status_change(conn, where, tt.OWNER, "approve", if_match, values, scheme)


async def reject_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    reason: str | None = None,
    if_match: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {
        "affiliate_status": "rejected",
        "rejected_at": now,
        "rejection_reason": reason,
        "approved_at": None,
        "updated_at": now,
    }
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _status_change(conn, where, tt.OWNER, "reject", if_match, values, scheme)


async def ban_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    reason: str,
    note: str | None = None,
    if_match: str | None = None,
) -> dict[str, Any]:
    if reason not in tt.BAN_REASONS:
        raise Unprocessable(
            f"Unknown ban reason {reason!r}.",
            errors={"reason": [f"must be one of: {', '.join(tt.BAN_REASONS)}"]},
        )
    now = datetime.now(UTC)
    values = {
        "affiliate_status": "banned",
        "banned_at": now,
        "ban_reason": reason,
        "ban_note": note,
        "updated_at": now,
    }
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _status_change(conn, where, tt.OWNER, "ban", if_match, values, scheme)


async def unban_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    scheme: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Banned -> rejected: no access is granted; the partner may request again after the
    cool-down, counted from now."""
    now = datetime.now(UTC)
    values = {
        "affiliate_status": "rejected",
        "rejected_at": now,
        "approved_at": None,
        "banned_at": None,
        "ban_reason": None,
        "ban_note": None,
        "updated_at": now,
    }
    where = _owner_where(owner_business_id, product_id, partnership_id)
    return await _status_change(conn, where, tt.OWNER, "unban", if_match, values, scheme)


async def remove_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    if_match: str | None = None,
) -> None:
    """Delete a partnership (not a banned one: unban first, so a ban cannot be lost by accident)."""
    where = _owner_where(owner_business_id, product_id, partnership_id)
    versions = parse_if_match(if_match)
    if await repo.conditional_delete(conn, where, tt.sources(tt.OWNER, "remove"), versions) is None:
        await _explain(conn, where, tt.OWNER, "remove", versions)


_RETRIES = 3  # re-reads after a concurrent change when the client sent no If-Match


async def update_partner(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    patch: ProductPartnerUpdate,
    scheme: str,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Change type and/or routing store. Leaving affiliate_pro clears ``store_id``."""
    where = _owner_where(owner_business_id, product_id, partnership_id)
    versions = parse_if_match(if_match)
    fields = patch.model_fields_set
    for _ in range(_RETRIES):
        target = await repo.update_target(conn, where, patch.store_id)
        if target is None:
            raise partner_not_found()
        if versions is not None and target.version not in versions:
            await _explain(conn, where, tt.OWNER, "update", versions)
        tt.check(tt.OWNER, target.affiliate_status, "update")
        new_type = (
            patch.partnership_type.value
            if patch.partnership_type is not None
            else target.partnership_type
        )
        new_store = patch.store_id if "store_id" in fields else target.store_id
        if new_type != "affiliate_pro":
            if "store_id" in fields and patch.store_id is not None:
                raise Unprocessable(
                    "Only affiliate_pro partnerships are routed to a store.",
                    error_code="store_requires_affiliate_pro",
                    errors={"store_id": ["needs partnership_type affiliate_pro"]},
                )
            new_store = None
        if "store_id" in fields and patch.store_id is not None and not target.store_ok:
            raise Unprocessable(
                "store_id must be a store of the partner business.",
                error_code="store_not_found",
                errors={"store_id": ["is not a store of the partner business"]},
            )
        if new_type == target.partnership_type and new_store == target.store_id:
            return await render_one(conn, target.id, scheme)
        values = {
            "partnership_type": new_type,
            "store_id": new_store,
            "updated_at": datetime.now(UTC),
        }
        # Guarded by the version we read: a concurrent change makes us re-read, never overwrite.
        row = await repo.conditional_update(
            conn, where, tt.sources(tt.OWNER, "update"), [target.version], values
        )
        if row is not None:
            return await render_one(conn, row.id, scheme)
    raise Conflict(
        "The partnership kept changing while we updated it; retry.",
        error_code="concurrent_change",
    )


# --- partner side ------------------------------------------------------------------------------

_TYPE_FLAG = {
    "affiliate": "is_affiliate_enabled",
    "affiliate_pro": "is_affiliate_pro_enabled",
    "reseller": "is_product_sharing",
}


async def request_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    product_id: str | int,
    body: PartnershipRequest,
    scheme: str,
) -> dict[str, Any]:
    """The caller asks to join a product's programme (new, or again after a rejection).

    Approved at once when the product auto-accepts the type, else pending. A product that
    is not open to any request (and that the caller has no partnership with) is 404: its
    existence is not revealed.
    """
    pid = parse_id(product_id, product_not_found())
    ptype = body.partnership_type.value
    for _ in range(_RETRIES):
        t = await repo.request_target(conn, partner_business_id, pid, body.store_id)
        if t is None:
            raise product_not_found()
        open_types = {k: bool(getattr(t, flag)) for k, flag in _TYPE_FLAG.items()}
        if t.owner_business_id == partner_business_id:
            raise Unprocessable(
                "A business cannot be a partner of its own product.",
                error_code="self_partnership",
            )
        if not open_types[ptype]:
            if not any(open_types.values()) and t.partnership_id is None:
                raise product_not_found()
            raise Unprocessable(
                f"This product does not accept {ptype} requests.",
                error_code="partnership_type_not_open",
                errors={"partnership_type": ["is not open for requests on this product"]},
            )
        if t.caller_banned:
            raise Unprocessable(
                "Your business is banned and cannot become a partner.",
                error_code="business_banned",
            )
        if body.store_id is not None:
            if ptype != "affiliate_pro":
                raise Unprocessable(
                    "Only affiliate_pro partnerships are routed to a store.",
                    error_code="store_requires_affiliate_pro",
                    errors={"store_id": ["needs partnership_type affiliate_pro"]},
                )
            if not t.store_ok:
                raise Unprocessable(
                    "store_id must be one of your stores.",
                    error_code="store_not_found",
                    errors={"store_id": ["is not one of your stores"]},
                )
        transition = tt.check(tt.PARTNER, t.affiliate_status, "request")
        now = datetime.now(UTC)
        _check_cooldown(t, now)
        auto = bool(t.is_affiliate_auto_accept) and ptype in tt.AUTO_ACCEPT_TYPES
        status = "approved" if auto else transition.target
        values = {
            "partnership_type": ptype,
            "affiliate_status": status,
            "message_to_product_owner": body.message_to_product_owner,
            "store_id": body.store_id,
            "requested_at": now,
            "approved_at": now if auto else None,
            "rejected_at": None,
            "rejection_reason": None,
            "updated_at": now,
        }
        if t.partnership_id is None:
            inserted = await repo.insert_partnership(
                conn,
                {
                    **values,
                    "product_id": pid,
                    "partner_business_id": partner_business_id,
                    "created_at": now,
                },
            )
            if inserted is not None:
                return await render_one(conn, inserted.id, scheme)
        else:
            row = await repo.conditional_update(
                conn,
                repo.partner_scope(partner_business_id, t.partnership_id),
                [t.affiliate_status],
                [t.version],
                values,
            )
            if row is not None:
                return await render_one(conn, row.id, scheme)
        # A concurrent request or decision got there first: read again and decide again.
    raise Conflict(
        "The partnership kept changing while we handled the request; retry.",
        error_code="concurrent_change",
    )


def _check_cooldown(t: Any, now: datetime) -> None:
    rejected_at = _aware(t.rejected_at)
    if t.affiliate_status != "rejected" or not t.rerequest_cooldown_seconds or not rejected_at:
        return
    allowed_at = rejected_at + timedelta(seconds=t.rerequest_cooldown_seconds)
    if now < allowed_at:
        wait = int((allowed_at - now).total_seconds()) + 1
        raise Conflict(
            f"Your request was rejected; you may request again after "
            f"{allowed_at.strftime('%Y-%m-%dT%H:%M:%SZ')} (in {wait} s).",
            error_code="rerequest_cooldown",
            errors={"affiliate_status": ["is rejected"]},
            headers={"Retry-After": str(wait)},
        )


async def withdraw_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    if_match: str | None = None,
) -> None:
    await _partner_delete(conn, partner_business_id, partnership_id, "withdraw", if_match)


async def leave_partnership(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    if_match: str | None = None,
) -> None:
    await _partner_delete(conn, partner_business_id, partnership_id, "leave", if_match)


async def _partner_delete(
    conn: AsyncConnection,
    partner_business_id: int,
    partnership_id: str | int,
    action: str,
    if_match: str | None,
) -> None:
    where = repo.partner_scope(partner_business_id, parse_id(partnership_id, partner_not_found()))
    versions = parse_if_match(if_match)
    if await repo.conditional_delete(conn, where, tt.sources(tt.PARTNER, action), versions) is None:
        await _explain(conn, where, tt.PARTNER, action, versions)


async def get_my_partnership(
    conn: AsyncConnection, partner_business_id: int, partnership_id: str | int, scheme: str
) -> dict[str, Any]:
    where = repo.partner_scope(partner_business_id, parse_id(partnership_id, partner_not_found()))
    row = await repo.fetch_scoped(conn, where)
    if row is None:
        raise partner_not_found()
    return (await render_partnerships(conn, [row], scheme))[0]


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
    return {"data": await render_partnerships(conn, rows, scheme), **fields}
