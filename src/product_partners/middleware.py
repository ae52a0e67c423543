"""Pure ASGI middleware: request ids, the body size limit and the last-resort error handler.

Pure ASGI (not BaseHTTPMiddleware) because it runs on every request: it adds no task or
stream copying per request.
"""

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from product_partners.db_errors import is_database_unavailable
from product_partners.errors import ServiceUnavailable, domain_error_response, error_response

log = logging.getLogger("product_partners.http")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-Id``, accepted or generated, always echoed),
    refuses bodies over ``max_body_bytes`` with 413, and turns anything that escapes the app
    into the contract's error body (503 when the database is unreachable, 500 otherwise)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send_with_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            if is_database_unavailable(exc):
                log.warning("database unavailable: %s", type(exc).__name__)
                response = domain_error_response(ServiceUnavailable(headers={"Retry-After": "1"}))
            else:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                response = error_response(
                    500, "internal_error", "Something went wrong on our side; it has been logged."
                )
            await response(scope, receive, send_with_id)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "request_too_large",
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )
        await response(scope, receive, send)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.match(text) else None
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def request_id_of(scope_or_request: Any) -> str | None:
    state = getattr(scope_or_request, "scope", scope_or_request).get("state", {})
    return state.get("request_id")
