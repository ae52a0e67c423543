"""HTTP routes of custom domains (ours). Scopes: the store ones, as domains serve stores."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from product_partners.auth.dependencies import StoreCreate, StoreDelete, StoreList, StoreRead
from product_partners.domains import service
from product_partners.domains.errors import CustomDomainNotFound, DomainTaken, InvalidDomain
from product_partners.domains.schemas import (
    CustomDomain,
    CustomDomainCreateRequest,
    ListCustomDomainsResponseBody,
)
from product_partners.kit.http.deps import Conn, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response

router = APIRouter(prefix="/v3", tags=["Custom domains (ours)"])


@router.get(
    "/custom-domains",
    response_model=ListCustomDomainsResponseBody,
    operation_id="listCustomDomains",
    summary="List your custom domains",
    responses=error_responses(InvalidDomain),
)
async def list_custom_domains(
    caller: StoreList,
    conn: Conn,
    page: Page,
    full_url: Annotated[
        str | None, Query(max_length=300, description="Only this domain (normalized first).")
    ] = None,
    is_verified: Annotated[bool | None, Query()] = None,
) -> Response:
    """Your business's custom domains, newest first."""
    body = await service.list_domains(
        conn, caller.business_id, page, full_url=full_url, is_verified=is_verified
    )
    return json_response(body)


@router.post(
    "/custom-domains",
    status_code=200,
    response_model=CustomDomain,
    operation_id="createCustomDomain",
    summary="Register a custom domain",
    response_description="Custom domain registered",
    responses=error_responses(InvalidDomain, DomainTaken),
)
async def create_custom_domain(
    body: CustomDomainCreateRequest, caller: StoreCreate, conn: Conn
) -> Response:
    """Register a domain for your business. It starts unverified.

    The host name is normalized (lower case, IDNA, no scheme, no trailing dot); a path, port,
    IP address or wildcard is refused with 400. A domain belongs to one business only: 409
    `domain_taken` if it is already registered (by you or anyone else).
    """
    return json_response(await service.create_domain(conn, caller.business_id, body.full_url))


@router.get(
    "/custom-domains/{id}",
    response_model=CustomDomain,
    operation_id="getCustomDomain",
    summary="Get a custom domain",
    responses=error_responses(CustomDomainNotFound),
)
async def get_custom_domain(id: str, caller: StoreRead, conn: Conn) -> Response:
    """One of your custom domains."""
    return json_response(await service.get_domain(conn, caller.business_id, id))


@router.delete(
    "/custom-domains/{id}",
    status_code=204,
    operation_id="deleteCustomDomain",
    summary="Delete a custom domain",
    response_description="Success with no response body",
    responses=error_responses(CustomDomainNotFound),
)
async def delete_custom_domain(id: str, caller: StoreDelete, conn: Conn) -> Response:
    """Delete one of your domains: the store using it loses it, and partnerships stop
    linking to it."""
    await service.delete_domain(conn, caller.business_id, id)
    return Response(status_code=204)
