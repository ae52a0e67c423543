"""The dashboard's review queue on PostgreSQL with many partnerships: server time per page.

    .venv/bin/python -m bench.dashboard                      # 1,000,000 partnerships
    .venv/bin/python -m bench.dashboard --partnerships 5000  # a quick look

Seeds its own database (``pp_bench_dash_<pid>``, dropped afterwards unless ``--keep``) with SQL:
one owner whose product carries every partnership (the worst case for its queue: 10% pending,
the first 999 partners real businesses that asked to join, the rest named by unique id), signs
a dashboard user in, then requests each page in-process (httpx over ASGI: the whole app, its
middleware, the services, the SQL and the template, without a network) and prints the server
time per page (median and 95th percentile, ms) as JSON. The target: the queue's first page
(25 rows) under 50 ms at 1,000,000 partnerships. Prints figures; asserts nothing.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from product_partners.app import create_app
from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade
from product_partners.kit.pagination import encode_cursor
from product_partners.settings import Settings
from product_partners.users.service import create_user, sign_in

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password 1"


async def seed(dsn: str, n: int) -> None:
    """One owner (biz-000001) whose product 1 carries ``n`` partnerships (see the module)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"""
            INSERT INTO businesses (id, unique_id, username, account_holder, email)
            SELECT i, 'biz-' || lpad(i::text, 6, '0'), 'user' || i, 'Business ' || i || ' Ltd',
                   'owner' || i || '@example.com'
            FROM generate_series(1, 1000) i;
            SELECT setval(pg_get_serial_sequence('businesses', 'id'), 1000);
            INSERT INTO products (id, business_id, name, slug, is_affiliate_enabled,
                                  affiliate_commission_rate)
            VALUES (1, 1, 'Bench product', 'bench-product', true, 10.00);
            SELECT setval(pg_get_serial_sequence('products', 'id'), 1);
            INSERT INTO partner_consents (owner_business_id, partner_business_id)
            SELECT 1, i FROM generate_series(2, 1000) i;
            INSERT INTO product_partners (product_id, partner_business_id, partner_unique_id,
                partnership_type, affiliate_status, message_to_product_owner, requested_at,
                approved_at, created_at, updated_at)
            SELECT 1,
                   CASE WHEN i <= 999 THEN i + 1 END,
                   CASE WHEN i <= 999 THEN 'biz-' || lpad((i + 1)::text, 6, '0')
                        ELSE 'named-' || i END,
                   'affiliate',
                   CASE WHEN i % 10 = 1 THEN 'pending' ELSE 'approved' END,
                   CASE WHEN i % 10 = 1 THEN 'Request number ' || i END,
                   ts, CASE WHEN i % 10 <> 1 THEN ts END, ts, ts
            FROM (SELECT i, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second' AS ts
                  FROM generate_series(1, {n}) i) g;
            """
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _timed(client: httpx.AsyncClient, path: str, rounds: int) -> dict[str, Any]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "rounds": rounds,
    }


async def run(n: int, rounds: int, keep: bool) -> dict[str, Any]:
    name = f"pp_bench_dash_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = ADMIN_DSN.rpartition("/")
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        seed_started = time.perf_counter()
        await seed(f"{base}/{name}", n)
        seed_seconds = time.perf_counter() - seed_started
        settings = Settings(database_url=url, rate_limit_enabled=False, log_level="warning")
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                await create_user(conn, "biz-000001", "owner@bench.example", PASSWORD)
                _, token = await sign_in(conn, "owner@bench.example", PASSWORD)
                # A cursor 500 pending rows down (fewer on a small table).
                deep_id = await conn.scalar(
                    text(
                        "SELECT id FROM product_partners WHERE product_id = 1"
                        " AND affiliate_status = 'pending' ORDER BY id DESC"
                        f" OFFSET {min(500, n // 10 - 26)} LIMIT 1"
                    )
                )
            app = create_app(settings, engine=engine)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1", cookies={"pp_session": token}
            ) as client:
                pages = {
                    "queue (pending, first 25)": "/dashboard/products/1",
                    "queue (pending, deeper page)": "/dashboard/products/1?status=pending"
                    f"&next_cursor={encode_cursor(deep_id)}",
                    "queue (all statuses)": "/dashboard/products/1?status=all",
                    "products": "/dashboard/products",
                    "partnership": "/dashboard/products/1/partners/1",
                }
                await _timed(client, pages["queue (pending, first 25)"], 20)  # warm-up
                figures = {page: await _timed(client, path, rounds) for page, path in pages.items()}
        finally:
            await engine.dispose()
    finally:
        if not keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {"partnerships": n, "seed_seconds": round(seed_seconds, 1), "pages": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partnerships", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.partnerships, args.rounds, args.keep)), indent=2))


if __name__ == "__main__":
    main()
