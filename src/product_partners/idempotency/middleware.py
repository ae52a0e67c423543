"""Idempotency-Key on every POST and PATCH: a pure ASGI layer in front of the hot path and the
FastAPI routes, so both are covered by one implementation.

A request without the header costs a scan of its headers. One with it:

1. the key is checked (``service.parse_key``, 400) and the operation found among the app's
   POST/PATCH routes (none: the router answers 404/405, nothing is stored);
2. whose request it is: the API key is looked up (``auth.dependencies.live_key``, nothing
   written). A key that is not live or lacks the route's scope is handed to the route, which
   refuses it as usual; nothing is claimed;
3. the key is claimed for the business (``service.claim``). The winner runs through the
   hot path or the route unchanged; its response is held until it is stored (``complete``)
   and only then sent, or, for a response that asks for a retry, the claim is dropped
   (``release``). Any other request gets the stored response (with ``Idempotent-Replayed:
   true``), 422 ``idempotency_key_reused`` or 409 ``idempotency_key_in_flight``, after the
   key's last use and rate limit are recorded as the route would (``accept_key``).

About once a minute each process deletes the expired keys, on the way of a request that sends
one (``service.sweep``).
"""

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_partners.auth.dependencies import accept_key, live_key, route_scope, toucher
from product_partners.db.connections import request_connection
from product_partners.idempotency import service
from product_partners.idempotency.service import Claim, StoredResponse
from product_partners.kit.errors import DomainError
from product_partners.kit.http.errors import domain_error_response
from product_partners.kit.http.guards import read_body, replay_body

log = logging.getLogger("product_partners.idempotency")

METHODS = frozenset({"POST", "PATCH"})
_HEADER = b"idempotency-key"
_REPLAYED = (b"idempotent-replayed", b"true")
# Seconds between two sweeps of expired keys by one process.
SWEEP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Operation:
    """A POST or PATCH route: its method, path pattern, the scope its caller needs."""

    method: str
    path: re.Pattern[str]
    scope: str | None
    route: Any


def write_operations(routes: Any) -> list[Operation]:
    """The app's POST and PATCH routes (with their full paths: included routers' too)."""
    found = []
    for context in iter_route_contexts(list(routes)):
        route: Any = context.route
        for method in sorted(METHODS & set(getattr(route, "methods", None) or ())):
            found.append(Operation(method, route.path_regex, route_scope(route), route))
    return found


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, state: Any, routes: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: engine, settings
        self._operations = write_operations(routes)
        self._next_sweep = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        for name, _value in scope["headers"]:
            if name == _HEADER:
                values = [value for name, value in scope["headers"] if name == _HEADER]
                await self._idempotent(scope, receive, send, values)
                return
        await self.app(scope, receive, send)

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, values: list[bytes]
    ) -> None:
        try:
            key = service.parse_key(values)
        except DomainError as exc:
            await domain_error_response(exc)(scope, receive, send)
            return
        operation = self._operation(scope)
        if operation is None or operation.scope is None:
            await self.app(scope, receive, send)
            return
        body, disconnected = await read_body(receive)
        receive = replay_body(body, disconnected, receive)
        fingerprint = service.fingerprint(
            scope["method"], scope["path"], scope["query_string"], body
        )
        request = Request(scope, receive)
        outcome: Claim | Response | None = None
        settings = self.state.settings
        async with request_connection(self.state.engine, settings.database_timeout) as conn:
            try:
                token, row = await live_key(request, conn)
            except DomainError:
                row = None  # the route says why
            if row is not None and operation.scope in row.scopes.split():
                now = datetime.now(UTC)
                await self._sweep_now_and_then(conn, now)
                outcome = await self._claim(conn, request, token, row, key, fingerprint, now)
        if isinstance(outcome, Claim):
            await self._run(scope, receive, send, outcome)
        elif outcome is not None:
            scope["route"] = operation.route  # the request log's and the metrics' label
            await outcome(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _claim(
        self,
        conn: Any,
        request: Request,
        token: str,
        row: Any,
        key: str,
        fingerprint: str,
        now: datetime,
    ) -> Claim | Response:
        """The claim (this request runs), or the answer to send instead: the stored response,
        or the key's refusal (422, 409). An answer counts as a request of the API key, as the
        route would count it (last use, rate limit: 429 first)."""
        claimed: Claim | StoredResponse | DomainError
        try:
            claimed = await service.claim(conn, row.business_id, key, fingerprint, now)
        except DomainError as refusal:
            claimed = refusal
        if isinstance(claimed, Claim):
            return claimed
        try:
            await accept_key(request, token, row, toucher(request, conn))
        except DomainError as exc:
            return domain_error_response(exc)
        if isinstance(claimed, DomainError):
            return domain_error_response(claimed)
        return _replay(claimed)

    def _operation(self, scope: Scope) -> Operation | None:
        method, path = scope["method"], scope["path"]
        for operation in self._operations:
            if operation.method == method and operation.path.match(path):
                return operation
        return None

    async def _run(self, scope: Scope, receive: Receive, send: Send, held: Claim) -> None:
        """Run the request that holds the key; store its response before sending it."""
        start: Message | None = None
        chunks: list[bytes] = []
        settled = False

        async def hold_until_stored(message: Message) -> None:
            nonlocal start, settled
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = service.stored_headers(list(start.get("headers", ())))
            await self._settle(held, StoredResponse(start["status"], headers, body))
            settled = True
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await self.app(scope, receive, hold_until_stored)
        except BaseException:
            if not settled:
                await self._release(held)
            raise
        if not settled:  # no whole response (the client went away): nothing to replay
            await self._release(held)

    async def _settle(self, held: Claim, response: StoredResponse) -> None:
        settings = self.state.settings
        async with request_connection(self.state.engine, settings.database_timeout) as conn:
            if service.is_final(response.status):
                keep = timedelta(hours=settings.idempotency_key_hours)
                await service.complete(conn, held, response, keep)
            else:
                await service.release(conn, held)

    async def _release(self, held: Claim) -> None:
        settings = self.state.settings
        try:
            async with request_connection(self.state.engine, settings.database_timeout) as conn:
                await service.release(conn, held)
        except Exception:
            # The claim lapses by itself after service.IN_FLIGHT_LEASE.
            log.warning("could not release an idempotency key; it lapses in a minute")

    async def _sweep_now_and_then(self, conn: Any, now: datetime) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        deleted = await service.sweep(conn, now)
        if deleted:
            log.debug("deleted %d expired idempotency keys", deleted)


def _replay(stored: StoredResponse) -> Response:
    response = Response(stored.body, stored.status)  # its Content-Length, when it has one
    response.raw_headers.extend([*stored.headers, _REPLAYED])
    return response
