"""Rate limits per API key, as Scalev does them.

Every authenticated response carries ``X-Ratelimit-Limit``, ``X-Ratelimit-Remaining`` and
``X-Ratelimit-Reset`` (unix seconds); beyond the limit the answer is 429 with ``Retry-After``.

The counting is the ``limits`` library's fixed window: an atomic increment-with-expiry, in
process memory, or in Redis when ``REDIS_URL`` is set so that every process shares one count.
In memory we use limits' synchronous ``MemoryStorage`` (no I/O, so calling it from the event
loop is fine): its asyncio twin schedules a sweep of every key on every call, which costs
~100 us per request with a thousand active keys. The synchronous one sweeps from a timer
thread that it starts again every 10 ms while requests come in; ``SweptMemoryStorage`` sweeps
from the request path once a second instead (see there).
The window number is part of the key (windows are aligned to the clock), so the reset time is
known without asking the storage: a request costs one storage call, i.e. one Redis round trip.
Clocks of the app machines must agree (NTP), as with any wall-clock window.

Only authenticated requests are counted (the hook is in authentication, after the key is
verified): a request with a missing or wrong key never uses up someone's limit. We do not limit
by client IP; put a per-IP limit in the reverse proxy if you need one (see README).

If Redis cannot be reached, requests are served without a limit (fail open) and without
``X-Ratelimit-*`` headers (we would only be guessing). Redis is then left alone for
``RETRY_AFTER_FAILURE`` seconds, so a dead Redis costs requests nothing; the failure is logged
at most once per ``log_interval``, and the recovery once.
"""

import logging
import math
import time
from typing import Any, NamedTuple, cast

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.storage import Storage as AsyncStorage
from limits.storage import MemoryStorage
from limits.storage import Storage as SyncStorage

from product_partners.kit.errors import RateLimited
from product_partners.settings import Settings

log = logging.getLogger("product_partners.ratelimit")

# Seconds to wait for Redis before failing open. Redis answers in well under a millisecond
# when healthy; a request should not wait long on a sick one.
REDIS_TIMEOUT = 0.25
# After a Redis failure, seconds during which requests skip Redis altogether.
RETRY_AFTER_FAILURE = 1.0
# Seconds between two log lines about the same ongoing Redis failure.
FAILURE_LOG_INTERVAL = 60.0

Headers = list[tuple[bytes, bytes]]

# Storage keys kept at hand per window (beyond, the cache starts again).
MAX_CACHED_KEYS = 10_000


class Decision(NamedTuple):  # made on every request: a tuple is the cheapest to build
    allowed: bool
    headers: Headers
    retry_after: int


class SweptMemoryStorage(MemoryStorage):
    """limits' ``MemoryStorage``, dropping expired counters once every ``SWEEP_SECONDS`` from
    the calling thread rather than from a new ``threading.Timer`` every 10 ms.

    Under load the timer meant a thread started 100 times a second, each taking the GIL from
    the event loop (a twentieth of a busy worker's samples, and tail latency). Expiry stays
    exact: ``get``/``incr`` ignore an expired counter whether or not it was swept; the sweep
    only frees memory. limits is pinned (requirements.lock), and a test checks that no thread
    is started per request and that expired counters are freed.
    """

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    # MemoryStorage calls ``self.__schedule_expiry()`` on every increment; name mangling makes
    # that this attribute.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimiter:
    """One limit (e.g. ``600/minute``) per identifier, counted in ``storage``."""

    def __init__(
        self,
        limit: str | RateLimitItem,
        storage: SyncStorage | AsyncStorage,
        *,
        retry_after_failure: float = RETRY_AFTER_FAILURE,
        log_interval: float = FAILURE_LOG_INTERVAL,
    ) -> None:
        self.item = parse(limit) if isinstance(limit, str) else limit
        self.window = self.item.get_expiry()
        self.storage = storage
        # Exactly one of the two is set: limits' in-memory storage is synchronous.
        self._memory: SyncStorage | None = storage if isinstance(storage, SyncStorage) else None
        self._shared = None if self._memory is not None else cast(AsyncStorage, storage)
        self.retry_after_failure = retry_after_failure
        self.log_interval = log_interval
        self._limit_header = (b"x-ratelimit-limit", str(self.item.amount).encode())
        # The current window's storage keys by identifier, and its reset header: built once
        # per identifier and window instead of on every request.
        self._current_window = -1
        self._keys: dict[str, str] = {}
        self._reset_header = (b"x-ratelimit-reset", b"0")
        self._skip_until = 0.0
        self._failing_since: float | None = None
        self._last_logged = -math.inf
        self._failures_unlogged = 0

    @property
    def limit(self) -> int:
        return self.item.amount

    async def hit(self, identifier: str) -> Decision | None:
        """Count one request for ``identifier``; ``None`` when failing open."""
        if self._skip_until and time.monotonic() < self._skip_until:
            return None
        now = time.time()
        window = int(now // self.window)
        reset = (window + 1) * self.window
        if window != self._current_window:
            self._current_window, self._keys = window, {}
            self._reset_header = (b"x-ratelimit-reset", str(reset).encode())
        key = self._keys.get(identifier)
        if key is None:
            if len(self._keys) >= MAX_CACHED_KEYS:  # identifiers can be anyone's (sign-in)
                self._keys.clear()
            key = self._keys[identifier] = self.item.key_for(identifier, str(window))
        reset_header = self._reset_header  # this window's, whatever the await below sees
        try:
            if self._memory is not None:
                count = self._memory.incr(key, self.window)
            else:
                count = await cast(AsyncStorage, self._shared).incr(key, self.window)
        except Exception as exc:  # noqa: BLE001 - whatever the storage raised, serve the request
            self._failed(exc)
            return None
        if self._failing_since is not None:
            self._recovered()
        remaining = self.item.amount - count
        headers = [
            self._limit_header,
            (b"x-ratelimit-remaining", str(max(remaining, 0)).encode()),
            reset_header,
        ]
        return Decision(remaining >= 0, headers, max(1, math.ceil(reset - now)))

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._skip_until = now + self.retry_after_failure
        if self._failing_since is None:
            self._failing_since = now
        if now - self._last_logged >= self.log_interval:
            log.warning(
                "rate limit storage unreachable, serving requests without a limit: %s: %s"
                " (%d earlier failures not logged)",
                type(exc).__name__,
                exc,
                self._failures_unlogged,
            )
            self._last_logged = now
            self._failures_unlogged = 0
        else:
            self._failures_unlogged += 1

    def _recovered(self) -> None:
        assert self._failing_since is not None
        log.warning(
            "rate limit storage reachable again after %.1fs; limits apply again",
            time.monotonic() - self._failing_since,
        )
        self._failing_since = None
        self._skip_until = 0.0
        self._last_logged = -math.inf
        self._failures_unlogged = 0

    async def close(self) -> None:
        bridge = getattr(self.storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()


def redis_storage(redis_url: str, key_prefix: str, timeout: float = REDIS_TIMEOUT) -> AsyncStorage:
    """``limits``' Redis storage on redis-py, with short timeouts and no client-side retries
    (a retry would multiply the time a request waits on a dead Redis)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    return RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        key_prefix=key_prefix,
        **options,
    )


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The app's limiter, or ``None`` when ``RATE_LIMIT_ENABLED`` is false."""
    if not settings.rate_limit_enabled:
        return None
    if settings.redis_url:
        storage: SyncStorage | AsyncStorage = redis_storage(
            settings.redis_url, f"{settings.redis_key_prefix}:ratelimit"
        )
    else:
        storage = SweptMemoryStorage()
    return RateLimiter(settings.rate_limit, storage)


async def enforce_rate_limit(request: Request, api_key_id: int) -> None:
    """Count this request against its API key; raise 429 beyond the limit.

    Called by authentication once the key is verified. The ``X-Ratelimit-*`` headers go to
    the request state; the request middleware adds them to whatever response follows.
    """
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    # Once per request: the hot path (fastpath.py) may authenticate, then hand the request to
    # its FastAPI route, which authenticates again.
    state = request.scope.setdefault("state", {})
    if "ratelimit_decision" in state:
        decision = state["ratelimit_decision"]
    else:
        decision = state["ratelimit_decision"] = await limiter.hit(str(api_key_id))
    if decision is None:
        return
    request.state.ratelimit_headers = decision.headers
    if not decision.allowed:
        raise RateLimited(headers={"Retry-After": str(decision.retry_after)})


def build_budget(limiter: RateLimiter | None, limit: str) -> RateLimiter | None:
    """A second limit counted in the same storage as ``limiter`` (e.g. partners added per
    owner), or ``None`` when rate limiting is off."""
    return None if limiter is None else RateLimiter(limit, limiter.storage)


async def spend_budget(
    request: Request,
    budget: str,
    identifier: str,
    refusal: type[RateLimited],
    once_per_request: bool = True,
) -> None:
    """Count one use of ``app.state.<budget>`` by ``identifier``; raise ``refusal`` (429,
    Retry-After) beyond it. Counted once per request, like the key's limit, even when the hot
    path hands the request to its route; ``once_per_request=False``: once per call (a request
    that makes many, such as an import's rows)."""
    limiter: RateLimiter | None = getattr(request.app.state, budget, None)
    if limiter is None:
        return
    state = request.scope.setdefault("state", {})
    memo = f"budget:{budget}"
    if once_per_request and memo in state:
        decision = state[memo]
    else:
        decision = state[memo] = await limiter.hit(identifier)
    if decision is not None and not decision.allowed:
        raise refusal(headers={"Retry-After": str(decision.retry_after)})
