"""``kit.ops.loop``: the loop ``serve`` runs with one worker takes every waiting connection in
one turn of a busy event loop, where uvloop's own server takes one per turn."""

import asyncio
import contextlib
import os
import select
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import uvloop

from product_partners.kit.ops.loop import AcceptingLoop, AcceptingServer
from product_partners.kit.ops.serving import ACCEPTING_LOOP, event_loop
from tests.support.servers import free_port

BURST = 32
TURN_SECONDS = 0.005  # the CPU each turn of the "loaded" loop burns


def run_on(
    loop_class: type[asyncio.AbstractEventLoop], scenario: Callable[[], Awaitable[Any]]
) -> Any:
    loop = loop_class()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


class Echo(asyncio.Protocol):
    """Echoes what it reads; tells ``accepted`` it was made."""

    def __init__(self, accepted: "Accepted") -> None:
        self.accepted = accepted

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.accepted.made(self)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Accepted:
    """The tests' protocol factory: keeps each connection's protocol and the loop turn
    (``turn``, counted by the test) it was made in; ``all_made`` once there are ``expected``."""

    def __init__(self, expected: int = BURST) -> None:
        self.expected = expected
        self.turn = 0
        self.protocols: list[Echo] = []
        self.turns: list[int] = []
        self.all_made = asyncio.Event()

    def __call__(self) -> Echo:
        return Echo(self)

    def made(self, protocol: Echo) -> None:
        self.protocols.append(protocol)
        self.turns.append(self.turn)
        if len(self.protocols) == self.expected:
            self.all_made.set()


async def burst_spread() -> tuple[int, str]:
    """Open BURST connections at once against a loop whose every turn is busy; how many turns
    their acceptance spanned, and the server's type."""
    accepted = Accepted()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(accepted, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]

    async def busy() -> None:
        while True:
            started = time.perf_counter()
            while time.perf_counter() - started < TURN_SECONDS:
                pass
            accepted.turn += 1
            await asyncio.sleep(0)

    busy_task = loop.create_task(busy())
    await asyncio.sleep(0.05)
    clients = []
    for _ in range(BURST):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        clients.append(client)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(accepted.all_made.wait(), 10)
    busy_task.cancel()
    server.close()
    await server.wait_closed()
    for client in clients:
        client.close()
    turns = accepted.turns
    assert len(turns) == BURST, f"only {len(turns)} of {BURST} connections accepted"
    return max(turns) - min(turns), type(server).__name__


def test_a_burst_of_new_connections_is_accepted_in_one_turn() -> None:
    spread, server = run_on(AcceptingLoop, burst_spread)
    assert server == AcceptingServer.__name__
    assert spread <= 4, f"the burst took {spread} turns of a busy loop"


def test_uvloops_own_server_takes_one_connection_per_turn() -> None:
    """Why the module exists: if uvloop starts taking several per turn, it can go."""
    spread, _ = run_on(uvloop.Loop, burst_spread)
    assert spread >= BURST // 2, f"uvloop took the burst in {spread} turns"


def test_connections_get_uvloops_transports_with_nodelay_and_their_addresses() -> None:
    async def scenario() -> None:
        accepted = Accepted()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(accepted, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"  # served by the accepted transport
        (protocol,) = accepted.protocols
        transport = protocol.transport
        assert type(transport).__module__.startswith("uvloop")
        assert transport.get_extra_info("peername") == writer.get_extra_info("sockname")
        assert transport.get_extra_info("sockname") == ("127.0.0.1", port)
        sock = transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        assert not server.is_serving() and server.sockets == ()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    run_on(AcceptingLoop, scenario)


def test_a_given_listening_socket_is_served_and_closed_with_the_server() -> None:
    """A socket bound elsewhere (uvicorn's path for a socket it made itself, as under
    ``--reload``)."""

    async def scenario() -> None:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        server = await asyncio.get_running_loop().create_server(Accepted(), sock=listening)
        assert isinstance(server, AcceptingServer)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        writer.close()
        server.close()
        assert listening.fileno() == -1  # closed with the server, as asyncio's are

    run_on(AcceptingLoop, scenario)


def test_a_port_in_use_is_an_os_error_and_other_servers_are_uvloops() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        factory = Accepted()
        taken = await loop.create_server(factory, "127.0.0.1", 0)
        port = taken.sockets[0].getsockname()[1]
        with pytest.raises(OSError, match="address already in use|Address already in use"):
            await loop.create_server(factory, "127.0.0.1", port)
        taken.close()
        # Options the accepting server does not implement keep uvloop's own server.
        other = await loop.create_server(factory, "127.0.0.1", free_port(), reuse_port=True)
        assert not isinstance(other, AcceptingServer)
        other.close()

    run_on(AcceptingLoop, scenario)


# A server in a process with few descriptors: once they run out, it pauses accepting instead
# of spinning on a listening socket that stays readable, and resumes when some are free.
_OUT_OF_DESCRIPTORS = textwrap.dedent(
    """
    import asyncio, resource, sys
    from product_partners.kit.ops import loop as accepting
    accepting.ACCEPT_PAUSE_SECONDS = 0.2
    resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
        def data_received(self, data):
            self.transport.write(data)

    async def main():
        await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
        print("ready", flush=True)
        await asyncio.sleep(60)

    accepting.AcceptingLoop().run_until_complete(main())
    """
)


def _answered(clients: list[socket.socket], seconds: float) -> list[socket.socket]:
    """The clients whose echo arrived within ``seconds`` (each reads its one byte)."""
    pending, answered = list(clients), []
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
        for client in readable:
            assert client.recv(1) == b"x"
            pending.remove(client)
            answered.append(client)
    return [client for client in clients if client in answered]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.slow
def test_out_of_descriptors_pauses_accepting_then_resumes() -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", _OUT_OF_DESCRIPTORS, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[socket.socket] = []
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # More connections than the child has descriptors: the rest wait in its backlog.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
        time.sleep(0.5)
        before = _cpu_seconds(child.pid)
        time.sleep(1.0)
        spent = _cpu_seconds(child.pid) - before
        assert spent < 0.5, f"the server spun on its readable socket: {spent:.2f} s of CPU in 1 s"
        for client in clients:
            client.sendall(b"x")
        served = _answered(clients, seconds=2.0)
        assert 0 < len(served) < len(clients), len(served)
        for client in served:
            client.close()
        # Once the pause ends, the freed descriptors take the connections that waited.
        waiting = [client for client in clients if client not in served]
        assert _answered(waiting[:10], seconds=10.0) == waiting[:10]
    finally:
        for client in clients:
            client.close()
        child.kill()
        _, err = child.communicate(timeout=10)
    assert "cannot accept more connections (Too many open files)" in err


def test_serve_takes_every_connection_with_one_worker_and_spreads_them_with_several() -> None:
    assert event_loop(1) == ACCEPTING_LOOP == "product_partners.kit.ops.loop:AcceptingLoop"
    assert event_loop(2) == "uvloop"
