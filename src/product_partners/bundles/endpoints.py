"""HTTP routes of bundles and bundle partners, at Scalev's paths and operationIds."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from product_partners.auth.dependencies import (
    BundleCreate,
    BundleDelete,
    BundleList,
    BundleRead,
    BundleUpdate,
)
from product_partners.bundles import service
from product_partners.bundles.errors import BundleNotFound, BundleSlugUnavailable
from product_partners.bundles.schemas import (
    Bundle,
    BundleCreateRequest,
    BundlePartner,
    BundleUpdateRequest,
    CountBundlesResponseBody,
    CreateBundlePartnerRequest,
    ListBundlePartnersResponseBody,
    ListBundlesResponseBody,
    ListBundlesSimplifiedResponseBody,
    ListMyBundlePartnershipsResponseBody,
)
from product_partners.businesses.errors import BusinessBanned
from product_partners.kit.http.deps import UNSUPPORTED, Conn, Page, refuse_unsupported
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


async def bundle_filters(
    search: Annotated[str | None, Query(max_length=255, description="Filter by name.")] = None,
    is_bundle_sharing: Annotated[
        bool | None, Query(description="Filter bundles by their sharing status")
    ] = None,
    store_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
    label: Annotated[str | None, Query(description=UNSUPPORTED)] = None,
) -> dict[str, Any]:
    """The filters Scalev documents on listBundles, listBundlesSimplified and countBundles:
    the ones this service honours, after refusing the others (400 naming them)."""
    refuse_unsupported(store_id=store_id, label=label)
    return {"search": search, "is_bundle_sharing": is_bundle_sharing}


BundleFilters = Annotated[dict[str, Any], Depends(bundle_filters)]


@router.get(
    "/bundles",
    response_model=ListBundlesResponseBody,
    operation_id="listBundles",
    summary="List bundles",
    response_description="Bundles list",
    responses=error_responses(),
)
async def list_bundles(
    caller: BundleList, conn: Conn, page: Page, filters: BundleFilters
) -> Response:
    """Your bundles, newest first."""
    return json_response(await service.list_bundles(conn, caller.business_id, page, **filters))


# Before /bundles/{id}: "simplified" and "count" are paths of their own, not bundle ids.
@router.get(
    "/bundles/simplified",
    response_model=ListBundlesSimplifiedResponseBody,
    operation_id="listBundlesSimplified",
    summary="List simplified business bundles",
    response_description="Simplified bundles list",
    responses=error_responses(),
)
async def list_bundles_simplified(
    caller: BundleList,
    conn: Conn,
    page: Page,
    filters: BundleFilters,
    for_store_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
) -> Response:
    """The essential fields of your bundles, newest first."""
    refuse_unsupported(for_store_id=for_store_id)
    body = await service.list_bundles_simplified(conn, caller.business_id, page, **filters)
    return json_response(body)


@router.get(
    "/bundles/count",
    response_model=CountBundlesResponseBody,
    operation_id="countBundles",
    summary="Count business bundles",
    response_description="Bundles count",
    responses=error_responses(),
)
async def count_bundles(
    caller: BundleList, conn: Conn, filters: BundleFilters, _page: Page
) -> Response:
    """How many bundles the same filters as listBundles select. Scalev documents the
    pagination parameters here too: they are validated and, a count having no pages, change
    nothing."""
    return json_response(await service.count_bundles(conn, caller.business_id, **filters))


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


@router.patch(
    "/bundles/{id}",
    response_model=Bundle,
    operation_id="updateBundle",
    summary="Update a business bundle",
    response_description="Bundle updated successfully",
    responses=error_responses(BundleNotFound),
)
async def update_bundle(
    id: str, caller: BundleUpdate, conn: Conn, body: BundleUpdateRequest | None = None
) -> Response:
    """Change one of your bundles (`name`, `public_name`, `description`,
    `is_bundle_sharing`); omitted fields stay as they are."""
    patch = body or BundleUpdateRequest()
    return json_response(await service.update_bundle(conn, caller.business_id, id, patch))


@router.delete(
    "/bundles/{id}",
    status_code=204,
    operation_id="deleteBundle",
    summary="Delete a business bundle",
    response_description="Success with no response body",
    responses=error_responses(BundleNotFound),
)
async def delete_bundle(id: str, caller: BundleDelete, conn: Conn) -> Response:
    """Delete one of your bundles and its partners."""
    await service.delete_bundle(conn, caller.business_id, id)
    return Response(status_code=204)


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
    a business has it; 404 if the bundle is not yours; 409 if it already is a partner; 400 for
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
