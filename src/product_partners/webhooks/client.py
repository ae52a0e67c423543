"""The delivery worker's HTTP client: POST a body, read the status, keep the connection.

httpx cost the worker ~1.2-2 ms of CPU per post on the bench machine, and several times that
with 50 requests in flight (its connection pool scans every connection for every queued
request): it capped delivery far below issue 13's 500 events/s (bench/NOTES.md). A webhook
post needs little of a general client, so this one does only that, on asyncio streams:

- HTTP/1.1, keep-alive: idle connections are kept per (scheme, host, port) and reused;
- https with the certifi CA bundle (as httpx verifies), SNI and hostname checks;
- one deadline (``timeout``) for connecting, sending and reading the whole answer;
- no redirects: a 3xx is an answer like any other (the worker counts it as a failure);
- the answer's body is read (Content-Length, chunked, or up to the connection's end) and
  dropped, at most ``MAX_ANSWER_BYTES``: a longer one closes the connection;
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

MAX_ANSWER_BYTES = 1 << 20  # what is read of an answer before the connection is dropped
MAX_HEAD_BYTES = 64 * 1024
MAX_IDLE_PER_ORIGIN = 64
_SAFE = punctuation  # kept as they are in a request target: every printable ASCII sign

Origin = tuple[str, str, int]
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class DeliveryError(Exception):
    """A post that got no answer: connection refused or reset, timeout, a malformed answer."""


def _tls_context() -> ssl.SSLContext:
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class WebhookClient:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[Origin, list[Connection]] = {}
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
            for _, writer in connections:
                writer.close()

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
        origin = (scheme, hostname, port)
        # Spaces and non-ASCII characters percent-encoded; existing escapes kept.
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _SAFE)
        host = hostname if ":" not in hostname else f"[{hostname}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"content-length: {len(content)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(origin, request)
        except TimeoutError:
            raise DeliveryError(f"Timeout: no answer within {self.timeout:g} s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}"[:500]) from None

    async def _exchange(self, origin: Origin, request: bytes) -> int:
        while True:
            connection, reused = await self._connection(origin)
            reader, writer = connection
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError) as error:
                writer.close()
                # A kept connection the receiver closed meanwhile (nothing of an answer came
                # back): send on a fresh one.
                if reused and _nothing_read(error):
                    continue
                raise
            except BaseException:
                writer.close()
                raise
            try:
                status, keep = await _answer(reader, head)
            except BaseException:
                writer.close()
                raise
            if keep:
                self._put(origin, connection)
            else:
                writer.close()
            return status

    async def _connection(self, origin: Origin) -> tuple[Connection, bool]:
        idle = self._idle.get(origin)
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return (reader, writer), True
            writer.close()
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = _tls_context()
            tls = self._tls
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, limit=MAX_HEAD_BYTES, server_hostname=host if tls else None
        )
        return (reader, writer), False

    def _put(self, origin: Origin, connection: Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            connection[1].close()


def _nothing_read(error: BaseException) -> bool:
    return not isinstance(error, asyncio.IncompleteReadError) or not error.partial


async def _answer(reader: asyncio.StreamReader, head: bytes) -> tuple[int, bool]:
    """The status of the answer whose head is ``head``, its body read and dropped; whether
    the connection can be kept."""
    while True:
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise DeliveryError(f"BadAnswer: {status_line[:100]!r}")
        status = int(code)
        if not 100 <= status < 200:
            break
        head = await reader.readuntil(b"\r\n\r\n")  # 1xx: an interim answer, the real one follows
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    if status in (204, 304):
        return status, keep
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        read = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return status, keep
            read += size
            if read > MAX_ANSWER_BYTES:
                return status, False
            await reader.readexactly(size + 2)
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise DeliveryError(f"BadAnswer: content-length {length[:30]!r}")
        if int(length) > MAX_ANSWER_BYTES:
            return status, False
        await reader.readexactly(int(length))
        return status, keep
    # Neither: the body runs to the connection's end.
    read = 0
    while read <= MAX_ANSWER_BYTES:
        chunk = await reader.read(65536)
        if not chunk:
            break
        read += len(chunk)
    return status, False
