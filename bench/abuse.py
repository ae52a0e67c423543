"""A tenant's latency while another floods the service with bogus API keys.

``make bench`` runs ``python -m bench.abuse`` after ``bench.run``: the service on its default
settings (``product-partners serve``, one worker, AUTH_FAILURE_LIMIT on; a rate limit the
victim never reaches) on a
fresh PostgreSQL database; a victim business reads its partner list (the hot path) one request
at a time, first alone, then while wrk sends requests with a new random key each (bench/flood.lua)
from the same address. It prints the victim's median and p95 latency in both phases and their
ratio, and the flood's requests/s and statuses. Before bad keys were refused from memory
(auth/gate.py), such a flood raised a victim's median from 5 ms to 208-284 ms.

tests/test_abuse.py runs the same measurement for a second, with a generous bound.

Environment: BENCH_ABUSE_SECONDS [5] per phase, BENCH_ABUSE_CONNECTIONS [32] wrk connections,
BENCH_PG_DSN as bench.run.
"""

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FLOOD_LUA = ROOT / "bench" / "flood.lua"


def victim_latencies(url: str, headers: dict[str, str], seconds: float) -> list[float]:
    """Milliseconds of each of the victim's requests, one at a time for ``seconds``."""
    latencies: list[float] = []
    with httpx.Client(headers=headers, timeout=10) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"the victim got {response.status_code}: {response.text}")
    return latencies


@contextmanager
def flood(wrk: str, url: str, seconds: float, connections: int) -> Iterator[dict[str, Any]]:
    """wrk sending bogus keys to ``url`` meanwhile; the dict gets its requests/s afterwards."""
    duration = max(1, round(seconds + 1))
    proc = subprocess.Popen(
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(FLOOD_LUA), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    result: dict[str, Any] = {}
    try:
        time.sleep(0.3)  # connected and sending
        yield result
    finally:
        output, _ = proc.communicate(timeout=duration + 30)
        found = re.search(r"Requests/sec:\s+([\d.]+)", output)
        result["flood_rps"] = float(found.group(1)) if found else 0.0
        sent = re.search(r"(\d+) requests in", output)
        refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        result["flood_requests"] = int(sent.group(1)) if sent else 0
        result["flood_refused"] = int(refused.group(1)) if refused else 0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    wrk: str, url: str, headers: dict[str, str], seconds: float, connections: int = 32
) -> dict[str, Any]:
    """The victim's latency alone and under a flood of bogus keys, and the ratio of medians."""
    victim_latencies(url, headers, min(seconds, 0.5))  # warm the connection and the caches
    alone = victim_latencies(url, headers, seconds)
    with flood(wrk, url, seconds, connections) as flooded:
        under = victim_latencies(url, headers, seconds)
    return {
        "alone_p50_ms": round(statistics.median(alone), 2),
        "alone_p95_ms": round(_p(alone, 0.95), 2),
        "flood_p50_ms": round(statistics.median(under), 2),
        "flood_p95_ms": round(_p(under, 0.95), 2),
        "p50_ratio": round(statistics.median(under) / statistics.median(alone), 2),
        "victim_requests": [len(alone), len(under)],
        "flood_rps": flooded["flood_rps"],
        "flood_requests": flooded["flood_requests"],
        "flood_refused": flooded["flood_refused"],
    }


# --- make bench ------------------------------------------------------------------------------


async def _victim(database_url: str) -> tuple[str, str]:
    """A victim business with a key, a product and one partner: (key, partners path)."""
    from product_partners.auth.service import create_key
    from product_partners.businesses.schemas import BusinessCreate
    from product_partners.businesses.service import create_business
    from product_partners.db.engine import create_engine
    from product_partners.products.schemas import CreateRequestProduct, ItemType
    from product_partners.products.service import create_product
    from product_partners.settings import Settings

    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as conn:
            owner, _partner = [
                await create_business(
                    conn,
                    BusinessCreate(
                        unique_id=name,
                        username=name,
                        account_holder=name,
                        email=f"{name}@x.example",
                    ),
                )
                for name in ("victim", "victim-partner")
            ]
            key = await create_key(conn, "victim", ["product:list", "product:update"])
            product = await create_product(
                conn,
                owner["id"],
                CreateRequestProduct(name="Victim product", item_type=ItemType.physical),
            )
    finally:
        await engine.dispose()
    return key["key"], f"/v3/products/{product['id']}/partners"


def main() -> int:
    from bench.run import Config, bench_database, ensure_wrk, log, service_command, uvicorn_server
    from product_partners.db.migrate import upgrade

    seconds = float(os.environ.get("BENCH_ABUSE_SECONDS", "5"))
    connections = int(os.environ.get("BENCH_ABUSE_CONNECTIONS", "32"))
    wrk = ensure_wrk()
    cfg = Config()
    cfg.database = f"pp_abuse_{os.getpid()}"
    log("\n== a victim's latency under a flood of bogus keys ==")
    with bench_database(cfg) as dsn:
        sa_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        upgrade(sa_url)
        key, path = asyncio.run(_victim(sa_url))
        # Defaults, but a rate limit the victim's own requests never reach (as bench.run).
        env = {
            "DATABASE_URL": sa_url,
            "LOG_LEVEL": "warning",
            "LOG_FORMAT": "json",
            "RATE_LIMIT": "100000000/minute",
        }
        with uvicorn_server("service", service_command, 1, env, "/openapi.json") as server:
            headers = {"Authorization": f"Bearer {key}"}
            httpx.post(
                server.base + path, json={"partner_unique_id": "victim-partner"}, headers=headers
            ).raise_for_status()
            result = measure(wrk, server.base + path, headers, seconds, connections)
    print(json.dumps(result))
    print(
        f"victim p50 {result['alone_p50_ms']} ms alone, {result['flood_p50_ms']} ms under"
        f" {result['flood_rps']:.0f} bogus requests/s: x{result['p50_ratio']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
