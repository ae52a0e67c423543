"""Bad keys and over-limit keys cost no database round trip (auth/gate.py): counted as pooled
connections taken (a statement needs one; the hot path's too), on SQLite and PostgreSQL."""

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from sqlalchemy import event, update

from product_partners.app import create_app
from product_partners.auth.gate import AuthGate
from product_partners.auth.keys import hash_key
from product_partners.db.tables import api_keys
from tests.support.api import assert_error


def bogus_key(prefix: str | None = None) -> str:
    return f"ppk_{prefix or secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def checkouts(engine) -> Iterator[list[int]]:
    """Counts the pooled connections taken meanwhile (``count[0]``)."""
    count = [0]

    def taken(*_args) -> None:
        count[0] += 1

    event.listen(engine.sync_engine.pool, "checkout", taken)
    try:
        yield count
    finally:
        event.remove(engine.sync_engine.pool, "checkout", taken)


@pytest.fixture
def gated(settings, engine):
    """A client factory for an app with rate limiting on (per process), from an address."""
    app = create_app(
        settings.model_copy(
            update={
                "rate_limit_enabled": True,
                # Counted in fixed windows: hourly ones, so that a test's requests almost
                # never straddle two (one did, in a full run: its count started again).
                "rate_limit": "5/hour",
                "auth_failure_limit": "10/hour",
                "auth_failure_delay": 0,
            }
        ),
        engine=engine,
    )

    @asynccontextmanager
    async def client(address: str = "192.0.2.1") -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return client


PATHS = ["/v3/products/1/partners", "/v3/stores", "/v3/partnerships"]


async def test_a_flood_of_random_keys_costs_at_most_the_address_limit(gated, engine):
    async with gated("192.0.2.10") as client:
        with checkouts(engine) as taken:
            statuses = []
            for i in range(200):
                response = await client.get(PATHS[i % 3], headers=bearer(bogus_key()))
                statuses.append(response.status_code)
                if i >= 10:
                    assert_error(response, 429, "too_many_auth_failures")
                    assert int(response.headers["retry-after"]) >= 1
        assert statuses[:10] == [401] * 10
        # One lookup per refused key up to the limit, none after it.
        assert taken[0] <= 10, taken[0]
        # A POST through the hot path's operation is refused alike.
        with checkouts(engine) as taken:
            response = await client.post(
                "/v3/products/1/partners",
                json={"partner_unique_id": "x"},
                headers=bearer(bogus_key()),
            )
        assert_error(response, 429, "too_many_auth_failures")
        assert taken[0] == 0


async def test_one_bad_key_from_many_addresses_is_looked_up_once(gated, engine):
    key = bogus_key()
    with checkouts(engine) as taken:
        for n in range(30):
            async with gated(f"198.51.100.{n}") as client:
                response = await client.get(PATHS[n % 3], headers=bearer(key))
            assert_error(response, 401, "invalid_api_key")
    assert taken[0] == 1


async def test_a_known_prefix_with_another_secret_costs_nothing(api, gated, engine):
    owner = await api.actor()
    prefix = owner.key.split("_")[1]
    async with gated("192.0.2.20") as client:
        assert (await client.get("/v3/stores", headers=owner.headers)).status_code == 200
        with checkouts(engine) as taken:
            for _ in range(9):
                response = await client.get("/v3/stores", headers=bearer(bogus_key(prefix)))
                assert_error(response, 401, "invalid_api_key")
        assert taken[0] == 0


async def test_a_good_key_passes_a_flooding_address_and_revocation_is_immediate(api, gated, engine):
    owner = await api.actor()
    async with gated("192.0.2.30") as client:
        assert (await client.get("/v3/stores", headers=owner.headers)).status_code == 200
        for _ in range(12):
            await client.get("/v3/stores", headers=bearer(bogus_key()))
        refused = await client.get("/v3/stores", headers=bearer(bogus_key()))
        assert_error(refused, 429, "too_many_auth_failures")
        # The verified key is still looked up, and served.
        with checkouts(engine) as taken:
            assert (await client.get("/v3/stores", headers=owner.headers)).status_code == 200
        assert taken[0] >= 1
        async with engine.connect() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == owner.key_id)
                .values(revoked_at=api_keys.c.created_at)
            )
        assert_error(await client.get("/v3/stores", headers=owner.headers), 401, "revoked_api_key")


async def test_over_its_limit_a_key_is_refused_without_a_lookup(api, gated, engine):
    owner = await api.actor()
    product = await api.product(owner)
    url = f"/v3/products/{product['id']}/partners"
    async with gated("192.0.2.40") as client:
        for _ in range(5):
            assert (await client.get(url, headers=owner.headers)).status_code == 200
        assert_error(await client.get(url, headers=owner.headers), 429, "rate_limited")
        with checkouts(engine) as taken:
            for path in (url, "/v3/stores"):
                response = await client.get(path, headers=owner.headers)
                assert_error(response, 429, "rate_limited")
                assert response.headers["x-ratelimit-remaining"] == "0"
                assert int(response.headers["retry-after"]) >= 1
        assert taken[0] == 0


async def test_a_missing_or_malformed_key_takes_no_connection(gated, engine):
    async with gated() as client:
        with checkouts(engine) as taken:
            for headers in ({}, {"Authorization": "Basic x"}, bearer("ppk_short")):
                for path in PATHS:
                    response = await client.get(path, headers=headers)
                    assert response.status_code == 401, response.text
        assert taken[0] == 0


def test_the_gate_keeps_a_bounded_number_of_entries():
    gate = AuthGate("10/minute", capacity=50)
    for n in range(1000):
        gate.looked_up(f"{n:012x}", None)
        gate.looked_up(f"k{n:011x}", "h" * 64)
    assert len(gate._unknown) == 50 and len(gate._known) == 50


def test_only_a_verified_key_within_its_limit_has_nothing_to_refuse():
    """``verified`` lets the middleware skip finding the route of a request it will not refuse;
    it must say no to everything ``admit`` could refuse."""
    gate = AuthGate("10/minute")
    token, prefix = "ppk_0123456789ab_" + "s" * 43, "0123456789ab"
    assert not gate.verified(token, prefix)  # never looked up
    gate.looked_up(prefix, hash_key(token))
    assert gate.verified(token, prefix)
    assert not gate.verified(token[:-1] + "t", prefix)  # another secret for the prefix
    gate.over_limit(prefix, [], retry_after=30)
    assert not gate.verified(token, prefix)  # over its limit: a 429 to answer
    gate.looked_up(prefix, None)  # the key is gone
    assert not gate.verified(token, prefix)
