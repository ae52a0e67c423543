"""Dashboard users and sign-in, as plain async functions (the CLI, the dashboard and tests call
them alike).

A session is a random 256-bit token in an HttpOnly cookie; the database keeps its SHA-256,
its expiry and its revocation, and every request reads it again (with the user's ``disabled_at``),
so that signing out, ``user disable`` or an expiry is refused at once by every process.
"""

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.businesses.service import business_named
from product_partners.db.connections import transaction
from product_partners.users import repository as repo
from product_partners.users.errors import (
    MIN_PASSWORD_LENGTH,
    EmailTaken,
    InvalidCredentials,
    InvalidEmail,
    UserDisabled,
    UserNotFound,
    WeakPassword,
)
from product_partners.users.passwords import hash_password, verify_password

# How long a sign-in lasts; signing in again starts a new one.
SESSION_LIFETIME = timedelta(hours=12)


def normalized_email(raw: str) -> str:
    """The email as stored (trimmed, lower case); InvalidEmail if it is not one."""
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if not (at and local and "." in domain.strip(".") and len(email) <= 255) or any(
        c.isspace() or c == "@" for c in local + domain
    ):
        raise InvalidEmail()
    return email


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    return password


def user_body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "business": row.business_unique_id,
        "email": row.email,
        "disabled": row.disabled_at is not None,
        "disabled_at": row.disabled_at,
        "created_at": row.created_at,
    }


async def create_user(
    conn: AsyncConnection, business_unique_id: str, email: str, password: str
) -> dict[str, Any]:
    business = await business_named(conn, business_unique_id)
    values = {
        "business_id": business["id"],
        "email": normalized_email(email),
        "password_hash": await asyncio.to_thread(hash_password, _checked_password(password)),
        "created_at": datetime.now(UTC),
    }
    user_id = await repo.insert_user(conn, values)
    if user_id is None:
        raise EmailTaken()
    return user_body(await repo.user_by_id(conn, user_id))


async def list_users(conn: AsyncConnection, business_unique_id: str | None) -> list[dict[str, Any]]:
    business_id = None
    if business_unique_id is not None:
        business_id = (await business_named(conn, business_unique_id))["id"]
    return [user_body(r) for r in await repo.list_users(conn, business_id)]


async def disable_user(conn: AsyncConnection, email: str) -> dict[str, Any]:
    """Disable the user and end its sessions (refused from the next request on)."""
    now = datetime.now(UTC)
    async with transaction(conn):
        user_id = await repo.set_user(conn, normalized_email(email), {"disabled_at": now})
        if user_id is None:
            raise UserNotFound()
        await repo.revoke_sessions(conn, now, user_id=user_id)
    return user_body(await repo.user_by_id(conn, user_id))


async def set_password(conn: AsyncConnection, email: str, password: str) -> None:
    """A new password (its sessions end): the demo resets its user's on every run."""
    password_hash = await asyncio.to_thread(hash_password, _checked_password(password))
    now = datetime.now(UTC)
    async with transaction(conn):
        user_id = await repo.set_user(
            conn, normalized_email(email), {"password_hash": password_hash}
        )
        if user_id is None:
            raise UserNotFound()
        await repo.revoke_sessions(conn, now, user_id=user_id)


async def sign_in(conn: AsyncConnection, email: str, password: str) -> tuple[Any, str]:
    """The user and a new session token for the cookie; InvalidCredentials for a wrong email
    or password alike, UserDisabled for a disabled user's right password."""
    try:
        email = normalized_email(email)
    except InvalidEmail:
        email = ""
    user = await repo.user_by_email(conn, email) if email else None
    hashed = user.password_hash if user is not None else None
    if not await asyncio.to_thread(verify_password, hashed, password) or user is None:
        raise InvalidCredentials()
    if user.disabled_at is not None:
        raise UserDisabled()
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await repo.insert_session(conn, user.id, token_hash(token), now, now + SESSION_LIFETIME)
    return user, token


async def session_user(conn: AsyncConnection, token: str | None) -> Any | None:
    """The signed-in user of a session token (with ``business_id``, ``session_id``), or None."""
    if not token or len(token) > 128:
        return None
    return await repo.live_session(conn, token_hash(token), datetime.now(UTC))


async def sign_out(conn: AsyncConnection, token: str) -> None:
    await repo.revoke_sessions(conn, datetime.now(UTC), token_hash=token_hash(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
