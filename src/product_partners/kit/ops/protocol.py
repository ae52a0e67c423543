"""uvicorn's httptools protocol with the bounds it lacks: request headers limited in size and
count, and a deadline for reading each request.

What uvicorn (0.54, pinned) and httptools bound by themselves, read in their source:

- nothing on the request line and headers: httptools joins a header's pieces until its line
  ends and uvicorn appends every header to a list, so a header that never ends grows a worker
  without limit (a 100 MB one added ~160 MB). ``h11_max_incomplete_event_size`` applies to the
  h11 protocol only, which is slower, and only to its header buffer;
- no timeout while a request is read: ``timeout_keep_alive`` runs only between requests (from
  the end of a response to the next byte), so a client that connects and sends nothing, sends
  its headers a byte at a time or trickles its body holds its connection for ever.

So ``serve`` runs this subclass (``http=`` of ``uvicorn.run``), which adds, per connection:

- ``MAX_REQUEST_HEADER_BYTES``: the request line and headers of one request, in bytes. Counted
  as bytes arrive while the headers are incomplete (so an endless header is cut after at most
  the limit and one read), and exactly once they are complete. Beyond: 431 and the connection
  closed.
- ``MAX_REQUEST_HEADERS``: headers in one request; beyond, 431 and closed.
- ``REQUEST_READ_TIMEOUT``: seconds a client has to send a whole request, headers and body,
  counted from its first byte (from the connection for the first request). Headers not
  complete by then: 408 and closed; a body not complete: closed (the app sees a disconnect).
  The time the app takes to answer is not counted, and between requests uvicorn's keep-alive
  timeout applies as before.

The answers are the contract's error body. A proxy in front may bound more tightly; the
service does not rely on one. The checks are a counter and a timer per request (bench/NOTES.md
has the cost).
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from product_partners.kit.http.errors import error_body
from product_partners.kit.jsonutil import dumps
from product_partners.kit.ops.logs import Throttle
from product_partners.settings import get_settings


def _refusal(status: int, error_code: str, message: str) -> bytes:
    body = dumps(error_body(status, error_code, message))
    head = (
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n"
    )
    return STATUS_LINE[status] + head + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with header bounds and a read deadline (see the module)."""

    # One log line a minute per kind of refusal in this process, however many clients get it.
    _logs: dict[str, Throttle] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_header_bytes = settings.max_request_header_bytes
        self.max_headers = settings.max_request_headers
        self.read_timeout = settings.request_read_timeout
        self._reading_headers = True
        self._header_bytes = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None

    # --- the deadline -----------------------------------------------------------------------

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading_headers:
            self._refuse(408, "request_timeout", "The request was not received in time.")
        else:
            self.transport.close()  # mid-body: the app's receive() sees a disconnect

    def _refuse(self, status: int, error_code: str, message: str) -> None:
        self._refused = True
        self._disarm()
        left_out = self._logs.setdefault(error_code, Throttle()).admit()
        if left_out is not None:
            self.logger.info(
                "refused a client: %s %s (%d more since the last line)",
                status,
                error_code,
                left_out,
            )
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, error_code, message))
            self.transport.close()

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading_headers and self._header_bytes > self.max_header_bytes:
            self._too_large()

    def _too_large(self) -> None:
        self._refuse(
            431,
            "request_headers_too_large",
            f"The request line and headers are larger than {self.max_header_bytes} bytes"
            f" or more than {self.max_headers} headers.",
        )

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_headers = True
        self._arm()

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes = 0  # the next request's count starts at its first byte
        if self._refused:
            return
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.max_header_bytes or len(self.headers) > self.max_headers:
            self._too_large()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().on_message_complete()
