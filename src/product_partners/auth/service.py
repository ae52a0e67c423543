"""Creating, listing and revoking API keys (used by the CLI)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.errors import ApiKeyNotFound
from product_partners.auth.keys import generate_key
from product_partners.auth.scopes import validate_scopes
from product_partners.businesses.service import business_named
from product_partners.db.tables import api_keys


async def create_key(
    conn: AsyncConnection, business_unique_id: str, scopes: list[str], name: str | None = None
) -> dict[str, Any]:
    business = await business_named(conn, business_unique_id)
    canonical = validate_scopes(scopes)
    new = generate_key()
    row = (
        await conn.execute(
            insert(api_keys)
            .values(
                business_id=business["id"],
                name=name,
                prefix=new.prefix,
                key_hash=new.key_hash,
                scopes=" ".join(canonical),
            )
            .returning(api_keys.c.id, api_keys.c.created_at)
        )
    ).one()
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
    await conn.execute(
        update(api_keys)
        .where(mine, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    row = (await conn.execute(select(api_keys).where(mine))).first()
    if row is None:
        raise ApiKeyNotFound(key_id)
    return _public(row)


async def rotate_key(conn: AsyncConnection, business_id: int, key_id: int) -> str:
    """Give one of the business's keys a new secret (the old one stops working at once) and
    lift a revocation; returns the new key. Its id, name and scopes stay."""
    new = generate_key()
    updated = await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.business_id == business_id)
        .values(prefix=new.prefix, key_hash=new.key_hash, revoked_at=None, last_used_at=None)
    )
    if updated.rowcount == 0:
        raise ApiKeyNotFound(key_id)
    return new.key
