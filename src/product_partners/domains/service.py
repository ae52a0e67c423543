"""Business rules of custom domains.

A domain belongs to one business: ``full_url`` is normalized (see ``hostnames``) and the
database's unique constraint decides who has it, so two businesses racing for one domain get
one 200 and one 409. ``is_verified`` is set by the operator (``product-partners domain verify``)
once control of the domain is proven out of band (DNS); a business cannot vouch for itself.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import custom_domains
from product_partners.domains import repository as repo
from product_partners.domains.errors import CustomDomainNotFound, DomainTaken, InvalidDomain
from product_partners.domains.hostnames import InvalidHostname, normalize_hostname
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page


def normalized(full_url: str, field: str = "full_url") -> str:
    try:
        return normalize_hostname(full_url)
    except InvalidHostname as exc:
        raise InvalidDomain(full_url, str(exc), field) from None


def domain_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "business_id": row.business_id,
        "full_url": row.full_url,
        "is_verified": bool(row.is_verified),
        "store_id": row.store_id,
        "created_at": row.created_at,
    }


async def create_domain(conn: AsyncConnection, business_id: int, full_url: str) -> dict[str, Any]:
    host = normalized(full_url)
    domain_id = await repo.insert_domain(conn, business_id, host)
    if domain_id is None:
        # Whose it is stays private: the same answer whether it is yours or another's.
        raise DomainTaken(host)
    return await get_domain(conn, business_id, domain_id)


async def get_domain(
    conn: AsyncConnection, business_id: int, domain_id: str | int
) -> dict[str, Any]:
    row = await repo.get_domain(conn, business_id, parse_id(domain_id, CustomDomainNotFound))
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
    query = repo.domains_query(business_id)
    if full_url is not None:
        query = query.where(custom_domains.c.full_url == normalized(full_url))
    if is_verified is not None:
        query = query.where(custom_domains.c.is_verified.is_(is_verified))
    rows, fields = await fetch_page(conn, query, custom_domains.c.id, page)
    return {"data": [domain_body(r) for r in rows], **fields}


async def delete_domain(conn: AsyncConnection, business_id: int, domain_id: str | int) -> None:
    """Delete a domain: a store using it loses it, partnerships stop linking to it."""
    if not await repo.delete_domain(conn, business_id, parse_id(domain_id, CustomDomainNotFound)):
        raise CustomDomainNotFound()


async def set_verified(
    conn: AsyncConnection, domain_id: str | int, verified: bool = True
) -> dict[str, Any]:
    """Operator action (CLI): mark a domain verified once control of it is proven."""
    did = parse_id(domain_id, CustomDomainNotFound)
    business_id = await repo.set_verified(conn, did, verified)
    if business_id is None:
        raise CustomDomainNotFound()
    return await get_domain(conn, business_id, did)
