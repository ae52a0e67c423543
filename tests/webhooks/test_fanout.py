"""The worker's fan-out from the event log into the outbox (webhooks/fanout.py): every
committed event gets one delivery per endpoint that hears it, once, also when events commit
out of id order, when several workers fan out at once, and after the log moved to another
PostgreSQL cluster."""

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from product_partners.db.connections import transaction
from product_partners.db.tables import events, webhook_deliveries, webhook_endpoints, webhook_fanout
from product_partners.events.enums import EventType
from product_partners.events.service import record
from product_partners.webhooks.fanout import fan_out, waiting
from tests.support.api import Actor, Api
from tests.support.fanout import fan_out_all


async def _endpoint(api: Api, who: Actor, **fields: Any) -> int:
    response = await api.client.post(
        "/v3/webhook-endpoints",
        json={"url": "https://hooks.invalid/fanout", **fields},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


async def _queued(api: Api, endpoint_id: int) -> Counter:
    """Deliveries queued for the endpoint, by event id."""
    d = webhook_deliveries
    async with api.engine.connect() as conn:
        rows = await conn.execute(select(d.c.event_id).where(d.c.endpoint_id == endpoint_id))
        return Counter(row.event_id for row in rows)


async def _log(api: Api, business_id: int, resource_id: int) -> int:
    """Record a store.created event of the business; its log position (row id)."""
    async with api.engine.connect() as conn:
        return await _log_on(conn, business_id, resource_id)


async def _log_on(conn: Any, business_id: int, resource_id: int) -> int:
    async with transaction(conn):
        public_id = await record(
            conn,
            EventType.store_created,
            resource_id=resource_id,
            data={"id": resource_id},
            owner_business_id=business_id,
        )
    stmt = select(events.c.id).where(events.c.public_id == public_id)
    return int((await conn.execute(stmt)).scalar_one())


async def test_each_endpoint_that_hears_an_event_gets_one_delivery(api: Api) -> None:
    owner, partner, stranger = await api.actor(), await api.actor(), await api.actor()
    await fan_out_all(api.engine)
    every = await _endpoint(api, owner)
    stores_only = await _endpoint(api, owner, event_types=["store.created"])
    partnerships_only = await _endpoint(api, owner, event_types=["product_partner.created"])
    switched_off = await _endpoint(api, owner, enabled=False)
    partners = await _endpoint(api, partner, event_types=["product_partner.created"])
    strangers = await _endpoint(api, stranger)
    store = await api.client.post("/v3/stores", json={"name": "S"}, headers=owner.headers)
    product = await api.product(owner)
    added = await api.add_partner(owner, product["id"], partner.unique_id)
    assert store.status_code == 200 and added.status_code == 200
    late = await _endpoint(api, owner)  # created after those events: hears only its own
    await fan_out_all(api.engine)

    async def types(endpoint_id: int) -> list[str]:
        queued = await _queued(api, endpoint_id)
        assert set(queued.values()) <= {1}, "an event queued twice"
        async with api.engine.connect() as conn:
            rows = await conn.execute(
                select(events.c.type).where(events.c.id.in_(list(queued))).order_by(events.c.id)
            )
            return [row.type for row in rows]

    assert await types(stores_only) == ["store.created"]
    assert await types(partnerships_only) == ["product_partner.created"]
    assert await types(partners) == ["product_partner.created"]  # the partner is its audience
    assert await types(switched_off) == []
    assert await types(strangers) == ["webhook_endpoint.created"]  # its own creation only
    assert await types(late) == ["webhook_endpoint.created"]
    heard = await types(every)
    assert {"store.created", "product_partner.created"} <= set(heard)
    assert "webhook_endpoint.created" in heard  # its own, and its siblings'
    # Nothing of the stranger's reached the owner's endpoints.
    async with api.engine.connect() as conn:
        queued_events = list(await _queued(api, every))
        owners = await conn.execute(
            select(func.count()).where(
                events.c.id.in_(queued_events), events.c.owner_business_id != owner.id
            )
        )
        assert owners.scalar_one() == 0


async def test_several_workers_fanning_out_at_once_queue_each_event_once(api: Api) -> None:
    owner = await api.actor()
    await fan_out_all(api.engine)
    endpoint = await _endpoint(api, owner, event_types=["store.created"])
    logged = [await _log(api, owner.id, i) for i in range(40)]

    workers = (fan_out_all(api.engine, limit=3, pause=0.005) for _ in range(4))
    await asyncio.wait_for(asyncio.gather(*workers), 60)
    assert await _queued(api, endpoint) == Counter(logged)


@pytest.mark.postgres_only
async def test_an_event_that_commits_after_a_later_id_is_not_skipped(api: Api) -> None:
    """Event ids are drawn before commit: here the earlier id commits last. A cursor on ids
    would step over it for good."""
    owner = await api.actor()
    await fan_out_all(api.engine)
    endpoint = await _endpoint(api, owner, event_types=["store.created"])
    async with api.engine.connect() as slow, api.engine.connect() as quick:
        async with transaction(slow):
            early = await record(
                slow,
                EventType.store_created,
                resource_id=1,
                data={},
                owner_business_id=owner.id,
            )
            later = await _log_on(quick, owner.id, 2)
            async with api.engine.connect() as worker:
                # The slow transaction still runs: nothing from its horizon on is read yet.
                await fan_out(worker)
            assert await _queued(api, endpoint) == Counter()
        await fan_out_all(api.engine)
    ids = await _ids(api, [early])
    assert await _queued(api, endpoint) == Counter([*ids, later])
    assert min(ids) < later  # the earlier id, committed last, was not skipped


async def _ids(api: Api, public_ids: list[str]) -> list[int]:
    async with api.engine.connect() as conn:
        rows = await conn.execute(select(events.c.id).where(events.c.public_id.in_(public_ids)))
        return [row.id for row in rows]


@pytest.mark.postgres_only
async def test_a_log_from_another_cluster_is_rebased_and_nothing_is_queued_twice(
    api: Api,
) -> None:
    """A dump restored into another cluster keeps the source's transaction ids, which may be
    ahead of the new cluster's: events written there would sort behind the cursor for good.
    The fan-out sees the cursor ahead of the next transaction id and rebases the log."""
    owner = await api.actor()
    await fan_out_all(api.engine)
    endpoint = await _endpoint(api, owner, event_types=["store.created"])
    fanned = await _log(api, owner.id, 1)
    await fan_out_all(api.engine)
    pending = await _log(api, owner.id, 2)
    # As if copied from a cluster 10^9 transactions ahead: every txid and the cursor.
    ahead = 10**9
    async with api.engine.connect() as conn, transaction(conn):
        await conn.execute(
            update(events).where(events.c.txid.is_not(None)).values(txid=events.c.txid + ahead)
        )
        await conn.execute(
            update(webhook_fanout).values(last_txid=webhook_fanout.c.last_txid + ahead)
        )
    written_here = await _log(api, owner.id, 3)  # sorts behind the cursor
    async with api.engine.connect() as conn:
        assert (await conn.execute(waiting("postgresql"))).scalar_one() == 1  # only `pending`
        await fan_out(conn)  # finds nothing readable, and the cursor ahead: rebases
    await fan_out_all(api.engine)
    assert await _queued(api, endpoint) == Counter([fanned, pending, written_here])
    async with api.engine.connect() as conn:
        cursor = (await conn.execute(select(webhook_fanout.c.last_txid))).scalar_one()
        next_txid = (await conn.execute(text("SELECT pg_current_xact_id()::text::bigint"))).scalar()
    assert cursor < next_txid  # back in this cluster's transaction ids
    # Later events go on being fanned out.
    after = await _log(api, owner.id, 4)
    await fan_out_all(api.engine)
    assert (await _queued(api, endpoint))[after] == 1


@pytest.mark.postgres_only
async def test_a_log_copied_before_its_first_fan_out_is_rebased_too(api: Api) -> None:
    """Upgraded while no worker ran (the cursor still at txid 0), events logged, then the log
    copied to a cluster whose transaction ids are far behind: those events are above the
    horizon for good unless rebased."""
    owner = await api.actor()
    await fan_out_all(api.engine)
    endpoint = await _endpoint(api, owner, event_types=["store.created"])
    await fan_out_all(api.engine)
    async with api.engine.connect() as conn:
        # As migration 0011 leaves it: the log so far without txids, the cursor at (0, last).
        last = (await conn.execute(select(func.max(events.c.id)))).scalar_one()
        await conn.execute(update(events).where(events.c.id <= last).values(txid=None))
        await conn.execute(update(webhook_fanout).values(last_txid=0, last_event_id=last))
    copied = [await _log(api, owner.id, i) for i in range(3)]
    async with api.engine.connect() as conn:
        await conn.execute(
            update(events).where(events.c.id.in_(copied)).values(txid=events.c.txid + 10**9)
        )
    written_here = await _log(api, owner.id, 3)
    await fan_out_all(api.engine)
    assert await _queued(api, endpoint) == Counter([*copied, written_here])


async def test_an_endpoint_switched_off_meanwhile_is_left_out(api: Api) -> None:
    owner = await api.actor()
    await fan_out_all(api.engine)
    endpoint = await _endpoint(api, owner, event_types=["store.created"])
    await _log(api, owner.id, 1)
    async with api.engine.connect() as conn:
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint)
            .values(enabled=False)
        )
    await fan_out_all(api.engine)
    assert await _queued(api, endpoint) == Counter()
