"""HTTP routes of partnerships: thin handlers over ``service``."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from product_partners.auth.dependencies import ProductList, ProductUpdate
from product_partners.deps import Conn
from product_partners.http_docs import error_responses
from product_partners.jsonutil import json_response
from product_partners.pagination import Page
from product_partners.partnerships import service
from product_partners.partnerships.schemas import (
    AffiliateStatus,
    CreatePartnerRequest,
    ListProductPartnersResponseBody,
    PartnershipType,
    ProductPartner,
)

router = APIRouter(prefix="/v3", tags=["Product partners"])


def _scheme(request: Request) -> str:
    return request.app.state.settings.link_scheme


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
    return json_response(created)


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
    affiliate_status: Annotated[
        AffiliateStatus | None, Query(description="Ours: only partnerships in this status.")
    ] = None,
    partnership_type: Annotated[
        PartnershipType | None, Query(description="Ours: only partnerships of this type.")
    ] = None,
) -> Response:
    """The partners of one of your products, newest first, 25 per page at most."""
    body = await service.list_partners(
        conn,
        caller.business_id,
        product_id,
        page,
        _scheme(request),
        affiliate_status=affiliate_status.value if affiliate_status else None,
        partnership_type=partnership_type.value if partnership_type else None,
    )
    return json_response(body)
