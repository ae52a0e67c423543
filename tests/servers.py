"""Running the real service in subprocesses (``product-partners serve``) for tests."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "product-partners"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PP_")}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="warning", **extra)
    return env


def run_cli(database_url: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args],
        env=cli_env(database_url, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def serve(
    database_url: str, workers: int = 1, port: int | None = None, **extra_env: str
) -> Iterator[str]:
    """Start ``product-partners serve`` and yield its base URL once it answers."""
    port = port or free_port()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=cli_env(database_url, **extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError("serve did not start in 30 s") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
