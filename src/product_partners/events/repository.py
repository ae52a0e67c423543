"""SQL of the event log: the insert, the outbox fan-out, and the audience-filtered reads."""

from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    bindparam,
    insert,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import events, webhook_deliveries, webhook_endpoints
from product_partners.kit.text import contains_pattern

ALL_TYPES = "*"


# The event's columns, as named bind parameters ("values" of event_values()).
EVENT_COLUMNS = tuple(c.name for c in events.c if c.name != "id")
_AUDIENCE: tuple[Any, Any] = (bindparam("owner_business_id"), bindparam("partner_business_id"))


def _fan_out_source(event_id: Any) -> Select:
    """The outbox rows of the event ``event_id``: one per enabled endpoint of its audience
    that subscribes to every type or to its type (``type_pattern``: the type as a LIKE
    pattern, see :func:`type_pattern`)."""
    ep = webhook_endpoints
    subscribed = or_(
        ep.c.event_types == literal_column(f"'{ALL_TYPES}'"),
        ep.c.event_types.like(bindparam("type_pattern"), escape="\\"),
    )
    return select(event_id, ep.c.id, bindparam("occurred_at", type_=DateTime(timezone=True))).where(
        ep.c.business_id.in_(_AUDIENCE), ep.c.enabled.is_(True), subscribed
    )


_OUTBOX_COLUMNS = ["event_id", "endpoint_id", "next_attempt_at"]
_INSERT_EVENT = insert(events).values({name: bindparam(name) for name in EVENT_COLUMNS})

# PostgreSQL: the event and its outbox rows in ONE statement (a data-modifying CTE runs once,
# whether or not the outer INSERT selects any endpoint). The hot path compiles it for asyncpg.
RECORD_STATEMENT = insert(webhook_deliveries).from_select(
    _OUTBOX_COLUMNS,
    _fan_out_source((ev := _INSERT_EVENT.returning(events.c.id).cte("ev")).c.id).select_from(
        ev.join(webhook_endpoints, true())
    ),
)


def with_event(change: Any) -> Select:
    """PostgreSQL: ``change`` (a data-modifying CTE returning at most one row), its event and
    the event's outbox rows in ONE statement, hence one transaction without BEGIN and COMMIT:
    the event is written only when ``change`` returns a row (a change that did nothing has no
    event), and the statement returns ``change``'s rows. The event's values are the bind
    parameters of :data:`RECORD_STATEMENT` (event_values()), so they must be known before the
    change runs (the hot path's add renders its body from a dry run, then runs this)."""
    params = [bindparam(name, type_=events.c[name].type) for name in EVENT_COLUMNS]
    event = (
        insert(events)
        .from_select(EVENT_COLUMNS, select(*params).select_from(change))
        .returning(events.c.id)
        .cte("ev")
    )
    outbox = insert(webhook_deliveries).from_select(
        _OUTBOX_COLUMNS,
        _fan_out_source(event.c.id).select_from(event.join(webhook_endpoints, true())),
    )
    return select(change).add_cte(outbox.cte("outbox"))


# SQLite (no data-modifying CTE): the event, then its outbox rows.
_FAN_OUT = insert(webhook_deliveries).from_select(
    _OUTBOX_COLUMNS, _fan_out_source(bindparam("event_id"))
)


def type_pattern(event_type: str) -> str:
    """The LIKE pattern of one type among an endpoint's space-separated ``event_types``."""
    return contains_pattern(f" {event_type} ")


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """The event (``values``: event_values() and its type_pattern) and its outbox rows."""
    if conn.dialect.name == "postgresql":
        await conn.execute(RECORD_STATEMENT, values)
        return
    result = await conn.execute(_INSERT_EVENT.returning(events.c.id), values)
    await conn.execute(_FAN_OUT, {**values, "event_id": result.scalar_one()})


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
