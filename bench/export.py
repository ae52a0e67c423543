"""exportProductPartners at 1,000,000 partnerships on PostgreSQL: the server's memory and
the rows per second.

    .venv/bin/python -m bench.export                       # 1,000,000 partnerships
    .venv/bin/python -m bench.export --partnerships 20000  # a quick look

Seeds its own database (``pp_bench_export_<pid>``, dropped afterwards unless ``--keep``) with
SQL: one owner whose product carries every partnership (``bench.dashboard.seed``: the first
999 partners real businesses that consented, the rest named by unique id), starts the service
as production does (``product-partners serve``, its defaults: ``bench.run.service_command``
and ``service_environment``), and downloads the product's export over HTTP in each format,
reading the body as it comes. Meanwhile it samples the serving process's resident memory
(``/proc/<pid>/status`` VmRSS, every 20 ms) and reports its peak during each export, its
VmHWM (the kernel's high-water mark since start) and the rows per second. The target: under
200 MB resident at 1,000,000 rows. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.dashboard import seed
from bench.run import service_command, service_environment, uvicorn_server
from product_partners.auth.service import create_key
from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade
from product_partners.settings import Settings

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_MB = 200


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """The peak VmRSS of one process while running (sampled in a thread)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _status_kb(self.pid, "VmRSS"))
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def _download(base: str, key: str, fmt: str, pid: int) -> dict[str, Any]:
    url = f"{base}/v3/products/1/partners/export?format={fmt}"
    lines = size = 0
    with RssSampler(pid) as sampler:
        started = time.perf_counter()
        with httpx.stream(
            "GET", url, headers={"Authorization": f"Bearer {key}"}, timeout=600
        ) as response:
            assert response.status_code == 200, response.read()[:500]
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    rows = lines - (1 if fmt == "csv" else 0)  # the CSV's header line
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "megabytes": round(size / 2**20, 1),
        "peak_rss_mb": _mb(sampler.peak_kb),
    }


async def _prepare(n: int) -> tuple[str, str, str]:
    """A database with ``n`` partnerships and a key of their owner: (name, URL, key)."""
    name = f"pp_bench_export_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = ADMIN_DSN.rpartition("/")
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    await asyncio.to_thread(upgrade, url)
    await seed(f"{base}/{name}", n)
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            key = await create_key(conn, "biz-000001", ["product:list"], name="bench")
    finally:
        await engine.dispose()
    return name, url, key["key"]


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def run(n: int, keep: bool) -> dict[str, Any]:
    started = time.perf_counter()
    name, url, key = asyncio.run(_prepare(n))
    seed_seconds = time.perf_counter() - started
    try:
        env = service_environment(url)
        with uvicorn_server("service", service_command, 1, env, "/openapi.json") as server:
            pid = server.worker_pids()[0]
            idle_kb = _status_kb(pid, "VmRSS")
            figures = {fmt: _download(server.base, key, fmt, pid) for fmt in ("csv", "jsonl")}
            high_water_kb = _status_kb(pid, "VmHWM")
    finally:
        if not keep:
            asyncio.run(_drop(name))
    return {
        "partnerships": n,
        "seed_seconds": round(seed_seconds, 1),
        "server_rss_before_mb": _mb(idle_kb),
        "server_vmhwm_mb": _mb(high_water_kb),
        "target_mb": TARGET_MB,
        "exports": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partnerships", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(json.dumps(run(args.partnerships, args.keep), indent=2))


if __name__ == "__main__":
    main()
