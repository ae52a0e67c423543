"""Authentication and scope checks, as typed FastAPI dependencies.

A route states the scope it needs in its signature: ``caller: ProductUpdate``. Each request
costs one indexed lookup of the key by its prefix; nothing is cached in the process, so a
revoked key is refused at once by every worker.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.keys import matches, parse_prefix
from product_partners.db.prepared import PreparedQuery
from product_partners.db.tables import api_keys
from product_partners.kit.errors import Forbidden, Unauthorized
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.ratelimit import enforce_rate_limit

# last_used_at is written at most this often per key: a write per request would cost more
# than the request itself.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Built and compiled once: the one query every authenticated request pays for.
_KEY_LOOKUP = PreparedQuery(
    select(
        api_keys.c.id,
        api_keys.c.business_id,
        api_keys.c.key_hash,
        api_keys.c.scopes,
        api_keys.c.revoked_at,
        api_keys.c.last_used_at,
    ).where(api_keys.c.prefix == bindparam("prefix"))
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The business a request acts for, and what its key may do."""

    business_id: int
    key_id: int
    scopes: frozenset[str]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(error_code="missing_api_key")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "The Authorization header must be 'Bearer <api key>'.",
            error_code="malformed_authorization",
        )
    return token.strip()


def key_prefix(request: Request) -> tuple[str, str]:
    """The bearer token and its prefix (the key row's lookup value); 401 if malformed."""
    token = _bearer_token(request)
    prefix = parse_prefix(token)
    if prefix is None:
        raise Unauthorized("The API key is not valid.", error_code="invalid_api_key")
    return token, prefix


# Marks a key as used, given its id and the time: (key_id, now) -> awaitable.
TouchKey = Callable[[int, datetime], Awaitable[object]]


async def authenticate(request: Request, conn: AsyncConnection) -> Caller:
    token, prefix = key_prefix(request)
    row = await _KEY_LOOKUP.first(conn, prefix=prefix)

    def touch(key_id: int, now: datetime) -> Awaitable[object]:
        statement = update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
        return conn.execute(statement)

    return await accept_key(request, token, row, touch)


async def accept_key(request: Request, token: str, row: Any, touch: TouchKey) -> Caller:
    """The caller, if ``row`` (the key row found by the token's prefix, or None) is the token's
    live key: constant-time hash comparison, revocation, last use (``touch`` writes it), rate
    limit.

    Split from :func:`authenticate` so that the hot path (fastpath.py) can read the key row in
    the same statement as the data it serves, on the bare asyncpg connection."""
    if row is None or not matches(token, row.key_hash):
        raise Unauthorized("The API key is not valid.", error_code="invalid_api_key")
    if row.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.", error_code="revoked_api_key")
    now = datetime.now(UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > LAST_USED_RESOLUTION:
        await touch(row.id, now)
    caller = Caller(
        business_id=row.business_id, key_id=row.id, scopes=frozenset(row.scopes.split())
    )
    # For the request log and the rate limiter (never the key itself).
    request.state.business_id = caller.business_id
    request.state.api_key_id = caller.key_id
    # Counted only now that the key is verified: a wrong key never uses up someone's limit.
    await enforce_rate_limit(request, caller.key_id)
    return caller


def require(scope: str) -> Callable[..., Awaitable[Caller]]:
    """The dependency that authenticates a request and checks that its key holds ``scope``."""

    async def dependency(request: Request, conn: Conn) -> Caller:
        caller = await authenticate(request, conn)
        if scope not in caller.scopes:
            raise Forbidden(
                f"This API key lacks the '{scope}' scope.", error_code="insufficient_scope"
            )
        return caller

    dependency.required_scope = scope  # type: ignore[attr-defined]  # read by the route-table test
    return dependency


# The authenticated caller whose key holds the named scope: ``caller: ProductUpdate``.
ProductList = Annotated[Caller, Depends(require("product:list"))]
ProductRead = Annotated[Caller, Depends(require("product:read"))]
ProductCreate = Annotated[Caller, Depends(require("product:create"))]
ProductUpdate = Annotated[Caller, Depends(require("product:update"))]
ProductDelete = Annotated[Caller, Depends(require("product:delete"))]
BundleList = Annotated[Caller, Depends(require("bundle:list"))]
BundleRead = Annotated[Caller, Depends(require("bundle:read"))]
BundleCreate = Annotated[Caller, Depends(require("bundle:create"))]
BundleUpdate = Annotated[Caller, Depends(require("bundle:update"))]
BundleDelete = Annotated[Caller, Depends(require("bundle:delete"))]
StoreList = Annotated[Caller, Depends(require("store:list"))]
StoreRead = Annotated[Caller, Depends(require("store:read"))]
StoreCreate = Annotated[Caller, Depends(require("store:create"))]
StoreUpdate = Annotated[Caller, Depends(require("store:update"))]
StoreDelete = Annotated[Caller, Depends(require("store:delete"))]
