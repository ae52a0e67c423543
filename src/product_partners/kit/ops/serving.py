"""``product-partners serve``: uvicorn with N worker processes, our logging, shared metrics.

- ``--workers N``: uvicorn starts N worker processes on one listening socket and restarts one
  that dies. Nothing a request needs lives only in a worker (database, Redis), so N may be any
  number, and several machines may run ``serve`` against one PostgreSQL and one Redis.
- Graceful shutdown: on SIGTERM or SIGINT, each worker stops accepting, lets in-flight requests
  finish (at most ``--graceful-timeout`` seconds), then exits.
- Bounds: request headers limited in size and count, and a deadline for reading a request,
  by ``protocol.BoundedHttpToolsProtocol`` (uvicorn has neither).
- Accepting: with one worker, every waiting connection is taken at once (``loop.AcceptingLoop``;
  uvloop takes one per turn of a busy loop, so a burst of new clients waited for seconds'
  worth of turns); with several, uvloop's one per turn spreads connections across workers.
- Logging: ``logs.logging_config`` is handed to uvicorn, which applies it in every worker.
- Metrics: with more than one worker, prometheus_client's multiprocess mode is needed for
  ``/metrics`` to count every worker's requests; if ``PROMETHEUS_MULTIPROC_DIR`` is not set we
  point it at a fresh temporary directory, removed at exit. A directory you set is emptied at
  start, as prometheus_client requires.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from product_partners.kit.ops.logs import logging_config
from product_partners.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# By name: each worker process imports it (and reads its settings) itself.
BOUNDED_PROTOCOL = "product_partners.kit.ops.protocol:BoundedHttpToolsProtocol"
ACCEPTING_LOOP = "product_partners.kit.ops.loop:AcceptingLoop"


def event_loop(workers: int) -> str:
    """uvicorn's loop setting for ``workers`` processes (see the module)."""
    return ACCEPTING_LOOP if workers == 1 else "uvloop"


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """Set up ``PROMETHEUS_MULTIPROC_DIR`` for this run (before any worker imports
    prometheus_client); yields the directory, or ``None`` in single-process mode."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield configured
        return
    if workers <= 1:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="product-partners-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def serve(settings: Settings, *, host: str, port: int, workers: int, graceful_timeout: int) -> None:
    import uvicorn

    with metrics_directory(workers):
        uvicorn.run(
            "product_partners.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_config=logging_config(settings),
            log_level=settings.log_level.lower(),
            # The request middleware writes one richer line per request instead.
            access_log=False,
            # X-Forwarded-For/-Proto are trusted from FORWARDED_ALLOW_IPS (default 127.0.0.1).
            proxy_headers=True,
            timeout_graceful_shutdown=graceful_timeout,
            # httptools with bounded headers and a read deadline (MAX_REQUEST_HEADER_BYTES,
            # MAX_REQUEST_HEADERS, REQUEST_READ_TIMEOUT): uvicorn bounds neither (protocol.py).
            http=BOUNDED_PROTOCOL,
            loop=event_loop(workers),
        )
