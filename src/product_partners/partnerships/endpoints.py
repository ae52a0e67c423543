"""HTTP routes of partnerships: thin handlers over ``service``."""

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from product_partners.auth.dependencies import ProductList, ProductRead, ProductUpdate
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.kit.pagination import Page
from product_partners.partnerships import service, transitions
from product_partners.partnerships.schemas import (
    AffiliateStatus,
    BanProductPartnerRequest,
    CreatePartnerRequest,
    ListMyPartnershipsResponseBody,
    ListProductPartnersResponseBody,
    PartnershipRequest,
    PartnershipType,
    ProductPartner,
    ProductPartnerUpdate,
    RejectProductPartnerRequest,
)
from product_partners.partnerships.views import etag

router = APIRouter(prefix="/v3", tags=["Product partners"])


def _scheme(request: Request) -> str:
    return request.app.state.settings.link_scheme


@dataclass(frozen=True, slots=True)
class PartnershipFilters:
    affiliate_status: str | None
    partnership_type: str | None


async def _filters(
    affiliate_status: Annotated[
        AffiliateStatus | None, Query(description="Ours: only partnerships in this status.")
    ] = None,
    partnership_type: Annotated[
        PartnershipType | None, Query(description="Ours: only partnerships of this type.")
    ] = None,
) -> PartnershipFilters:
    return PartnershipFilters(
        affiliate_status.value if affiliate_status else None,
        partnership_type.value if partnership_type else None,
    )


# The list filters shared by the owner's and the partner's lists.
Filters = Annotated[PartnershipFilters, Depends(_filters)]


@router.post(
    "/products/{product_id}/partners",
    status_code=200,
    response_model=ProductPartner,
    operation_id="createProductPartner",
    summary="Add a partner to a product",
    response_description="Product partner created successfully",
    responses=error_responses(404, 409),
)
async def create_product_partner(
    product_id: str, body: CreatePartnerRequest, caller: ProductUpdate, conn: Conn
) -> Response:
    """Add the business ``partner_unique_id`` as a partner of one of your products.

    The partnership starts as an approved ``affiliate``. 404 if the product is not yours or
    the business does not exist; 409 if it is already a partner; 422 for yourself or a banned
    business.
    """
    created = await service.add_partner(
        conn, caller.business_id, product_id, body.partner_unique_id
    )
    return json_response(created, headers={"ETag": etag(created["version"])})


@router.get(
    "/products/{product_id}/partners",
    response_model=ListProductPartnersResponseBody,
    operation_id="listProductPartners",
    summary="List a product's partners",
    response_description="Paginated list of product partners",
    responses=error_responses(404),
)
async def list_product_partners(
    request: Request,
    product_id: str,
    caller: ProductList,
    conn: Conn,
    page: Page,
    filters: Filters,
) -> Response:
    """The partners of one of your products, newest first, 25 per page at most."""
    body = await service.list_partners(
        conn,
        caller.business_id,
        product_id,
        page,
        _scheme(request),
        affiliate_status=filters.affiliate_status,
        partnership_type=filters.partnership_type,
    )
    return json_response(body)


# --- lifecycle: owner side ---------------------------------------------------------------------

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The partnership\'s ETag (`"<version>"`): refuse with 412 if it changed.',
    ),
]
_ETAG_HEADER = {
    "ETag": {
        "description": 'The partnership\'s version, `"<version>"`; send it back as If-Match.',
        "schema": {"type": "string"},
    }
}


def _one(body: dict[str, Any]) -> Response:
    return json_response(body, headers={"ETag": etag(body["version"])})


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"headers": _ETAG_HEADER}, **error_responses(*codes)}


def _doc(text: str, actor: str, action: str) -> str:
    return f"{text}\n\n{transitions.describe(actor, action)}"


_PARTNER_PATH = "/products/{product_id}/partners/{id}"


@router.get(
    _PARTNER_PATH,
    response_model=ProductPartner,
    operation_id="getProductPartner",
    summary="Get one partner of a product (ours)",
    responses=_responses(404),
    description=(
        "One partnership of one of your products, with its ETag. The whole lifecycle "
        "(every actor, status and action; anything else is 409 `invalid_transition`):\n\n"
        + transitions.markdown_table()
    ),
)
async def get_product_partner(
    request: Request, product_id: str, id: str, caller: ProductRead, conn: Conn
) -> Response:
    body = await service.get_partner(conn, caller.business_id, product_id, id, _scheme(request))
    return _one(body)


@router.patch(
    _PARTNER_PATH,
    response_model=ProductPartner,
    operation_id="updateProductPartner",
    summary="Change a partnership's type or store (ours)",
    responses=_responses(404, 409, 412),
    description=_doc(
        "Change `partnership_type` and/or `store_id` (a store of the partner business, "
        "affiliate_pro only; leaving affiliate_pro clears it). Omitted fields stay.",
        transitions.OWNER,
        "update",
    ),
)
async def update_product_partner(
    request: Request,
    product_id: str,
    id: str,
    body: ProductPartnerUpdate,
    caller: ProductUpdate,
    conn: Conn,
    if_match: IfMatch = None,
) -> Response:
    updated = await service.update_partner(
        conn, caller.business_id, product_id, id, body, _scheme(request), if_match
    )
    return _one(updated)


@router.delete(
    _PARTNER_PATH,
    status_code=204,
    operation_id="deleteProductPartner",
    summary="Remove a partner from a product",
    response_description="Success with no response body",
    responses=error_responses(404, 409, 412),
    description=_doc(
        "Delete the partnership `id` (the ProductPartner id). A banned partnership must be "
        "unbanned first, so that a ban is never lifted by accident.",
        transitions.OWNER,
        "remove",
    ),
)
async def delete_product_partner(
    product_id: str, id: str, caller: ProductUpdate, conn: Conn, if_match: IfMatch = None
) -> Response:
    await service.remove_partner(conn, caller.business_id, product_id, id, if_match)
    return Response(status_code=204)


@router.post(
    _PARTNER_PATH + "/approve",
    response_model=ProductPartner,
    operation_id="approveProductPartner",
    summary="Approve a partner (ours)",
    responses=_responses(404, 409, 412),
    description=_doc("Sets `approved_at`.", transitions.OWNER, "approve"),
)
async def approve_product_partner(
    request: Request,
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    if_match: IfMatch = None,
) -> Response:
    approved = await service.approve_partner(
        conn, caller.business_id, product_id, id, _scheme(request), if_match
    )
    return _one(approved)


@router.post(
    _PARTNER_PATH + "/reject",
    response_model=ProductPartner,
    operation_id="rejectProductPartner",
    summary="Reject a partnership request (ours)",
    responses=_responses(404, 409, 412),
    description=_doc(
        "Sets `rejected_at`; the optional `reason` is shown to the partner as "
        "`rejection_reason`. The partner may request again after the product's "
        "`rerequest_cooldown_seconds`.",
        transitions.OWNER,
        "reject",
    ),
)
async def reject_product_partner(
    request: Request,
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    body: RejectProductPartnerRequest | None = None,
    if_match: IfMatch = None,
) -> Response:
    rejected = await service.reject_partner(
        conn,
        caller.business_id,
        product_id,
        id,
        _scheme(request),
        reason=body.reason if body else None,
        if_match=if_match,
    )
    return _one(rejected)


@router.post(
    _PARTNER_PATH + "/ban",
    response_model=ProductPartner,
    operation_id="banProductPartner",
    summary="Ban a partner from a product (ours)",
    responses=_responses(404, 409, 412),
    description=_doc(
        f"`reason` is one of: {', '.join(f'`{r}`' for r in transitions.BAN_REASONS)}; `note` is "
        "free text. Both are shown to the partner. A banned partner cannot request again.",
        transitions.OWNER,
        "ban",
    ),
)
async def ban_product_partner(
    request: Request,
    product_id: str,
    id: str,
    body: BanProductPartnerRequest,
    caller: ProductUpdate,
    conn: Conn,
    if_match: IfMatch = None,
) -> Response:
    banned = await service.ban_partner(
        conn,
        caller.business_id,
        product_id,
        id,
        _scheme(request),
        reason=body.reason.value,
        note=body.note,
        if_match=if_match,
    )
    return _one(banned)


@router.post(
    _PARTNER_PATH + "/unban",
    response_model=ProductPartner,
    operation_id="unbanProductPartner",
    summary="Lift a ban (ours)",
    responses=_responses(404, 409, 412),
    description=_doc(
        "The partnership becomes `rejected`: no access is granted; the partner may request "
        "again after the product's cool-down, counted from now.",
        transitions.OWNER,
        "unban",
    ),
)
async def unban_product_partner(
    request: Request,
    product_id: str,
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    if_match: IfMatch = None,
) -> Response:
    unbanned = await service.unban_partner(
        conn, caller.business_id, product_id, id, _scheme(request), if_match
    )
    return _one(unbanned)


# --- lifecycle: partner side -------------------------------------------------------------------

_PARTNER_SIDE: list[str | Enum] = ["Partnerships (partner side)"]


@router.post(
    "/products/{product_id}/partnership-requests",
    status_code=200,
    response_model=ProductPartner,
    operation_id="requestProductPartnership",
    summary="Ask to become a partner of a product (ours)",
    tags=_PARTNER_SIDE,
    responses=_responses(404, 409),
    description=_doc(
        "Your business asks to join the product's programme for `partnership_type` "
        "(affiliate needs `is_affiliate_enabled`, affiliate_pro `is_affiliate_pro_enabled`, "
        "reseller `is_product_sharing`). Answers the ProductPartner: `approved` at once when "
        "the product auto-accepts (`is_affiliate_auto_accept`, affiliate and affiliate_pro "
        "only), else `pending`. A product open to no request is 404; one not open to this "
        "type is 422 `partnership_type_not_open`; during the cool-down after a rejection, "
        "409 `rerequest_cooldown` with Retry-After.",
        transitions.PARTNER,
        "request",
    ),
)
async def request_product_partnership(
    request: Request,
    product_id: str,
    body: PartnershipRequest,
    caller: ProductUpdate,
    conn: Conn,
) -> Response:
    created = await service.request_partnership(
        conn, caller.business_id, product_id, body, _scheme(request)
    )
    return _one(created)


@router.get(
    "/partnerships",
    response_model=ListMyPartnershipsResponseBody,
    operation_id="listMyPartnerships",
    summary="List your partnerships, as partner (ours)",
    tags=_PARTNER_SIDE,
    responses=error_responses(),
)
async def list_my_partnerships(
    request: Request,
    caller: ProductList,
    conn: Conn,
    page: Page,
    filters: Filters,
) -> Response:
    """Every partnership where your business is the partner, across owners, newest first."""
    body = await service.list_my_partnerships(
        conn,
        caller.business_id,
        page,
        _scheme(request),
        affiliate_status=filters.affiliate_status,
        partnership_type=filters.partnership_type,
    )
    return json_response(body)


@router.get(
    "/partnerships/{id}",
    response_model=ProductPartner,
    operation_id="getMyPartnership",
    summary="Get one of your partnerships, as partner (ours)",
    tags=_PARTNER_SIDE,
    responses=_responses(404),
)
async def get_my_partnership(
    request: Request, id: str, caller: ProductRead, conn: Conn
) -> Response:
    """A partnership where your business is the partner (with reasons, links and ETag)."""
    return _one(await service.get_my_partnership(conn, caller.business_id, id, _scheme(request)))


@router.post(
    "/partnerships/{id}/withdraw",
    status_code=204,
    operation_id="withdrawProductPartnership",
    summary="Withdraw a pending request (ours)",
    tags=_PARTNER_SIDE,
    response_description="Success with no response body",
    responses=error_responses(404, 409, 412),
    description=_doc("Deletes your pending request.", transitions.PARTNER, "withdraw"),
)
async def withdraw_product_partnership(
    id: str, caller: ProductUpdate, conn: Conn, if_match: IfMatch = None
) -> Response:
    await service.withdraw_partnership(conn, caller.business_id, id, if_match)
    return Response(status_code=204)


@router.post(
    "/partnerships/{id}/leave",
    status_code=204,
    operation_id="leaveProductPartnership",
    summary="Leave a partnership (ours)",
    tags=_PARTNER_SIDE,
    response_description="Success with no response body",
    responses=error_responses(404, 409, 412),
    description=_doc(
        "Ends your approved partnership (deleted; you may request again later).",
        transitions.PARTNER,
        "leave",
    ),
)
async def leave_product_partnership(
    id: str, caller: ProductUpdate, conn: Conn, if_match: IfMatch = None
) -> Response:
    await service.leave_partnership(conn, caller.business_id, id, if_match)
    return Response(status_code=204)
