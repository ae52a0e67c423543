"""SQL of the event log: the insert and the audience-filtered reads. (Webhook deliveries are
queued from the log by the worker: ``webhooks/fanout.py``.)"""

from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import events

# The event's columns, as named bind parameters ("values" of event_values()). ``txid`` is the
# database's (its default: the writing transaction's id).
EVENT_COLUMNS = tuple(c.name for c in events.c if c.name not in ("id", "txid"))
_INSERT_EVENT = insert(events).values({name: bindparam(name) for name in EVENT_COLUMNS})


def with_event(change: Any) -> Select:
    """PostgreSQL: ``change`` (a data-modifying CTE returning at most one row) and its event
    in ONE statement, hence one transaction without BEGIN and COMMIT: the event is written
    only when ``change`` returns a row (a change that did nothing has no event), and the
    statement returns ``change``'s rows. The event's values are its bind parameters
    (event_values()), so they must be known before the change runs (the hot path's add
    renders its body from a dry run, then runs this)."""
    params = [bindparam(name, type_=events.c[name].type) for name in EVENT_COLUMNS]
    event = insert(events).from_select(EVENT_COLUMNS, select(*params).select_from(change))
    return select(change).add_cte(event.cte("ev"))


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """The event (``values``: event_values())."""
    await conn.execute(_INSERT_EVENT, values)


def visible_to(business_id: int) -> ColumnElement[bool]:
    """The events ``business_id`` is the audience of (owner or partner)."""
    return or_(
        events.c.owner_business_id == business_id,
        events.c.partner_business_id == business_id,
    )


def events_query(business_id: int) -> Select:
    return select(events).where(visible_to(business_id))


async def event_by_public_id(conn: AsyncConnection, business_id: int, public_id: str) -> Any | None:
    stmt = events_query(business_id).where(events.c.public_id == public_id)
    return (await conn.execute(stmt)).first()


async def position_of(conn: AsyncConnection, public_id: str) -> int | None:
    """The log position (row id) of an event, whoever's: a cursor names a place in the log."""
    stmt = select(events.c.id).where(events.c.public_id == public_id)
    return (await conn.execute(stmt)).scalar()
