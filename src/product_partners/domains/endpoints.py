"""HTTP routes of custom domains (ours). Scopes: the store ones, as domains serve stores."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from product_partners.auth.dependencies import (
    StoreCreate,
    StoreDelete,
    StoreList,
    StoreRead,
    StoreUpdate,
)
from product_partners.domains import service
from product_partners.domains.errors import (
    CustomDomainNotFound,
    DnsLookupFailed,
    DomainProofNotFound,
    DomainTaken,
    InvalidDomain,
)
from product_partners.domains.schemas import (
    CustomDomain,
    CustomDomainCreateRequest,
    ListCustomDomainsResponseBody,
)
from product_partners.kit.http.deps import Conn, Page
from product_partners.kit.http.openapi import error_responses
from product_partners.kit.jsonutil import json_response
from product_partners.settings import Settings

router = APIRouter(prefix="/v3", tags=["Custom domains (ours)"])


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(_settings)]


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
    body: CustomDomainCreateRequest, caller: StoreCreate, conn: Conn, settings: AppSettings
) -> Response:
    """Claim a domain for your business. It starts unverified: publish the TXT record in
    `verification`, then call verifyCustomDomain. An unverified claim lapses after a few days
    (`claim_expires_at`) and shows nowhere but here.

    The host name is normalized (lower case, IDNA per UTS #46 non-transitional, no scheme, no
    trailing dot); a path, port, IP address or wildcard is refused with 422. Several
    businesses may claim one name; the first to prove it holds it. 409 `domain_taken` if you
    claimed it already or another business has proven it controls it.
    """
    claim = await service.create_domain(
        conn, caller.business_id, body.full_url, settings.domain_claim_ttl
    )
    return json_response(claim)


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


@router.post(
    "/custom-domains/{id}/verify",
    status_code=200,
    response_model=CustomDomain,
    operation_id="verifyCustomDomain",
    summary="Verify a custom domain by DNS",
    response_description="The domain, verified",
    responses=error_responses(
        CustomDomainNotFound, DomainProofNotFound, DomainTaken, DnsLookupFailed
    ),
)
async def verify_custom_domain(
    id: str, caller: StoreUpdate, conn: Conn, settings: AppSettings
) -> Response:
    """Look up the claim's TXT record (`verification.record_name`) and, if one of its values
    is the claim's token, mark the domain verified: it is then yours alone, the other
    businesses' claims of it are deleted. Verifying a verified domain changes nothing.

    422 `domain_proof_not_found` (the message names the record expected) if DNS does not carry
    the token yet; 409 `domain_taken` if another business proved it first; 404 for a lapsed
    claim; 503 `dns_lookup_failed` if DNS gave no answer.
    """
    body = await service.verify_domain(
        conn, caller.business_id, id, settings.nameservers, settings.dns_timeout
    )
    return json_response(body)
