"""Business rules of custom domains.

A custom domain starts as a **claim**: any business may claim a name (``full_url``,
normalized by ``hostnames``), several may claim the same one, and none of them gains anything
by it: links, stores and products show only verified domains. A claim is **verified** by
proof of control: the TXT record ``_product-partners.<name>`` carrying the claim's own token
(``verify_domain``, see ``proof``), or the operator's word (``set_verified``, the CLI's
``domain verify``). The first claim proven wins the name: the database's partial unique
index on verified names decides between two concurrent proofs, the other claims of the name
are deleted, and nobody can claim it while it is held (409 ``domain_taken``).

An unverified claim lapses ``DOMAIN_CLAIM_TTL`` after it was made: from then on it is not
shown and cannot be verified, and the next claim of any domain (or the operator's
``domain purge``) deletes every lapsed one.
Un-verifying a domain (the operator's ``domain verify --undo``) makes it a claim again and
withdraws its affiliate_pro approvals in the same transaction: its links vanish at once.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.db.tables import custom_domains
from product_partners.domains import proof
from product_partners.domains import repository as repo
from product_partners.domains.errors import (
    CustomDomainNotFound,
    DomainProofNotFound,
    DomainTaken,
    InvalidDomain,
)
from product_partners.domains.hostnames import InvalidHostname, normalize_hostname
from product_partners.events.enums import EventType
from product_partners.events.service import record
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.settings import DEFAULT_DOMAIN_CLAIM_TTL


def normalized(full_url: str, field: str = "full_url") -> str:
    try:
        return normalize_hostname(full_url)
    except InvalidHostname as exc:
        raise InvalidDomain(full_url, str(exc), field) from None


def domain_body(row: Any) -> dict[str, Any]:
    verified = bool(row.is_verified)
    return {
        "id": row.id,
        "business_id": row.business_id,
        "full_url": row.full_url,
        "is_verified": verified,
        "store_id": row.store_id,
        "created_at": row.created_at,
        "claim_expires_at": None if verified else row.claim_expires_at,
        "verification": None
        if verified
        else proof.verification(row.full_url, row.verification_token),
    }


async def create_domain(
    conn: AsyncConnection,
    business_id: int,
    full_url: str,
    claim_ttl: timedelta = DEFAULT_DOMAIN_CLAIM_TTL,
) -> dict[str, Any]:
    """Claim a domain: unverified, with its own token, lapsing after ``claim_ttl``."""
    host = normalized(full_url)
    now = datetime.now(UTC)
    await repo.purge_lapsed(conn, now)
    async with transaction(conn):
        domain_id = await repo.insert_claim(
            conn, business_id, host, proof.new_token(), now + claim_ttl
        )
        if domain_id is None:
            raise DomainTaken(host)
        return await _recorded(conn, EventType.custom_domain_created, business_id, domain_id)


async def _recorded(
    conn: AsyncConnection, event_type: EventType, business_id: int, domain_id: int
) -> dict[str, Any]:
    """Record a change of the business's domain in the change's transaction; its body."""
    body = await get_domain(conn, business_id, domain_id)
    await record(conn, event_type, resource_id=domain_id, data=body, owner_business_id=business_id)
    return body


async def get_domain(
    conn: AsyncConnection, business_id: int, domain_id: str | int
) -> dict[str, Any]:
    did = parse_id(domain_id, CustomDomainNotFound)
    row = await repo.get_domain(conn, business_id, did, datetime.now(UTC))
    if row is None:
        raise CustomDomainNotFound()
    return domain_body(row)


async def list_domains(
    conn: AsyncConnection,
    business_id: int,
    page: PageRequest,
    full_url: str | None = None,
    is_verified: bool | None = None,
) -> dict[str, Any]:
    query = repo.domains_query(business_id, datetime.now(UTC))
    if full_url is not None:
        query = query.where(custom_domains.c.full_url == normalized(full_url))
    if is_verified is not None:
        query = query.where(custom_domains.c.is_verified.is_(is_verified))
    rows, fields = await fetch_page(conn, query, custom_domains.c.id, page)
    return {"data": [domain_body(r) for r in rows], **fields}


async def delete_domain(conn: AsyncConnection, business_id: int, domain_id: str | int) -> None:
    """Delete a domain: a store using it loses it, partnerships stop linking to it."""
    did = parse_id(domain_id, CustomDomainNotFound)
    async with transaction(conn):
        body = await get_domain(conn, business_id, did)
        if not await repo.delete_domain(conn, business_id, did):
            raise CustomDomainNotFound()
        await record(
            conn,
            EventType.custom_domain_deleted,
            resource_id=did,
            data=body,
            owner_business_id=business_id,
        )


async def verify_domain(
    conn: AsyncConnection,
    business_id: int,
    domain_id: str | int,
    nameservers: list[tuple[str, int]],
    lifetime: float,
) -> dict[str, Any]:
    """Verify one of the business's claims by its TXT record (already verified: unchanged)."""
    body = await get_domain(conn, business_id, domain_id)
    if body["is_verified"]:
        return body
    token = body["verification"]["record_value"]
    proven, others = await proof.is_proven(body["full_url"], token, nameservers, lifetime)
    if not proven:
        raise DomainProofNotFound(proof.record_name(body["full_url"]), token, others)
    await _hold(conn, body["id"], body["full_url"])
    return await get_domain(conn, business_id, body["id"])


async def _hold(conn: AsyncConnection, domain_id: int, full_url: str) -> None:
    """Make a live claim the verified holder of its name and drop the rival claims; 409 when
    another business holds it (or won the race), 404 when the claim is gone or lapsed."""
    try:
        async with transaction(conn):
            await repo.lock_name(conn, full_url)
            held = await repo.mark_verified(conn, domain_id, datetime.now(UTC))
            if held is not None:
                await repo.drop_rival_claims(conn, domain_id, held.full_url)
                await _recorded(conn, EventType.custom_domain_verified, held.business_id, domain_id)
    except sa_exc.IntegrityError:  # the partial unique index: another business holds it
        raise DomainTaken(full_url) from None
    if held is None:
        # Gone meanwhile: deleted by its business, lapsed, or dropped by a rival's proof.
        if await repo.held_verified(conn, full_url):
            raise DomainTaken(full_url)
        raise CustomDomainNotFound()


async def purge_lapsed(conn: AsyncConnection) -> int:
    """Delete every lapsed claim now (operator, e.g. from cron); how many were deleted."""
    return await repo.purge_lapsed(conn, datetime.now(UTC))


async def set_verified(
    conn: AsyncConnection,
    domain_id: str | int,
    verified: bool = True,
    claim_ttl: timedelta = DEFAULT_DOMAIN_CLAIM_TTL,
) -> dict[str, Any]:
    """Operator action (CLI): verify a domain whose control was proven another way, or undo
    it (the domain is a claim again, lapsing after ``claim_ttl``, and loses its links)."""
    did = parse_id(domain_id, CustomDomainNotFound)
    now = datetime.now(UTC)
    business_id = await repo.domain_owner(conn, did, now)
    if business_id is None:
        raise CustomDomainNotFound()
    if verified:
        body = await get_domain(conn, business_id, did)
        await _hold(conn, did, body["full_url"])
    else:
        async with transaction(conn):
            claim = await repo.mark_unverified(conn, did, now, proof.new_token(), now + claim_ttl)
            if claim is not None:
                await repo.revoke_links(conn, did, now)
                await _recorded(conn, EventType.custom_domain_unverified, business_id, did)
    return await get_domain(conn, business_id, did)
