"""Concurrent identical adds produce exactly one partnership: one 200, the rest 409."""

import asyncio

import httpx
import pytest

from product_partners.db.tables import product_partners
from tests.support.api import count_rows
from tests.support.servers import serve

ATTEMPTS = 24


async def count_partnerships(engine, product_id: int) -> int:
    return await count_rows(engine, product_partners.c.product_id, product_id)


async def test_simultaneous_identical_adds_in_process(api):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)

    responses = await asyncio.gather(
        *(api.add_partner(owner, product["id"], partner.unique_id) for _ in range(ATTEMPTS))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (ATTEMPTS - 1), [
        r.text for r in responses if r.status_code not in (200, 409)
    ]
    assert await count_partnerships(api.engine, product["id"]) == 1


@pytest.mark.postgres_only
async def test_simultaneous_identical_adds_across_worker_processes(api, database_url):
    """Several worker processes on one PostgreSQL database (SQLite is the single-node default)."""
    owner = await api.actor()
    partners = [await api.actor() for _ in range(3)]
    product = await api.product(owner)

    with serve(database_url, workers=3) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            # Several distinct partners, each added many times at once over fresh connections.
            async def add(uid: str) -> int:
                r = await client.post(
                    f"/v3/products/{product['id']}/partners",
                    json={"partner_unique_id": uid},
                    headers=owner.headers,
                )
                return r.status_code

            results = await asyncio.gather(
                *(add(p.unique_id) for p in partners for _ in range(ATTEMPTS))
            )

    assert sorted(results).count(200) == len(partners)
    assert sorted(results).count(409) == len(partners) * (ATTEMPTS - 1)
    assert await count_partnerships(api.engine, product["id"]) == len(partners)
