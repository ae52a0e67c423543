"""The delivery worker: queues the deliveries of newly logged events (``fanout.py``), reads
the outbox (``webhook_deliveries``), posts each event, records each attempt, retries with
exponential backoff and jitter, disables endpoints that keep failing.

At least once, never twice per attempt:
- ``record()`` writes the event in the change's own transaction, and each round of the worker
  first fans the log out into the outbox (``fanout.fan_out``): a committed event gets its
  deliveries, a rolled-back one has no event.
- A worker *claims* due rows in one short transaction: it sets ``lease_until`` (now +
  WEBHOOK_LEASE_SECONDS) and a random ``lease_token``. On PostgreSQL the candidate rows are
  selected ``FOR UPDATE SKIP LOCKED``, so workers on several machines claim disjoint rows
  without waiting on each other; on SQLite the claim is serialised by the database's single
  writer (``BEGIN IMMEDIATE``). A row under a live lease is nobody else's.
- It posts outside any transaction (with WEBHOOK_TIMEOUT, shorter than the lease), then
  records the outcome in a second transaction, only if its lease token still holds.
- Killed at any point (SIGKILL included), the row stays ``scheduled`` with a lease that
  expires: another worker (or this one restarted) delivers it again. Receivers deduplicate
  on ``webhook-id``, the event id, the same on every attempt.
"""

import asyncio
import contextlib
import logging
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from product_partners import __version__
from product_partners.db.connections import transaction
from product_partners.db.tables import events, webhook_attempts, webhook_deliveries
from product_partners.db.tables import webhook_endpoints as ep
from product_partners.events.views import event as event_body
from product_partners.kit.jsonutil import dumps
from product_partners.kit.ops.metrics import DatabaseGauge
from product_partners.settings import Settings
from product_partners.webhooks import service
from product_partners.webhooks.client import DeliveryError, WebhookClient
from product_partners.webhooks.enums import DeliveryStatus
from product_partners.webhooks.fanout import BATCH_SIZE as FANOUT_BATCH_SIZE
from product_partners.webhooks.fanout import fan_out
from product_partners.webhooks.signing import headers as signed_headers

log = logging.getLogger("product_partners.webhooks")

d = webhook_deliveries
MAX_DELAY_SECONDS = 12 * 3600
JITTER = 0.2
BATCH_SIZE = 50
IDLE_POLL_SECONDS = 0.5
MAX_ERROR_LENGTH = 500

# The outbox in /metrics: deliveries by status; `scheduled` is the backlog.
OUTBOX_BY_STATUS = DatabaseGauge(
    name="product_partners_webhook_deliveries",
    documentation="Webhook deliveries by status (scheduled: the outbox backlog).",
    label="status",
    statement=select(d.c.status, func.count()).group_by(d.c.status),
    label_values=tuple(status.value for status in DeliveryStatus),
)


@dataclass(frozen=True, slots=True)
class Policy:
    timeout: float
    lease: timedelta
    retry_base: float
    max_attempts: int
    batch_size: int = BATCH_SIZE

    @classmethod
    def of(cls, settings: Settings) -> "Policy":
        return cls(
            timeout=settings.webhook_timeout,
            lease=timedelta(seconds=settings.webhook_lease_seconds),
            retry_base=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
        )


def retry_delay(attempt: int, base: float) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): base * 4^(attempt-1), at most
    12 hours, then +-20% jitter so that receivers recovering from an outage are not hit by
    every retry at the same moment."""
    delay = min(base * 4 ** (attempt - 1), MAX_DELAY_SECONDS)
    return delay * random.uniform(1 - JITTER, 1 + JITTER)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempt: int
    endpoint_id: int
    url: str
    secrets: tuple[str, ...]
    event: dict[str, Any]
    event_id: int


@dataclass(frozen=True, slots=True)
class Outcome:
    claimed: Claimed
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim(conn: AsyncConnection, policy: Policy, token: str) -> list[Claimed]:
    """Lease up to ``batch_size`` due deliveries of enabled endpoints to ``token``."""
    now = datetime.now(UTC)
    due = (
        select(d.c.id)
        .join(ep, ep.c.id == d.c.endpoint_id)
        .where(
            d.c.status == DeliveryStatus.scheduled.value,
            d.c.next_attempt_at <= now,
            or_(d.c.lease_until.is_(None), d.c.lease_until < now),
            ep.c.enabled.is_(True),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(policy.batch_size)
        .with_for_update(skip_locked=True, of=d)
    )
    # A read first: an idle worker never takes the write lock (SQLite has one for everyone).
    anything_due = select(d.c.id).where(
        d.c.status == DeliveryStatus.scheduled.value, d.c.next_attempt_at <= now
    )
    if (await conn.execute(anything_due.limit(1))).first() is None:
        return []
    async with transaction(conn):
        leased = (
            await conn.execute(
                update(d)
                .where(d.c.id.in_(due))
                .values(
                    lease_until=now + policy.lease, lease_token=token, attempts=d.c.attempts + 1
                )
                .returning(d.c.id)
            )
        ).all()
        if not leased:
            return []
        rows = (
            await conn.execute(
                select(
                    d.c.id.label("delivery_id"),
                    d.c.attempts,
                    d.c.endpoint_id,
                    ep.c.url,
                    ep.c.secret,
                    ep.c.previous_secret,
                    ep.c.previous_secret_expires_at,
                    events,
                )
                .join(ep, ep.c.id == d.c.endpoint_id)
                .join(events, events.c.id == d.c.event_id)
                .where(d.c.id.in_([r.id for r in leased]))
                .order_by(d.c.id)
            )
        ).all()
    return [_claimed(row, now) for row in rows]


def _claimed(row: Any, now: datetime) -> Claimed:
    secrets = [row.secret]
    expires = row.previous_secret_expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if row.previous_secret and expires is not None and expires > now:
        secrets.append(row.previous_secret)
    return Claimed(
        id=row.delivery_id,
        attempt=row.attempts,
        endpoint_id=row.endpoint_id,
        url=row.url,
        secrets=tuple(secrets),
        event=event_body(row),
        event_id=row.id,
    )


async def post(client: WebhookClient, claimed: Claimed) -> Outcome:
    """One attempt: the event, signed, to the endpoint's URL (redirects are not followed:
    a 3xx is a failure)."""
    body = dumps(claimed.event)
    now = datetime.now(UTC)
    headers = signed_headers(claimed.secrets, claimed.event["id"], now, body)
    headers["user-agent"] = f"product-partners/{__version__} (webhooks)"
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        status = await client.post(claimed.url, content=body, headers=headers)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except DeliveryError as exc:
        error = str(exc)[:MAX_ERROR_LENGTH]
    duration = int((time.perf_counter() - started) * 1000)
    return Outcome(claimed, now, status, duration, error)


async def settle(
    conn: AsyncConnection, outcomes: list[Outcome], policy: Policy, token: str
) -> None:
    """Record the attempts and their consequences, in one transaction."""
    now = datetime.now(UTC)
    async with transaction(conn):
        for outcome in outcomes:
            await _settle_one(conn, outcome, policy, token, now)


async def _settle_one(
    conn: AsyncConnection, outcome: Outcome, policy: Policy, token: str, now: datetime
) -> None:
    claimed = outcome.claimed
    mine = and_(d.c.id == claimed.id, d.c.lease_token == token)
    release = {"lease_until": None, "lease_token": None}
    next_retry: datetime | None = None
    gave_up = False
    if outcome.ok:
        values: dict[str, Any] = {
            **release,
            "status": DeliveryStatus.delivered.value,
            "delivered_at": now,
        }
    elif claimed.attempt >= policy.max_attempts:
        gave_up = True
        values = {**release, "status": DeliveryStatus.failed.value}
    else:
        next_retry = now + timedelta(seconds=retry_delay(claimed.attempt, policy.retry_base))
        values = {**release, "next_attempt_at": next_retry}
    await conn.execute(
        insert(webhook_attempts).values(
            delivery_id=claimed.id,
            endpoint_id=claimed.endpoint_id,
            event_id=claimed.event_id,
            attempt=claimed.attempt,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            next_retry_at=next_retry,
        )
    )
    updated = await conn.execute(update(d).where(mine).values(**values))
    if not updated.rowcount:
        return  # the lease ran out and another worker has the row: its outcome will count
    # The endpoint row is written only when its state flips (no lock taken per delivery).
    this_endpoint = ep.c.id == claimed.endpoint_id
    if outcome.ok:
        await conn.execute(
            update(ep)
            .where(this_endpoint, ep.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return
    await conn.execute(
        update(ep)
        .where(this_endpoint, ep.c.failing_since.is_(None))
        .values(failing_since=outcome.attempted_at)
    )
    if gave_up:
        # Disabled when no delivery to the endpoint succeeded since this one's first attempt
        # (about three days of failures with the defaults).
        first_attempt = select(func.min(webhook_attempts.c.attempted_at)).where(
            webhook_attempts.c.delivery_id == claimed.id
        )
        failing_throughout = (
            await conn.execute(
                select(ep.c.id).where(
                    ep.c.id == claimed.endpoint_id,
                    ep.c.failing_since <= first_attempt.scalar_subquery(),
                )
            )
        ).first()
        if failing_throughout is not None:
            await service.disable_failing(conn, claimed.endpoint_id, now)


async def settle_answered(
    conn: AsyncConnection, outcomes: list[Outcome], policy: Policy, token: str
) -> None:
    """Record answered attempts, in one transaction: when every one of them succeeded (the
    steady state), with one statement per table for all of them; otherwise one by one
    (:func:`settle`)."""
    if not all(outcome.ok for outcome in outcomes):
        await settle(conn, outcomes, policy, token)
        return
    now = datetime.now(UTC)
    async with transaction(conn):
        await conn.execute(
            insert(webhook_attempts),
            [
                {
                    "delivery_id": o.claimed.id,
                    "endpoint_id": o.claimed.endpoint_id,
                    "event_id": o.claimed.event_id,
                    "attempt": o.claimed.attempt,
                    "attempted_at": o.attempted_at,
                    "status_code": o.status_code,
                    "duration_ms": o.duration_ms,
                    "error": o.error,
                    "next_retry_at": None,
                }
                for o in outcomes
            ],
        )
        # Only the rows still leased to this worker (a lease that ran out is another's now).
        mine = (
            await conn.execute(
                update(d)
                .where(d.c.id.in_([o.claimed.id for o in outcomes]), d.c.lease_token == token)
                .values(
                    status=DeliveryStatus.delivered.value,
                    delivered_at=now,
                    lease_until=None,
                    lease_token=None,
                )
                .returning(d.c.endpoint_id)
            )
        ).all()
        endpoints = sorted({row.endpoint_id for row in mine})
        if endpoints:
            # The endpoint row is written only when its state flips (no lock per delivery).
            await conn.execute(
                update(ep)
                .where(ep.c.id.in_(endpoints), ep.c.failing_since.is_not(None))
                .values(failing_since=None)
            )


async def _settle_group(
    engine: AsyncEngine, outcomes: list[Outcome], policy: Policy, token: str
) -> None:
    try:
        async with engine.connect() as conn:
            await settle_answered(conn, outcomes, policy, token)
    except sa_exc.IntegrityError:
        # An endpoint was deleted meanwhile, its deliveries with it: settle the others.
        for outcome in outcomes:
            with contextlib.suppress(sa_exc.IntegrityError):
                async with engine.connect() as conn:
                    await settle(conn, [outcome], policy, token)


async def deliver_batch(engine: AsyncEngine, client: WebhookClient, policy: Policy) -> int:
    """Claim a batch, post its deliveries at once and settle them as their answers come in:
    the answers that arrived together (or while the previous ones were being recorded) in
    one transaction, so that a worker killed meanwhile leaves only the unanswered ones, and
    those being recorded, to be delivered again; the number of deliveries attempted."""
    token = os.urandom(16).hex()
    async with engine.connect() as conn:
        batch = await claim(conn, policy, token)
    pending = {asyncio.ensure_future(post(client, c)) for c in batch}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            await _settle_group(engine, [task.result() for task in done], policy, token)
    finally:
        for task in pending:  # only after an error: its attempts are delivered again
            task.cancel()
    return len(batch)


async def worker_round(engine: AsyncEngine, client: WebhookClient, policy: Policy) -> bool:
    """One round of a worker: fan the newly logged events out into the outbox, then deliver a
    batch; whether there may be more to do at once (a full batch of either)."""
    fanned = 0
    try:
        async with engine.connect() as conn:
            fanned = await fan_out(conn)
    except Exception:  # noqa: BLE001 - what is already queued is delivered all the same
        log.warning("webhook fan-out failed; delivering what is queued", exc_info=True)
    delivered = await deliver_batch(engine, client, policy)
    return fanned == FANOUT_BATCH_SIZE or delivered == policy.batch_size


def http_client(policy: Policy) -> WebhookClient:
    """The worker's client (webhooks/client.py): keep-alive, no redirects, ``timeout``."""
    return WebhookClient(policy.timeout)


async def run(engine: AsyncEngine, policy: Policy, stop: asyncio.Event) -> None:
    """Fan out and deliver until ``stop`` is set: round after round while there is work, a
    poll every half second when there is none. A database outage is logged and waited out."""
    async with http_client(policy) as client:
        while not stop.is_set():
            try:
                busy = await worker_round(engine, client, policy)
            except Exception:  # noqa: BLE001 - the worker outlives a failed round
                log.warning("webhook delivery round failed; retrying shortly", exc_info=True)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), IDLE_POLL_SECONDS)


class InProcessDelivery:
    """Delivery inside a ``serve`` process (WEBHOOK_DELIVERY_IN_PROCESS, on by default on
    SQLite, so that ``make run`` delivers too). Each serving process runs one; they share the
    outbox exactly as separate workers do (leases), so any number of processes is safe."""

    def __init__(self, engine: AsyncEngine, policy: Policy) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(run(engine, policy, self._stop))

    async def close(self) -> None:
        """Stop after the current round (waiting at most ten seconds); a round cut short is
        delivered again once its lease ends."""
        self._stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._task, 10.0)
