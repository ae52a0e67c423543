"""affiliate_pro domains: the owner approves, per partnership, which of the partner's own
custom domains carry its affiliate_pro links (ours; Scalev only shows the result, as
``ProductPartner.affiliate_pro_domains`` and ``affiliate_pro_links``).

Rules:
- only an ``affiliate_pro`` partnership of one of the caller's products (else 404, or 409
  ``not_affiliate_pro``);
- only a domain of the partner business (another's is 404, exactly like a missing one) that
  the operator verified (422 ``domain_not_verified``): links must never point at a domain
  nobody proved the partner controls;
- approving twice is harmless (200, unchanged); revoking what is not approved is 404.
Each change bumps the partnership's ``version`` (its ETag) in the same transaction.

The partner's routing store (``store_id``) is set on request or by the owner with
``updateProductPartner``; the links are built in ``views.affiliate_pro_links``.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, and_, delete, exists, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from product_partners.auth.dependencies import ProductList, ProductUpdate
from product_partners.db.connections import transaction
from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import (
    custom_domains,
    partnership_domains,
    product_partners,
    products,
)
from product_partners.kit.errors import Conflict, NotFound, Unprocessable
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.ids import parse_id
from product_partners.kit.jsonutil import json_response
from product_partners.kit.pagination import Page, PageRequest, PaginatedFields, fetch_page
from product_partners.partnerships import repository as repo
from product_partners.partnerships.schemas import ProductPartner
from product_partners.partnerships.service import render_partnerships

pp = product_partners
cd = custom_domains
pd = partnership_domains

# --- wire shapes ---------------------------------------------------------------------------


class AffiliateProDomainCandidate(BaseModel):
    """A verified domain of the partner business, and whether it is approved here."""

    model_config = ConfigDict(title="AffiliateProDomainCandidate")

    id: int = Field(description="Custom domain ID")
    business_id: int = Field(description="The partner business, owner of the domain")
    full_url: str
    is_approved: bool = Field(description="Approved for this partnership's affiliate_pro links")


class ListAffiliateProDomainCandidatesResponseBody(PaginatedFields):
    model_config = ConfigDict(title="ListAffiliateProDomainCandidatesResponseBody")

    data: list[AffiliateProDomainCandidate]


# --- rules -----------------------------------------------------------------------------------


def partner_not_found() -> NotFound:
    return NotFound("No such partnership.", error_code="partner_not_found")


def domain_not_found() -> NotFound:
    return NotFound(
        "No such custom domain of the partner business.", error_code="custom_domain_not_found"
    )


def _scope(owner_business_id: int, product_id: int, partnership_id: int) -> ColumnElement[bool]:
    """One partnership of one of the owner's products."""
    return and_(
        pp.c.id == partnership_id,
        pp.c.product_id == product_id,
        exists().where(
            products.c.id == pp.c.product_id, products.c.business_id == owner_business_id
        ),
    )


def _ids(product_id: str | int, partnership_id: str | int) -> tuple[int, int]:
    return parse_id(product_id, partner_not_found()), parse_id(partnership_id, partner_not_found())


async def _partnership(conn: AsyncConnection, where: ColumnElement[bool]) -> Any:
    stmt = select(pp.c.id, pp.c.partnership_type, pp.c.partner_business_id).where(where)
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise partner_not_found()
    return row


def _require_pro(row: Any) -> None:
    if row.partnership_type != "affiliate_pro":
        raise Conflict(
            f"Domains are approved on affiliate_pro partnerships; this one is "
            f"{row.partnership_type}.",
            error_code="not_affiliate_pro",
        )


async def _render(conn: AsyncConnection, partnership_id: int, scheme: str) -> dict[str, Any]:
    row = (await conn.execute(repo.partnerships_query().where(pp.c.id == partnership_id))).first()
    if row is None:  # removed meanwhile
        raise partner_not_found()
    return (await render_partnerships(conn, [row], scheme))[0]


async def _bump(conn: AsyncConnection, partnership_id: int) -> None:
    await conn.execute(
        update(pp)
        .where(pp.c.id == partnership_id)
        .values(version=pp.c.version + 1, updated_at=datetime.now(UTC))
    )


async def approve_domain(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    domain_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """Approve a verified domain of the partner for this affiliate_pro partnership."""
    pid, ppid = _ids(product_id, partnership_id)
    did = parse_id(domain_id, domain_not_found())
    where = _scope(owner_business_id, pid, ppid)
    # One statement inserts only if every rule holds; a read afterwards says which did not.
    source = (
        select(pp.c.id, cd.c.id)
        .select_from(pp.join(cd, cd.c.business_id == pp.c.partner_business_id))
        .where(where, pp.c.partnership_type == "affiliate_pro", cd.c.id == did)
        .where(cd.c.is_verified.is_(True))
    )
    stmt = (
        insert_or_nothing(conn, pd)
        .from_select(["partnership_id", "custom_domain_id"], source)
        .returning(pd.c.partnership_id)
    )
    try:
        async with transaction(conn):
            inserted = (await conn.execute(stmt)).first()
            if inserted is not None:
                await _bump(conn, ppid)
    except sa_exc.IntegrityError:  # the domain or partnership was deleted meanwhile
        inserted = None
    if inserted is None:
        row = await _partnership(conn, where)
        _require_pro(row)
        domain = (
            await conn.execute(
                select(cd.c.is_verified).where(
                    cd.c.id == did, cd.c.business_id == row.partner_business_id
                )
            )
        ).first()
        if domain is None:
            raise domain_not_found()
        if not domain.is_verified:
            raise Unprocessable(
                "This domain is not verified yet; only verified domains carry links.",
                error_code="domain_not_verified",
                errors={"domain_id": ["is not verified"]},
            )
        # Otherwise it was approved already: nothing to change.
    return await _render(conn, ppid, scheme)


async def revoke_domain(
    conn: AsyncConnection,
    owner_business_id: int,
    product_id: str | int,
    partnership_id: str | int,
    domain_id: str | int,
    scheme: str,
) -> dict[str, Any]:
    """Withdraw the approval of a domain: its links disappear at once."""
    pid, ppid = _ids(product_id, partnership_id)
    did = parse_id(domain_id, domain_not_found())
    where = _scope(owner_business_id, pid, ppid)
    async with transaction(conn):
        result = await conn.execute(
            delete(pd).where(
                pd.c.partnership_id == ppid,
                pd.c.custom_domain_id == did,
                exists().where(pp.c.id == pd.c.partnership_id, where),
            )
        )
        if result.rowcount:
            await _bump(conn, ppid)
    if not result.rowcount:
        await _partnership(conn, where)
        raise NotFound(
            "This domain is not approved on this partnership.",
            error_code="affiliate_pro_domain_not_found",
        )
    return await _render(conn, ppid, scheme)


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
    pid, ppid = _ids(product_id, partnership_id)
    row = await _partnership(conn, _scope(owner_business_id, pid, ppid))
    _require_pro(row)
    approved = exists().where(pd.c.partnership_id == ppid, pd.c.custom_domain_id == cd.c.id)
    query = select(cd.c.id, cd.c.business_id, cd.c.full_url, approved.label("is_approved")).where(
        cd.c.business_id == row.partner_business_id, cd.c.is_verified.is_(True)
    )
    rows, fields = await fetch_page(conn, query, cd.c.id, page)
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


# --- routes ----------------------------------------------------------------------------------

router = APIRouter(prefix="/v3", tags=["Product partners"])

_DOMAINS_PATH = "/products/{product_id}/partners/{id}/affiliate-pro-domains"


def _scheme(request: Request) -> str:
    return request.app.state.settings.link_scheme


@router.get(
    _DOMAINS_PATH,
    response_model=ListAffiliateProDomainCandidatesResponseBody,
    operation_id="listAffiliateProDomainCandidates",
    summary="The partner's domains you may approve (ours)",
    responses=error_responses(404, 409),
)
async def list_affiliate_pro_domain_candidates(
    product_id: str, id: str, caller: ProductList, conn: Conn, page: Page
) -> Response:
    """The partner business's verified custom domains, each with `is_approved` for this
    affiliate_pro partnership of one of your products."""
    body = await list_candidates(conn, caller.business_id, product_id, id, page)
    return json_response(body)


@router.post(
    _DOMAINS_PATH + "/{domain_id}",
    response_model=ProductPartner,
    operation_id="approveAffiliateProDomain",
    summary="Approve a partner domain for affiliate_pro links (ours)",
    responses=error_responses(404, 409),
)
async def approve_affiliate_pro_domain(
    request: Request, product_id: str, id: str, domain_id: str, caller: ProductUpdate, conn: Conn
) -> Response:
    """Approve one of the partner's verified domains on an affiliate_pro partnership of one of
    your products. Returns the partnership; once it is approved and has a store, its
    `affiliate_pro_links` include this domain. 409 `not_affiliate_pro`, 422
    `domain_not_verified`; approving twice changes nothing."""
    body = await approve_domain(
        conn, caller.business_id, product_id, id, domain_id, _scheme(request)
    )
    return json_response(body)


@router.delete(
    _DOMAINS_PATH + "/{domain_id}",
    response_model=ProductPartner,
    operation_id="revokeAffiliateProDomain",
    summary="Revoke a partner domain's approval (ours)",
    responses=error_responses(404),
)
async def revoke_affiliate_pro_domain(
    request: Request, product_id: str, id: str, domain_id: str, caller: ProductUpdate, conn: Conn
) -> Response:
    """Withdraw the approval of a domain; its links disappear. Returns the partnership."""
    body = await revoke_domain(
        conn, caller.business_id, product_id, id, domain_id, _scheme(request)
    )
    return json_response(body)
