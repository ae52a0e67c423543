"""Business rules of stores.

A store may use one custom domain, and only one of its own business's domains; a domain
serves one store at most (a unique constraint). Writes are single statements that check
ownership themselves; when one changes nothing, a read afterwards tells the caller why.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.db.sql import name_contains
from product_partners.db.tables import custom_domains, stores
from product_partners.domains.service import normalized
from product_partners.events.enums import EventType
from product_partners.events.service import record
from product_partners.kit.errors import NullNotAllowed
from product_partners.kit.ids import parse_id
from product_partners.kit.pagination import PageRequest, fetch_page
from product_partners.stores import repository as repo
from product_partners.stores.errors import (
    CustomDomainInUse,
    CustomDomainNotYours,
    StoreIdCollision,
    StoreNotFound,
)
from product_partners.stores.schemas import BusinessStoreCreateRequest, BusinessStoreUpdateRequest

STORE_UNIQUE_ID_PREFIX = "store_"


def new_store_unique_id() -> str:
    return f"{STORE_UNIQUE_ID_PREFIX}{secrets.token_hex(8)}"


def parse_store_ref(raw: str | int) -> int | str:
    """A numeric store id, or a public ``store_...`` unique id (as Scalev's store routes)."""
    if isinstance(raw, str) and raw.startswith(STORE_UNIQUE_ID_PREFIX):
        if len(raw) > 64 or not raw[len(STORE_UNIQUE_ID_PREFIX) :].isalnum():
            raise StoreNotFound()
        return raw
    return parse_id(raw, StoreNotFound)


def store_body(row: Any) -> dict[str, Any]:
    domain = None
    if row.domain_full_url is not None:  # none, or a lapsed claim
        domain = {
            "id": row.custom_domain_id,
            "full_url": row.domain_full_url,
            "is_verified": bool(row.domain_is_verified),
        }
    return {
        "id": row.id,
        "unique_id": row.unique_id,
        "name": row.name,
        "business_id": row.business_id,
        "is_active": bool(row.is_active),
        "is_public": bool(row.is_public),
        "logo": row.logo,
        "custom_domain": domain,
        "created_at": row.created_at,
        "last_updated_at": row.last_updated_at,
    }


async def _domain_refusal(conn: AsyncConnection, business_id: int, domain_id: int) -> Exception:
    """Why a write naming ``domain_id`` changed nothing: not ours (400) or in use (409)."""
    if await repo.domain_owner(conn, domain_id) != business_id:
        # Another business's domain is reported exactly like a missing one.
        return CustomDomainNotYours()
    return CustomDomainInUse()


class _Unchanged(Exception):
    """Raised inside a write's transaction when its statement changed nothing: the
    transaction rolls back (no event), and the caller finds out why outside it."""


async def create_store(
    conn: AsyncConnection, business_id: int, data: BusinessStoreCreateRequest
) -> dict[str, Any]:
    domain_id = data.custom_domain_id
    try:
        async with transaction(conn):
            store_id = await repo.insert_store(
                conn, business_id, new_store_unique_id(), data.name, domain_id
            )
            if store_id is None and domain_id is None:
                # Only a unique_id collision: 64 random bits, retry once.
                store_id = await repo.insert_store(
                    conn, business_id, new_store_unique_id(), data.name, None
                )
            if store_id is None:
                raise _Unchanged()
            body = await get_store(conn, business_id, store_id)
            await _record(conn, EventType.store_created, business_id, body)
    except (_Unchanged, sa_exc.IntegrityError):
        # IntegrityError: the domain vanished between the statement's read and its
        # foreign-key check.
        if domain_id is None:
            raise StoreIdCollision() from None
        raise await _domain_refusal(conn, business_id, domain_id) from None
    return body


async def _record(
    conn: AsyncConnection, event_type: EventType, business_id: int, body: dict[str, Any]
) -> None:
    await record(conn, event_type, resource_id=body["id"], data=body, owner_business_id=business_id)


async def get_store(conn: AsyncConnection, business_id: int, store: str | int) -> dict[str, Any]:
    row = await repo.get_store(conn, business_id, parse_store_ref(store))
    if row is None:
        raise StoreNotFound()
    return store_body(row)


async def list_stores(
    conn: AsyncConnection,
    business_id: int,
    page: PageRequest,
    search: str | None = None,
    domain: str | None = None,
    has_domain: bool | None = None,
) -> dict[str, Any]:
    query = repo.stores_query(business_id)
    if search:
        query = query.where(name_contains(stores.c.name, search))
    if domain is not None:
        query = query.where(custom_domains.c.full_url == normalized(domain, "domain"))
    if has_domain is not None:
        column = stores.c.custom_domain_id
        query = query.where(column.is_not(None) if has_domain else column.is_(None))
    rows, fields = await fetch_page(conn, query, stores.c.id, page)
    return {"data": [store_body(r) for r in rows], **fields}


async def list_stores_simplified(
    conn: AsyncConnection, business_id: int, page: PageRequest
) -> dict[str, Any]:
    rows, fields = await fetch_page(conn, repo.stores_query(business_id), stores.c.id, page)
    data = [
        {
            "id": r.id,
            "unique_id": r.unique_id,
            "name": r.name,
            "is_active": bool(r.is_active),
            "is_public": bool(r.is_public),
        }
        for r in rows
    ]
    return {"data": data, **fields}


async def update_store(
    conn: AsyncConnection, business_id: int, store: str | int, data: BusinessStoreUpdateRequest
) -> dict[str, Any]:
    ref = parse_store_ref(store)
    values = {name: getattr(data, name) for name in data.model_fields_set}
    for required in ("name", "is_public", "is_active"):
        if required in values and values[required] is None:
            raise NullNotAllowed(required)
    if "logo" in values and not values["logo"]:
        values["logo"] = None
    if not values:
        return await get_store(conn, business_id, ref)
    values["last_updated_at"] = datetime.now(UTC)
    domain_id = values.get("custom_domain_id")
    try:
        async with transaction(conn):
            store_id = await repo.update_store(conn, business_id, ref, values)
            if store_id is None:
                raise _Unchanged()
            body = await get_store(conn, business_id, store_id)
            await _record(conn, EventType.store_updated, business_id, body)
    except (_Unchanged, sa_exc.IntegrityError):
        # Not the business's store, or the one-store-per-domain constraint (or the domain
        # vanished meanwhile).
        if not await repo.store_exists(conn, business_id, ref):
            raise StoreNotFound() from None
        if domain_id is not None:
            raise await _domain_refusal(conn, business_id, domain_id) from None
        raise StoreNotFound() from None  # deleted meanwhile
    return body


async def delete_store(conn: AsyncConnection, business_id: int, store: str | int) -> None:
    """Delete a store; partnerships routed to it lose their store (and so their links)."""
    ref = parse_store_ref(store)
    async with transaction(conn):
        row = await repo.get_store(conn, business_id, ref)
        if row is None or not await repo.delete_store(conn, business_id, row.id):
            raise StoreNotFound()
        await _record(conn, EventType.store_deleted, business_id, store_body(row))
