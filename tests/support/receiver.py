"""A real HTTP receiver of webhooks on the loopback interface, for the delivery tests: it
records every request (headers and raw body) and answers as the test says (a status per
request, a delay, failures first)."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    # The answer to the n-th request (0-based): a status code, or (status, seconds to wait).
    answer: Callable[[int], int | tuple[int, float]] = lambda _n: 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]

    def accepted_ids(self) -> list[str]:
        """The webhook-ids of requests answered 2xx."""
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received if r.headers.get("x-answered")]


@contextmanager
def receiver(answer: Callable[[int], Any] | None = None) -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            rec = holder["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with rec.lock:
                n = len(rec.received)
                item = Received({k.lower(): v for k, v in self.headers.items()}, body)
                rec.received.append(item)
            reply = rec.answer(n)
            status, delay = reply if isinstance(reply, tuple) else (reply, 0.0)
            if delay:
                time.sleep(delay)
            item.headers["x-answered"] = "1" if 200 <= status < 300 else ""
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    if answer is not None:
        rec.answer = answer
    holder["r"] = rec
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
