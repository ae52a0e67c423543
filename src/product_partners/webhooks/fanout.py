"""The fan-out: the worker queues each logged event's deliveries (the outbox,
``webhook_deliveries``), one per endpoint that hears it, reading the event log from where it
stopped (``webhook_fanout``).

Why here and not in the change's transaction: writing the outbox rows with each change cost
add-partner about a quarter of its throughput, the event row alone about 6% (bench/NOTES.md).
The event itself is still written in the change's transaction (no event without its change,
no change without its event), so a committed event is fanned out at the worker's next round.

**A log that commits out of order.** Event ids are drawn before commit, so a later id can
commit first; a cursor on ids alone would step over an earlier id still in flight, for good.
On PostgreSQL each event carries its transaction's id (``events.txid``) and the fan-out reads
in (txid, id) order, only below the oldest transaction still running (``pg_snapshot_xmin``):
no transaction below that horizon can still commit, so nothing ever appears behind the
cursor. A write transaction left open (in any database of the cluster) holds the fan-out back
until it ends. On SQLite one writer writes at a time, so ids commit in order: the cursor is
the id.

**Who hears an event**: the enabled endpoints of its audience (owner and partner) that
subscribe to its type (``repository.subscribes``) and existed when it occurred (an endpoint
hears what happens from its creation on: ``replayWebhookEndpoint`` queues earlier events).
Decided when the event is fanned out, normally within a second of it (longer while no worker
runs): an endpoint disabled or resubscribed meanwhile is judged as it is then. Creation and
occurrence are both the serving hosts' clocks: keep them synchronised.

**Several workers, kills**: the cursor row is locked (``FOR UPDATE SKIP LOCKED``; SQLite:
``BEGIN IMMEDIATE``), so one worker fans out at a time while the others deliver; the
deliveries and the cursor move in one transaction, so a worker killed midway queues nothing
twice and skips nothing.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.connections import transaction
from product_partners.db.tables import events, webhook_deliveries, webhook_endpoints, webhook_fanout
from product_partners.kit.ops.metrics import DatabaseGauge
from product_partners.webhooks.repository import subscribes

log = logging.getLogger("product_partners.webhooks")

e, ep, cursor = events, webhook_endpoints, webhook_fanout
BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class Position:
    """Where the fan-out stands: the last event it read (txid 0 on SQLite). (Values, or the
    cursor's columns in a statement.)"""

    txid: Any
    event_id: Any


def _as_bigint(xid8: Any) -> Any:
    return cast(cast(xid8, Text), BigInteger)


# The oldest transaction still running: every transaction below it has committed or aborted.
_HORIZON = _as_bigint(func.pg_snapshot_xmin(func.pg_current_snapshot()))
# The next transaction id to be assigned.
_NEXT_TXID = _as_bigint(func.pg_snapshot_xmax(func.pg_current_snapshot()))


def _bigint(value: Any) -> Any:
    return value if isinstance(value, ColumnElement) else literal(value, BigInteger)


def _after(dialect: str, at: Position) -> Any:
    """The events after ``at`` in the fan-out's order."""
    if dialect == "postgresql":
        return tuple_(e.c.txid, e.c.id) > tuple_(_bigint(at.txid), _bigint(at.event_id))
    return e.c.id > _bigint(at.event_id)


def next_events(dialect: str, at: Position, limit: int) -> Select:
    """The ids and txids of the next ``limit`` events to fan out, in the fan-out's order."""
    after = select(e.c.id, e.c.txid).where(_after(dialect, at)).limit(limit)
    if dialect == "postgresql":
        return after.where(e.c.txid < _HORIZON).order_by(e.c.txid, e.c.id)
    return after.order_by(e.c.id)


def _deliveries_of(event_ids: list[int]) -> Any:
    """The outbox rows of these events: one per endpoint that hears each (module docstring),
    due when the event occurred."""
    hears = (
        or_(ep.c.business_id == e.c.owner_business_id, ep.c.business_id == e.c.partner_business_id)
        & ep.c.enabled.is_(True)
        & subscribes(ep.c.event_types, e.c.type)
        & (ep.c.created_at <= e.c.occurred_at)
    )
    source = (
        select(e.c.id, ep.c.id, e.c.occurred_at)
        .select_from(e.join(ep, hears))
        .where(e.c.id.in_(event_ids))
        .order_by(e.c.id, ep.c.id)
    )
    return insert(webhook_deliveries).from_select(
        ["event_id", "endpoint_id", "next_attempt_at"], source
    )


async def _position(conn: AsyncConnection, *, lock: bool) -> Position | None:
    """The cursor (locked for this transaction with ``lock``; None: another worker holds it)."""
    stmt = select(cursor.c.last_txid, cursor.c.last_event_id)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    row = (await conn.execute(stmt)).first()
    return None if row is None else Position(row.last_txid, row.last_event_id)


async def fan_out(conn: AsyncConnection, limit: int = BATCH_SIZE) -> int:
    """Queue the deliveries of the next ``limit`` logged events, and move the cursor past
    them, in one transaction; the number of events read (0: nothing new, or another worker
    is fanning out)."""
    dialect = conn.dialect.name
    at = await _position(conn, lock=False)
    if at is None:
        raise RuntimeError("webhook_fanout has no row: run the migrations (db upgrade)")
    await _rebase_if_moved(conn, at)
    # A read first: an idle worker never locks the cursor (nor takes SQLite's write lock).
    if (await conn.execute(next_events(dialect, at, 1))).first() is None:
        return 0
    async with transaction(conn):
        at = await _position(conn, lock=True)
        if at is None:
            return 0
        batch = (await conn.execute(next_events(dialect, at, limit))).all()
        if not batch:
            return 0
        await conn.execute(_deliveries_of([row.id for row in batch]))
        last = batch[-1]
        await conn.execute(
            update(cursor).values(
                last_txid=last.txid or 0, last_event_id=last.id, updated_at=datetime.now(UTC)
            )
        )
    return len(batch)


async def _rebase_if_moved(conn: AsyncConnection, at: Position) -> None:
    """PostgreSQL: a cursor or an event ahead of the next transaction id comes from another
    cluster (a dump restored elsewhere, a promoted logical replica): rebase the log
    (:func:`rebase`). One probe of the (txid, id) index."""
    if conn.dialect.name != "postgresql":
        return
    future = or_(_bigint(at.txid) >= _NEXT_TXID, exists().where(e.c.txid >= _NEXT_TXID))
    if (await conn.execute(select(future))).scalar_one():
        log.warning("webhook fan-out: the event log came from another cluster; rebasing")
        await rebase(conn)


async def rebase(conn: AsyncConnection) -> None:
    """After the log was copied into another PostgreSQL cluster, whose transaction ids are not
    the ones it was written with: the events not fanned out yet get txid 1 (below any
    transaction id in use), the rest lose theirs, and the cursor starts again from txid 0.
    (``db restore`` runs it, one pass over the log, without the statement timeout; the
    fan-out too when it finds txids ahead of the cluster's.) Not fanned out yet: after the
    cursor, or with a later id than its event (written here since the copy, under this
    cluster's ids). The latter may also take an event of the copy that was fanned out out of
    id order: queued again, at least once."""
    if conn.dialect.name != "postgresql":
        return
    async with transaction(conn):
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        at = await _position(conn, lock=True)
        if at is None:
            return
        pending = or_(_after("postgresql", at), e.c.id > at.event_id)
        await conn.execute(update(e).where(e.c.txid.is_not(None), ~pending).values(txid=None))
        await conn.execute(update(e).where(pending).values(txid=1))
        await conn.execute(update(cursor).values(last_txid=0, updated_at=datetime.now(UTC)))


def waiting(dialect: str) -> Select:
    """How many events are logged and not yet fanned out."""
    at = Position(cursor.c.last_txid, cursor.c.last_event_id)  # the cursor's columns
    return select(func.count()).select_from(e.join(cursor, _after(dialect, at)))


# In /metrics: events logged whose deliveries are not queued yet (the backlog before the
# outbox's, which ``delivery.OUTBOX_BY_STATUS`` counts).
EVENTS_TO_FAN_OUT = DatabaseGauge(
    name="product_partners_webhook_events_to_fan_out",
    documentation="Events logged whose webhook deliveries the worker has not queued yet.",
    statement=waiting,
)
