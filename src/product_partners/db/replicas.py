"""Read replicas (``DATABASE_REPLICA_URLS``): which database serves a read, and read-your-writes.

The one place that decides it; ``db.connections.routed_connection`` and ``routed_driver`` ask
:meth:`Replicas.choose` for every GET request, and ``kit.http.replicas.ReadRouting`` records
the primary's position after every write.

- **Writes**, and everything a request that is not a GET does, run on the primary.
- **Reads** (GET) run on a replica when one is up, lags at most ``DATABASE_REPLICA_MAX_LAG``
  seconds, and has replayed the caller's **floor**; otherwise on the primary.
- **The floor** is the primary's WAL position (``pg_current_wal_lsn()``) after the last write
  of the caller's business: remembered per business in Redis when ``REDIS_URL`` is set (every
  process sees it), in this process's memory otherwise; and sent to the client as
  ``X-Write-Position``, which it may send back as ``X-Read-After`` (it then holds for that
  client across processes even without Redis). A replica serves the read only once its
  ``pg_last_wal_replay_lsn()`` has passed the floor: after a write, a business never reads
  back in time.
- The business is known before the read only from an earlier request with the same
  credential (:class:`Hints`): a credential this process has not seen yet reads on the
  primary. (The hint is a routing aid, never an authorization: the key is checked as always.)
- **The monitor** (one task per process) asks the primary for its position and every replica
  for its replay position every ``POLL_SECONDS``, on connections of its own (never the
  request pools). A replica's lag is the time since the primary first reported a position
  the replica has not replayed yet (0 when it has replayed everything). A replica that does
  not answer is down until it answers again; a request that found it down meanwhile is run
  again on the primary (``ReadRouting``).

What the monitor knows of a replica only lags behind what the replica has replayed, so a
replica it calls caught up is: reading from it never goes back in time.
"""

import asyncio
import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.faults import database_fault
from product_partners.settings import Settings

log = logging.getLogger("product_partners.replicas")

# Seconds between two polls of the primary's and the replicas' positions.
POLL_SECONDS = 0.2
# Seconds a poll waits for one server before calling it down.
PROBE_TIMEOUT = 1.0
# Seconds Redis may take before a read goes to the primary instead (and, after a failure,
# during which Redis is left alone).
REDIS_TIMEOUT = 0.25
REDIS_RETRY_AFTER = 1.0
# Credentials whose business this process remembers (routing hints), at most.
MAX_HINTS = 100_000
# The request header a client may send its last write position in, and the response header
# that carries it after a write.
READ_AFTER_HEADER = b"x-read-after"
WRITE_POSITION_HEADER = b"x-write-position"
# The floor of a business whose position could not be read: the primary serves it. Above any
# real position, and exact as a Lua number (Redis's script keeps the larger position).
UNKNOWN = 1 << 62

# SQLSTATEs on which a replica's read runs again on the primary: canceled by a conflict with
# recovery (40001) and read-only transaction (25006, a statement that writes).
_PRIMARY_SQLSTATES = frozenset({"40001", "25006"})


def parse_lsn(text: str) -> int:
    """PostgreSQL's ``X/Y`` WAL position as a number; ValueError for anything else."""
    high, slash, low = text.strip().partition("/")
    if not slash or not (0 < len(high) <= 8 and 0 < len(low) <= 8):
        raise ValueError(f"not a WAL position: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def replica_name(url: str) -> str:
    """A replica's label in /readyz and /metrics: host:port/database, never a password."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def run_on_primary(exc: BaseException) -> bool:
    """True when a read that a replica failed with ``exc`` should run on the primary: the
    replica is unreachable or too slow, cancelled it (recovery conflict), or it wrote."""
    if database_fault(exc) is not None:
        return True
    current: BaseException | None = exc
    while current is not None:
        if getattr(current, "sqlstate", None) in _PRIMARY_SQLSTATES:
            return True
        current = current.__cause__ or current.__context__
    return False


class _Server:
    """A connection of the monitor's own to one server (opened again after a failure)."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.dsn = asyncpg_dsn(url)
        self.connect_timeout = min(PROBE_TIMEOUT, settings.database_timeout)
        self._conn: asyncpg.Connection | None = None

    async def fetchrow(self, sql: str) -> Any:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self.dsn,
                        timeout=self.connect_timeout,
                        server_settings={"application_name": "product-partners-monitor"},
                    )
                return await self._conn.fetchrow(sql)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


class PrimaryPosition:
    """The primary's current WAL position, read on one connection shared by the process: a
    caller gets a position read that *started after* it asked (so past its own commit), and
    callers that ask while a read is under way share the next one (one round trip for all)."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self._lock = asyncio.Lock()
        self._started = 0  # reads started so far
        self._last: tuple[int, int] | None = None  # (which read, its position)

    async def read(self) -> int:
        asked = self._started
        async with self._lock:  # held: every read started so far has ended
            if self._last is not None and self._last[0] > asked:
                return self._last[1]
            self._started += 1
            which = self._started
            row = await self.server.fetchrow("SELECT pg_current_wal_lsn()::text")
            self._last = (which, parse_lsn(row[0]))
            return self._last[1]


@dataclass(eq=False)
class Replica:
    """One standby: its request engine, and what the monitor last learned of it."""

    name: str
    engine: AsyncEngine
    server: _Server
    up: bool = False
    replayed: int = 0  # pg_last_wal_replay_lsn() at the last poll
    lag_seconds: float | None = None
    lag_bytes: int | None = None

    def serves(self, floor: int, max_lag: float) -> bool:
        return (
            self.up
            and self.lag_seconds is not None
            and self.lag_seconds <= max_lag
            and self.replayed >= floor
        )


class Positions:
    """The last write position of each business, in this process (no ``REDIS_URL``)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._positions: dict[int, tuple[int, float]] = {}

    async def get(self, business_id: int) -> int:
        found = self._positions.get(business_id)
        if found is None or found[1] < time.monotonic():
            return 0
        return found[0]

    async def remember(self, business_id: int, position: int) -> None:
        if len(self._positions) >= MAX_HINTS:
            now = time.monotonic()
            self._positions = {b: p for b, p in self._positions.items() if p[1] >= now}
        current = await self.get(business_id)
        self._positions[business_id] = (max(current, position), time.monotonic() + self.ttl)

    async def close(self) -> None:
        return None


# Keeps the larger of the stored and the given position, with an expiry (one round trip).
_REMEMBER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local given = tonumber(ARGV[1])
if given > current then current = given end
redis.call('SET', KEYS[1], string.format('%d', current), 'PX', ARGV[2])
return 1
"""


class RedisPositions(Positions):
    """The last write position of each business in Redis, shared by every process. When Redis
    does not answer, reads go to the primary (the position is then ``UNKNOWN``)."""

    def __init__(self, ttl: float, redis_url: str, key_prefix: str) -> None:
        super().__init__(ttl)
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = Redis.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._redis.register_script(_REMEMBER)
        self._prefix = f"{key_prefix}:write-position:"
        self._skip_until = 0.0

    async def get(self, business_id: int) -> int:
        if time.monotonic() < self._skip_until:
            return UNKNOWN
        try:
            value = await self._redis.get(f"{self._prefix}{business_id}")
        except Exception as exc:  # noqa: BLE001 - a dead Redis sends reads to the primary
            self._failed(exc)
            return UNKNOWN
        return int(value) if value is not None else 0

    async def remember(self, business_id: int, position: int) -> None:
        if time.monotonic() < self._skip_until:
            return
        try:
            await self._script(
                keys=[f"{self._prefix}{business_id}"], args=[position, round(self.ttl * 1000)]
            )
        except Exception as exc:  # noqa: BLE001 - the reads then go to the primary
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._skip_until:
            log.warning("replicas: Redis unavailable (%s): reads go to the primary", exc)
        self._skip_until = time.monotonic() + REDIS_RETRY_AFTER

    async def close(self) -> None:
        await self._redis.aclose()


class Hints:
    """The business of each credential this process has seen (a digest of the Authorization
    header, never the key): a key's business never changes, so a hint cannot go stale."""

    def __init__(self) -> None:
        self._businesses: dict[bytes, int] = {}

    @staticmethod
    def digest(credential: bytes) -> bytes:
        return hashlib.blake2b(credential, digest_size=16).digest()

    def business(self, credential: bytes) -> int | None:
        return self._businesses.get(self.digest(credential))

    def learn(self, credential: bytes, business_id: int) -> None:
        if len(self._businesses) >= MAX_HINTS:
            self._businesses.clear()
        self._businesses[self.digest(credential)] = business_id


@dataclass(eq=False)
class Replicas:
    """The process's replicas, their monitor, and the read-your-writes positions."""

    replicas: list[Replica]
    primary: PrimaryPosition
    positions: Positions
    max_lag: float
    hints: Hints = field(default_factory=Hints)
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _monitor: asyncio.Task[None] | None = None
    _turn: int = 0
    _polled: float = 0.0  # when the primary last told its position

    # --- reads ---

    async def choose(self, credential: bytes | None, read_after: bytes | None) -> Replica | None:
        """The replica for a read by ``credential`` (the Authorization header) that has seen
        ``read_after`` (the client's ``X-Read-After``), or None: the primary."""
        self.start()
        if credential is None:
            return None  # refused anyway (401); the primary says so
        business = self.hints.business(credential)
        if business is None:
            return None
        floor = _client_floor(read_after)
        candidates = [r for r in self.replicas if r.serves(floor, self.max_lag)]
        if not candidates:
            return None
        floor = max(floor, await self.positions.get(business))
        candidates = [r for r in candidates if r.replayed >= floor]
        if not candidates:
            return None
        self._turn += 1
        return candidates[self._turn % len(candidates)]

    def failed(self, replica: Replica, exc: BaseException) -> None:
        """A read on ``replica`` failed with ``exc`` (it runs again on the primary): an
        unreachable replica serves nothing more until the monitor reaches it again."""
        if replica.up and database_fault(exc) is not None:
            log.warning("replica %s failed a read (%s): reads go elsewhere", replica.name, exc)
            replica.up = False

    # --- writes ---

    async def wrote(self, business_id: int) -> int:
        """Remember that ``business_id`` just wrote: its reads now wait for the primary's
        current position, which is returned (``UNKNOWN`` if the primary did not say)."""
        self.start()
        try:
            position = await self.primary.read()
        except Exception as exc:  # noqa: BLE001 - then its reads go to the primary a while
            log.warning("replicas: the primary's position is unknown (%s)", exc)
            position = UNKNOWN
        await self.positions.remember(business_id, position)
        return position

    # --- the monitor ---

    def start(self) -> None:
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(POLL_SECONDS)

    async def poll(self) -> None:
        """Read the primary's position, then every replica's replay position."""
        try:
            now, position = time.monotonic(), await self.primary.read()
        except Exception:  # noqa: BLE001 - the primary's outage is the requests' to report
            # Without the primary's position no lag can be judged: once the last one is older
            # than the limit, the replicas serve nothing (their staleness is unknown).
            if not self._samples or time.monotonic() - self._polled > self.max_lag:
                for replica in self.replicas:
                    replica.lag_seconds = replica.lag_bytes = None
            return
        self._polled = now
        if not self._samples or self._samples[-1][1] != position:
            self._samples.append((now, position))
        horizon = now - max(10.0, 4 * self.max_lag)
        while len(self._samples) > 1 and self._samples[0][0] < horizon:
            self._samples.popleft()
        await asyncio.gather(*(self._probe(r) for r in self.replicas))

    async def _probe(self, replica: Replica) -> None:
        try:
            row = await replica.server.fetchrow(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
            )
            if not row[0] or row[1] is None:
                raise RuntimeError("not a standby")
            replayed = parse_lsn(row[1])
        except Exception as exc:  # noqa: BLE001 - a replica down is skipped, not an error
            if replica.up:
                log.warning("replica %s is down (%s): reads go elsewhere", replica.name, exc)
            replica.up, replica.lag_seconds, replica.lag_bytes = False, None, None
            return
        if not replica.up:
            log.info("replica %s is up", replica.name)
        replica.up, replica.replayed = True, replayed
        replica.lag_seconds, replica.lag_bytes = self._lag(replayed)

    def _lag(self, replayed: int) -> tuple[float, int]:
        latest = self._samples[-1][1]
        if replayed >= latest:
            return 0.0, 0
        # The first moment the primary was seen ahead of the replica.
        behind_since = next(t for t, position in self._samples if position > replayed)
        return time.monotonic() - behind_since, latest - replayed

    def status(self) -> list[dict[str, Any]]:
        """Each replica's state, for /readyz and /metrics."""
        self.start()
        return [
            {
                "replica": r.name,
                "up": r.up,
                "lag_seconds": None if r.lag_seconds is None else round(r.lag_seconds, 3),
                "lag_bytes": r.lag_bytes,
                "serving": r.serves(0, self.max_lag),
            }
            for r in self.replicas
        ]

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        for replica in self.replicas:
            await replica.server.close()
            await replica.engine.dispose()
        await self.primary.server.close()
        await self.positions.close()


def _client_floor(read_after: bytes | None) -> int:
    """The position in the client's ``X-Read-After``; one that is not a position sends the
    read to the primary."""
    if read_after is None:
        return 0
    try:
        return parse_lsn(read_after.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return UNKNOWN


def build_replicas(settings: Settings) -> Replicas | None:
    """The replicas of ``DATABASE_REPLICA_URLS``, or None when there are none."""
    if not settings.database_replica_urls:
        return None
    from product_partners.db.engine import create_engine

    replicas = [
        Replica(
            replica_name(url),
            create_engine(settings.model_copy(update={"database_url": url})),
            _Server(url, settings),
        )
        for url in settings.database_replica_urls
    ]
    # A position outlives the longest lag a serving replica may have.
    ttl = max(60.0, 10 * settings.database_replica_max_lag)
    positions = (
        RedisPositions(ttl, settings.redis_url, settings.redis_key_prefix)
        if settings.redis_url
        else Positions(ttl)
    )
    return Replicas(
        replicas,
        PrimaryPosition(_Server(settings.database_url, settings)),
        positions,
        settings.database_replica_max_lag,
    )
