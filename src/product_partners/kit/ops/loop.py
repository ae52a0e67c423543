"""The event loop ``serve`` runs with one worker: uvloop, taking every waiting connection at once.

libuv, under uvloop, accepts one connection per turn of the event loop (libuv pull request
3696: a second ``accept()`` in the same turn usually finds nothing, and processes sharing a
listening socket share new connections better one at a time). On a busy loop a turn takes
as long as the callbacks that are ready: under load ~15 ms. A burst of N new connections then
waits up to N turns before its first request is even read: 64 connections opened at once
against a loaded worker were accepted over ~0.8 s, and those first requests were the slowest
1% of a run (bench/NOTES.md, "The list tail, found"). asyncio's own loop accepts up to the
listen backlog per turn; uvloop runs the rest of the service faster.

So with one worker, ``serve`` runs :class:`AcceptingLoop`: uvloop, whose TCP servers read
their listening sockets as asyncio does, each time one is readable taking what is waiting (up
to the backlog), and hand every connection to uvloop's own transport
(``connect_accepted_socket``). With several workers on one socket, ``serve`` keeps uvloop's
one-per-turn accept, so that connections spread across the workers.
"""

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import uvloop

from product_partners.kit.ops.logs import Throttle

log = logging.getLogger("product_partners.serve")

# Out of descriptors or memory for one more connection: accepting again at once would spin on
# a socket that stays readable. Pause, as asyncio does, and log (at most a line a minute).
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE_SECONDS = 1.0


class AcceptingServer(asyncio.AbstractServer):
    """A TCP server on ``sockets`` (listening, non-blocking) that accepts every waiting
    connection each time a socket is readable."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        backlog: int,
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._serving = False
        self._closed = False
        self._connecting: set[asyncio.Task[Any]] = set()
        self._pause_log = Throttle()
        try:
            for sock in sockets:
                sock.setblocking(False)
                sock.listen(backlog)
            self._start()
        except BaseException:
            self.close()
            raise

    # --- accepting --------------------------------------------------------------------------

    def _start(self) -> None:
        if self._serving or self._closed:
            return
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)
        self._serving = True

    def _stop(self) -> None:
        if not self._serving:
            return
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
        self._serving = False

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):
            try:
                connection, _address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # nothing more waiting
            except ConnectionAbortedError:
                continue  # the client gave up while it waited: take the next one
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise
                left_out = self._pause_log.admit()
                if left_out is not None:
                    log.error(
                        "cannot accept more connections (%s); pausing for %g s"
                        " (%d more pauses since the last line)",
                        error.strerror,
                        ACCEPT_PAUSE_SECONDS,
                        left_out,
                    )
                self._stop()
                self._loop.call_later(ACCEPT_PAUSE_SECONDS, self._start)
                return
            connection.setblocking(False)
            task = self._loop.create_task(self._connect(connection))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, connection: socket.socket) -> None:
        if self._closed:
            # Closed since it was accepted: the server's shutdown has already told the
            # connections it knew of to finish; this one would keep it waiting.
            connection.close()
            return
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, connection)
        except Exception:  # noqa: BLE001 - one connection failed; the server goes on
            connection.close()
            log.exception("could not set up an accepted connection")

    # --- asyncio.AbstractServer -------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections already accepted go
        on; the server waits for them, as with asyncio's)."""
        if self._closed:
            return
        self._stop()
        self._closed = True
        for sock in self._sockets:
            sock.close()

    async def wait_closed(self) -> None:
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._start()

    async def serve_forever(self) -> None:
        self._start()
        await self._loop.create_future()  # until cancelled

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed else tuple(self._sockets)


def listening_sockets(host: str | Iterable[str] | None, port: int | None) -> list[socket.socket]:
    """Sockets bound to every address of ``host`` (all interfaces when empty) on ``port``,
    as asyncio's ``create_server`` binds them; not yet listening."""
    hosts = [host] if host is None or isinstance(host, str) else list(host)
    infos = []
    for name in hosts:
        infos += socket.getaddrinfo(
            name or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:
                continue  # a family this machine does not have (IPv6 switched off): skip it
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # The IPv4 address gets its own socket; without this the two would collide.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                raise OSError(
                    error.errno,
                    f"error while attempting to bind on address {address!r}: {error.strerror}",
                ) from None
        if not sockets:
            raise OSError(f"could not open a socket for any address of {host!r}")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class AcceptingLoop(uvloop.Loop):
    """uvloop, whose plain TCP servers are :class:`AcceptingServer` (TLS, Unix sockets and
    other options keep uvloop's own). uvicorn's ``loop`` setting names it: a custom setting is
    the loop factory itself."""

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: str | Iterable[str] | None = None,
        port: int | None = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        **options: Any,
    ) -> asyncio.AbstractServer:
        plain_tcp = sock is None or sock.family in (socket.AF_INET, socket.AF_INET6)
        if ssl is not None or options or not plain_tcp:
            uvloops: Any = super().create_server  # typeshed's overloads name no keyword mix
            server: asyncio.AbstractServer = await uvloops(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **options
            )
            return server
        sockets = [sock] if sock is not None else listening_sockets(host, port)
        return AcceptingServer(self, sockets, protocol_factory, backlog)
