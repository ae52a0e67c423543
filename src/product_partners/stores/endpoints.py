"""HTTP routes of stores, at Scalev's paths and operationIds (tag "Business Stores")."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from product_partners.auth.dependencies import (
    StoreCreate,
    StoreDelete,
    StoreList,
    StoreRead,
    StoreUpdate,
)
from product_partners.domains.errors import InvalidDomain
from product_partners.kit.errors import NullNotAllowed
from product_partners.kit.http.deps import UNSUPPORTED, Conn, UnboundedPage, refuse_unsupported
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.stores import service
from product_partners.stores.errors import (
    CustomDomainInUse,
    CustomDomainNotYours,
    StoreIdCollision,
    StoreNotFound,
)
from product_partners.stores.schemas import (
    BusinessStore,
    BusinessStoreCollectionResponseBody,
    BusinessStoreCreateRequest,
    BusinessStoreSimplifiedCollectionResponseBody,
    BusinessStoreUpdateRequest,
)

router = APIRouter(prefix="/v3", tags=["Business Stores"])

STORE_ID_DOC = "Numeric store ID, or the store's `store_...` unique ID."


@router.get(
    "/stores",
    response_model=BusinessStoreCollectionResponseBody,
    operation_id="listBusinessStores",
    summary="List your stores",
    response_description="Paginated business store list",
    responses=error_responses(InvalidDomain),
)
async def list_business_stores(
    caller: StoreList,
    conn: Conn,
    page: UnboundedPage,
    search: Annotated[
        str | None, Query(max_length=255, description="Filter by store name.")
    ] = None,
    domain: Annotated[
        str | None, Query(max_length=300, description="Filter by custom domain URL.")
    ] = None,
    has_domain: Annotated[
        bool | None, Query(description="Stores that have (or have not) a custom domain.")
    ] = None,
    product_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
) -> Response:
    """Your business's stores, newest first."""
    refuse_unsupported(product_id=product_id)
    body = await service.list_stores(
        conn, caller.business_id, page, search=search, domain=domain, has_domain=has_domain
    )
    return json_response(body)


# Before /stores/{id}: "simplified" is a path of its own, not a store id.
@router.get(
    "/stores/simplified",
    response_model=BusinessStoreSimplifiedCollectionResponseBody,
    operation_id="listBusinessStoresSimplified",
    summary="List stores in simplified business format",
    response_description="Paginated simplified store list",
    responses=error_responses(),
)
async def list_business_stores_simplified(
    caller: StoreList, conn: Conn, page: UnboundedPage
) -> Response:
    """The essential fields of your stores, newest first."""
    return json_response(await service.list_stores_simplified(conn, caller.business_id, page))


@router.post(
    "/stores",
    status_code=200,
    response_model=BusinessStore,
    operation_id="createBusinessStore",
    summary="Create a store",
    response_description="Business store",
    responses=error_responses(CustomDomainNotYours, CustomDomainInUse, StoreIdCollision),
)
async def create_business_store(
    body: BusinessStoreCreateRequest, caller: StoreCreate, conn: Conn
) -> Response:
    """Create a store, optionally on one of your custom domains.

    400 `custom_domain_not_found` if the domain is not yours; 409 `custom_domain_in_use` if
    another of your stores uses it.
    """
    return json_response(await service.create_store(conn, caller.business_id, body))


@router.get(
    "/stores/{id}",
    response_model=BusinessStore,
    operation_id="getBusinessStore",
    summary="Get a store",
    response_description="Business store",
    responses=error_responses(StoreNotFound),
)
async def get_business_store(id: str, caller: StoreRead, conn: Conn) -> Response:
    """One of your stores (by numeric id or `store_...` unique id)."""
    return json_response(await service.get_store(conn, caller.business_id, id))


@router.patch(
    "/stores/{id}",
    response_model=BusinessStore,
    operation_id="updateBusinessStore",
    summary="Update a store",
    response_description="Business store",
    responses=error_responses(
        StoreNotFound, CustomDomainNotYours, CustomDomainInUse, NullNotAllowed
    ),
)
async def update_business_store(
    id: str, body: BusinessStoreUpdateRequest, caller: StoreUpdate, conn: Conn
) -> Response:
    """Change a store's name, visibility (`is_public`), `is_active`, logo or custom domain.

    Only the fields sent change; `custom_domain_id: null` removes the domain.
    """
    return json_response(await service.update_store(conn, caller.business_id, id, body))


@router.delete(
    "/stores/{id}",
    status_code=204,
    operation_id="deleteBusinessStore",
    summary="Delete a store",
    response_description="Success with no response body",
    responses=error_responses(StoreNotFound),
)
async def delete_business_store(id: str, caller: StoreDelete, conn: Conn) -> Response:
    """Delete one of your stores; affiliate_pro partnerships routed to it lose their links."""
    await service.delete_store(conn, caller.business_id, id)
    return Response(status_code=204)
