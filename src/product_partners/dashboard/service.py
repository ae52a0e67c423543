"""What the dashboard's pages show and do, on the domains' services (the same rules, the same
transition table and the same errors as the API), plus the few reads of its own.

Actor: the services act for a business and take no user yet; the dashboard logs each action
with the user's id (``product_partners.dashboard`` logger) until they take an actor (the event
log's ``user`` actor) — pass ``viewer.user_id`` there then.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.dashboard import repository as repo
from product_partners.dashboard.errors import FormInvalid, PageNotFound
from product_partners.dashboard.forms import Form, field_errors
from product_partners.kit.errors import DomainError
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest
from product_partners.partnerships import bookkeeping, decisions, pro_domains
from product_partners.partnerships import service as partnerships
from product_partners.partnerships import transitions as tt
from product_partners.partnerships.enums import OPENING_SETTING, AffiliateStatus, PartnershipType
from product_partners.partnerships.questions import asked
from product_partners.partnerships.schemas import (
    AcceptPartnershipRequest,
    BanProductPartnerRequest,
    CreateNoteRequest,
    PartnershipRequest,
    ProductPartnerUpdate,
    RejectProductPartnerRequest,
    SetTagsRequest,
)
from product_partners.products import service as products
from product_partners.products.schemas import ProductPartnershipSettings
from product_partners.stores import service as stores

log = logging.getLogger("product_partners.dashboard")

# The queue's status tabs: pending first (the default), then the others, then all.
ALL = "all"
QUEUE_TABS = (*(s.value for s in AffiliateStatus), ALL)
# The owner's decisions on one partnership, by the action name of the transition table.
OWNER_DECISIONS = ("approve", "reject", "ban", "unban", "remove")
PARTNER_DECISIONS = ("withdraw", "leave", "accept")
# The owner's decisions a person confirms on a page of their own before they are sent.
CONFIRMED_DECISIONS = ("ban", "remove")


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user, acting for its business."""

    user_id: int
    business_id: int
    business_unique_id: str
    email: str
    session_token: str


@dataclass(frozen=True, slots=True)
class QueueFilters:
    status: str | None  # None: every status ("all")
    partnership_type: str | None
    search: str | None


def queue_filters(status: str | None, ptype: str | None, search: str | None) -> QueueFilters:
    """The queue's filters from its query string; unknown values fall back to the defaults
    (pending, every type) rather than failing the page."""
    chosen = status if status in QUEUE_TABS else AffiliateStatus.pending.value
    kind = ptype if ptype in {t.value for t in PartnershipType} else None
    text = (search or "").strip()[:64] or None
    return QueueFilters(None if chosen == ALL else chosen, kind, text)


def acted(viewer: Viewer, action: str, **details: Any) -> None:
    log.info(
        "dashboard action",
        extra={
            "user_id": viewer.user_id,
            "business_id": viewer.business_id,
            "action": action,
            **details,
        },
    )


# --- owner -------------------------------------------------------------------------------------


async def products_page(
    conn: AsyncConnection, viewer: Viewer, page: PageRequest, scheme: str
) -> dict[str, Any]:
    body = await products.list_products(conn, viewer.business_id, page, scheme)
    counts = await repo.status_counts(conn, [p["id"] for p in body["data"]])
    for product in body["data"]:
        product["counts"] = counts.get(product["id"], {})
        product["open_types"] = open_types(product)
    return body


def open_types(settings: Any) -> list[str]:
    get = settings.get if isinstance(settings, dict) else lambda k: getattr(settings, k)
    return [t.value for t, setting in OPENING_SETTING.items() if get(setting)]


async def queue_page(
    conn: AsyncConnection,
    viewer: Viewer,
    product_id: str,
    filters: QueueFilters,
    page: PageRequest,
    scheme: str,
) -> dict[str, Any]:
    product = await products.get_product(conn, viewer.business_id, product_id)
    body = await partnerships.list_partners(
        conn,
        viewer.business_id,
        product["id"],
        page,
        scheme,
        affiliate_status=filters.status,
        partnership_type=filters.partnership_type,
        partner_search=filters.search,
    )
    counts = await repo.status_counts(conn, [product["id"]])
    return {"product": product, "list": body, "counts": counts.get(product["id"], {})}


async def partnership_page(
    conn: AsyncConnection, viewer: Viewer, product_id: str, partnership_id: str, scheme: str
) -> dict[str, Any]:
    product = await products.get_product(conn, viewer.business_id, product_id)
    partnership = await partnerships.get_partner(
        conn, viewer.business_id, product["id"], partnership_id, scheme
    )
    candidates = None
    if partnership["partnership_type"] == PartnershipType.affiliate_pro:
        candidates = (
            await pro_domains.list_candidates(
                conn, viewer.business_id, product["id"], partnership["id"], PageRequest()
            )
        )["data"]
    notes = await bookkeeping.list_notes(
        conn, viewer.business_id, product["id"], partnership["id"], PageRequest()
    )
    decision = await decisions.get_decision(
        conn, viewer.business_id, product["id"], partnership["id"]
    )
    return {
        "product": product,
        "partnership": partnership,
        "candidates": candidates,
        "history": history(partnership),
        "notes": notes["data"],
        "more_notes": notes["has_next"],
        "decision": decision,
        "question_labels": {q["id"]: q["label"] for q in product["application_questions"]},
    }


def history(partnership: dict[str, Any]) -> list[tuple[datetime, str]]:
    """What happened to the partnership, newest first, from its timestamps: the last time of
    each step only. The event log (``events``) holds every step with who took it; this page
    does not read it yet."""
    steps = [
        (partnership["created_at"], "Created"),
        (partnership["requested_at"], "Requested by the partner"),
        (partnership["approved_at"], "Approved"),
        (partnership["rejected_at"], "Rejected"),
        (partnership["banned_at"], "Banned"),
        (partnership.get("partner_consented_at"), "The partner shared its contact details"),
    ]
    found = [(_aware(when), what) for when, what in steps if when is not None]
    return sorted(found, key=lambda step: step[0], reverse=True)


async def decide(
    conn: AsyncConnection,
    viewer: Viewer,
    product_id: str,
    partnership_id: str,
    action: str,
    form: Form,
    scheme: str,
) -> None:
    """One owner decision, refused (412) if the partnership changed since the page showed
    the version the form carries."""
    versions = [_version(form)]
    owner = viewer.business_id
    if action == "approve":
        await partnerships.approve_partner(
            conn, owner, product_id, partnership_id, scheme, versions
        )
    elif action == "reject":
        reason = _parsed(RejectProductPartnerRequest, {"reason": form.optional("reason")}).reason
        await partnerships.reject_partner(
            conn, owner, product_id, partnership_id, scheme, reason, versions
        )
    elif action == "ban":
        ban = _parsed(
            BanProductPartnerRequest,
            {"reason": form.optional("ban_reason"), "note": form.optional("note")},
            {"reason": "ban_reason"},
        )
        await partnerships.ban_partner(
            conn, owner, product_id, partnership_id, scheme, ban.reason.value, ban.note, versions
        )
    elif action == "unban":
        await partnerships.unban_partner(conn, owner, product_id, partnership_id, scheme, versions)
    elif action == "remove":
        await partnerships.remove_partner(conn, owner, product_id, partnership_id, versions)
    else:
        raise PageNotFound()
    acted(viewer, action, product_id=product_id, partnership_id=partnership_id)


# The owner's bookkeeping on the partnership page (not decisions: no transition, no version).
BOOKKEEPING = ("tags", "notes", "commission")


async def bookkeep(
    conn: AsyncConnection,
    viewer: Viewer,
    product_id: str,
    partnership_id: str,
    what: str,
    form: Form,
    scheme: str,
) -> None:
    """Set the tags (one text field, comma- or space-separated), add a note, or set or clear
    (empty) the commission rate, as the API's operations do."""
    owner = viewer.business_id
    if what == "tags":
        tags = form.get("tags").replace(",", " ").split()
        parsed = _parsed(SetTagsRequest, {"tags": tags})
        await bookkeeping.set_tags(conn, owner, product_id, partnership_id, parsed.tags, scheme)
    elif what == "notes":
        note = _parsed(CreateNoteRequest, {"body": form.get("note_body")}, {"body": "note_body"})
        await bookkeeping.add_note(conn, owner, product_id, partnership_id, note.body)
    elif what == "commission":
        patch = _parsed(ProductPartnerUpdate, {"commission_rate": form.optional("commission_rate")})
        await partnerships.update_partner(
            conn, owner, product_id, partnership_id, patch, scheme, [_version(form)]
        )
    else:
        raise PageNotFound()
    acted(viewer, what, product_id=product_id, partnership_id=partnership_id)


async def delete_note(
    conn: AsyncConnection, viewer: Viewer, product_id: str, partnership_id: str, note_id: str
) -> None:
    await bookkeeping.delete_note(conn, viewer.business_id, product_id, partnership_id, note_id)
    acted(viewer, "delete_note", product_id=product_id, note_id=note_id)


@dataclass(frozen=True, slots=True)
class RowResult:
    partnership_id: str
    partner: str
    ok: bool
    message: str


async def bulk_decide(
    conn: AsyncConnection, viewer: Viewer, product_id: str, form: Form, scheme: str
) -> list[RowResult]:
    """Approve or reject the selected rows, each on its own (one refused row does not stop
    the others), each at the version the queue showed: the result of every row."""
    action = form.get("action")
    if action not in ("approve", "reject"):
        raise FormInvalid({"action": ["choose approve or reject"]})
    rows = form.all("row")
    if not rows:
        raise FormInvalid({"row": ["select at least one request"]})
    reason = _parsed(RejectProductPartnerRequest, {"reason": form.optional("reason")}).reason
    results = []
    for raw in rows[:25]:
        partnership_id, _, version = raw.partition(":")
        label = form.get(f"partner_{partnership_id}", partnership_id)
        row_form = Form([("version", version), ("reason", reason or "")])
        try:
            await decide(conn, viewer, product_id, partnership_id, action, row_form, scheme)
        except DomainError as exc:
            results.append(RowResult(partnership_id, label, False, exc.message))
        else:
            done = "Approved" if action == "approve" else "Rejected"
            results.append(RowResult(partnership_id, label, True, done))
    return results


async def settings_preview(
    conn: AsyncConnection, viewer: Viewer, product_id: str, form: Form
) -> tuple[ProductPartnershipSettings, dict[str, Any]]:
    patch = settings_from_form(form)
    changes = await products.check_partnership_changes(conn, viewer.business_id, product_id, patch)
    return patch, changes


async def save_settings(
    conn: AsyncConnection, viewer: Viewer, product_id: str, form: Form, scheme: str
) -> dict[str, Any]:
    patch = settings_from_form(form)
    saved = await products.update_partnership_settings(
        conn, viewer.business_id, product_id, patch, scheme
    )
    acted(viewer, "update_settings", product_id=product_id)
    return saved


BOOLEAN_SETTINGS = (*OPENING_SETTING.values(), "is_affiliate_auto_accept")


def settings_from_form(form: Form) -> ProductPartnershipSettings:
    """The whole settings form (an unchecked box is absent: false)."""
    values: dict[str, Any] = {name: form.has(name) for name in BOOLEAN_SETTINGS}
    for name in ("affiliate_commission_rate", "affiliate_pro_commission_rate"):
        values[name] = form.optional(name)
    values["partnership_sales_letter"] = form.optional("partnership_sales_letter")
    cooldown = form.optional("rerequest_cooldown_seconds") or "0"
    values["rerequest_cooldown_seconds"] = int(cooldown) if cooldown.isdigit() else cooldown
    return _parsed(ProductPartnershipSettings, values)


async def approve_domain(
    conn: AsyncConnection,
    viewer: Viewer,
    product_id: str,
    partnership_id: str,
    domain_id: str,
    approve: bool,
    scheme: str,
) -> None:
    change = pro_domains.approve_domain if approve else pro_domains.revoke_domain
    await change(conn, viewer.business_id, product_id, partnership_id, domain_id, scheme)
    acted(
        viewer,
        "approve_domain" if approve else "revoke_domain",
        partnership_id=partnership_id,
        domain_id=domain_id,
    )


# --- partner -----------------------------------------------------------------------------------


async def my_partnerships(
    conn: AsyncConnection, viewer: Viewer, page: PageRequest, scheme: str
) -> dict[str, Any]:
    body = await partnerships.list_my_partnerships(conn, viewer.business_id, page, scheme)
    names = await repo.product_names(conn, [p["product_id"] for p in body["data"]])
    for p in body["data"]:
        p["product_name"] = names.get(p["product_id"], f"Product {p['product_id']}")
    return body


async def partner_decide(
    conn: AsyncConnection, viewer: Viewer, partnership_id: str, action: str, form: Form, scheme: str
) -> None:
    versions = [_version(form)]
    me = viewer.business_id
    if action == "withdraw":
        await partnerships.withdraw_partnership(conn, me, partnership_id, versions)
    elif action == "leave":
        await partnerships.leave_partnership(conn, me, partnership_id, versions)
    elif action == "accept":
        store = form.optional("store_id")
        body = _parsed(AcceptPartnershipRequest, {"store_id": _int_or_text(store)})
        await partnerships.accept_partnership(conn, me, partnership_id, body, scheme, versions)
    else:
        raise PageNotFound()
    acted(viewer, action, partnership_id=partnership_id)


async def join_page(conn: AsyncConnection, viewer: Viewer, product_id: str) -> dict[str, Any]:
    pid = parse_id(product_id, PageNotFound)
    product = await repo.joinable_product(conn, pid)
    if product is None:
        raise PageNotFound()
    my_stores = await stores.list_stores(conn, viewer.business_id, PageRequest())
    return {
        "product": product,
        "open_types": open_types(product),
        "stores": my_stores["data"],
        "is_own": product.business_id == viewer.business_id,
        "questions": product.application_questions,
        "answer_field": ANSWER_FIELD,
    }


# The form field of an application question's answer (``answer.<question id>``): the page
# shows every question, and the answers to those asked of the chosen type are sent.
ANSWER_FIELD = "answer."


def answers_posted(form: Form, questions: list[dict[str, Any]], ptype: str | None) -> dict:
    """The answers the form carries to the questions asked of ``ptype``."""
    return {
        q["id"]: form.get(ANSWER_FIELD + q["id"])
        for q in asked(questions, ptype or "")
        if form.get(ANSWER_FIELD + q["id"]).strip()
    }


async def join(
    conn: AsyncConnection, viewer: Viewer, product_id: str, form: Form, scheme: str
) -> dict[str, Any]:
    product = await repo.joinable_product(conn, parse_id(product_id, PageNotFound))
    if product is None:
        raise PageNotFound()
    ptype = form.optional("partnership_type")
    body = _parsed(
        PartnershipRequest,
        {
            "partnership_type": ptype,
            "message_to_product_owner": form.optional("message"),
            "store_id": _int_or_text(form.optional("store_id")),
            "answers": answers_posted(form, product.application_questions, ptype),
        },
        {"message_to_product_owner": "message"},
    )
    created = await partnerships.request_partnership(
        conn, viewer.business_id, product_id, body, scheme
    )
    acted(viewer, "request", product_id=product_id, partnership_id=created["id"])
    return created


# --- shared ------------------------------------------------------------------------------------


def allowed(actor: str, status: str, action: str) -> bool:
    """Whether the transition table lets ``actor`` take ``action`` from ``status`` (the pages
    offer only those; the service checks again)."""
    return tt.find(actor, status, action) is not None


def _version(form: Form) -> int:
    raw = form.get("version")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        raise FormInvalid({"version": ["is missing: reload the page"]})
    return int(raw)


def _int_or_text(raw: str | None) -> int | str | None:
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else raw


def _parsed(model: Any, values: dict[str, Any], names: dict[str, str] | None = None) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise FormInvalid(field_errors(exc, names)) from None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
