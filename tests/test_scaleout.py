"""Scale-out: two separate ``serve`` processes that share only PostgreSQL (and Redis) give one
consistent view, as two app machines behind a load balancer would."""

import asyncio
import contextlib
import random

import httpx
import pytest

from tests.servers import serve

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

ATTEMPTS = 24


@contextlib.contextmanager
def two_servers(database_url: str, **env: str):
    with serve(database_url, **env) as a, serve(database_url, **env) as b:
        assert a != b
        yield a, b


async def test_partnership_added_through_one_process_is_read_through_the_other(api, database_url):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(2)]
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"

    with two_servers(database_url) as (a, b):
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


async def test_concurrent_identical_adds_across_two_processes_yield_one_200(api, database_url):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(3)]
    product = await api.product(owner)
    path = f"/v3/products/{product['id']}/partners"

    with two_servers(database_url) as bases:
        clients = [httpx.AsyncClient(base_url=base, timeout=30) for base in bases]
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
