"""The current request's state (``scope["state"]``), readable where no ``Request`` is passed.

Services take a connection and the caller's business id, not the request; the event log
(``events.service.record``) still wants to know which request and which API key made a
change. :class:`RequestState` (an ASGI middleware) makes the request's state dict the
context's for the duration of the request: the request id that ``kit.http.middleware`` put
there, and the business and API key id that authentication adds later (it mutates the same
dict). Outside a request (the CLI, the delivery worker) there is none.
"""

from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_STATE: ContextVar[dict[str, Any] | None] = ContextVar("product_partners_request", default=None)


def request_state() -> dict[str, Any] | None:
    """The current request's state dict, or None outside a request."""
    return _STATE.get()


class RequestState:
    """Pure ASGI middleware: the request's state is the context's while the request runs (and
    reset afterwards, so callers sharing a task, as tests do, never see a stale one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _STATE.set(scope.setdefault("state", {}))
        try:
            await self.app(scope, receive, send)
        finally:
            _STATE.reset(token)
