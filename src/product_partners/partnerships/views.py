"""Rows to Scalev's ProductPartner, including affiliate_pro links: the one renderer of the
body, for the routes, the hot path and the CLI alike.

Link scheme (documented in the README): for each partner domain the owner approved on an
affiliate_pro partnership that is approved and routed to a partner store, while the product's
affiliate_pro programme is on (switching it off suspends the links, switching it on restores
them; nothing is deleted),

    product_url  = <scheme>://<domain>/<product slug>?ap=<store unique id>
    checkout_url = <scheme>://<domain>/<product slug>/checkout?ap=<store unique id>
"""

from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.views import business_simple
from product_partners.partnerships import repository as repo
from product_partners.partnerships.enums import AffiliateStatus, PartnershipType

_PRO = PartnershipType.affiliate_pro


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
    slug = quote(row.product_slug, safe="")
    ap = quote(row.store_unique_id, safe="")
    return [
        {
            "domain": d["full_url"],
            "product_url": f"{scheme}://{d['full_url']}/{slug}?ap={ap}",
            "checkout_url": f"{scheme}://{d['full_url']}/{slug}/checkout?ap={ap}",
        }
        for d in pro_domains
    ]


def product_partner(
    row: Any,
    custom_domains: list[dict[str, Any]],
    pro_domains: list[dict[str, Any]],
    scheme: str,
) -> dict[str, Any]:
    """Scalev's ProductPartner for a row of ``repository.partnerships_query()``."""
    is_pro = row.partnership_type == _PRO
    return {
        "id": row.id,
        "partner": business_simple(row, "partner_"),
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
    }


async def product_partners(
    conn: AsyncConnection, rows: list[Any], scheme: str
) -> list[dict[str, Any]]:
    """ProductPartner bodies for rows of ``repository.partnerships_query()``, with the domains
    they show: two more queries at most, whatever the number of rows."""
    if not rows:
        return []
    domains = await repo.owner_domains_by_owner(conn, (r.owner_business_id for r in rows))
    pro_ids = [r.id for r in rows if r.partnership_type == _PRO]
    pro = await repo.approved_pro_domains(conn, pro_ids) if pro_ids else {}
    return [
        product_partner(r, domains[r.owner_business_id], pro.get(r.id, []), scheme) for r in rows
    ]
