"""SQL of users and sessions (SQLAlchemy Core)."""

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.sql import insert_or_nothing
from product_partners.db.tables import businesses, user_sessions, users

_USER_COLUMNS = (
    users.c.id,
    users.c.business_id,
    users.c.email,
    users.c.disabled_at,
    users.c.created_at,
    businesses.c.unique_id.label("business_unique_id"),
)


def _users() -> Any:
    return select(*_USER_COLUMNS).join(businesses, businesses.c.id == users.c.business_id)


async def insert_user(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """The new user's id; None when the email is taken."""
    stmt = insert_or_nothing(conn, users, users.c.email).values(**values).returning(users.c.id)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def user_by_id(conn: AsyncConnection, user_id: int) -> Any | None:
    return (await conn.execute(_users().where(users.c.id == user_id))).first()


async def user_by_email(conn: AsyncConnection, email: str) -> Any | None:
    """The user with its password hash (sign-in)."""
    stmt = _users().add_columns(users.c.password_hash).where(users.c.email == email)
    return (await conn.execute(stmt)).first()


async def list_users(conn: AsyncConnection, business_id: int | None) -> list[Any]:
    stmt = _users().order_by(users.c.id)
    if business_id is not None:
        stmt = stmt.where(users.c.business_id == business_id)
    return list((await conn.execute(stmt)).all())


async def set_user(conn: AsyncConnection, email: str, values: dict[str, Any]) -> int | None:
    """Update the user; its id, None when there is no such user."""
    stmt = update(users).where(users.c.email == email).values(**values).returning(users.c.id)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def insert_session(
    conn: AsyncConnection, user_id: int, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        user_sessions.insert().values(
            user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at
        )
    )


async def live_session(conn: AsyncConnection, token_hash: str, now: datetime) -> Any | None:
    """The session's user, if the session is neither expired nor revoked and the user is not
    disabled: one indexed read per request."""
    stmt = (
        _users()
        .add_columns(user_sessions.c.id.label("session_id"))
        .join(user_sessions, user_sessions.c.user_id == users.c.id)
        .where(
            user_sessions.c.token_hash == token_hash,
            user_sessions.c.revoked_at.is_(None),
            user_sessions.c.expires_at > now,
            users.c.disabled_at.is_(None),
        )
    )
    return (await conn.execute(stmt)).first()


async def revoke_sessions(
    conn: AsyncConnection,
    now: datetime,
    *,
    token_hash: str | None = None,
    user_id: int | None = None,
) -> None:
    stmt = update(user_sessions).where(user_sessions.c.revoked_at.is_(None))
    if token_hash is not None:
        stmt = stmt.where(user_sessions.c.token_hash == token_hash)
    if user_id is not None:
        stmt = stmt.where(user_sessions.c.user_id == user_id)
    await conn.execute(stmt.values(revoked_at=now))
