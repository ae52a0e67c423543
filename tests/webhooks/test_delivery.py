"""Webhook delivery against a real HTTP receiver on the loopback interface: every event
arrives, signed so that the ``standardwebhooks`` library verifies it, exactly once in storage;
a receiver that fails and recovers gets every event; several workers never deliver one
attempt twice; a worker killed with SIGKILL loses nothing."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from product_partners.db.tables import webhook_deliveries, webhook_endpoints
from product_partners.webhooks.delivery import Policy, deliver_batch, http_client
from tests.support.api import Actor, Api, assert_error
from tests.support.fanout import fan_out_all
from tests.support.receiver import Receiver, receiver
from tests.support.servers import BIN, cli_env


@pytest.fixture(autouse=True)
async def only_loopback_receivers(api: Api) -> None:
    """The workers these tests run deliver whatever is due in the session's database: other
    suites' endpoints (the fuzzer's random https hosts) are disabled first, so that nothing
    is ever posted beyond this machine."""
    ep = webhook_endpoints
    async with api.engine.connect() as conn:
        await conn.execute(
            update(ep).where(ep.c.url.not_like("http://127.0.0.1:%")).values(enabled=False)
        )


FAST = Policy(timeout=2.0, lease=timedelta(seconds=5), retry_base=0.01, max_attempts=5)


async def _endpoint(api: Api, who: Actor, url: str, **fields: Any) -> dict[str, Any]:
    response = await api.client.post(
        "/v3/webhook-endpoints", json={"url": url, **fields}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    return body


async def _stores(api: Api, who: Actor, n: int) -> list[str]:
    """Create ``n`` stores; the ids of their store.created events."""
    ids = []
    for i in range(n):
        response = await api.client.post("/v3/stores", json={"name": f"W{i}"}, headers=who.headers)
        assert response.status_code == 200, response.text
        listed = await api.client.get(
            "/v3/events",
            params={"resource_type": "store", "resource_id": response.json()["id"]},
            headers=who.headers,
        )
        ids.append(listed.json()["data"][0]["id"])
    return ids


async def _count(api: Api, endpoint_id: int, status: str) -> int:
    d = webhook_deliveries
    async with api.engine.connect() as conn:
        stmt = select(func.count()).where(d.c.endpoint_id == endpoint_id, d.c.status == status)
        return (await conn.execute(stmt)).scalar_one()


async def _pending(api: Api, endpoint_id: int) -> int:
    return await _count(api, endpoint_id, "scheduled")


async def _drain(api: Api, endpoint_id: int, policy: Policy = FAST, seconds: float = 30) -> None:
    """Fan out, then deliver until the endpoint has nothing pending (retries included)."""
    await fan_out_all(api.engine, seconds=seconds)
    deadline = time.monotonic() + seconds
    async with http_client(policy) as client:
        while await _pending(api, endpoint_id):
            assert time.monotonic() < deadline, "deliveries still pending"
            if not await deliver_batch(api.engine, client, policy):
                await asyncio.sleep(0.02)


async def _statuses(api: Api, endpoint_id: int) -> Counter:
    d = webhook_deliveries
    async with api.engine.connect() as conn:
        rows = await conn.execute(
            select(d.c.event_id, d.c.status).where(d.c.endpoint_id == endpoint_id)
        )
        return Counter(rows.all())


def _verify(rec: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every received body, each verified with the standardwebhooks library."""
    hook = Webhook(secret)
    payloads = []
    for item in rec.received:
        payload = hook.verify(item.body, item.headers)
        assert payload["id"] == item.headers["webhook-id"]
        payloads.append(payload)
    return payloads


async def test_every_event_arrives_once_signed_to_the_standard(api: Api) -> None:
    owner = await api.actor()
    with receiver() as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        expected = await _stores(api, owner, 6)
        await _drain(api, endpoint["id"])
        payloads = _verify(rec, endpoint["secret"])
    assert sorted(rec.ids()) == sorted(expected)  # none lost, none twice
    assert {p["type"] for p in payloads} == {"store.created"}
    assert {p["data"]["name"] for p in payloads} == {f"W{i}" for i in range(6)}
    # In storage: one delivery per event, delivered.
    statuses = await _statuses(api, endpoint["id"])
    assert sorted(statuses.values()) == [1] * 6
    assert {status for (_event, status) in statuses} == {"delivered"}
    # A signature made with another secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(rec.received[0].body, rec.received[0].headers)


async def test_a_receiver_that_fails_then_recovers_gets_every_event(api: Api) -> None:
    owner = await api.actor()
    with receiver(lambda n: 503 if n < 7 else 200) as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        expected = await _stores(api, owner, 4)
        await _drain(api, endpoint["id"])
    assert set(rec.accepted_ids()) == set(expected)
    assert sorted(Counter(rec.accepted_ids()).values()) == [1] * 4
    log = await api.client.get(
        f"/v3/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.headers
    )
    assert log.status_code == 200
    attempts = log.json()["data"]
    assert len(attempts) == len(rec.received)
    failed = [a for a in attempts if a["status_code"] == 503]
    assert len(failed) == 7
    assert all(a["error"] == "HTTP 503" and a["next_retry_at"] for a in failed)
    assert all(a["duration_ms"] >= 0 and a["event_type"] == "store.created" for a in attempts)
    assert {a["delivery_status"] for a in attempts} == {"delivered"}


async def test_an_endpoint_failing_every_attempt_is_disabled_with_an_event(api: Api) -> None:
    owner = await api.actor()
    policy = Policy(timeout=2.0, lease=timedelta(seconds=5), retry_base=0.01, max_attempts=3)
    with receiver(lambda n: 500) as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        await _stores(api, owner, 1)
        await _drain(api, endpoint["id"], policy)
    assert len(rec.received) == 3
    got = (
        await api.client.get(f"/v3/webhook-endpoints/{endpoint['id']}", headers=owner.headers)
    ).json()
    assert got["enabled"] is False and got["disabled_reason"] == "failing"
    disabled = (
        await api.client.get(
            "/v3/events", params={"type": "webhook_endpoint.disabled"}, headers=owner.headers
        )
    ).json()["data"]
    assert [e["resource"]["id"] for e in disabled] == [endpoint["id"]]
    assert disabled[0]["actor"]["type"] == "system"
    assert {status for (_event, status) in await _statuses(api, endpoint["id"])} == {"failed"}
    # Enabled again by its business, it is a fresh start.
    again = await api.client.patch(
        f"/v3/webhook-endpoints/{endpoint['id']}", json={"enabled": True}, headers=owner.headers
    )
    assert again.json()["enabled"] is True and again.json()["disabled_reason"] is None


async def test_redirects_are_not_followed(api: Api) -> None:
    owner = await api.actor()
    policy = Policy(timeout=2.0, lease=timedelta(seconds=5), retry_base=0.01, max_attempts=1)
    with receiver(lambda n: 307) as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        await _stores(api, owner, 1)
        await _drain(api, endpoint["id"], policy)
    assert len(rec.received) == 1  # the Location was never requested
    attempts = (
        await api.client.get(
            f"/v3/webhook-endpoints/{endpoint['id']}/deliveries", headers=owner.headers
        )
    ).json()["data"]
    assert attempts[0]["status_code"] == 307 and attempts[0]["delivery_status"] == "failed"


async def test_during_a_rotation_both_secrets_verify(api: Api) -> None:
    owner = await api.actor()
    with receiver() as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        rotated = await api.client.post(
            f"/v3/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=owner.headers
        )
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        await _stores(api, owner, 1)
        await _drain(api, endpoint["id"])
    (item,) = rec.received
    assert len(item.headers["webhook-signature"].split(" ")) == 2
    assert _verify(rec, endpoint["secret"]) == _verify(rec, new_secret)
    # The secret is never shown again, nor recorded in events.
    got = await api.client.get(f"/v3/webhook-endpoints/{endpoint['id']}", headers=owner.headers)
    assert "secret" not in got.json()
    log = (await api.client.get("/v3/events", headers=owner.headers)).text
    assert new_secret not in log and endpoint["secret"] not in log


async def test_several_workers_never_deliver_one_attempt_twice(api: Api) -> None:
    owner = await api.actor()
    with receiver() as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        expected = await _stores(api, owner, 40)
        policy = Policy(
            timeout=5.0, lease=timedelta(seconds=30), retry_base=0.01, max_attempts=5, batch_size=3
        )
        await fan_out_all(api.engine)

        async def worker() -> None:
            async with http_client(policy) as client:
                while await _pending(api, endpoint["id"]):
                    if not await deliver_batch(api.engine, client, policy):
                        await asyncio.sleep(0.01)

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(4))), 60)
    counts = Counter(rec.ids())
    assert set(counts) == set(expected)
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]


async def test_resend_and_replay(api: Api) -> None:
    owner = await api.actor()
    with receiver() as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        ids = await _stores(api, owner, 3)
        await _drain(api, endpoint["id"])
        resent = await api.client.post(
            f"/v3/webhook-endpoints/{endpoint['id']}/resend",
            json={"event_id": ids[1]},
            headers=owner.headers,
        )
        assert resent.status_code == 200, resent.text
        assert resent.json()["status"] == "scheduled" and resent.json()["event_id"] == ids[1]
        replayed = await api.client.post(
            f"/v3/webhook-endpoints/{endpoint['id']}/replay",
            json={"after": ids[0]},
            headers=owner.headers,
        )
        assert replayed.json() == {"queued": 2, "last_event_id": ids[2], "has_more": False}
        await _drain(api, endpoint["id"])
    assert Counter(rec.ids()) == {ids[0]: 1, ids[1]: 3, ids[2]: 2}
    missing = await api.client.post(
        f"/v3/webhook-endpoints/{endpoint['id']}/replay", json={}, headers=owner.headers
    )
    assert_error(missing, 400)


async def test_endpoint_urls_are_checked(api: Api) -> None:
    owner = await api.actor()
    for url in (
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest",
        "https://user:pw@hooks.example.com/x",
        "not a url",
    ):
        response = await api.client.post(
            "/v3/webhook-endpoints", json={"url": url}, headers=owner.headers
        )
        assert_error(response, 400, "invalid_webhook_url")
    response = await api.client.post(
        "/v3/webhook-endpoints",
        json={"url": "https://hooks.invalid/x", "event_types": ["store.melted"]},
        headers=owner.headers,
    )
    assert_error(response, 400)
    ok = await api.client.post(
        "/v3/webhook-endpoints",
        json={"url": "https://hooks.invalid/x", "event_types": ["store.created"]},
        headers=owner.headers,
    )
    assert ok.status_code == 200 and ok.json()["event_types"] == ["store.created"]


async def test_endpoints_receive_only_their_business_events(api: Api) -> None:
    owner, stranger = await api.actor(), await api.actor()
    with receiver() as mine, receiver() as theirs:
        endpoint = await _endpoint(api, owner, mine.url)
        other = await _endpoint(api, stranger, theirs.url)
        await _stores(api, owner, 2)
        await _drain(api, endpoint["id"])
        await _drain(api, other["id"])
    # Each endpoint subscribed to every type hears of its own creation, then its business's.
    mine_types = [json.loads(r.body)["type"] for r in mine.received]
    assert sorted(mine_types) == ["store.created", "store.created", "webhook_endpoint.created"]
    (only,) = [json.loads(r.body) for r in theirs.received]
    assert only["type"] == "webhook_endpoint.created" and only["resource"]["id"] == other["id"]


@pytest.mark.slow
async def test_a_worker_killed_mid_delivery_loses_nothing(api: Api, database_url: str) -> None:
    owner = await api.actor()
    # The first requests hang (the worker is killed while they are in flight), then all is well.
    with receiver(lambda n: (200, 8.0) if n < 3 else 200) as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        expected = await _stores(api, owner, 8)
        env = cli_env(
            database_url,
            WEBHOOK_TIMEOUT="5",
            WEBHOOK_LEASE_SECONDS="6",
            WEBHOOK_RETRY_BASE_SECONDS="0.01",
        )
        worker = await asyncio.create_subprocess_exec(
            str(BIN), "worker", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            # Kill it once the five quick answers are settled and three requests hang.
            while len(rec.received) < 8 or await _count(api, endpoint["id"], "delivered") < 5:
                assert time.monotonic() < deadline, "the worker delivered nothing"
                assert worker.returncode is None, "the worker exited"
                await asyncio.sleep(0.05)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            await worker.wait()
        assert await _pending(api, endpoint["id"]) > 0
        # Another worker takes over once the dead one's leases end.
        policy = Policy(timeout=5.0, lease=timedelta(seconds=5), retry_base=0.01, max_attempts=5)
        await _drain(api, endpoint["id"], policy, seconds=90)
    assert set(rec.accepted_ids()) == set(expected)  # nothing lost
    statuses = await _statuses(api, endpoint["id"])
    assert {status for (_e, status) in statuses} == {"delivered"} and len(statuses) == 8
    # Only the three attempts in flight at the kill were made again (at least once: the
    # receiver deduplicates on webhook-id); those answered before it were settled.
    in_flight = set(rec.ids()[:3])
    counts = Counter(rec.ids())
    assert {event for event, n in counts.items() if n > 1} == in_flight
    assert max(counts.values()) == 2


async def test_the_backlogs_are_metrics(api: Api) -> None:
    """/metrics counts the events not yet fanned out, then the deliveries scheduled."""
    owner = await api.actor()
    hook = await _endpoint(
        api, owner, "https://hooks.invalid/backlog", event_types=["store.created"]
    )
    await fan_out_all(api.engine)

    async def metric(series: str) -> float:
        lines = (await api.client.get("/metrics")).text.splitlines()
        (value,) = [line.rsplit(" ", 1)[1] for line in lines if line.startswith(series + " ")]
        return float(value)

    fan_out_backlog = "product_partners_webhook_events_to_fan_out"
    scheduled = 'product_partners_webhook_deliveries{status="scheduled"}'
    assert await metric(fan_out_backlog) == 0
    outbox_before = await metric(scheduled)
    await _stores(api, owner, 2)
    assert await metric(fan_out_backlog) == 2
    assert await metric(scheduled) == outbox_before
    await fan_out_all(api.engine)
    assert await metric(fan_out_backlog) == 0
    assert await metric(scheduled) == outbox_before + 2
    assert await _pending(api, hook["id"]) == 2
    # Its deliveries go with it (no later test's worker tries that host).
    await api.client.delete(f"/v3/webhook-endpoints/{hook['id']}", headers=owner.headers)


async def test_an_endpoint_deleted_mid_delivery_ends_its_deliveries_quietly(api: Api) -> None:
    owner = await api.actor()
    with receiver(lambda n: (200, 1.0)) as rec:
        endpoint = await _endpoint(api, owner, rec.url, event_types=["store.created"])
        await _stores(api, owner, 1)
        await fan_out_all(api.engine)
        async with http_client(FAST) as client:
            delivering = asyncio.create_task(deliver_batch(api.engine, client, FAST))
            deadline = time.monotonic() + 10
            while not rec.received:
                assert time.monotonic() < deadline, "nothing was delivered"
                await asyncio.sleep(0.02)
            deleted = await api.client.delete(
                f"/v3/webhook-endpoints/{endpoint['id']}", headers=owner.headers
            )
            assert deleted.status_code == 204
            assert await delivering >= 1  # settled without an error
    assert await _statuses(api, endpoint["id"]) == Counter()
    gone = await api.client.get(f"/v3/webhook-endpoints/{endpoint['id']}", headers=owner.headers)
    assert_error(gone, 404, "webhook_endpoint_not_found")
