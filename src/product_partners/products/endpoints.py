"""HTTP routes of products."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from product_partners.auth.dependencies import (
    ProductCreate,
    ProductDelete,
    ProductList,
    ProductRead,
    ProductUpdate,
)
from product_partners.kit.http.deps import UNSUPPORTED, Conn, LinkScheme, Page, refuse_unsupported
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.partnerships import transitions
from product_partners.partnerships.dependencies import DryRun
from product_partners.partnerships.errors import RuleQuestionUnknown
from product_partners.products import service
from product_partners.products.errors import ProductNotFound, SlugTaken
from product_partners.products.schemas import (
    CountProductsResponseBody,
    CreateRequestProduct,
    ItemType,
    ListProductsResponseBody,
    ListProductsSimplifiedResponseBody,
    Product,
    ProductPartnershipChanges,
    ProductPartnershipSettings,
    SettingsPreview,
    UpdateRequestProduct,
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


async def product_filters(
    is_owned: Annotated[
        bool | None,
        Query(
            description="Filter products by ownership. 'true' (default) returns products owned "
            "by the business, 'false' returns shared products (the ones you partner)."
        ),
    ] = None,
    is_product_sharing: Annotated[
        bool | None, Query(description="Filter products by product sharing status")
    ] = None,
    search: Annotated[
        str | None, Query(max_length=255, description="Filter products by name (partial match)")
    ] = None,
    item_type: Annotated[ItemType | None, Query(description="Filter products by item type")] = None,
    is_inventory: Annotated[bool | None, Query(description=UNSUPPORTED)] = None,
    warehouse_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
    qty_type: Annotated[Literal["available_qty"] | None, Query(description=UNSUPPORTED)] = None,
    store_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
    is_checked: Annotated[bool | None, Query(description=UNSUPPORTED)] = None,
    label: Annotated[str | None, Query(description=UNSUPPORTED)] = None,
    pricing_type: Annotated[
        Literal["one_time", "recurring"] | None, Query(description=UNSUPPORTED)
    ] = None,
) -> dict[str, Any]:
    """The filters Scalev documents on listProducts, listProductsSimplified and countProducts:
    the ones this service can honour, after refusing the others (400 naming them)."""
    refuse_unsupported(
        is_inventory=is_inventory,
        warehouse_id=warehouse_id,
        qty_type=qty_type,
        store_id=store_id,
        is_checked=is_checked,
        label=label,
        pricing_type=pricing_type,
    )
    return {
        "is_owned": is_owned,
        "is_product_sharing": is_product_sharing,
        "search": search,
        "item_type": item_type.value if item_type else None,
    }


ProductFilters = Annotated[dict[str, Any], Depends(product_filters)]


@router.get(
    "/products",
    response_model=ListProductsResponseBody,
    operation_id="listProducts",
    summary="List products",
    response_description="Products list",
    responses=error_responses(),
)
async def list_products(
    caller: ProductList, conn: Conn, page: Page, scheme: LinkScheme, filters: ProductFilters
) -> Response:
    """Your products, or (``is_owned=false``) the products you are a partner of, newest first."""
    return json_response(
        await service.list_products(conn, caller.business_id, page, scheme, **filters)
    )


# Before /products/{id}: "simplified" and "count" are paths of their own, not product ids.
@router.get(
    "/products/simplified",
    response_model=ListProductsSimplifiedResponseBody,
    operation_id="listProductsSimplified",
    summary="List simplified business products",
    response_description="Simplified products list",
    responses=error_responses(),
)
async def list_products_simplified(
    caller: ProductList,
    conn: Conn,
    page: Page,
    filters: ProductFilters,
    for_store_id: Annotated[int | None, Query(description=UNSUPPORTED)] = None,
) -> Response:
    """The essential fields of your products (or, ``is_owned=false``, of those you partner)."""
    refuse_unsupported(for_store_id=for_store_id)
    body = await service.list_products_simplified(conn, caller.business_id, page, **filters)
    return json_response(body)


@router.get(
    "/products/count",
    response_model=CountProductsResponseBody,
    operation_id="countProducts",
    summary="Count business products",
    response_description="Products count",
    responses=error_responses(),
)
async def count_products(
    caller: ProductList, conn: Conn, filters: ProductFilters, _page: Page
) -> Response:
    """How many products the same filters as listProducts select. Scalev documents the
    pagination parameters here too: they are validated and, a count having no pages, change
    nothing."""
    return json_response(await service.count_products(conn, caller.business_id, **filters))


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


@router.patch(
    "/products/{id}",
    response_model=Product,
    operation_id="updateProduct",
    summary="Update a business product",
    response_description="Product updated successfully",
    responses=error_responses(ProductNotFound, SlugTaken),
)
async def update_product(
    id: str,
    caller: ProductUpdate,
    conn: Conn,
    scheme: LinkScheme,
    body: UpdateRequestProduct | None = None,
) -> Response:
    """Change one of your products: its fields and its partner-programme settings
    (`is_product_sharing`, `partnership_sales_letter`, ...; the rules of
    updateProductPartnership apply). Omitted fields stay as they are."""
    patch = body or UpdateRequestProduct()
    return json_response(
        await service.update_partnership_settings(conn, caller.business_id, id, patch, scheme)
    )


@router.delete(
    "/products/{id}",
    status_code=204,
    operation_id="deleteProduct",
    summary="Delete a business product",
    response_description="Success with no response body",
    responses=error_responses(ProductNotFound),
)
async def delete_product(id: str, caller: ProductDelete, conn: Conn) -> Response:
    """Delete one of your products and its partnerships."""
    await service.delete_product(conn, caller.business_id, id)
    return Response(status_code=204)


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
- `application_questions` (up to 20: short_text, long_text, single_choice with `options`,
  url; `required`; `partnership_types` they are asked of) and `partnership_rules` (up to
  20, in order: `conditions` over `partnership_type`, `verified_domains`, `active_stores`,
  `business_age_days`, `banned_by_other_owners`, `answer`; `outcome` approve, reject with
  `reason`, or review) decide NEW requests only: the first rule whose conditions all hold
  decides, then `is_affiliate_auto_accept` (affiliate and affiliate_pro: approve), then
  review. A rule naming a question the product does not ask is 400
  `rule_question_unknown`. previewProductPartnershipRules tries rules on the pending queue.

Omitted fields stay as they are; `null` clears a commission rate or the sales letter; an
unknown field is 400. Requires the `product:update` scope.
"""


@router.patch(
    "/products/{product_id}/partnership",
    response_model=Product | SettingsPreview,
    operation_id="updateProductPartnership",
    summary="Change a product's partner-programme settings",
    response_description="The product with its new settings",
    responses=error_responses(ProductNotFound, RuleQuestionUnknown),
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
    scheme: LinkScheme,
    dry_run: DryRun,
    body: ProductPartnershipSettings | None = None,
) -> Response:
    patch = body or ProductPartnershipSettings()
    if dry_run:
        preview = await service.dry_run_partnership_settings(
            conn, caller.business_id, product_id, patch, scheme
        )
        return json_response(preview)
    product = await service.update_partnership_settings(
        conn, caller.business_id, product_id, patch, scheme
    )
    return json_response(product)


@router.post(
    "/products/{product_id}/partnership/check-changes",
    response_model=ProductPartnershipChanges,
    operation_id="checkProductPartnershipChanges",
    summary="Preview a partner-programme settings change",
    response_description="What the change would do; nothing is saved",
    responses=error_responses(ProductNotFound, RuleQuestionUnknown),
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
