"""Authentication and scope checks, as typed FastAPI dependencies.

A route states the scope it needs in its signature: ``caller: ProductUpdate``. Each request
costs one indexed lookup of the key by its prefix; no verified key is cached in the process, so
a revoked key is refused at once by every worker. What is known to be refused (an unknown
prefix, a wrong secret, a key over its limit, an address with too many refused keys) is
refused before the lookup, and before a pooled connection is taken (``auth.gate``).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
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
from product_partners.auth.gate import auth_gate
from product_partners.auth.keys import matches, parse_prefix
from product_partners.auth.repository import KEY_BY_PREFIX, TOUCH_KEY, key_row
from product_partners.businesses.errors import CallerBanned
from product_partners.db.connections import primary_connection
from product_partners.db.prepared import PreparedQuery
from product_partners.kit.errors import RateLimited
from product_partners.kit.http.deps import Conn
from product_partners.kit.http.ratelimit import enforce_rate_limit

# last_used_at is written at most this often per key: a write per request would cost more
# than the request itself.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# The methods that change nothing: the only ones a banned business may use.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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


# Request state (the ASGI scope's): the bearer token and its prefix, parsed once per request
# (the refusals' layer, the hot path and the routes' dependency all read them), and whether
# the gate has admitted them in this request already.
_PARSED_KEY = "auth_parsed_key"
_ADMITTED = "auth_admitted"


def key_prefix(request: Request) -> tuple[str, str]:
    """The bearer token and its prefix (the key row's lookup value); 401 if malformed."""
    state = request.scope.setdefault("state", {})
    parsed: tuple[str, str] | None = state.get(_PARSED_KEY)
    if parsed is not None:
        return parsed
    token = _bearer_token(request)
    prefix = parse_prefix(token)
    if prefix is None:
        raise InvalidApiKey()
    state[_PARSED_KEY] = (token, prefix)
    return token, prefix


def presented_key(request: Request) -> tuple[str, str]:
    """The bearer token and its prefix, unless the process already knows the refusal
    (``auth.gate``: 401 or 429 without asking the database)."""
    token, prefix = key_prefix(request)
    if not request.scope.get("state", {}).get(_ADMITTED):
        auth_gate(request).admit(request, token, prefix)
    return token, prefix


def admitted_at_once(request: Request) -> bool:
    """Whether the request's key is one the gate has nothing to refuse for
    (``AuthGate.verified``); if so, :func:`presented_key` does not ask the gate again."""
    token, prefix = key_prefix(request)
    if not auth_gate(request).verified(token, prefix):
        return False
    request.scope["state"][_ADMITTED] = True
    return True


async def _presented_key(request: Request) -> tuple[str, str]:
    return presented_key(request)


# Resolved before ``Conn`` in ``require``: a refused key takes no pooled connection.
PresentedKey = Annotated[tuple[str, str], Depends(_presented_key)]

# Marks a key as used, given its id and the time: (key_id, now) -> awaitable.
TouchKey = Callable[[int, datetime], Awaitable[object]]


async def _token_and_row(
    request: Request, conn: AsyncConnection, key: tuple[str, str]
) -> tuple[str, Any]:
    """The bearer token and the key row its prefix names (None if none)."""
    token, prefix = key
    found = await _KEY_LOOKUP.first(conn, prefix=prefix)
    return token, key_row(found) if found else None


def toucher(request: Request, conn: AsyncConnection) -> TouchKey:
    """The last-use write of ``accept_key``: on ``conn``, or on the primary when ``conn`` is a
    replica's."""

    async def touch(key_id: int, now: datetime) -> object:
        # A write: on the primary, also when the request reads on a replica.
        async with primary_connection(request.app.state, conn) as writer:
            return await writer.execute(TOUCH_KEY, {"key_id": key_id, "now": now})

    return touch


async def authenticate(request: Request, conn: AsyncConnection, key: tuple[str, str]) -> Caller:
    token, row = await _token_and_row(request, conn, key)
    return await accept_key(request, token, row, toucher(request, conn))


async def live_key(request: Request, conn: AsyncConnection) -> tuple[str, Any]:
    """The bearer token and its key row, if it is a live key (401 errors otherwise). Unlike
    :func:`authenticate`, nothing is written or counted: for a layer that must know whose
    request it is before the route authenticates it (``idempotency.middleware``), which
    calls :func:`accept_key` itself when it answers instead of the route. A key the process
    already knows to refuse (``auth.gate``) costs no lookup here either."""
    token, row = await _token_and_row(request, conn, presented_key(request))
    verify_key(token, row)
    return token, row


def verify_key(token: str, row: Any) -> None:
    """401 unless ``row`` is ``token``'s key (constant-time, ``keys.matches``) and live."""
    if row is None or not matches(token, row.key_hash):
        raise InvalidApiKey()
    if row.revoked_at is not None:
        raise RevokedApiKey()


async def accept_key(request: Request, token: str, row: Any, touch: TouchKey) -> Caller:
    """The caller, if ``row`` (the key row found by the token's prefix, or None) is the token's
    live key: constant-time hash comparison, revocation, the platform ban (a banned business
    may only read: 403 ``business_banned`` on every other method), last use (``touch`` writes
    it), rate limit.

    Split from :func:`authenticate` so that the hot path (``partnerships.hotpath``) can read
    the key row in the same statement as the data it serves, on the bare asyncpg connection."""
    gate = auth_gate(request)
    parsed: tuple[str, str] | None = request.scope.get("state", {}).get(_PARSED_KEY)
    prefix = parsed[1] if parsed is not None and parsed[0] == token else parse_prefix(token) or ""
    gate.looked_up(prefix, row.key_hash if row is not None else None)
    request.scope.get("state", {}).pop(_ADMITTED, None)  # the gate has learnt since
    try:
        verify_key(token, row)
    except (InvalidApiKey, RevokedApiKey):
        gate.refused(request)
        raise
    if row.business_banned and request.method not in READ_METHODS:
        raise CallerBanned()
    now = datetime.now(UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > LAST_USED_RESOLUTION:
        await touch(row.id, now)
    caller = Caller(business_id=row.business_id, key_id=row.id, scopes=_scopes(row.scopes))
    # For the request log and the rate limiter (never the key itself).
    request.state.business_id = caller.business_id
    request.state.api_key_id = caller.key_id
    # Counted only now that the key is verified: a wrong key never uses up someone's limit.
    try:
        await enforce_rate_limit(request, caller.key_id)
    except RateLimited as over:
        headers = request.state.ratelimit_headers
        gate.over_limit(prefix, headers, int(over.headers["Retry-After"]))
        raise
    return caller


@lru_cache(maxsize=256)
def _scopes(text: str) -> frozenset[str]:
    """A key's scopes column as a set (a handful of distinct values: parsed once each)."""
    return frozenset(text.split())


def route_scope(route: Any) -> str | None:
    """The scope a route's caller dependency (:func:`require`) checks, or None (no key)."""
    pending = list(getattr(getattr(route, "dependant", None), "dependencies", ()))
    while pending:
        dependant = pending.pop()
        scope = getattr(dependant.call, "required_scope", None)
        if scope is not None:
            return str(scope)
        pending.extend(dependant.dependencies)
    return None


def require(scope: str) -> Callable[..., Awaitable[Caller]]:
    """The dependency that authenticates a request and checks that its key holds ``scope``."""

    async def dependency(request: Request, key: PresentedKey, conn: Conn) -> Caller:
        caller = await authenticate(request, conn, key)
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
EventList = Annotated[Caller, Depends(require("event:list"))]
EventRead = Annotated[Caller, Depends(require("event:read"))]
WebhookList = Annotated[Caller, Depends(require("webhook:list"))]
WebhookRead = Annotated[Caller, Depends(require("webhook:read"))]
WebhookCreate = Annotated[Caller, Depends(require("webhook:create"))]
WebhookUpdate = Annotated[Caller, Depends(require("webhook:update"))]
WebhookDelete = Annotated[Caller, Depends(require("webhook:delete"))]
