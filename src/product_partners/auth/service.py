"""Creating, listing and revoking API keys (used by the CLI)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.errors import ApiKeyNotFound
from product_partners.auth.keys import generate_key
from product_partners.auth.scopes import validate_scopes
from product_partners.businesses.service import business_named
from product_partners.db.connections import transaction
from product_partners.db.tables import api_keys
from product_partners.events.enums import EventType
from product_partners.events.service import business_actor, current_actor, record


async def create_key(
    conn: AsyncConnection, business_unique_id: str, scopes: list[str], name: str | None = None
) -> dict[str, Any]:
    business = await business_named(conn, business_unique_id)
    canonical = validate_scopes(scopes)
    new = generate_key()
    async with transaction(conn):
        key_id = (
            await conn.execute(
                insert(api_keys)
                .values(
                    business_id=business["id"],
                    name=name,
                    prefix=new.prefix,
                    key_hash=new.key_hash,
                    scopes=" ".join(canonical),
                )
                .returning(api_keys.c.id)
            )
        ).scalar_one()
        row = await _record(conn, EventType.api_key_created, business["id"], key_id)
    return {
        "id": row.id,
        "key": new.key,
        "prefix": new.prefix,
        "name": name,
        "business": business_unique_id,
        "scopes": canonical,
        "created_at": row.created_at,
    }


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "name": row.name,
        "scopes": row.scopes.split(),
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "last_used_at": row.last_used_at,
    }


async def _record(
    conn: AsyncConnection, event_type: EventType, business_id: int, key_id: int
) -> Any:
    """Record a change of one of the business's keys (its public fields, never the secret);
    the key's row."""
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    await record(
        conn,
        event_type,
        resource_id=key_id,
        data=_public(row),
        owner_business_id=business_id,
        actor=current_actor(default=business_actor(business_id)),
    )
    return row


async def list_keys(conn: AsyncConnection, business_unique_id: str) -> list[dict[str, Any]]:
    business = await business_named(conn, business_unique_id)
    rows = await conn.execute(
        select(api_keys)
        .where(api_keys.c.business_id == business["id"])
        .order_by(api_keys.c.id.desc())
    )
    return [_public(r) for r in rows]


async def revoke_key(conn: AsyncConnection, business_id: int, key_id: int) -> dict[str, Any]:
    """Revoke one of the business's keys (another business's key is not found). Takes effect on
    the next request in every process: nothing caches keys."""
    mine = and_(api_keys.c.id == key_id, api_keys.c.business_id == business_id)
    async with transaction(conn):
        revoked = await conn.execute(
            update(api_keys)
            .where(mine, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if revoked.rowcount:
            return _public(await _record(conn, EventType.api_key_revoked, business_id, key_id))
    row = (await conn.execute(select(api_keys).where(mine))).first()
    if row is None:
        raise ApiKeyNotFound(key_id)
    return _public(row)  # revoked before: nothing changed


async def rotate_key(conn: AsyncConnection, business_id: int, key_id: int) -> str:
    """Give one of the business's keys a new secret (the old one stops working at once) and
    lift a revocation; returns the new key. Its id, name and scopes stay."""
    new = generate_key()
    async with transaction(conn):
        updated = await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.business_id == business_id)
            .values(prefix=new.prefix, key_hash=new.key_hash, revoked_at=None, last_used_at=None)
        )
        if updated.rowcount == 0:
            raise ApiKeyNotFound(key_id)
        await _record(conn, EventType.api_key_rotated, business_id, key_id)
    return new.key
