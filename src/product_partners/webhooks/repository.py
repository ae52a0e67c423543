"""SQL of webhook endpoints, deliveries and attempts; every endpoint query is filtered by the
owning business here."""

from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.db.tables import (
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

ep, d, a = webhook_endpoints, webhook_deliveries, webhook_attempts

# The stored subscription to every event type (``webhook_endpoints.event_types``); otherwise
# the subscribed types, space-separated with a space at each end (" a b ").
ALL_TYPES = "*"


def subscribes(event_types: Any, event_type: Any) -> ColumnElement[bool]:
    """SQL: a stored subscription (``event_types``: a column, or a value as ``literal``)
    includes ``event_type`` (a column or value). The one rule of who hears what: the fan-out
    and replay both use it."""
    # The type between spaces, as a LIKE pattern: "_" (in every type) would match any letter.
    pattern = literal("% ") + func.replace(event_type, "_", "\\_") + literal(" %")
    return or_(event_types == ALL_TYPES, event_types.like(pattern, escape="\\"))


def endpoints_query(business_id: int) -> Select:
    return select(ep).where(ep.c.business_id == business_id)


async def get_endpoint(conn: AsyncConnection, business_id: int, endpoint_id: int) -> Any | None:
    stmt = endpoints_query(business_id).where(ep.c.id == endpoint_id)
    return (await conn.execute(stmt)).first()


async def insert_endpoint(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(insert(ep).values(**values).returning(ep.c.id))).scalar_one()


async def update_endpoint(
    conn: AsyncConnection, business_id: int, endpoint_id: int, values: dict[str, Any]
) -> Any | None:
    stmt = (
        update(ep)
        .where(ep.c.id == endpoint_id, ep.c.business_id == business_id)
        .values(**values)
        .returning(*ep.c)
    )
    return (await conn.execute(stmt)).first()


async def delete_endpoint(conn: AsyncConnection, business_id: int, endpoint_id: int) -> bool:
    result = await conn.execute(
        delete(ep).where(ep.c.id == endpoint_id, ep.c.business_id == business_id)
    )
    return result.rowcount > 0


async def queue(conn: AsyncConnection, endpoint_id: int, event_ids: list[int], now: Any) -> None:
    if event_ids:
        await conn.execute(
            insert(d),
            [
                {"event_id": e, "endpoint_id": endpoint_id, "next_attempt_at": now}
                for e in event_ids
            ],
        )


async def delivery(conn: AsyncConnection, endpoint_id: int, event_id: int) -> Any:
    stmt = (
        select(d)
        .where(d.c.endpoint_id == endpoint_id, d.c.event_id == event_id)
        .order_by(d.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(stmt)).one()


def attempts_query(endpoint_id: int) -> Select:
    return (
        select(
            a,
            events.c.public_id.label("event_public_id"),
            events.c.type.label("event_type"),
            d.c.status.label("delivery_status"),
        )
        .join(events, events.c.id == a.c.event_id)
        .join(d, d.c.id == a.c.delivery_id)
        .where(a.c.endpoint_id == endpoint_id)
    )


async def disable(conn: AsyncConnection, endpoint_id: int, reason: str, now: Any) -> Any | None:
    """Disable an enabled endpoint; its row, or None if it was not enabled."""
    stmt = (
        update(ep)
        .where(ep.c.id == endpoint_id, ep.c.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .returning(*ep.c)
    )
    return (await conn.execute(stmt)).first()
