"""affiliate_pro domains: the owner approves, per partnership, which of the partner's own
custom domains carry its affiliate_pro links (ours; Scalev only shows the result, as
``ProductPartner.affiliate_pro_domains`` and ``affiliate_pro_links``).

Rules:
- only an ``affiliate_pro`` partnership of one of the caller's products (else 404, or 409
  ``not_affiliate_pro``);
- only once the partner agreed to affiliate_pro (it asked for it, or accepted the
  partnership as affiliate_pro; else 409 ``partner_consent_required``): a partner's domains
  carry links only with its consent;
- only a domain of the partner business (another's is 404, exactly like a missing one) that
  the operator verified (400 ``domain_not_verified``): links must never point at a domain
  nobody proved the partner controls;
- approving twice is harmless (200, unchanged); revoking what is not approved is 404.
Each change bumps the partnership's ``version`` (its ETag) in the same transaction.

The partner's routing store (``store_id``) is set on request or by the owner with
``updateProductPartner``; the links are built in ``views.affiliate_pro_links``.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.events.enums import EventType
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.partnerships import repository as repo
from product_partners.partnerships.enums import PartnershipType
from product_partners.partnerships.errors import (
    AffiliateProDomainNotFound,
    DomainNotVerified,
    NotAffiliatePro,
    PartnerConsentRequired,
    PartnerDomainNotFound,
    PartnerNotFound,
)
from product_partners.partnerships.service import recorded, render_one


def _scope(owner_business_id: int, product_id: str | int, partnership_id: str | int) -> Any:
    pid = parse_id(product_id, PartnerNotFound)
    ppid = parse_id(partnership_id, PartnerNotFound)
    return ppid, repo.owner_scope(owner_business_id, pid, ppid)


async def _affiliate_pro(conn: AsyncConnection, where: ColumnElement[bool]) -> Any:
    row = await repo.partnership_kind(conn, where)
    if row is None:
        raise PartnerNotFound()
    if row.partnership_type != PartnershipType.affiliate_pro:
        raise NotAffiliatePro(row.partnership_type)
    return row


async def _consented_affiliate_pro(conn: AsyncConnection, where: ColumnElement[bool]) -> Any:
    row = await _affiliate_pro(conn, where)
    if row.affiliate_pro_consented_at is None:
        raise PartnerConsentRequired()
    return row


async def _recorded(
    conn: AsyncConnection, event_type: EventType, ppid: int, scheme: str
) -> dict[str, Any]:
    """The partnership's event (its status unchanged), in the approval's transaction."""
    state = await repo.current_state(conn, repo.pp.c.id == ppid)
    return await recorded(conn, event_type, ppid, scheme, state.affiliate_status if state else None)


async def approve_domain(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    domain_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """Approve a verified domain of the partner for this affiliate_pro partnership."""
    ppid, where = _scope(owner_business_id, product_id, partnership_id)
    did = parse_id(domain_id, PartnerDomainNotFound)
    try:
        async with transaction(conn):
            approved = await repo.approve_pro_domain(conn, where, did)
            if approved:
                await repo.bump_version(conn, ppid, datetime.now(UTC))
                return await _recorded(conn, EventType.affiliate_pro_domain_approved, ppid, scheme)
    except sa_exc.IntegrityError:  # the domain or partnership was deleted meanwhile
        approved = False
    if not approved:
        # One statement inserted only if every rule held: a read afterwards says which did not.
        row = await _consented_affiliate_pro(conn, where)
        verified = await repo.partner_domain_verified(conn, did, row.partner_business_id)
        if verified is None:
            raise PartnerDomainNotFound()
        if not verified:
            raise DomainNotVerified()
        # Otherwise it was approved already: nothing to change.
    return await render_one(conn, ppid, scheme)


async def revoke_domain(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    domain_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """Withdraw the approval of a domain: its links disappear at once."""
    ppid, where = _scope(owner_business_id, product_id, partnership_id)
    did = parse_id(domain_id, PartnerDomainNotFound)
    async with transaction(conn):
        revoked = await repo.revoke_pro_domain(conn, where, ppid, did)
        if revoked:
            await repo.bump_version(conn, ppid, datetime.now(UTC))
            return await _recorded(conn, EventType.affiliate_pro_domain_revoked, ppid, scheme)
    if not revoked:
        if await repo.partnership_kind(conn, where) is None:
            raise PartnerNotFound()
        raise AffiliateProDomainNotFound()
    return await render_one(conn, ppid, scheme)


async def list_candidates(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    page: PageRequest,
) -> dict[str, Any]:
    """The partner's verified domains the owner may approve (affiliate_pro only).

    A partner in an affiliate_pro partnership shows its verified domains to that owner: they
    are public in DNS anyway, and the owner cannot approve what it cannot name.
    """
    ppid, where = _scope(owner_business_id, product_id, partnership_id)
    row = await _affiliate_pro(conn, where)
    query = repo.pro_domain_candidates(ppid, row.partner_business_id)
    rows, fields = await fetch_page(conn, query, repo.cd.c.id, page)
    data = [
        {
            "id": r.id,
            "business_id": r.business_id,
            "full_url": r.full_url,
            "is_approved": bool(r.is_approved),
        }
        for r in rows
    ]
    return {"data": data, **fields}
