"""``product-partners serve --workers N``: N worker processes, metrics summed over all of them,
and SIGTERM lets in-flight requests finish."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "product_partners.cli"]
WORKERS = 2


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PROMETHEUS_MULTIPROC_DIR", "REDIS_URL", "WORKERS", "HOST", "PORT"}
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        LOG_FORMAT="json",
        RATE_LIMIT="1000/minute",
    )
    return env


def _cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in children:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(int(child))
    return workers


def _wait_until_serving(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "serve exited early"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not come up")


def _requests_counted(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    pattern = (
        r"product_partners_http_requests_total"
        r'\{method="GET",route="/v3/products",status="200"\} (\S+)'
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_workers_share_metrics_and_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    env = _env(tmp_path)
    _cli(env, "db", "upgrade")
    demo = _cli(env, "demo")
    partner = re.search(r'"partner_unique_id": "([^"]+)"', demo["curl"]).group(1)  # type: ignore[union-attr]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", str(WORKERS)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(base, server)
        assert len(_workers_of(server.pid)) == WORKERS

        auth = {"Authorization": f"Bearer {demo['key']}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as client:
            for _ in range(20):
                # A fresh connection each time, so that both workers get some.
                assert (
                    client.get("/v3/products", headers={"Connection": "close"}).status_code == 200
                )
        # Whichever worker answers the scrape, it counts every worker's requests.
        assert {_requests_counted(base) for _ in range(6)} == {20.0}

        # A request in flight when SIGTERM arrives: headers sent, body still coming.
        body = json.dumps({"partner_unique_id": partner}).encode()
        head = (
            f"POST /v3/products/{demo['product_id']}/partners HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {demo['key']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(head + body[:5])
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert server.poll() is None, "serve quit with a request in flight"
            sock.sendall(body[5:])
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
        status_line = response.split(b"\r\n", 1)[0]
        assert status_line == b"HTTP/1.1 200 OK", response[:500]
        assert json.loads(response.split(b"\r\n\r\n", 1)[1])["partner"]["unique_id"] == partner

        assert server.wait(timeout=30) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", timeout=1)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "product_partners.access"]
    assert any(r["method"] == "POST" and r["status"] == 200 for r in requests)
    assert not any("Traceback" in line.get("exc", "") for line in lines)
