"""HTTP routes of products."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from product_partners.auth.dependencies import (
    ProductCreate,
    ProductList,
    ProductRead,
    ProductUpdate,
)
from product_partners.kit.http.deps import Conn, LinkScheme, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.partnerships import transitions
from product_partners.partnerships.dependencies import DryRun
from product_partners.products import service
from product_partners.products.errors import ProductNotFound, SlugTaken
from product_partners.products.schemas import (
    CreateRequestProduct,
    ListProductsResponseBody,
    Product,
    ProductPartnershipChanges,
    ProductPartnershipSettings,
    SettingsPreview,
)

router = APIRouter(prefix="/v3", tags=["Products"])


@router.post(
    "/products",
    status_code=200,
    response_model=Product,
    operation_id="createProduct",
    summary="Create a product",
    response_description="Product created successfully",
    responses=error_responses(SlugTaken),
)
async def create_product(body: CreateRequestProduct, caller: ProductCreate, conn: Conn) -> Response:
    """Create a product owned by your business, with its partner-programme settings.

    New products are closed to partner requests until you enable a programme; you can always
    add partners directly.
    """
    return json_response(await service.create_product(conn, caller.business_id, body))


@router.get(
    "/products",
    response_model=ListProductsResponseBody,
    operation_id="listProducts",
    summary="List products",
    response_description="Products list",
    responses=error_responses(),
)
async def list_products(
    caller: ProductList,
    conn: Conn,
    page: Page,
    scheme: LinkScheme,
    is_owned: Annotated[
        bool | None,
        Query(
            description="'true' (default) lists your products; 'false' the products you partner."
        ),
    ] = None,
    is_product_sharing: Annotated[bool | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    """Your products, or (``is_owned=false``) the products you are a partner of, newest first."""
    body = await service.list_products(
        conn,
        caller.business_id,
        page,
        scheme,
        is_owned=is_owned,
        is_product_sharing=is_product_sharing,
        search=search,
    )
    return json_response(body)


@router.get(
    "/products/{id}",
    response_model=Product,
    operation_id="getProduct",
    summary="Get a product",
    response_description="Product details",
    responses=error_responses(ProductNotFound),
)
async def get_product(id: str, caller: ProductRead, conn: Conn) -> Response:
    """One of your products."""
    return json_response(await service.get_product(conn, caller.business_id, id))


_SETTINGS_SEMANTICS = """

What a change does to existing partnerships:

- Opening or closing a type (`is_affiliate_enabled`: affiliate, `is_affiliate_pro_enabled`:
  affiliate_pro, `is_product_sharing`: reseller) only governs new requests. Existing
  partnerships keep their status; pending requests of a closed type stay pending for you.
- Switching `is_affiliate_pro_enabled` off suspends the `affiliate_pro_links` of approved
  affiliate_pro partnerships; switching it on restores them. Nothing is deleted.
- Whenever `is_affiliate_auto_accept` ends up on, pending affiliate and affiliate_pro requests
  of enabled types are approved in the same transaction as the change. Reseller requests are
  always reviewed.
- You can always add partners directly (createProductPartner), open or closed.

Omitted fields stay as they are; `null` clears a commission rate or the sales letter; an
unknown field is 422. Requires the `product:update` scope.
"""


@router.patch(
    "/products/{product_id}/partnership",
    response_model=Product | SettingsPreview,
    operation_id="updateProductPartnership",
    summary="Change a product's partner-programme settings",
    response_description="The product with its new settings",
    responses=error_responses(ProductNotFound),
    description="Change the partner-programme settings of one of your products."
    + _SETTINGS_SEMANTICS
    + "\n\n"
    + transitions.describe(transitions.SYSTEM, "auto_approve")
    + "\n\n`?dry_run=true`: 200 with `result` (the Product it would become), "
    "`approved_partnerships` (the pending requests it would auto-approve) and `events`; "
    "nothing is saved.",
)
async def update_product_partnership(
    product_id: str,
    caller: ProductUpdate,
    conn: Conn,
    dry_run: DryRun,
    body: ProductPartnershipSettings | None = None,
) -> Response:
    patch = body or ProductPartnershipSettings()
    if dry_run:
        preview = await service.dry_run_partnership_settings(
            conn, caller.business_id, product_id, patch
        )
        return json_response(preview)
    product = await service.update_partnership_settings(conn, caller.business_id, product_id, patch)
    return json_response(product)


@router.post(
    "/products/{product_id}/partnership/check-changes",
    response_model=ProductPartnershipChanges,
    operation_id="checkProductPartnershipChanges",
    summary="Preview a partner-programme settings change",
    response_description="What the change would do; nothing is saved",
    responses=error_responses(ProductNotFound),
    description="Takes the body of updateProductPartnership and answers what it would change, "
    "without saving anything." + _SETTINGS_SEMANTICS,
)
async def check_product_partnership_changes(
    product_id: str,
    caller: ProductUpdate,
    conn: Conn,
    body: ProductPartnershipSettings | None = None,
) -> Response:
    patch = body or ProductPartnershipSettings()
    changes = await service.check_partnership_changes(conn, caller.business_id, product_id, patch)
    return json_response(changes)
