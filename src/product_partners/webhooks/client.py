"""The delivery worker's HTTP client: POST a body, read the status, keep the connection.

Why not httpx: it cost the worker ~1.2-2 ms of CPU per post on the bench machine, and several
times that with 50 requests in flight (its connection pool scans every connection for every
queued request): it capped delivery far below issue 13's 500 events/s (bench/NOTES.md). A
webhook post needs little of a general client, so this one is h11 (the HTTP/1.1 protocol
library under httpx: it frames the request and parses the answer) on asyncio streams; only
sockets, pooling and the deadline are done here. ``python -m bench.delivery`` (20,000 events,
one worker, same session, alternated): 1,040-1,050 events/s with h11, against 1,270-1,290
with the hand-written parser this replaced (target 500). h11 costs ~240 us of CPU per post
against ~60-80 (its header validation and state machine), which the worker can afford.

- HTTP/1.1, keep-alive: idle connections are kept per (scheme, host, port) and reused when
  h11 says both sides finished the exchange and may go on (``DONE``/``DONE``);
- https with the certifi CA bundle (as httpx verifies), SNI and hostname checks;
- one deadline (``timeout``) for connecting, sending and reading the whole answer;
- no redirects: a 3xx is an answer like any other (the worker counts it as a failure);
- the answer's body (any framing h11 reads: Content-Length, chunked, up to the connection's
  end) is read and dropped, at most ``MAX_ANSWER_BYTES``: a longer one closes the connection;
- a reused connection that the receiver had closed meanwhile fails before any answer byte:
  the post is sent once more on a fresh connection (at-least-once delivery allows it).

Errors raise :class:`DeliveryError`, whose text is what the delivery log records.
"""

import asyncio
import ssl
from string import punctuation
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlsplit

import h11

MAX_ANSWER_BYTES = 1 << 20  # what is read of an answer before the connection is dropped
MAX_HEAD_BYTES = 64 * 1024  # an answer's head (status line and headers), at most
MAX_IDLE_PER_ORIGIN = 64
READ_SIZE = 65536
_SAFE = punctuation  # kept as they are in a request target: every printable ASCII sign

Origin = tuple[str, str, int]


class DeliveryError(Exception):
    """A post that got no answer: connection refused or reset, timeout, a malformed answer."""


class _NoAnswer(DeliveryError):
    """The receiver closed the connection before any byte of an answer."""


def _tls_context() -> ssl.SSLContext:
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class _Connection:
    """A socket (asyncio streams) and the h11 state of the exchanges on it."""

    __slots__ = ("reader", "writer", "protocol", "answered")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.answered = False  # a byte of the current exchange's answer came back

    def open(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: h11.Request, content: bytes) -> tuple[int, bool]:
        """Send the request; the answer's status, its body read and dropped, and whether
        the connection can be kept."""
        protocol = self.protocol
        self.answered = False
        parts = (
            protocol.send(request),
            protocol.send(h11.Data(data=content)),
            protocol.send(h11.EndOfMessage()),
        )
        self.writer.write(b"".join(part for part in parts if part))
        await self.writer.drain()
        status = 0
        read = 0
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_SIZE)
                if not data and not self.answered:
                    raise _NoAnswer("ConnectionClosed: closed by the receiver without an answer")
                self.answered = True
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                read += len(event.data)
                if read > MAX_ANSWER_BYTES:
                    return status, False
            elif isinstance(event, h11.EndOfMessage):
                keep = protocol.our_state is h11.DONE and protocol.their_state is h11.DONE
                if keep:
                    protocol.start_next_cycle()
                return status, keep
            # h11.InformationalResponse (1xx): the real answer follows.


class WebhookClient:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> int:
        """POST ``content`` to ``url``; the answer's status code."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("not an http(s) URL")
            hostname = parts.hostname.encode("idna").decode("ascii")
            port = parts.port or (443 if scheme == "https" else 80)
        except (ValueError, UnicodeError) as error:
            raise DeliveryError(f"UnsupportedURL: {error}") from None
        # Spaces and non-ASCII characters percent-encoded; existing escapes kept.
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _SAFE)
        host = hostname if ":" not in hostname else f"[{hostname}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        try:
            request = h11.Request(
                method="POST",
                target=target,
                headers=[("host", host), ("content-length", str(len(content))), *headers.items()],
            )
        except h11.LocalProtocolError as error:
            raise DeliveryError(f"BadRequest: {error}"[:500]) from None
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange((scheme, hostname, port), request, content)
        except TimeoutError:
            raise DeliveryError(f"Timeout: no answer within {self.timeout:g} s") from None
        except h11.RemoteProtocolError as error:
            raise DeliveryError(f"BadAnswer: {error}"[:500]) from None
        except OSError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}"[:500]) from None

    async def _exchange(self, origin: Origin, request: h11.Request, content: bytes) -> int:
        while True:
            connection, reused = await self._connection(origin)
            try:
                status, keep = await connection.exchange(request, content)
            except (OSError, _NoAnswer):
                connection.close()
                # A kept connection the receiver closed meanwhile (nothing of an answer came
                # back): send on a fresh one.
                if reused and not connection.answered:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if keep:
                self._put(origin, connection)
            else:
                connection.close()
            return status

    async def _connection(self, origin: Origin) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.open():
                return connection, True
            connection.close()
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = _tls_context()
            tls = self._tls
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None
        )
        return _Connection(reader, writer), False

    def _put(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            connection.close()
