"""Rate limits per API key: headers on authenticated responses, 429 beyond the limit, shared
through the real Redis by several app instances, fail open when Redis is unreachable."""

import asyncio
import logging
import threading
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.kit.http.ratelimit import REDIS_TIMEOUT, RateLimiter
from tests.support.api import Api
from tests.support.ops import REDIS_URL, TcpProxy, app_client
from tests.support.servers import free_port
from tests.support.timing import LOADED_MACHINE_ROOM

# Per day: a window boundary (midnight UTC) in the middle of a test is unlikely.
LIMIT = 3
LOGGER = "product_partners.ratelimit"


def _limits(response: httpx.Response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]), int(h["x-ratelimit-reset"])


async def test_authenticated_responses_carry_the_limit_and_429_follows(
    engine: AsyncEngine,
) -> None:
    async with app_client(engine, rate_limit=f"{LIMIT}/day") as (client, _app):
        owner = await Api(client, engine).actor()
        seen = []
        for _ in range(LIMIT):
            response = await client.get("/v3/products", headers=owner.headers)
            assert response.status_code == 200
            seen.append(_limits(response))
        assert [remaining for _, remaining, _ in seen] == [2, 1, 0]
        limit, _, reset = seen[0]
        assert limit == LIMIT
        assert reset % 86400 == 0 and 0 < reset - time.time() <= 86400  # unix seconds

        refused = await client.get("/v3/products", headers=owner.headers)
        assert refused.status_code == 429
        assert refused.json() == {
            "error": refused.json()["message"],  # the text, as Scalev's examples
            "error_code": "rate_limited",
            "message": "Too many requests for this API key: retry after the time in Retry-After.",
            "errors": {},
        }
        assert _limits(refused) == (LIMIT, 0, reset)
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 86400 and abs(time.time() + retry_after - reset) <= 2
        assert refused.headers["x-request-id"]


async def test_each_key_has_its_own_limit_and_bad_keys_use_up_nothing(
    engine: AsyncEngine,
) -> None:
    async with app_client(engine, rate_limit=f"{LIMIT}/day") as (client, _app):
        api = Api(client, engine)
        first, second = await api.actor(), await api.actor()
        wrong_secret = {"Authorization": first.headers["Authorization"][:-4] + "AAAA"}
        for headers in ({}, wrong_secret, {"Authorization": "Bearer nonsense"}):
            response = await client.get("/v3/products", headers=headers)
            assert response.status_code == 401
            assert "x-ratelimit-limit" not in response.headers
        for _ in range(LIMIT):
            assert (await client.get("/v3/products", headers=first.headers)).status_code == 200
        assert (await client.get("/v3/products", headers=first.headers)).status_code == 429
        response = await client.get("/v3/products", headers=second.headers)
        assert response.status_code == 200
        assert _limits(response)[1] == LIMIT - 1


async def test_health_and_metrics_are_not_limited(engine: AsyncEngine) -> None:
    async with app_client(engine, rate_limit="1/day") as (client, _app):
        for _ in range(3):
            for path in ("/healthz", "/readyz", "/metrics"):
                response = await client.get(path)
                assert response.status_code == 200, path
                assert "x-ratelimit-limit" not in response.headers


async def test_two_instances_sharing_redis_enforce_one_limit(
    engine: AsyncEngine, redis_prefix: str
) -> None:
    shared = {
        "rate_limit": f"{LIMIT}/day",
        "redis_url": REDIS_URL,
        "redis_key_prefix": redis_prefix,
    }
    async with (
        app_client(engine, **shared) as (one, _app1),
        app_client(engine, **shared) as (two, _app2),
    ):
        owner = await Api(one, engine).actor()
        statuses, remaining = [], []
        for client in (one, two, one, two, one):
            response = await client.get("/v3/products", headers=owner.headers)
            statuses.append(response.status_code)
            remaining.append(_limits(response)[1])
        assert statuses == [200, 200, 200, 429, 429]
        assert remaining == [2, 1, 0, 0, 0]


async def test_unreachable_redis_fails_open_and_logs_once(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with app_client(engine, rate_limit="1/day", redis_url=dead) as (client, app):
        app.state.rate_limiter.retry_after_failure = 0  # try Redis on every request
        owner = await Api(client, engine).actor()
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            for _ in range(5):
                started = time.monotonic()
                response = await client.get("/v3/products", headers=owner.headers)
                assert response.status_code == 200
                # Never a wait for Redis beyond its timeout.
                assert time.monotonic() - started < REDIS_TIMEOUT + LOADED_MACHINE_ROOM
                assert "x-ratelimit-limit" not in response.headers
        warnings = [r for r in caplog.records if r.name == LOGGER]
        assert len(warnings) == 1
        assert "serving requests without a limit" in warnings[0].getMessage()


async def test_limits_apply_again_when_redis_returns(
    engine: AsyncEngine, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = await TcpProxy("127.0.0.1", 6379).start()
    try:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        settings = {"rate_limit": "2/day", "redis_url": url, "redis_key_prefix": redis_prefix}
        async with app_client(engine, **settings) as (client, app):
            limiter: RateLimiter = app.state.rate_limiter
            limiter.retry_after_failure = 0
            owner = await Api(client, engine).actor()
            response = await client.get("/v3/products", headers=owner.headers)
            assert _limits(response)[1] == 1

            with caplog.at_level(logging.WARNING, logger=LOGGER):
                await proxy.stop()
                for _ in range(3):
                    response = await client.get("/v3/products", headers=owner.headers)
                    assert response.status_code == 200
                await proxy.start()
                await asyncio.sleep(0.05)
                statuses = [
                    (await client.get("/v3/products", headers=owner.headers)).status_code
                    for _ in range(2)
                ]
            assert statuses == [200, 429]  # the count kept in Redis survived the outage
            messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
            assert len(messages) == 2
            assert "without a limit" in messages[0] and "reachable again" in messages[1]
    finally:
        await proxy.stop()


async def test_failures_are_logged_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from limits.storage import MemoryStorage

    class Flaky(MemoryStorage):
        down = False

        def incr(self, key: str, expiry: float, amount: int = 1) -> int:
            if self.down:
                raise ConnectionError("storage down")
            return super().incr(key, expiry, amount)

    storage = Flaky()
    limiter = RateLimiter("5/day", storage, retry_after_failure=0, log_interval=0.2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        storage.down = True
        assert all([await limiter.hit("k") is None for _ in range(50)])
        await asyncio.sleep(0.25)
        assert await limiter.hit("k") is None
        storage.down = False
        decision = await limiter.hit("k")
    assert decision is not None and decision.allowed
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 3, messages
    assert "49 earlier failures not logged" in messages[1]
    assert "reachable again" in messages[2]


def test_in_memory_counting_starts_no_thread_per_request_and_frees_expired_counters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from limits import RateLimitItemPerSecond

    from product_partners.kit.http.ratelimit import SweptMemoryStorage

    storage = SweptMemoryStorage()
    started: list[object] = []
    original_start = threading.Thread.start
    monkeypatch.setattr(
        threading.Thread, "start", lambda self: (started.append(self), original_start(self))
    )
    limiter = RateLimiter(RateLimitItemPerSecond(1000), storage)

    async def hits(n: int) -> list[int]:
        decisions = [await limiter.hit(f"key-{i % 7}") for i in range(n)]
        return [int(dict(d.headers)[b"x-ratelimit-remaining"]) for d in decisions if d]

    # All 700 hits in one one-second window: start at the beginning of one (on a busy machine
    # they took long enough to straddle a boundary, splitting a key's count in two).
    time.sleep(1 - time.time() % 1)
    remaining = asyncio.run(hits(700))
    assert started == []  # limits' own storage would start a timer thread every 10 ms
    assert min(remaining) == 1000 - 100  # 100 hits per key, counted exactly
    assert len(storage.storage) >= 7

    # Once the window has passed, the next request's sweep frees the old counters.
    time.sleep(1.1 + SweptMemoryStorage.SWEEP_SECONDS)
    asyncio.run(hits(1))
    assert len(storage.storage) == 1


def test_a_new_window_counts_afresh_under_limits_own_key_with_its_own_reset() -> None:
    """The limiter keeps the current window's keys and reset header at hand: a new window must
    still count from zero, announce the new reset, and use the key limits itself makes (other
    processes sharing Redis count under that key)."""
    from product_partners.kit.http.ratelimit import SweptMemoryStorage

    limiter = RateLimiter("2/second", SweptMemoryStorage())

    async def hit(identifier: str) -> tuple[bool, int, int]:
        decision = await limiter.hit(identifier)
        assert decision is not None
        headers = dict(decision.headers)
        remaining = int(headers[b"x-ratelimit-remaining"])
        return decision.allowed, remaining, int(headers[b"x-ratelimit-reset"])

    time.sleep(1 - time.time() % 1)  # the first three hits in one one-second window
    first = asyncio.run(hit("key-1"))
    second, third = asyncio.run(hit("key-1")), asyncio.run(hit("key-1"))
    reset = first[2]
    assert (first, second, third) == ((True, 1, reset), (True, 0, reset), (False, 0, reset))
    assert asyncio.run(hit("key-2")) == (True, 1, reset)  # its own count

    time.sleep(max(0.0, reset - time.time()) + 0.05)
    window = int(time.time())
    assert asyncio.run(hit("key-1")) == (True, 1, reset + 1)
    assert limiter.storage.get(limiter.item.key_for("key-1", str(window))) == 1  # type: ignore[union-attr]
