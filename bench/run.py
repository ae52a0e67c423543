"""The benchmark: the service against the floor, and how its cost grows with the table.

``make bench`` runs ``python -m bench.run``. For each size of ``product_partners`` it creates
its own database ``pp_bench_<pid>`` (dropped at the end), seeds it in bulk with SQL (bench/seed.py),
starts the service and, at the floor size, the floor (bench/floor_app.py), both under uvicorn
with uvloop + httptools and the same worker count, and drives each operation with wrk from a
separate process over loopback. It prints requests/s, p50/p99/p99.9 latency and each one's
ratio to the floor, CPU time per request and peak RSS per worker, and writes
``bench/results.json``.

For add, the service also runs with its add's event write taken out (bench/without_events.py,
one worker): ``1 - service / that`` is what the event write costs add-partner (issue 13's
budget); each floor's add without and with the event is printed beside it.

Then the **scaling figure** (``BENCH_SCALING``, on by default): on a PostgreSQL primary of its
own and a streaming replica of it (tests/support/clusters.py: initdb and pg_basebackup in
temporary directories, free ports; the machine's server is never touched), each operation of
``BENCH_SCALING_OPS`` with 1 and 2 worker processes on the primary alone, and list (and get)
with the replica too: requests/s and p99 of each, and the factors 2 workers / 1 worker and
primary + replica / primary alone.

Environment (defaults in brackets):
  BENCH_DURATION [8]  seconds per measurement       BENCH_WARMUP [2]  seconds of warm-up
  BENCH_REPEATS [3]  measurements per operation and server, interleaved; medians reported
  BENCH_CONNECTIONS [64]  BENCH_THREADS [1] (wrk)   BENCH_WORKERS [1]  uvicorn workers
  BENCH_SIZES [10000,100000,1000000]  partnerships per run; BENCH_FLOOR_SIZE [100000]
  BENCH_BUSINESSES [1000]  BENCH_PRODUCTS [10000]
  The service runs on its default settings (its pool included; the floor gets as many
  connections), except a rate limit far above the load: counting stays on, 429s do not.
  BENCH_PG_DSN [postgresql://postgres@127.0.0.1:5432/postgres]  an admin DSN
  BENCH_DB [pp_bench_<pid>: concurrent runs never share one]  BENCH_KEEP_DB [0]  keep the
  last database (its name is printed) for profiling
  BENCH_OPS  comma-separated subset of add,get,list,deep
  BENCH_PROFILE  a folder: record each service measurement with py-spy (slows it down)
  BENCH_SERVICE_ENV  extra service settings, e.g. "LOG_LEVEL=warning,RATE_LIMIT_ENABLED=false"
  BENCH_RESULTS [bench/results.json]
  BENCH_SCALING [1]  0 leaves the scaling figure out; BENCH_SCALING_SIZE [100000]
  BENCH_SCALING_OPS [add,get,list]  (the replica runs take the reads among them)
"""

import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.seed import Seeded, seed
from product_partners.db.migrate import upgrade
from product_partners.kit.ops.serving import event_loop
from product_partners.kit.pagination import encode_cursor
from product_partners.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk.lua"
OPS = ("add", "get", "list", "deep")
TARGET_RATIO = 0.8  # service requests/s over the floor's, at least
TARGET_P99 = 1.5  # service p99 over the floor's, at most
TARGET_GROWTH = 1.3  # latency at the largest size over the smallest, at most
EVENT_OP = "add_events"  # the floors' add with its event, as the service's
# The service with add-partner's event write taken out (bench/without_events.py): measured for
# add only, beside the service, as the "before" of the event write's cost.
WITHOUT_EVENTS = "service_without_events"
SERVICES = ("service", WITHOUT_EVENTS)  # served by the service's code; the rest are floors
TARGET_EVENT_COST = 0.15  # the event write's cost to add's throughput, at most (issue 13)
DEEP_ROW = 950  # the deep page starts after this many rows of the hot product


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class Config:
    duration: int = field(default_factory=lambda: env_int("BENCH_DURATION", 8))
    repeats: int = field(default_factory=lambda: env_int("BENCH_REPEATS", 3))
    warmup: int = field(default_factory=lambda: env_int("BENCH_WARMUP", 2))
    connections: int = field(default_factory=lambda: env_int("BENCH_CONNECTIONS", 64))
    threads: int = field(default_factory=lambda: env_int("BENCH_THREADS", 1))
    workers: int = field(default_factory=lambda: env_int("BENCH_WORKERS", 1))
    businesses: int = field(default_factory=lambda: env_int("BENCH_BUSINESSES", 1000))
    products: int = field(default_factory=lambda: env_int("BENCH_PRODUCTS", 10000))
    sizes: list[int] = field(
        default_factory=lambda: [
            int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")
        ]
    )
    floor_size: int = field(default_factory=lambda: env_int("BENCH_FLOOR_SIZE", 100000))
    admin_dsn: str = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    database: str = os.environ.get("BENCH_DB", f"pp_bench_{os.getpid()}")
    keep_db: bool = os.environ.get("BENCH_KEEP_DB", "0") == "1"
    ops: list[str] = field(
        default_factory=lambda: [o for o in os.environ.get("BENCH_OPS", ",".join(OPS)).split(",")]
    )
    profile_dir: str | None = os.environ.get("BENCH_PROFILE") or None
    results: Path = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results.json"))
    scaling: bool = os.environ.get("BENCH_SCALING", "1") == "1"
    scaling_size: int = field(default_factory=lambda: env_int("BENCH_SCALING_SIZE", 100000))
    scaling_ops: list[str] = field(
        default_factory=lambda: os.environ.get("BENCH_SCALING_OPS", "add,get,list").split(",")
    )

    # The floor's connections per worker: the service's default pool, so both hold as many.
    pool_size: int = field(
        default_factory=lambda: Settings.model_fields["database_pool_size"].default
    )

    def dsn(self, database: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + database


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- tools ---------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian's package, installed if missing (root, or sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: installing Debian's wrk package")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not available; install it (apt-get install wrk)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- database ------------------------------------------------------------------------------


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def bench_database(cfg: Config) -> Iterator[str]:
    name = cfg.database
    asyncio.run(
        _admin(
            cfg.admin_dsn,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )
    try:
        yield cfg.dsn(name)
    finally:
        if cfg.keep_db:
            log(f"  kept database {name}")
        else:
            asyncio.run(_admin(cfg.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the process itself, or its worker children."""
        children = _children(self.proc.pid)
        workers = [pid for pid in children if b"multiprocessing" in _cmdline(pid)]
        return workers or [self.proc.pid]

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.worker_pids())

    def peak_rss_mb(self) -> float:
        return max(_peak_rss_kb(pid) for pid in self.worker_pids()) / 1024


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    result = []
    for child in (int(c) for c in text.split()):
        result.append(child)
        result.extend(_children(child))
    return result


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL server process on the machine (its backends serve the
    measured requests; on a quiet machine nothing else): cost per request in PostgreSQL."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _comm(entry) in ("postgres", "postmaster"):
            total += _cpu_seconds(int(entry.name))
    return total


def _comm(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return ""


def _peak_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def service_command(port: int, workers: int) -> list[str]:
    """The production entry point: uvicorn (uvloop + httptools, which uvicorn picks when
    installed, as here), our logging configuration, multiprocess metrics for N workers."""
    cli = str(Path(sys.executable).parent / "product-partners")
    return [cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def floor_command(port: int, workers: int, loop: str = "uvloop") -> list[str]:
    """The floor under stock uvicorn: uvloop, httptools."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.floor_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        loop,
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def without_events_command(port: int, workers: int) -> list[str]:
    """The service's own ``serve`` with the event write taken out of its add (in its one
    process: bench/without_events.py)."""
    cli = service_command(port, workers)
    return [sys.executable, "-m", "bench.without_events", *cli[1:]]


def tuned_floor_command(port: int, workers: int) -> list[str]:
    """The tuned floor also runs on the service's event loop (``serving.event_loop``: with
    one worker, every waiting connection is taken in one turn, kit/ops/loop.py)."""
    return floor_command(port, workers, loop=event_loop(workers))


@contextmanager
def uvicorn_server(
    name: str, command: Any, workers: int, env: dict[str, str], ready_path: str
) -> Iterator[Server]:
    port = free_port()
    # Output (the service's request log: written, as in production) goes to a file, not a
    # pipe nobody reads.
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            command(port, workers),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(name, f"http://127.0.0.1:{port}", proc)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    output.seek(0)
                    raise RuntimeError(f"{name} exited: {output.read().decode()[-3000:]}")
                try:
                    with urllib.request.urlopen(server.base + ready_path, timeout=2):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} did not start") from None
                    time.sleep(0.2)
            # Workers load lazily; give every worker time to come up before measuring.
            time.sleep(0.5 * workers)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- one operation -------------------------------------------------------------------------


@dataclass
class Op:
    """What wrk sends for one operation, on the service or on the floor."""

    name: str
    base: str
    url: str
    auth: str = ""
    add_path: str | None = None  # add mode: path template with %d for the product id

    def env(self, seeded: Seeded, businesses: int, offset: int, threads: int) -> dict[str, str]:
        env = {"BENCH_AUTH": self.auth, "BENCH_MODE": "get", "BENCH_THREADS": str(threads)}
        if self.add_path:
            env.update(
                BENCH_MODE="add",
                BENCH_ADD_PATH=self.add_path,
                BENCH_PRODUCTS=",".join(map(str, seeded.add_product_ids)),
                BENCH_PARTNER_FIRST="2",
                BENCH_PARTNER_COUNT=str(businesses - 1),
                BENCH_OFFSET=str(offset),
            )
        return env


class AddPairs:
    """Hands out (product, partner) pair indexes so that no two runs reuse a pair."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, used: int) -> None:
        self.next += used + 1000


def sanity_check(op: Op, seeded: Seeded, pairs: AddPairs) -> None:
    """One request by hand, so that a benchmark never measures a stream of errors."""
    headers = {"Accept": "application/json"}
    if op.auth:
        headers["Authorization"] = op.auth
    data = None
    url = op.url
    if op.add_path:
        partner = 2 + (pairs.next // len(seeded.add_product_ids)) % (seeded.businesses - 1)
        product = seeded.add_product_ids[pairs.next % len(seeded.add_product_ids)]
        url = op.base + op.add_path % product
        data = json.dumps({"partner_unique_id": f"biz-{partner:06d}"}).encode()
        headers["Content-Type"] = "application/json"
        pairs.take(0)
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{op.name} {url}: {exc.code} {exc.read()[:500]!r}") from None
    if op.name in ("list", "deep"):
        rows = body["data"]
        if len(rows) != 25:
            raise RuntimeError(f"{op.name} {url}: {len(rows)} rows, expected 25")


def run_wrk(
    wrk: str, cfg: Config, op: Op, seeded: Seeded, pairs: AddPairs, seconds: int
) -> dict[str, Any]:
    env = {**os.environ, **op.env(seeded, cfg.businesses, pairs.next, cfg.threads)}
    command = [
        wrk,
        f"-t{cfg.threads}",
        f"-c{cfg.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        op.url,
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    raw = json.loads(match.group(1))
    if op.add_path:
        pairs.take(raw["requests"] + cfg.connections)
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "p999_ms": round(raw["p999_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
    }


def measure(
    wrk: str, cfg: Config, server: Server, op: Op, seeded: Seeded, pairs: AddPairs, label: str
) -> dict[str, Any]:
    sanity_check(op, seeded, pairs)
    if cfg.warmup:
        run_wrk(wrk, cfg, op, seeded, pairs, cfg.warmup)
    profiler = _start_profiler(cfg, server, label)
    cpu_before, pg_before = server.cpu_seconds(), postgres_cpu_seconds()
    result = run_wrk(wrk, cfg, op, seeded, pairs, cfg.duration)
    cpu = server.cpu_seconds() - cpu_before
    pg_cpu = postgres_cpu_seconds() - pg_before
    if profiler is not None:
        profiler.wait(timeout=cfg.duration + 60)
    result["cpu_us_per_request"] = round(cpu / max(result["requests"], 1) * 1e6, 1)
    result["pg_cpu_us_per_request"] = round(pg_cpu / max(result["requests"], 1) * 1e6, 1)
    log(
        f"  {label:<24} {result['rps']:>9.1f} req/s  p50 {result['p50_ms']:>7.2f} ms"
        f"  p99 {result['p99_ms']:>7.2f} ms  p99.9 {result['p999_ms']:>7.2f} ms"
        f"  cpu {result['cpu_us_per_request']:>7.1f} us/req"
        f"  pg cpu {result['pg_cpu_us_per_request']:>7.1f} us/req"
        f"  non-2xx {result['non_2xx']}"
    )
    return result


def _start_profiler(cfg: Config, server: Server, label: str) -> subprocess.Popen | None:
    if not cfg.profile_dir or server.name != "service":
        return None
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("BENCH_PROFILE needs py-spy on PATH (pip install py-spy)")
    out = Path(cfg.profile_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    # Collapsed stacks of the first worker (flamegraph.pl / speedscope read them).
    command = [py_spy, "record", "--nonblocking", "-r", "250", "-d", str(cfg.duration)]
    command += ["-f", "raw", "-o", str(out / f"{name}.txt"), "--pid", str(server.worker_pids()[0])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- the operations of one size ------------------------------------------------------------


def service_ops(base: str, seeded: Seeded, has_get_one: str | None) -> dict[str, Op]:
    auth = f"Bearer {seeded.api_key}"
    hot = seeded.hot_product_id
    partners = f"{base}/v3/products/{hot}/partners"
    deep_cursor = encode_cursor(seeded.hot_partnership_ids[DEEP_ROW - 1])
    if has_get_one:
        get_url = base + has_get_one.format(hot, seeded.hot_partnership_ids[500])
    else:
        get_url = f"{partners}?page_size=1"
    return {
        "add": Op("add", base, partners, auth, add_path="/v3/products/%d/partners"),
        "get": Op("get", base, get_url, auth),
        "list": Op("list", base, partners, auth),
        "deep": Op("deep", base, f"{partners}?next_cursor={deep_cursor}", auth),
    }


def floor_ops(base: str, seeded: Seeded) -> dict[str, Op]:
    hot = seeded.hot_product_id
    partners = f"{base}/floor/products/{hot}/partners"
    return {
        "add": Op("add", base, partners, add_path="/floor/products/%d/partners"),
        EVENT_OP: Op(
            EVENT_OP,
            base,
            f"{base}/floor-events/products/{hot}/partners",
            add_path="/floor-events/products/%d/partners",
        ),
        "get": Op("get", base, f"{partners}/{seeded.hot_partnership_ids[500]}"),
        "list": Op("list", base, partners),
        "deep": Op("deep", base, f"{partners}?after={seeded.hot_partnership_ids[DEEP_ROW - 1]}"),
    }


def get_one_path(base: str) -> str | None:
    """The path template of a get-one-partnership endpoint, if the service has one."""
    with urllib.request.urlopen(base + "/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    for path, ops in spec.get("paths", {}).items():
        if re.fullmatch(r"/v3/products/\{[^}]+\}/partners/\{[^}]+\}", path) and "get" in ops:
            return re.sub(r"\{[^}]+\}", "{}", path)
    return None


def service_environment(database_url: str) -> dict[str, str]:
    """What the service runs with: its defaults (the pool included), plus rate limits far
    above the load (counting stays on, 429s do not) and any BENCH_SERVICE_ENV experiment."""
    env = {
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
        "RATE_LIMIT": "100000000/minute",
        "PARTNER_ADD_LIMIT": "100000000/minute",
    }
    # Experiments: BENCH_SERVICE_ENV="LOG_LEVEL=warning,RATE_LIMIT_ENABLED=false".
    for pair in filter(None, os.environ.get("BENCH_SERVICE_ENV", "").split(",")):
        key, _, value = pair.partition("=")
        env[key.strip()] = value.strip()
    return env


def run_size(wrk: str, cfg: Config, size: int) -> dict[str, Any]:
    log(f"\n== {size:,} partnerships ==")
    with bench_database(cfg) as dsn:
        started = time.monotonic()
        sa_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
        upgrade(sa_url)
        seeded = asyncio.run(seed(dsn, cfg.businesses, cfg.products, size))
        log(f"  seeded {seeded.partnerships:,} partnerships in {time.monotonic() - started:.1f} s")
        service_env = service_environment(sa_url)
        floor_env = {"FLOOR_DSN": dsn, "FLOOR_POOL_SIZE": str(cfg.pool_size)}
        floor_ready = f"/floor/products/{seeded.hot_product_id}/partners"
        # (name, command, environment, readiness path). At the floor size, the floor (asyncpg's
        # defaults, stock uvicorn) is the yardstick; the tuned floor shares the service's
        # connection handling and event loop, so service / tuned floor is what our layers cost
        # on their own.
        servers: list[tuple[str, Any, dict[str, str], str]] = [
            ("service", service_command, service_env, "/openapi.json")
        ]
        if "add" in cfg.ops and cfg.workers == 1:
            # One worker: uvicorn serves the app in the process that took the event write out.
            servers.append((WITHOUT_EVENTS, without_events_command, service_env, "/openapi.json"))
        if size == cfg.floor_size:
            servers.append(("floor", floor_command, floor_env, floor_ready))
            servers.append(
                ("tuned_floor", tuned_floor_command, {**floor_env, "FLOOR_TUNED": "1"}, floor_ready)
            )
        result: dict[str, Any] = {"partnerships": seeded.partnerships}
        pairs = AddPairs()
        with ExitStack() as stack:
            running = {
                name: stack.enter_context(uvicorn_server(name, command, cfg.workers, env, ready))
                for name, command, env, ready in servers
            }
            get_one = get_one_path(running["service"].base)
            result["get_endpoint"] = (
                get_one.replace("{}", "{id}", 1).replace("{}", "{id}") if get_one else None
            ) or "listProductPartners?page_size=1 (no get-one endpoint yet)"
            ops = {
                name: service_ops(server.base, seeded, get_one)
                if name in SERVICES
                else floor_ops(server.base, seeded)
                for name, server in running.items()
            }
            # Repeats interleave the servers (service, floor, tuned floor, service, ...): the
            # machine's speed drifts, and a ratio is only fair between neighbouring runs.
            samples: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in running}
            for op in cfg.ops:
                for repeat in range(cfg.repeats):
                    for name, server in running.items():
                        if name == WITHOUT_EVENTS and op != "add":
                            continue
                        # The floors' add also with its event (EVENT_OP): the event write's cost.
                        floor_add = op == "add" and name not in SERVICES
                        for one in (op, EVENT_OP) if floor_add else (op,):
                            label = f"{name} {one} {size} #{repeat + 1}"
                            sample = measure(wrk, cfg, server, ops[name][one], seeded, pairs, label)
                            samples[name].setdefault(one, []).append(sample)
            for name, server in running.items():
                result[name] = {op: combine(runs) for op, runs in samples[name].items()}
                result[f"{name}_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
        log(f"  peak RSS per worker: service {result['service_peak_rss_mb']} MB")
    return result


# --- the scaling figure --------------------------------------------------------------------

# The scaling runs' own clusters: room for every configuration's pools at once.
SCALING_PG = {"max_connections": "300", "shared_buffers": "'256MB'"}
REPLICA_OPS = ("get", "list", "deep")  # reads: what a replica can take


async def _caught_up(primary_dsn: str, standby_dsn: str) -> None:
    """Wait until the standby has replayed everything the primary has written."""
    primary, standby = await asyncpg.connect(primary_dsn), await asyncpg.connect(standby_dsn)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + 300
        while await standby.fetchval("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", target):
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not catch up")
            await asyncio.sleep(0.2)
    finally:
        await primary.close()
        await standby.close()


def run_scaling(wrk: str, cfg: Config) -> dict[str, Any]:
    """1 and 2 workers, on the primary alone and with a streaming replica (reads), on clusters
    of the bench's own; every configuration runs at once, measurements interleaved."""
    from tests.support.clusters import pg_cluster, standby_of

    size = cfg.scaling_size
    log(f"\n== scaling: {size:,} partnerships, own primary + streaming replica ==")
    with pg_cluster(**SCALING_PG) as primary:
        url = primary.migrated_database("pp_bench")
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        seeded = asyncio.run(seed(dsn, cfg.businesses, cfg.products, size))
        with standby_of(primary) as standby:
            replica_url = standby.url("pp_bench")
            asyncio.run(_caught_up(dsn, replica_url.replace("+asyncpg", "", 1)))
            redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
            configs: list[tuple[str, int, dict[str, str]]] = []
            for workers in (1, 2):
                for replicas in (False, True):
                    name = f"{'replica' if replicas else 'primary'} {workers}w"
                    # As in production with several processes: Redis for rate limits and
                    # positions (a prefix per configuration: one's writes are not another's).
                    env = {
                        **service_environment(url),
                        "REDIS_URL": redis_url,
                        "REDIS_KEY_PREFIX": f"pp-bench-{os.getpid()}-{name.replace(' ', '-')}",
                    }
                    if replicas:
                        env["DATABASE_REPLICA_URLS"] = replica_url
                    configs.append((name, workers, env))
            pairs = AddPairs()
            samples: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n, _, _ in configs}
            with ExitStack() as stack:
                running = {
                    name: stack.enter_context(
                        uvicorn_server("service", service_command, workers, env, "/openapi.json")
                    )
                    for name, workers, env in configs
                }
                ops = {
                    name: service_ops(server.base, seeded, get_one_path(server.base))
                    for name, server in running.items()
                }
                for op in cfg.scaling_ops:
                    for repeat in range(cfg.repeats):
                        for name, server in running.items():
                            if name.startswith("replica") and op not in REPLICA_OPS:
                                continue
                            label = f"{name} {op} {size} #{repeat + 1}"
                            sample = measure(wrk, cfg, server, ops[name][op], seeded, pairs, label)
                            samples[name].setdefault(op, []).append(sample)
    result: dict[str, Any] = {"partnerships": size, "configs": {}}
    for name, by_op in samples.items():
        result["configs"][name] = {op: combine(runs) for op, runs in by_op.items()}
    configs_result = result["configs"]
    factors: dict[str, Any] = {}
    for op in cfg.scaling_ops:
        one, two = configs_result["primary 1w"][op], configs_result["primary 2w"][op]
        factors[op] = {"workers_2_over_1": round(two["rps"] / one["rps"], 3)}
        if op in REPLICA_OPS:
            for workers in (1, 2):
                alone = configs_result[f"primary {workers}w"][op]
                both = configs_result[f"replica {workers}w"][op]
                factors[op][f"replica_over_primary_{workers}w"] = round(
                    both["rps"] / alone["rps"], 3
                )
            factors[op]["replica_2w_over_primary_1w"] = round(
                configs_result["replica 2w"][op]["rps"] / one["rps"], 3
            )
    result["factors"] = factors
    return result


def print_scaling(scaling: dict[str, Any]) -> None:
    print(f"\nscaling at {scaling['partnerships']:,} partnerships (own primary + replica)")
    print(f"{'configuration':<14}{'op':<6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}")
    for name, by_op in scaling["configs"].items():
        for op, r in by_op.items():
            print(
                f"{name:<14}{op:<6}{r['rps']:>10.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['p999_ms']:>10.2f}"
            )
    for op, f in scaling["factors"].items():
        parts = [f"2 workers / 1: x{f['workers_2_over_1']:.2f}"]
        if "replica_over_primary_1w" in f:
            parts.append(f"+replica / primary alone: 1w x{f['replica_over_primary_1w']:.2f}")
            parts.append(f"2w x{f['replica_over_primary_2w']:.2f}")
            parts.append(f"replica 2w / primary 1w: x{f['replica_2w_over_primary_1w']:.2f}")
        print(f"  {op:<6}" + ", ".join(parts))
    print(
        "  (2 cores shared by wrk, the workers, the primary and the replica: CPU, not the"
        " database, bounds these factors here; see bench/NOTES.md)"
    )


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the repeats (errors are summed); the repeats' requests/s
    and p99 are kept to show the spread."""
    combined: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if key in ("non_2xx", "socket_errors"):
            combined[key] = sum(values)
        else:
            combined[key] = statistics.median(values)
    combined["rps_runs"] = [r["rps"] for r in runs]
    combined["p99_ms_runs"] = [r["p99_ms"] for r in runs]
    combined["p999_ms_runs"] = [r["p999_ms"] for r in runs]
    return combined


# --- report --------------------------------------------------------------------------------


def same_sql(floor: dict[str, Any], name: str) -> dict[str, Any]:
    """A floor's measurement of operation ``name`` running the service's SQL: for add, its add
    with the event (EVENT_OP), as the service writes it, when measured; its
    add without them is the event write's baseline (``event_write_cost``)."""
    if name == "add" and EVENT_OP in floor:
        return floor[EVENT_OP]
    return floor[name]


def summarize(cfg: Config, runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    floor_run = runs.get(cfg.floor_size)
    if floor_run and "floor" in floor_run:
        vs_floor = {}
        for name in cfg.ops:
            s, f = floor_run["service"][name], same_sql(floor_run["floor"], name)
            vs_floor[name] = {
                "rps_ratio": round(s["rps"] / f["rps"], 3),
                "p50_ratio": round(s["p50_ms"] / f["p50_ms"], 3),
                "p99_ratio": round(s["p99_ms"] / f["p99_ms"], 3),
                "p999_ratio": round(s["p999_ms"] / f["p999_ms"], 3),
                "cpu_ratio": round(s["cpu_us_per_request"] / f["cpu_us_per_request"], 3),
            }
        summary["vs_floor"] = vs_floor
        summary["vs_tuned_floor"] = {
            name: {
                "rps_ratio": round(s["rps"] / t["rps"], 3),
                "p99_ratio": round(s["p99_ms"] / t["p99_ms"], 3),
                "cpu_ratio": round(s["cpu_us_per_request"] / t["cpu_us_per_request"], 3),
            }
            for name in cfg.ops
            if "tuned_floor" in floor_run
            for s, t in [(floor_run["service"][name], same_sql(floor_run["tuned_floor"], name))]
        }
        if EVENT_OP in floor_run["floor"] or WITHOUT_EVENTS in floor_run:
            summary["event_write"] = event_write_cost(floor_run)
        summary["floor_targets_met"] = all(
            v["rps_ratio"] >= TARGET_RATIO and v["p99_ratio"] <= TARGET_P99
            for v in vs_floor.values()
        )
    sizes = sorted(runs)
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        growth = {}
        for name in cfg.ops:
            a, b = runs[small]["service"][name], runs[large]["service"][name]
            growth[name] = {
                "small_p50_ms": a["p50_ms"],
                "large_p50_ms": b["p50_ms"],
                "p50_ratio": round(b["p50_ms"] / a["p50_ms"], 3),
                "mean_ratio": round(b["mean_ms"] / a["mean_ms"], 3),
                # Less sensitive to other load on the machine than latency.
                "cpu_ratio": round(b["cpu_us_per_request"] / a["cpu_us_per_request"], 3),
            }
        summary["growth"] = {"small": small, "large": large, "ops": growth}
        summary["growth_targets_met"] = all(
            g["p50_ratio"] <= TARGET_GROWTH for g in growth.values()
        )
    return summary


def event_write_cost(floor_run: dict[str, Any]) -> dict[str, Any]:
    """The event write's cost to add (issue 13: at most 15% of its throughput), 1 - with /
    without: for the service, its add-partner with the event write taken out
    (bench/without_events.py) and as it is; for each floor, its add without and with the event
    (the floor reads no API key, so there the event's dry run is a round trip of its own),
    and the service's add over the floor's add with the event (both do the same work)."""
    service = floor_run["service"]["add"]["rps"]

    def row(without: float, with_: float) -> dict[str, Any]:
        return {"without_rps": without, "with_rps": with_, "cost": round(1 - with_ / without, 3)}

    cost: dict[str, Any] = {}
    if WITHOUT_EVENTS in floor_run:
        cost["service"] = row(floor_run[WITHOUT_EVENTS]["add"]["rps"], service)
    for name in ("floor", "tuned_floor"):
        if EVENT_OP in floor_run.get(name, {}):
            with_ = floor_run[name][EVENT_OP]["rps"]
            cost[name] = row(floor_run[name]["add"]["rps"], with_)
            cost[name]["service_over_with"] = round(service / with_, 3)
    return cost


def print_event_write(summary: dict[str, Any]) -> None:
    print("\nthe event write's cost to add (product_partner.created)")
    print(f"{'':<13}{'add req/s':>11}{'+ event':>10}{'cost':>7}{'service / with event':>22}")
    for name, c in summary.get("event_write", {}).items():
        over = c.get("service_over_with")  # none for the service's own row
        print(
            f"{name:<13}{c['without_rps']:>11.1f}{c['with_rps']:>10.1f}{c['cost']:>7.1%}"
            f"{'-' if over is None else f'{over:.2f}':>22}"
        )
    service = summary.get("event_write", {}).get("service")
    if service:
        met = "met" if service["cost"] <= TARGET_EVENT_COST else "NOT met"
        print(f"target (event write <= {TARGET_EVENT_COST:.0%} of add-partner's throughput): {met}")


def print_report(cfg: Config, runs: dict[int, dict[str, Any]], summary: dict[str, Any]) -> None:
    print(f"\nservice vs floor, {cfg.workers} worker(s), {cfg.connections} connections")
    floor_run = runs.get(cfg.floor_size)
    if floor_run and "floor" in floor_run:
        print(f"at {cfg.floor_size:,} partnerships; get = {floor_run['get_endpoint']}")
        header = (
            f"{'op':<6}{'service req/s':>14}{'floor req/s':>13}{'ratio':>7}"
            f"{'p50 ms':>9}{'floor':>8}{'x':>6}{'p99 ms':>9}{'floor':>8}{'x':>6}"
            f"{'p99.9 ms':>10}{'floor':>8}{'x':>6}{'cpu us':>8}{'floor cpu':>10}"
        )
        print(header)
        for name in cfg.ops:
            s, f = floor_run["service"][name], same_sql(floor_run["floor"], name)
            v = summary["vs_floor"][name]
            latencies = "".join(
                f"{s[key]:>{width}.2f}{f[key]:>8.2f}{v[ratio]:>6.2f}"
                for key, ratio, width in (
                    ("p50_ms", "p50_ratio", 9),
                    ("p99_ms", "p99_ratio", 9),
                    ("p999_ms", "p999_ratio", 10),
                )
            )
            print(
                f"{name:<6}{s['rps']:>14.1f}{f['rps']:>13.1f}{v['rps_ratio']:>7.2f}{latencies}"
                f"{s['cpu_us_per_request']:>8.0f}{f['cpu_us_per_request']:>10.0f}"
            )
        print(
            f"peak RSS per worker: service {floor_run['service_peak_rss_mb']} MB,"
            f" floor {floor_run['floor_peak_rss_mb']} MB"
        )
        if EVENT_OP in floor_run["floor"]:
            print("(add: the floor's add with its event, the service's SQL)")
        met = "met" if summary["floor_targets_met"] else "NOT met"
        print(f"targets (ratio >= {TARGET_RATIO}, p99 <= {TARGET_P99}x floor): {met}")
        if summary.get("event_write"):
            print_event_write(summary)
        if summary.get("vs_tuned_floor"):
            print("\nservice vs tuned floor (the floor on the service's connection handling)")
            columns = ("tuned req/s", 14), ("ratio", 7), ("tuned p99", 10), ("p99 x", 7)
            print(f"{'op':<6}" + "".join(f"{c:>{w}}" for c, w in columns) + f"{'cpu us':>8}")
            for name in cfg.ops:
                t = same_sql(floor_run["tuned_floor"], name)
                v = summary["vs_tuned_floor"][name]
                print(
                    f"{name:<6}{t['rps']:>14.1f}{v['rps_ratio']:>7.2f}{t['p99_ms']:>10.2f}"
                    f"{v['p99_ratio']:>7.2f}{t['cpu_us_per_request']:>8.0f}"
                )
    if "growth" in summary:
        g = summary["growth"]
        print(f"\ncost growth: p50 latency at {g['large']:,} vs {g['small']:,} partnerships")
        for name, v in g["ops"].items():
            print(
                f"{name:<6}{v['small_p50_ms']:>9.2f} ms ->{v['large_p50_ms']:>9.2f} ms"
                f"  x{v['p50_ratio']:.2f}   (cpu per request x{v['cpu_ratio']:.2f})"
            )
        met = "met" if summary["growth_targets_met"] else "NOT met"
        print(f"target (each <= {TARGET_GROWTH}x): {met}")
        for size in sorted(runs):
            line = "  ".join(f"{n} {runs[size]['service'][n]['rps']:.0f}/s" for n in cfg.ops)
            print(f"  {size:>9,}: {line}")


def main() -> int:
    cfg = Config()
    unknown = (set(cfg.ops) | set(cfg.scaling_ops if cfg.scaling else ())) - set(OPS)
    if unknown:
        raise SystemExit(f"unknown BENCH_OPS: {sorted(unknown)}")
    wrk = ensure_wrk()
    runs: dict[int, dict[str, Any]] = {}
    for size in sorted(set(cfg.sizes) | ({cfg.floor_size} if cfg.floor_size else set())):
        runs[size] = run_size(wrk, cfg, size)
    summary = summarize(cfg, runs)
    if cfg.scaling:
        summary["scaling"] = run_scaling(wrk, cfg)
    print_report(cfg, runs, summary)
    if cfg.scaling:
        print_scaling(summary["scaling"])
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {
            "duration_s": cfg.duration,
            "repeats": cfg.repeats,
            "warmup_s": cfg.warmup,
            "connections": cfg.connections,
            "wrk_threads": cfg.threads,
            "workers": cfg.workers,
            "businesses": cfg.businesses,
            "products": cfg.products,
            "floor_size": cfg.floor_size,
            "service": "product-partners serve (uvicorn, uvloop + httptools), LOG_LEVEL=info",
            "floor": "uvicorn --loop uvloop --http httptools bench.floor_app:app",
        },
        "runs": {str(size): run for size, run in sorted(runs.items())},
        "summary": summary,
    }
    cfg.results.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten: {cfg.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
