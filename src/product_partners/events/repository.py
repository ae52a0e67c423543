"""SQL of the event log: the insert, the outbox fan-out, and the audience-filtered reads."""

from typing import Any

from sqlalchemy import ColumnElement, Select, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import events, webhook_deliveries, webhook_endpoints

ALL_TYPES = "*"


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(insert(events).values(**values).returning(events.c.id))).scalar_one()


def subscribed(event_type: str) -> ColumnElement[bool]:
    """The endpoint subscribes to ``event_type`` (every type, or this one among its types)."""
    column = webhook_endpoints.c.event_types
    return or_(column == ALL_TYPES, column.contains(f" {event_type} ", autoescape=True))


async def fan_out(
    conn: AsyncConnection,
    event_id: int,
    event_type: str,
    audience: tuple[int, ...],
    now: Any,
) -> None:
    """The outbox rows of one event: one delivery per enabled endpoint of its audience that
    subscribes to its type (one INSERT ... SELECT, in the event's transaction)."""
    source = select(
        literal(event_id, webhook_deliveries.c.event_id.type),
        webhook_endpoints.c.id,
        literal(now, webhook_deliveries.c.next_attempt_at.type),
    ).where(
        webhook_endpoints.c.business_id.in_(audience),
        webhook_endpoints.c.enabled.is_(True),
        subscribed(event_type),
    )
    await conn.execute(
        insert(webhook_deliveries).from_select(
            ["event_id", "endpoint_id", "next_attempt_at"], source
        )
    )


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
