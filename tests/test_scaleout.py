"""Scale-out: two separate ``serve`` processes that share only PostgreSQL and Redis give one
consistent view (partnerships, rate limits), as two app machines behind a load balancer would."""

import asyncio
import random
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.support.servers import serve

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

ATTEMPTS = 24
REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 100  # requests per key per day, counted once for both processes


@pytest.fixture(scope="module")
def two_servers(database_url: str) -> Iterator[tuple[str, str]]:
    """Two ``serve`` processes on their own ports; they share the database and Redis only."""
    prefix = f"pp-scaleout-{uuid.uuid4().hex[:12]}"
    env = {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix, "RATE_LIMIT": f"{LIMIT}/day"}
    try:
        with serve(database_url, **env) as a, serve(database_url, **env) as b:
            assert a != b
            yield a, b
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


async def test_partnership_added_through_one_process_is_read_through_the_other(api, two_servers):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(2)]
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"

    a, b = two_servers
    async with (
        httpx.AsyncClient(base_url=a, timeout=30) as via_a,
        httpx.AsyncClient(base_url=b, timeout=30) as via_b,
    ):
        added = await via_a.post(
            path, json={"partner_unique_id": partners[0].unique_id}, headers=owner.headers
        )
        assert added.status_code == 200, added.text
        listed = await via_b.get(path, headers=owner.headers)
        assert listed.status_code == 200, listed.text
        assert [p["id"] for p in listed.json()["data"]] == [added.json()["id"]]

        # And back: added through B, seen through A, newest first; a repeat through A is 409.
        second = await via_b.post(
            path, json={"partner_unique_id": partners[1].unique_id}, headers=owner.headers
        )
        assert second.status_code == 200, second.text
        listed = await via_a.get(path, headers=owner.headers)
        assert [p["partner"]["unique_id"] for p in listed.json()["data"]] == [
            partners[1].unique_id,
            partners[0].unique_id,
        ]
        again = await via_a.post(
            path, json={"partner_unique_id": partners[1].unique_id}, headers=owner.headers
        )
        assert again.status_code == 409, again.text
        assert again.json()["error_code"] == "partner_already_exists"


async def test_concurrent_identical_adds_across_two_processes_yield_one_200(api, two_servers):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(3)]
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"

    clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in two_servers]
    try:

        async def add(i: int, uid: str) -> int:
            # Alternate between the processes, in a shuffled order of arrival.
            await asyncio.sleep(random.random() / 100)
            response = await clients[i % 2].post(
                path, json={"partner_unique_id": uid}, headers=owner.headers
            )
            return response.status_code

        statuses = await asyncio.gather(
            *(add(i, p.unique_id) for p in partners for i in range(ATTEMPTS))
        )
        listed = await clients[1].get(path, headers=owner.headers)
    finally:
        for client in clients:
            await client.aclose()

    assert statuses.count(200) == len(partners), statuses
    assert statuses.count(409) == len(partners) * (ATTEMPTS - 1), statuses
    assert sorted(p["partner"]["unique_id"] for p in listed.json()["data"]) == sorted(
        p.unique_id for p in partners
    )


async def test_one_rate_limit_for_both_processes(api, two_servers):
    owner = await api.actor()
    clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in two_servers]
    try:
        remaining = []
        for i in range(LIMIT):
            response = await clients[i % 2].get("/v3/products", headers=owner.headers)
            assert response.status_code == 200, response.text
            assert response.headers["x-ratelimit-limit"] == str(LIMIT)
            remaining.append(int(response.headers["x-ratelimit-remaining"]))
        assert remaining == list(range(LIMIT - 1, -1, -1))
        for client in clients:
            refused = await client.get("/v3/products", headers=owner.headers)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error_code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
        # Another key of the same deployment is not affected.
        other = await api.actor()
        response = await clients[1].get("/v3/products", headers=other.headers)
        assert response.status_code == 200
    finally:
        for client in clients:
            await client.aclose()
