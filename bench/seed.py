"""Bulk seeding of the benchmark database with SQL (generate_series), never through the API.

The shape, for ``businesses`` B, ``products`` P and ``partnerships`` N:

- businesses ``biz-000001`` .. ``biz-B``, each with one verified custom domain and one store;
  every business has an API key, business 1 (the benchmark's owner) one whose secret we know;
- product 1 (the *hot* product, business 1's) has every other business as partner, its rows
  spread evenly over the whole id range (so they sit among the rest of the table, not in one
  block); it is what list, get and the deep page read at every size;
- products 2 .. ADD_PRODUCTS+1 belong to business 1 and start with no partners: add-partner
  fills them with distinct (product, partner) pairs;
- the other products belong to businesses 2..B round-robin and share the remaining
  partnerships; 10% are affiliate_pro (routed to the partner's store, with a partner domain),
  10% pending, the rest approved affiliates.
"""

from dataclasses import dataclass

import asyncpg

from product_partners.auth.keys import generate_key
from product_partners.auth.scopes import ALL_SCOPES

ADD_PRODUCTS = 500
HOT_PRODUCT_ID = 1


@dataclass(frozen=True)
class Seeded:
    api_key: str
    businesses: int
    products: int
    partnerships: int
    hot_product_id: int
    add_product_ids: list[int]
    hot_partnership_ids: list[int]  # newest first, as the list returns them


async def seed(dsn: str, businesses: int, products: int, partnerships: int) -> Seeded:
    b, p, n, a = businesses, products, partnerships, ADD_PRODUCTS
    general = p - a - 1  # products that share the bulk of the partnerships
    if general < 1 or b < 3:
        raise ValueError("need more products and businesses")
    if n > general * (b - 1):
        raise ValueError(f"{n} partnerships do not fit {general} products x {b - 1} partners")
    # Every stride-th row goes to the hot product, until it has all other businesses.
    stride = max(1, n // (b - 1))
    key = generate_key()
    scopes = " ".join(ALL_SCOPES)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                f"""
                INSERT INTO businesses (id, unique_id, username, account_holder, email, logo)
                SELECT i, 'biz-' || lpad(i::text, 6, '0'), 'user' || i,
                       'Business ' || i || ' Ltd', 'owner' || i || '@example.com',
                       CASE WHEN i % 5 = 0 THEN 'https://cdn.example.com/' || i || '.png' END
                FROM generate_series(1, {b}) i;

                INSERT INTO custom_domains (id, business_id, full_url, is_verified)
                SELECT i, i, 'shop-' || i || '.example.com', true FROM generate_series(1, {b}) i;

                INSERT INTO stores (id, business_id, unique_id, name, custom_domain_id)
                SELECT i, i, 'store-' || lpad(i::text, 6, '0'), 'Store ' || i, i
                FROM generate_series(1, {b}) i;

                INSERT INTO api_keys (business_id, name, prefix, key_hash, scopes)
                SELECT i, 'seed', substr(md5('prefix' || i), 1, 12),
                       md5('hash' || i) || md5('more' || i), '{scopes}'
                FROM generate_series(2, {b}) i;

                INSERT INTO products (id, business_id, name, slug, is_affiliate_enabled,
                                      affiliate_commission_rate)
                SELECT i, CASE WHEN i <= {a + 1} THEN 1 ELSE 2 + (i % {b - 1}) END,
                       'Product ' || i, 'product-' || i, true, 10.00
                FROM generate_series(1, {p}) i;

                INSERT INTO product_partners (product_id, partner_business_id, partner_unique_id,
                    partnership_type, affiliate_status, requested_at, approved_at, created_at,
                    updated_at, store_id)
                SELECT s.product_id, s.partner, 'biz-' || lpad(s.partner::text, 6, '0'),
                       CASE WHEN s.i % 10 = 0 THEN 'affiliate_pro' ELSE 'affiliate' END,
                       CASE WHEN s.i % 10 = 1 THEN 'pending' ELSE 'approved' END,
                       CASE WHEN s.i % 10 = 1 THEN s.ts END,
                       CASE WHEN s.i % 10 <> 1 THEN s.ts END,
                       s.ts, s.ts,
                       CASE WHEN s.i % 10 = 0 THEN s.partner END
                FROM (
                    SELECT g.i, g.hot,
                           CASE WHEN g.hot THEN {HOT_PRODUCT_ID}
                                ELSE {a + 2} + (g.i % {general}) END AS product_id,
                           CASE WHEN g.hot THEN 2 + g.i / {stride}
                                -- owner of product q is 2 + q % (B-1); partners follow it
                                ELSE ((2 + (({a + 2} + g.i % {general}) % {b - 1}))
                                      + g.i / {general}) % {b} + 1 END AS partner,
                           timestamptz '2025-01-01 00:00:00+00' + g.i * interval '1 second' AS ts
                    FROM (SELECT i, (i % {stride} = 0 AND i / {stride} < {b - 1}) AS hot
                          FROM generate_series(0, {n - 1}) i) g
                ) s
                ORDER BY s.i;

                INSERT INTO partnership_domains (partnership_id, custom_domain_id)
                SELECT id, partner_business_id FROM product_partners
                WHERE partnership_type = 'affiliate_pro';
                """
            )
            await conn.execute(
                "INSERT INTO api_keys (business_id, name, prefix, key_hash, scopes)"
                " VALUES (1, 'bench', $1, $2, $3)",
                key.prefix,
                key.key_hash,
                scopes,
            )
            # The bench owner has one webhook endpoint subscribed to every event type, as an
            # owner using webhooks (each add's event waits for the worker, which queues its
            # delivery from the log: webhooks/fanout.py; no worker runs during the bench).
            await conn.execute(
                "INSERT INTO webhook_endpoints (business_id, url, event_types, secret)"
                " VALUES (1, 'https://hooks.example.com/bench', '*', $1)",
                "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            )
            for table in ("businesses", "custom_domains", "stores", "products"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
        await conn.execute("VACUUM ANALYZE")
        # Write the bulk load out now, not during the first measurements.
        await conn.execute("CHECKPOINT")
        total = await conn.fetchval("SELECT count(*) FROM product_partners")
        hot = await conn.fetch(
            "SELECT id FROM product_partners WHERE product_id = $1 ORDER BY id DESC",
            HOT_PRODUCT_ID,
        )
    finally:
        await conn.close()
    return Seeded(
        api_key=key.key,
        businesses=b,
        products=p,
        partnerships=total,
        hot_product_id=HOT_PRODUCT_ID,
        add_product_ids=list(range(2, a + 2)),
        hot_partnership_ids=[r["id"] for r in hot],
    )
