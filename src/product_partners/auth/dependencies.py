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
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.auth.errors import (
    InsufficientScope,
    InvalidApiKey,
    MalformedAuthorization,
    MissingApiKey,
    RevokedApiKey,
)
from product_partners.auth.keys import matches, parse_prefix
from product_partners.auth.repository import KEY_BY_PREFIX, TOUCH_KEY, key_row
from product_partners.db.connections import primary_connection
from product_partners.db.prepared import PreparedQuery
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.ratelimit import enforce_rate_limit

# last_used_at is written at most this often per key: a write per request would cost more
# than the request itself.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Built and compiled once: the one query every authenticated request pays for.
_KEY_LOOKUP = PreparedQuery(KEY_BY_PREFIX)


@dataclass(frozen=True, slots=True)
class Caller:
    """The business a request acts for, and what its key may do."""

    business_id: int
    key_id: int
    scopes: frozenset[str]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise MissingApiKey()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MalformedAuthorization()
    return token.strip()


def key_prefix(request: Request) -> tuple[str, str]:
    """The bearer token and its prefix (the key row's lookup value); 401 if malformed."""
    token = _bearer_token(request)
    prefix = parse_prefix(token)
    if prefix is None:
        raise InvalidApiKey()
    return token, prefix


# Marks a key as used, given its id and the time: (key_id, now) -> awaitable.
TouchKey = Callable[[int, datetime], Awaitable[object]]


async def authenticate(request: Request, conn: AsyncConnection) -> Caller:
    token, prefix = key_prefix(request)
    row = await _KEY_LOOKUP.first(conn, prefix=prefix)

    async def touch(key_id: int, now: datetime) -> object:
        # A write: on the primary, also when the request reads on a replica.
        async with primary_connection(request.app.state, conn) as writer:
            return await writer.execute(TOUCH_KEY, {"key_id": key_id, "now": now})

    return await accept_key(request, token, key_row(row) if row else None, touch)


async def accept_key(request: Request, token: str, row: Any, touch: TouchKey) -> Caller:
    """The caller, if ``row`` (the key row found by the token's prefix, or None) is the token's
    live key: constant-time hash comparison, revocation, last use (``touch`` writes it), rate
    limit.

    Split from :func:`authenticate` so that the hot path (``partnerships.hotpath``) can read
    the key row in the same statement as the data it serves, on the bare asyncpg connection."""
    if row is None or not matches(token, row.key_hash):
        raise InvalidApiKey()
    if row.revoked_at is not None:
        raise RevokedApiKey()
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
            raise InsufficientScope(scope)
        return caller

    # Read from the route by the hot path (the scope it enforces) and the route-table tests.
    dependency.required_scope = scope  # type: ignore[attr-defined]
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
