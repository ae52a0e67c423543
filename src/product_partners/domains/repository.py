"""SQL for custom domains; every query a business makes is filtered by that business here."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import custom_domains, partnership_domains, product_partners, stores

cd = custom_domains

DOMAIN_COLUMNS = (
    cd.c.id,
    cd.c.business_id,
    cd.c.full_url,
    cd.c.is_verified,
    cd.c.verification_token,
    cd.c.claim_expires_at,
    cd.c.created_at,
    stores.c.id.label("store_id"),
)


def live(now: datetime) -> ColumnElement[bool]:
    """A verified domain, or a claim that has not lapsed: a lapsed claim is never shown."""
    return or_(cd.c.claim_expires_at.is_(None), cd.c.claim_expires_at > now)


def domains_query(business_id: int, now: datetime) -> Select:
    return (
        select(*DOMAIN_COLUMNS)
        .select_from(cd)
        .outerjoin(stores, stores.c.custom_domain_id == cd.c.id)
        .where(cd.c.business_id == business_id, live(now))
    )


async def purge_lapsed(conn: AsyncConnection, now: datetime) -> int:
    """Delete every lapsed claim (of any business); how many were deleted."""
    result = await conn.execute(delete(cd).where(cd.c.claim_expires_at <= now))
    return result.rowcount


async def insert_claim(
    conn: AsyncConnection, business_id: int, full_url: str, token: str, expires: datetime
) -> int | None:
    """Insert an unverified claim in one statement; None when this business claimed the name
    already (the unique constraint) or another business holds it verified."""
    held = exists().where(cd.c.full_url == full_url, cd.c.is_verified.is_(True))
    source = select(
        literal(business_id, cd.c.business_id.type),
        literal(full_url, cd.c.full_url.type),
        literal(token, cd.c.verification_token.type),
        literal(expires, cd.c.claim_expires_at.type),
    ).where(~held)
    stmt = (
        insert_or_nothing(conn, cd, cd.c.business_id, cd.c.full_url)
        .from_select(["business_id", "full_url", "verification_token", "claim_expires_at"], source)
        .returning(cd.c.id)
    )
    return (await conn.execute(stmt)).scalar()


async def get_domain(conn: AsyncConnection, business_id: int, domain_id: int, now: datetime) -> Any:
    query = domains_query(business_id, now).where(cd.c.id == domain_id)
    return (await conn.execute(query)).first()


async def domain_owner(conn: AsyncConnection, domain_id: int, now: datetime) -> int | None:
    """The business of a live domain (operator actions name a domain by id alone)."""
    stmt = select(cd.c.business_id).where(cd.c.id == domain_id, live(now))
    return (await conn.execute(stmt)).scalar()


async def held_verified(conn: AsyncConnection, full_url: str) -> bool:
    stmt = select(cd.c.id).where(cd.c.full_url == full_url, cd.c.is_verified.is_(True))
    return (await conn.execute(stmt)).first() is not None


async def delete_domain(conn: AsyncConnection, business_id: int, domain_id: int) -> bool:
    result = await conn.execute(
        delete(cd).where(cd.c.id == domain_id, cd.c.business_id == business_id)
    )
    return result.rowcount > 0


async def lock_name(conn: AsyncConnection, full_url: str) -> None:
    """Lock every claim of a name, in id order, for the rest of the transaction (PostgreSQL;
    SQLite's write lock already serializes): two proofs of one name then queue instead of
    deadlocking on each other's rows (one updates its claim, the other deletes it)."""
    stmt = select(cd.c.id).where(cd.c.full_url == full_url).order_by(cd.c.id).with_for_update()
    await conn.execute(stmt)


async def mark_verified(conn: AsyncConnection, domain_id: int, now: datetime) -> Any | None:
    """Mark a live claim verified; its business and name, or None if it is gone or lapsed.
    Raises IntegrityError when another business holds the name verified (the partial unique
    index: of two concurrent verifications, one wins)."""
    stmt = (
        update(cd)
        .where(cd.c.id == domain_id, live(now))
        .values(is_verified=True, claim_expires_at=None, verification_token=None)
        .returning(cd.c.business_id, cd.c.full_url)
    )
    return (await conn.execute(stmt)).first()


async def drop_rival_claims(conn: AsyncConnection, domain_id: int, full_url: str) -> None:
    """The other businesses' unverified claims of a name that has just been proven."""
    await conn.execute(
        delete(cd).where(
            cd.c.full_url == full_url, cd.c.id != domain_id, cd.c.is_verified.is_(False)
        )
    )


async def mark_unverified(
    conn: AsyncConnection, domain_id: int, now: datetime, token: str, expires: datetime
) -> int | None:
    """Make a live domain a claim again, with ``token``, lapsing at ``expires`` (a claim
    keeps its own); the owning business id, or None if there is no such domain."""
    stmt = (
        update(cd)
        .where(cd.c.id == domain_id, live(now))
        .values(
            is_verified=False,
            verification_token=func.coalesce(cd.c.verification_token, token),
            claim_expires_at=func.coalesce(cd.c.claim_expires_at, expires),
        )
        .returning(cd.c.business_id)
    )
    return (await conn.execute(stmt)).scalar()


async def revoke_links(conn: AsyncConnection, domain_id: int, now: datetime) -> None:
    """Withdraw every affiliate_pro approval of the domain (its links vanish at once), and
    change the ETag of each partnership that loses one."""
    pd, pp = partnership_domains, product_partners
    losing = select(pd.c.partnership_id).where(pd.c.custom_domain_id == domain_id)
    await conn.execute(
        update(pp).where(pp.c.id.in_(losing)).values(version=pp.c.version + 1, updated_at=now)
    )
    await conn.execute(delete(pd).where(pd.c.custom_domain_id == domain_id))
