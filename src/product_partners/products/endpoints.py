"""HTTP routes of products."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from product_partners.auth.dependencies import ProductCreate, ProductList, ProductRead
from product_partners.deps import Conn
from product_partners.http_docs import error_responses
from product_partners.jsonutil import json_response
from product_partners.pagination import Page
from product_partners.products import service
from product_partners.products.schemas import (
    CreateRequestProduct,
    ListProductsResponseBody,
    Product,
)

router = APIRouter(prefix="/v3", tags=["Products"])


@router.post(
    "/products",
    status_code=200,
    response_model=Product,
    operation_id="createProduct",
    summary="Create a product",
    response_description="Product created successfully",
    responses=error_responses(409),
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
    request: Request,
    caller: ProductList,
    conn: Conn,
    page: Page,
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
        request.app.state.settings.link_scheme,
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
    responses=error_responses(404),
)
async def get_product(id: str, caller: ProductRead, conn: Conn) -> Response:
    """One of your products."""
    return json_response(await service.get_product(conn, caller.business_id, id))
