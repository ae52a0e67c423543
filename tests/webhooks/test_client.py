"""The worker's HTTP client (webhooks/client.py) against real servers on the loopback
interface: what each kind of answer gives, connection reuse, a receiver that closed a kept
connection, redirects not followed, refusals and timeouts as delivery errors. (Delivery as a
whole, signatures included, is tests/webhooks/test_delivery.py.)"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from product_partners.webhooks.client import MAX_ANSWER_BYTES, DeliveryError, WebhookClient

Answer = Callable[[bytes], bytes | None]  # the request's head and body -> the answer (None: hang)


@asynccontextmanager
async def server(answer: Answer, close_after: bool = False) -> AsyncIterator[dict]:
    """A raw HTTP server; ``seen`` counts requests and connections."""
    seen = {"requests": 0, "connections": 0, "port": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                seen["requests"] += 1
                reply = answer(head + body)
                if reply is None:
                    await asyncio.sleep(30)
                    return
                writer.write(reply)
                await writer.drain()
                if close_after:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    seen["port"] = listening.sockets[0].getsockname()[1]
    async with listening:
        yield seen


def _ok(_: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        (b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 202),
        # Several chunks, a chunk extension, a trailer.
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3;name=value\r\nabc\r\na\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n",
            200,
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 200),
        # A redirect is an answer: not followed (the worker records it as a failure).
        (
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://example.com/\r\n"
            b"content-length: 0\r\n\r\n",
            307,
        ),
        (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy", 503),
    ],
)
async def test_the_status_of_each_kind_of_answer_and_the_connection_kept(reply, status):
    async with server(lambda _: reply) as seen, WebhookClient(timeout=5) as client:
        url = f"http://127.0.0.1:{seen['port']}/hook?x=1"
        for _ in range(3):
            assert await client.post(url, b"{}", {"content-type": "application/json"}) == status
    assert seen["requests"] == 3 and seen["connections"] == 1


async def test_the_request_as_sent():
    requests: list[bytes] = []

    def keep(request: bytes) -> bytes:
        requests.append(request)
        return _ok(request)

    async with server(keep) as seen, WebhookClient(timeout=5) as client:
        await client.post(f"http://127.0.0.1:{seen['port']}/in/hook?a=b", b"{}", {"x-one": "1"})
        # Spaces and non-ASCII characters are percent-encoded, escapes kept.
        await client.post(f"http://127.0.0.1:{seen['port']}/h\u00f6k p?q=%20", b"", {})
        with pytest.raises(DeliveryError, match="UnsupportedURL"):
            await client.post("ftp://127.0.0.1/", b"", {})
    head, _, body = requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /in/hook?a=b HTTP/1.1"
    assert f"host: 127.0.0.1:{seen['port']}".encode() in lines
    assert b"content-length: 2" in lines and b"x-one: 1" in lines and body == b"{}"
    assert requests[1].startswith(b"POST /h%C3%B6k%20p?q=%20 HTTP/1.1\r\n")


async def test_a_kept_connection_the_receiver_closed_is_replaced():
    async with server(_ok, close_after=True) as seen, WebhookClient(timeout=5) as client:
        url = f"http://127.0.0.1:{seen['port']}/"
        for _ in range(3):
            assert await client.post(url, b"{}", {}) == 200
            await asyncio.sleep(0.05)  # the receiver's close arrives
    assert seen["requests"] == 3 and seen["connections"] == 3


async def test_refusals_and_timeouts_are_delivery_errors():
    async with server(lambda _: None) as seen, WebhookClient(timeout=0.3) as client:
        with pytest.raises(DeliveryError, match="Timeout"):
            await client.post(f"http://127.0.0.1:{seen['port']}/", b"{}", {})
    async with server(_ok) as seen:
        port = seen["port"]
    async with WebhookClient(timeout=2) as client:  # nothing listens there any more
        with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
            await client.post(f"http://127.0.0.1:{port}/", b"{}", {})
    async with server(lambda _: b"garbage\r\n\r\n") as seen, WebhookClient(timeout=2) as client:
        with pytest.raises(DeliveryError, match="BadAnswer"):
            await client.post(f"http://127.0.0.1:{seen['port']}/", b"{}", {})


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n\r\nthe body runs to the connection's end",
        # Longer than what is read of an answer: the status, and the connection dropped.
        b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (MAX_ANSWER_BYTES + 10)
        + b"x" * (MAX_ANSWER_BYTES + 10),
    ],
)
async def test_answers_after_which_the_connection_is_not_kept(reply):
    closing = server(lambda _: reply, close_after=True)
    async with closing as seen, WebhookClient(timeout=5) as client:
        for _ in range(3):
            assert await client.post(f"http://127.0.0.1:{seen['port']}/", b"{}", {}) == 200
    assert seen["requests"] == 3 and seen["connections"] == 3


@pytest.mark.parametrize(
    "malformed",
    [
        b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: two\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",  # then the connection closes
    ],
)
async def test_a_malformed_answer_is_a_delivery_error_and_its_connection_dropped(malformed):
    replies = iter([malformed, _ok(b"")])
    receiver = server(lambda _: next(replies), close_after=b"short" in malformed)
    async with receiver as seen, WebhookClient(timeout=2) as client:
        url = f"http://127.0.0.1:{seen['port']}/"
        with pytest.raises(DeliveryError, match="BadAnswer"):
            await client.post(url, b"{}", {})
        assert await client.post(url, b"{}", {}) == 200
    assert seen["requests"] == 2 and seen["connections"] == 2
