"""HTTP routes of bundles and bundle partners, at Scalev's paths and operationIds."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from product_partners.auth.dependencies import BundleCreate, BundleList, BundleRead, BundleUpdate
from product_partners.bundles import service
from product_partners.bundles.errors import BundleNotFound, BundleSlugUnavailable
from product_partners.bundles.schemas import (
    Bundle,
    BundleCreateRequest,
    BundlePartner,
    CreateBundlePartnerRequest,
    ListBundlePartnersResponseBody,
    ListBundlesResponseBody,
    ListMyBundlePartnershipsResponseBody,
)
from product_partners.businesses.errors import BusinessBanned
from product_partners.kit.http.deps import Conn, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.partnerships.dependencies import spend_partner_add
from product_partners.partnerships.errors import (
    PartnerAddsLimited,
    PartnerAlreadyExists,
    PartnerNotFound,
    SelfPartnership,
)

router = APIRouter(prefix="/v3", tags=["Bundles"])


@router.post(
    "/bundles",
    status_code=200,
    response_model=Bundle,
    operation_id="createBundle",
    summary="Create a bundle",
    response_description="Bundle created successfully",
    responses=error_responses(BundleSlugUnavailable),
)
async def create_bundle(body: BundleCreateRequest, caller: BundleCreate, conn: Conn) -> Response:
    """Create a bundle owned by your business (`name` and `public_name` are required)."""
    return json_response(await service.create_bundle(conn, caller.business_id, body))


@router.get(
    "/bundles",
    response_model=ListBundlesResponseBody,
    operation_id="listBundles",
    summary="List bundles",
    response_description="Bundles list",
    responses=error_responses(),
)
async def list_bundles(
    caller: BundleList,
    conn: Conn,
    page: Page,
    search: Annotated[str | None, Query(max_length=255, description="Filter by name.")] = None,
    is_bundle_sharing: Annotated[
        bool | None, Query(description="Filter bundles by their sharing status")
    ] = None,
) -> Response:
    """Your bundles, newest first."""
    body = await service.list_bundles(
        conn, caller.business_id, page, search=search, is_bundle_sharing=is_bundle_sharing
    )
    return json_response(body)


@router.get(
    "/bundles/{id}",
    response_model=Bundle,
    operation_id="getBundle",
    summary="Get a bundle",
    response_description="Bundle details",
    responses=error_responses(BundleNotFound),
)
async def get_bundle(id: str, caller: BundleRead, conn: Conn) -> Response:
    """One of your bundles."""
    return json_response(await service.get_bundle(conn, caller.business_id, id))


@router.get(
    "/bundles/{bundle_id}/partners",
    response_model=ListBundlePartnersResponseBody,
    operation_id="listBundlePartners",
    summary="List a bundle's partners",
    response_description="Partners list",
    responses=error_responses(BundleNotFound),
)
async def list_bundle_partners(
    bundle_id: str, caller: BundleList, conn: Conn, page: Page
) -> Response:
    """The partners of one of your bundles, sorted by id in descending order."""
    return json_response(await service.list_partners(conn, caller.business_id, bundle_id, page))


@router.post(
    "/bundles/{bundle_id}/partners",
    status_code=200,
    response_model=BundlePartner,
    operation_id="createBundlePartner",
    summary="Add a partner to a bundle",
    response_description="Partner associated successfully",
    responses=error_responses(
        BundleNotFound, PartnerAlreadyExists, SelfPartnership, BusinessBanned, PartnerAddsLimited
    ),
)
async def create_bundle_partner(
    request: Request,
    bundle_id: str,
    body: CreateBundlePartnerRequest,
    caller: BundleUpdate,
    conn: Conn,
) -> Response:
    """Add the business `partner_unique_id` as a partner of one of your bundles.

    The same rules as for products: until the partner consents to you (by asking to join one of
    your products, or accepting a partnership) `partner` is the unique id alone, whether or not
    a business has it; 404 if the bundle is not yours; 409 if it already is a partner; 422 for
    yourself, or for a banned business that consented to you.
    """
    await spend_partner_add(request, caller.business_id)
    created = await service.add_partner(conn, caller.business_id, bundle_id, body.partner_unique_id)
    return json_response(created)


@router.delete(
    "/bundles/{bundle_id}/partners/{id}",
    status_code=204,
    operation_id="deleteBundlePartner",
    summary="Remove a partner from a bundle",
    response_description="Success with no response body",
    responses=error_responses(BundleNotFound, PartnerNotFound),
)
async def delete_bundle_partner(
    bundle_id: str, id: str, caller: BundleUpdate, conn: Conn
) -> Response:
    """Remove a partner from one of your bundles; `id` is the BundlePartner id."""
    await service.delete_partner(conn, caller.business_id, bundle_id, id)
    return Response(status_code=204)


@router.get(
    "/bundle-partnerships",
    response_model=ListMyBundlePartnershipsResponseBody,
    operation_id="listMyBundlePartnerships",
    summary="List the bundles your business is a partner of (ours)",
    tags=["Partnerships (partner side)"],
    responses=error_responses(),
)
async def list_my_bundle_partnerships(caller: BundleList, conn: Conn, page: Page) -> Response:
    """The partner side of bundle partnerships: every bundle an owner added your business to,
    with that owner (`bundle_owner`), sorted by id in descending order. Whoever adds your
    business sees only its unique id until you consent to that owner."""
    return json_response(await service.list_my_bundle_partnerships(conn, caller.business_id, page))
