"""The one per-request middleware: request ids, the body size limit, rate-limit headers, the
request log line, request metrics and the last-resort error handler.

Pure ASGI (not BaseHTTPMiddleware) and a single layer because it runs on every request: no
task or stream copying, one pass over the request headers, two small closures.
"""

import logging
import os
import re
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_partners.db.faults import STATEMENT_TIMEOUT, database_fault, root_cause
from product_partners.kit.http.errors import (
    database_unavailable,
    domain_error_response,
    error_response,
)
from product_partners.kit.ops.logs import Throttle, access_log, log_request
from product_partners.kit.ops.metrics import Metrics

log = logging.getLogger("product_partners.http")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Anything shaped like an API key ("ppk_<prefix>_<secret>", or a piece of one) in a logged path.
_KEY_SHAPED = re.compile(r"ppk_[A-Za-z0-9_-]*")
# Characters of an unmatched path kept in its log line.
LOGGED_PATH_LENGTH = 200
UNMATCHED = "unmatched"
# Probes and scrapes: logged at DEBUG only and left out of the request metrics.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-Id``, accepted or generated, always echoed),
    refuses bodies over ``max_body_bytes`` with 413, adds the ``X-Ratelimit-*`` headers that
    rate limiting left in the request state, turns anything that escapes the app into the
    contract's error body (503 when the database is unreachable, 500 otherwise), then logs
    one line and records the request in ``metrics``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        # One warning a minute per kind of database fault, however many requests it fails.
        self._fault_logs: dict[str, Throttle] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = perf_counter()
        request_id: str | None = None
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                request_id = text if _VALID_REQUEST_ID.match(text) else None
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if request_id is None:
            # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID.
            request_id = os.urandom(16).hex()
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                rate_limit = state.get("ratelimit_headers")
                if rate_limit:
                    headers.extend(rate_limit)
                message["headers"] = headers
            await send(message)

        try:
            if declared is not None and declared > self.max_body_bytes:
                await self._too_large(scope, receive, send_with_headers)
                return
            # With a Content-Length the server stops the body at that length; only bodies
            # without one (chunked) need counting.
            app_receive = receive if declared is not None else self._limited(receive)
            try:
                await self.app(scope, app_receive, send_with_headers)
            except BodyTooLarge:
                if not status:
                    await self._too_large(scope, receive, send_with_headers)
            except Exception as exc:
                if status:
                    raise
                await self._last_resort(exc, scope, receive, send_with_headers)
        finally:
            self._record(scope, state, status or 499, perf_counter() - started_at, request_id)

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        return limited_receive

    async def _last_resort(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        fault = database_fault(exc)
        if fault is not None:
            self._log_fault(fault, exc)
            if fault == STATEMENT_TIMEOUT and self.metrics is not None:
                self.metrics.statement_timeouts.inc()
            response = domain_error_response(database_unavailable(fault))
        else:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            response = error_response(
                500, "internal_error", "Something went wrong on our side; it has been logged."
            )
        await response(scope, receive, send)

    def _log_fault(self, fault: str, exc: Exception) -> None:
        left_out = self._fault_logs.setdefault(fault, Throttle()).admit()
        if left_out is not None:
            cause = root_cause(exc)
            log.warning(
                "database fault (%s): %s: %s; answering 503 (%d more since the last line)",
                fault,
                type(cause).__name__,
                cause,
                left_out,
            )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "request_too_large",
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )
        await response(scope, receive, send)

    def _record(
        self, scope: Scope, state: dict[str, Any], status: int, seconds: float, request_id: str
    ) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path_format", None) or UNMATCHED
        method: str = scope["method"]
        quiet = template in QUIET_ROUTES
        if not quiet and self.metrics is not None:
            self.metrics.observe(method, template, status, seconds)
        level = logging.DEBUG if quiet else logging.INFO
        if access_log.isEnabledFor(level):
            path = template if route is not None else unmatched_path(scope["path"])
            fields = {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "request_id": request_id,
                "business_id": state.get("business_id"),
            }
            log_request(level, fields)


def unmatched_path(path: str) -> str:
    """A path no route serves, as logged: key-shaped tokens masked, at most
    ``LOGGED_PATH_LENGTH`` characters. (The query string is never logged; the formatters
    escape what is left.)"""
    return _KEY_SHAPED.sub("ppk_***", path)[:LOGGED_PATH_LENGTH]
