"""Known refusals answered before any other layer.

A request whose key ``auth.gate`` already refuses from memory (a key the database did not
know, another secret for a known prefix, a key over its limit, an address over
``AUTH_FAILURE_LIMIT``) is answered here, just inside the request middleware (request id, log
line, metrics): with the error the route would raise (``presented_key``, the routes' own
dependency) and the route's template as its label, but without the guards, the hot path,
routing, dependency injection or a pooled connection. Measured under a flood of bogus keys
(bench/abuse.py), taking those layers cost several times what the refusal itself costs.

An address over ``AUTH_FAILURE_LIMIT`` gets its 429 after ``AUTH_FAILURE_DELAY`` seconds (at
most ``MAX_DELAYED`` such answers wait at once, the others go at once): a flood over a fixed
number of connections then sends a handful of requests a second instead of thousands, and
the tenants sharing the worker keep their latency (bench/abuse.py). A client holding a good
key behind that address is not delayed: its key is looked up as always.

Everything else (no key, a malformed one, a route without a scope, an unknown path) goes on
unchanged: the routes decide.
"""

import asyncio
from collections.abc import Iterable
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from product_partners.auth.dependencies import admitted_at_once, presented_key, route_scope
from product_partners.auth.errors import AuthFailuresLimited
from product_partners.kit.errors import DomainError
from product_partners.kit.http.errors import domain_error_response

# Refusals that may wait out AUTH_FAILURE_DELAY at once, per process (a waiting request costs
# a few KB; beyond, refusals go at once).
MAX_DELAYED = 1024


class RefuseKnownBadKeys:
    def __init__(self, app: ASGIApp, routes: Iterable[Any], delay: float) -> None:
        self.app = app
        self.delay = delay
        self._delayed = 0
        # The routes that require a key, as the app serves them (included routers' routes
        # with their full path), in the router's order.
        self._keyed = [
            context.route
            for context in iter_route_contexts(list(routes))
            if route_scope(context.route) is not None
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_bearer(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            admitted = admitted_at_once(request)
        except DomainError:
            await self.app(scope, receive, send)  # not a key: the route says why
            return
        if admitted:
            # Most requests: nothing to refuse, so no need for the route (a walk over every
            # keyed route, the costliest part of this layer).
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        try:
            presented_key(request)
        except DomainError as refusal:
            scope["route"] = route  # the request log's and the metrics' label
            if isinstance(refusal, AuthFailuresLimited):
                await self._wait()
            await domain_error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _wait(self) -> None:
        if self.delay <= 0 or self._delayed >= MAX_DELAYED:
            return
        self._delayed += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._delayed -= 1

    @staticmethod
    def _has_bearer(scope: Scope) -> bool:
        return any(name == b"authorization" for name, _ in scope["headers"])

    def _route(self, scope: Scope) -> Any:
        for route in self._keyed:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
        return None
