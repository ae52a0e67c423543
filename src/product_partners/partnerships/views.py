"""Rows to Scalev's ProductPartner, including affiliate_pro links: the one renderer of the
body, for the routes, the hot path and the CLI alike.

Link scheme (documented in the README): for each partner domain the owner approved on an
affiliate_pro partnership that is approved and routed to a partner store, while the product's
affiliate_pro programme is on (switching it off suspends the links, switching it on restores
them; nothing is deleted),

    product_url  = <scheme>://<domain>/<owner unique id>/<product slug>?ap=<store unique id>
    checkout_url = <scheme>://<domain>/<owner unique id>/<product slug>/checkout?ap=<...>

Slugs are unique per owner only, so the owner's unique id in the path is what makes a link
name exactly one product on a partner's domain, whichever owners the partner works with.

The partner's contact data (BusinessSimple's username, account holder, email, and its id) is
shown to the owner only once the partner consented (asked to join one of the owner's
products, or accepted the partnership): until then ``partner`` is just the unique id the owner
named, the same for a business that exists as for one that does not.

``tags`` are the owner's private labels: in the owner's body only, never in the partner's,
nor in an event the partner is the audience of (:func:`shared`). The commission rates are
not private: both sides see them.
"""

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.views import PARTNER_PREFIX, business_simple
from product_partners.partnerships import repository as repo
from product_partners.partnerships.enums import AffiliateStatus, PartnershipType

_PRO = PartnershipType.affiliate_pro
# The owner's private fields of its body: left out of the partner's, and of every event whose
# audience includes the partner.
PRIVATE_FIELDS = ("tags",)


def tag_list(stored: str | None) -> list[str]:
    """The tags as a list, from their stored form (" a b ", see db/tables.py)."""
    return stored.split() if stored else []


def effective_commission_rate(row: Any) -> Decimal | None:
    """The partnership's override, else the product's rate for its type; a reseller earns no
    commission (None)."""
    if row.partnership_type == PartnershipType.reseller:
        return None
    if row.commission_rate is not None:
        return Decimal(row.commission_rate)
    product_rate = (
        row.product_affiliate_pro_commission_rate
        if row.partnership_type == _PRO
        else row.product_affiliate_commission_rate
    )
    return None if product_rate is None else Decimal(product_rate)


def shared(body: dict[str, Any]) -> dict[str, Any]:
    """The owner's body without its private fields: the data of an event the partner sees."""
    return {k: v for k, v in body.items() if k not in PRIVATE_FIELDS}


def affiliate_pro_links(
    row: Any, pro_domains: list[dict[str, Any]], scheme: str
) -> list[dict[str, str]]:
    if (
        row.partnership_type != _PRO
        or row.affiliate_status != AffiliateStatus.approved
        or not row.store_unique_id
        or not row.product_affiliate_pro_enabled
    ):
        return []
    path = f"{quote(row.owner_unique_id, safe='')}/{quote(row.product_slug, safe='')}"
    ap = quote(row.store_unique_id, safe="")
    return [
        {
            "domain": d["full_url"],
            "product_url": f"{scheme}://{d['full_url']}/{path}?ap={ap}",
            "checkout_url": f"{scheme}://{d['full_url']}/{path}/checkout?ap={ap}",
        }
        for d in pro_domains
    ]


def partner(row: Any, for_partner: bool) -> dict[str, Any]:
    """The partner as the viewer may see it: whole to itself and to an owner it consented to
    (``partner_consented_at``), otherwise only the unique id the owner named."""
    if row.partner_business_id is not None and (
        for_partner or row.partner_consented_at is not None
    ):
        return business_simple(row, PARTNER_PREFIX)
    return {"unique_id": row.partner_unique_id}


def product_partner(
    row: Any,
    custom_domains: list[dict[str, Any]],
    pro_domains: list[dict[str, Any]],
    scheme: str,
    for_partner: bool = False,
) -> dict[str, Any]:
    """Scalev's ProductPartner for a row of ``repository.partnerships_query()``, as the owner
    sees it (``for_partner``: as the partner sees it)."""
    is_pro = row.partnership_type == _PRO
    if for_partner and row.affiliate_status == AffiliateStatus.banned:
        custom_domains = []  # a banned partner reads nothing of the product's terms
    body: dict[str, Any] = {
        "id": row.id,
        "partner": partner(row, for_partner),
        "partnership_type": row.partnership_type,
        "affiliate_status": row.affiliate_status,
        "message_to_product_owner": row.message_to_product_owner,
        "requested_at": row.requested_at,
        "approved_at": row.approved_at,
        "rejected_at": row.rejected_at,
        "created_at": row.created_at,
        "store_id": row.store_id,
        "custom_domains": custom_domains,
        "affiliate_pro_domains": pro_domains if is_pro else [],
        "affiliate_pro_links": affiliate_pro_links(row, pro_domains, scheme) if is_pro else [],
        # Ours.
        "product_id": row.product_id,
        "banned_at": row.banned_at,
        "updated_at": row.updated_at,
        "rejection_reason": row.rejection_reason,
        "ban_reason": row.ban_reason,
        "ban_note": row.ban_note,
        "version": row.version,
        "product_owner": business_simple(row, "owner_"),
        "partner_consented_at": row.partner_consented_at,
        "affiliate_pro_consented_at": row.affiliate_pro_consented_at,
        "commission_rate": row.commission_rate,
        "effective_commission_rate": effective_commission_rate(row),
    }
    if not for_partner:
        body["tags"] = tag_list(row.tags)
    return body


async def product_partners(
    conn: AsyncConnection, rows: list[Any], scheme: str, for_partner: bool = False
) -> list[dict[str, Any]]:
    """ProductPartner bodies for rows of ``repository.partnerships_query()``, with the domains
    they show: two more queries at most, whatever the number of rows."""
    if not rows:
        return []
    domains = await repo.owner_domains_by_owner(conn, (r.owner_business_id for r in rows))
    pro_ids = [r.id for r in rows if r.partnership_type == _PRO]
    pro = await repo.approved_pro_domains(conn, pro_ids) if pro_ids else {}
    return [
        product_partner(r, domains[r.owner_business_id], pro.get(r.id, []), scheme, for_partner)
        for r in rows
    ]
