"""The webhook delivery rate (issue 13: at least 500 events/s to a local receiver).

``make bench`` runs ``python -m bench.delivery``. It creates its own PostgreSQL database
(``pp_bench_delivery_<pid>``, dropped at the end), migrates it, and writes ``BENCH_EVENTS``
events of one business, which has one webhook endpoint (subscribed to every type), in bulk
with SQL; the worker queues their deliveries itself (webhooks/fanout.py), as it does for
every logged event. The endpoint's URL is a local receiver: a
minimal HTTP/1.1 server (asyncio on uvloop, keep-alive) in a process of its own, which answers
200 at once and keeps what it received. Then it starts the real worker (``product-partners
worker``, on its defaults; only plain http to the loopback receiver is allowed) and times how
long it takes until every event's delivery is ``delivered``.

It prints events/s (from the worker's start, and over the span between the first attempt and
the last delivery, which leaves the process's start-up out) and checks, failing otherwise:
every delivery ``delivered`` with exactly one attempt in storage, every event received exactly
once by the receiver, and a sample of signatures verified with the ``standardwebhooks``
package and the endpoint's secret.

Environment: BENCH_EVENTS [20000], BENCH_PG_DSN [postgresql://postgres@127.0.0.1:5432/postgres],
BENCH_DELIVERY_SAMPLE [200] signatures verified, BENCH_DELIVERY_TIMEOUT [600] seconds,
BENCH_DELIVERY_SERVICE_ENV extra worker settings ("A=1,B=2": experiments only),
BENCH_WORKER_COMMAND another command than ``product-partners worker`` (profiling).
"""

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from product_partners.db.migrate import upgrade
from product_partners.webhooks.signing import new_secret

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 500  # events/s, at least
OWNER = 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the receiver (a process of its own) ----------------------------------------------------


class Receiver(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: POST anything -> 200 (kept), GET /stats -> what was kept."""

    received: list[tuple[bytes, bytes, bytes, bytes]] = []  # id, timestamp, signature, body

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            if head[0].startswith(b"GET /stats"):
                self._answer(self._stats())
                continue
            self.received.append(
                (
                    headers.get(b"webhook-id", b""),
                    headers.get(b"webhook-timestamp", b""),
                    headers.get(b"webhook-signature", b""),
                    body,
                )
            )
            self._answer(b"")

    def _answer(self, body: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: application/json\r\n\r\n%s"
            % (len(body), body)
        )

    def _stats(self) -> bytes:
        sample_size = int(os.environ.get("BENCH_DELIVERY_SAMPLE", "200"))
        ids = [r[0] for r in self.received]
        sample = random.sample(self.received, min(sample_size, len(self.received)))
        return orjson.dumps(
            {
                "received": len(ids),
                "distinct": len(set(ids)),
                "ids": [i.decode() for i in ids],
                "sample": [
                    {
                        "webhook-id": i.decode(),
                        "webhook-timestamp": t.decode(),
                        "webhook-signature": s.decode(),
                        "body": b.decode(),
                    }
                    for i, t, s, b in sample
                ],
            }
        )


def receive(port: int) -> None:
    import uvloop

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- the run --------------------------------------------------------------------------------


async def _seed(dsn: str, events: int, url: str, secret: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO businesses (id, unique_id, username, account_holder, email)"
            " VALUES ($1, 'bench-owner', 'bench-owner', 'Bench Owner', 'owner@example.com')",
            OWNER,
        )
        await conn.execute(
            "INSERT INTO webhook_endpoints (business_id, url, event_types, secret)"
            " VALUES ($1, $2, '*', $3)",
            OWNER,
            url,
            secret,
        )
        # A product partner's body, as product_partner.created events carry (~1 KB).
        body = {
            "id": 1,
            "partner": {"unique_id": "biz-000002"},
            "partnership_type": "affiliate",
            "affiliate_status": "approved",
            "message_to_product_owner": None,
            "requested_at": None,
            "approved_at": "2026-12-07T00:00:00Z",
            "rejected_at": None,
            "created_at": "2026-12-07T00:00:00Z",
            "store_id": None,
            "custom_domains": [{"id": 1, "business_id": 1, "full_url": "shop.example.com"}],
            "affiliate_pro_domains": [],
            "affiliate_pro_links": [],
            "product_id": 2,
            "banned_at": None,
            "updated_at": "2026-12-07T00:00:00Z",
            "rejection_reason": None,
            "ban_reason": None,
            "ban_note": None,
            "version": 1,
            "product_owner": {
                "id": 1,
                "unique_id": "bench-owner",
                "username": "bench-owner",
                "account_holder": "Bench Owner",
                "email": "owner@example.com",
                "logo": None,
            },
            "partner_consented_at": None,
            "affiliate_pro_consented_at": None,
        }
        await conn.execute(
            """
            INSERT INTO events (public_id, type, occurred_at, actor_type, actor_business_id,
                                resource_type, resource_id, product_id, to_status, data,
                                owner_business_id)
            SELECT 'evt_' || lpad(upper(to_hex(i)), 26, '0'), 'product_partner.created',
                   now(), 'business', $1, 'product_partner', i, 2, 'approved',
                   replace($2, '"id":1,', '"id":' || i || ','), $1
            FROM generate_series(1, $3) i
            """,
            OWNER,
            json.dumps(body, separators=(",", ":")),
            events,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _progress(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) FILTER (WHERE status = 'scheduled') AS scheduled,
                   count(*) FILTER (WHERE status = 'delivered') AS delivered,
                   count(*) AS total,
                   (SELECT count(*) FROM webhook_attempts) AS attempts,
                   (SELECT count(DISTINCT delivery_id) FROM webhook_attempts) AS attempted,
                   (SELECT min(attempted_at) FROM webhook_attempts) AS first_attempt,
                   max(delivered_at) AS last_delivered
            FROM webhook_deliveries
            """
        )
        return dict(row)
    finally:
        await conn.close()


async def _analyse(dsn: str) -> None:
    """ANALYZE the outbox once the worker has queued every delivery, as autovacuum (on by
    default) would: the bench machines' server runs without it, and the claim's plan made on
    the statistics of an empty outbox halves the rate (545 against 956 events/s, measured).
    (Before the fan-out, the seed wrote the outbox itself, then analysed it.)"""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE webhook_deliveries")
    finally:
        await conn.close()


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=60) as response:
        return dict(orjson.loads(response.read()))


def _verify(sample: list[dict[str, str]], secret: str) -> int:
    """Verify each sampled delivery's signature with the standardwebhooks package."""
    from standardwebhooks.webhooks import Webhook

    verifier = Webhook(secret)
    for item in sample:
        headers = {k: item[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        verifier.verify(item["body"], headers)  # raises WebhookVerificationError
        if orjson.loads(item["body"])["id"] != item["webhook-id"]:
            raise AssertionError(f"the body of {item['webhook-id']} is another event's")
    return len(sample)


def worker_environment(url: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": url,
        # The receiver is on this machine: plain http to the loopback interface (refused by
        # default on PostgreSQL; the worker's delivery settings are otherwise its defaults).
        "WEBHOOK_LOOPBACK_HTTP": "true",
    }
    for pair in filter(None, os.environ.get("BENCH_DELIVERY_SERVICE_ENV", "").split(",")):
        key, _, value = pair.partition("=")
        env[key.strip()] = value.strip()
    return env


def run() -> dict[str, Any]:
    events = int(os.environ.get("BENCH_EVENTS", "20000"))
    timeout = float(os.environ.get("BENCH_DELIVERY_TIMEOUT", "600"))
    admin = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"pp_bench_delivery_{os.getpid()}"
    dsn = admin.rsplit("/", 1)[0] + "/" + name
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.delivery", "receive", str(port)], cwd=ROOT
    )
    worker = None
    try:
        upgrade(url)
        secret = new_secret()
        asyncio.run(_seed(dsn, events, f"http://127.0.0.1:{port}/hook", secret))
        log(f"== delivery: {events:,} events, one endpoint, receiver on port {port} ==")
        cli = [str(Path(sys.executable).parent / "product-partners"), "worker"]
        if os.environ.get("BENCH_WORKER_COMMAND"):  # e.g. the worker under a profiler
            cli = os.environ["BENCH_WORKER_COMMAND"].split()
        with tempfile.TemporaryFile() as output:
            started = time.monotonic()
            analysed = False
            worker = subprocess.Popen(
                cli,
                cwd=ROOT,
                env={**os.environ, **worker_environment(url)},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            while True:
                time.sleep(0.2)
                progress = asyncio.run(_progress(dsn))
                if progress["total"] >= events and not analysed:  # see _analyse
                    asyncio.run(_analyse(dsn))
                    analysed = True
                if progress["delivered"] >= events:
                    break
                if worker.poll() is not None or time.monotonic() - started > timeout:
                    output.seek(0)
                    raise RuntimeError(
                        f"the worker did not finish: {progress} {output.read()[-3000:]!r}"
                    )
            elapsed = time.monotonic() - started
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        stats = _stats(port)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        receiver.terminate()
        receiver.wait(timeout=10)
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    span = (progress["last_delivered"] - progress["first_attempt"]).total_seconds()
    ids = stats.pop("ids")
    problems = []
    if progress["delivered"] != events or progress["total"] != events:
        problems.append(f"{progress['delivered']} of {events} deliveries delivered")
    if progress["attempts"] != events or progress["attempted"] != events:
        problems.append(f"{progress['attempts']} attempts stored for {events} deliveries")
    if stats["received"] != events or stats["distinct"] != events or len(set(ids)) != events:
        problems.append(f"received {stats['received']} ({stats['distinct']} distinct)")
    verified = _verify(stats.pop("sample"), secret)
    result = {
        "events": events,
        "seconds_from_start": round(elapsed, 2),
        "seconds_first_attempt_to_last_delivery": round(span, 2),
        "events_per_second_from_start": round(events / elapsed, 1),
        "events_per_second": round(events / span, 1) if span > 0 else None,
        "received": stats["received"],
        "received_distinct": stats["distinct"],
        "attempts_stored": progress["attempts"],
        "signatures_verified": verified,
        "problems": problems,
    }
    return result


def main() -> int:
    if sys.argv[1:2] == ["receive"]:
        receive(int(sys.argv[2]))
        return 0
    result = run()
    print(f"\nwebhook delivery: {result['events']:,} events to a local receiver, one worker")
    print(
        f"  {result['events_per_second']} events/s between the first attempt and the last"
        f" delivery ({result['seconds_first_attempt_to_last_delivery']} s);"
        f" {result['events_per_second_from_start']} events/s from the worker's start"
        f" ({result['seconds_from_start']} s)"
    )
    print(
        f"  received {result['received']:,} ({result['received_distinct']:,} distinct),"
        f" {result['attempts_stored']:,} attempts stored,"
        f" {result['signatures_verified']} signatures verified with standardwebhooks"
    )
    rate = result["events_per_second"] or 0
    met = "met" if rate >= TARGET_RATE and not result["problems"] else "NOT met"
    print(f"  target (>= {TARGET_RATE} events/s, each event exactly once): {met}")
    for problem in result["problems"]:
        print(f"  PROBLEM: {problem}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
