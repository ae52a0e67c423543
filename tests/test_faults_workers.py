"""Faults on the real thing: ``product-partners serve`` with several worker processes on the
test PostgreSQL database.

- kill -9 a worker in the middle of a burst of writes: every write that was answered 200 is
  in the database, and no row is partial (a partnership always has its partner, status,
  timestamps);
- races on every state change (two approves, approve vs reject, approve vs delete, add vs
  delete, two deletes): exactly one winner where only one can win, and a final state that
  agrees with the answers.
"""

import asyncio
import os
import signal

import httpx
import pytest
from sqlalchemy import select

from product_partners.db.tables import businesses, product_partners
from tests.support.api import Actor, Api
from tests.support.servers import serve_with_pid, worker_pids

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

ROUNDS = 5


async def _request(base: str, method: str, path: str, actor: Actor, **kw: object) -> int:
    """One request on a fresh connection (so requests spread over the workers); -1 when the
    connection died without an answer."""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.request(method, path, headers=actor.headers, **kw)  # type: ignore[arg-type]
            return response.status_code
    except httpx.TransportError:
        return -1


async def test_kill_9_a_worker_under_write_load_loses_no_acknowledged_write(
    api: Api, database_url: str
) -> None:
    owner = await api.actor()
    product = await api.product(owner)
    partners = [await api.business() for _ in range(240)]
    path = f"/v3/products/{product['id']}/partners"
    answers: dict[str, int] = {}

    with serve_with_pid(database_url, workers=2, RATE_LIMIT_ENABLED="false") as (base, supervisor):
        victims = worker_pids(supervisor)
        assert len(victims) == 2
        gate = asyncio.Semaphore(24)
        a_third_done = asyncio.Event()

        async def add(uid: str) -> None:
            async with gate:
                answers[uid] = await _request(
                    base, "POST", path, owner, json={"partner_unique_id": uid}
                )
            if len(answers) >= len(partners) // 3:
                a_third_done.set()

        async def killer() -> None:
            await a_third_done.wait()
            os.kill(victims[0], signal.SIGKILL)

        await asyncio.gather(killer(), *(add(p["unique_id"]) for p in partners))

    acknowledged = {uid for uid, status in answers.items() if status == 200}
    lost_connections = {uid for uid, status in answers.items() if status == -1}
    unexpected = {uid: s for uid, s in answers.items() if s not in (200, -1)}
    assert not unexpected, unexpected
    assert acknowledged, "no write succeeded"

    async with api.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    product_partners,
                    businesses.c.unique_id,
                )
                .join(businesses, businesses.c.id == product_partners.c.partner_business_id)
                .where(product_partners.c.product_id == product["id"])
            )
        ).all()
    stored = {r.unique_id for r in rows}
    # Every acknowledged write is there; the rest are writes whose answer was lost with the
    # worker (committed or not), never anything else.
    assert acknowledged <= stored, f"lost acknowledged writes: {acknowledged - stored}"
    assert stored <= acknowledged | lost_connections
    for r in rows:  # no partial row
        assert r.affiliate_status == "approved" and r.partnership_type == "affiliate"
        assert r.approved_at is not None and r.created_at is not None and r.updated_at is not None
    print(
        f"kill -9: {len(acknowledged)} acknowledged, {len(lost_connections)} lost with the "
        f"worker, {len(stored)} stored, {len(stored - acknowledged)} committed without an answer"
    )


# --- races on state changes -------------------------------------------------------------------


async def _pending(api: Api, owner: Actor, product_id: int) -> tuple[Actor, int]:
    partner = await api.actor()
    response = await api.client.post(
        f"/v3/products/{product_id}/partnership-requests",
        json={"partnership_type": "affiliate"},
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["affiliate_status"] == "pending"
    return partner, response.json()["id"]


async def _status_of(api: Api, partnership_id: int) -> str | None:
    async with api.engine.connect() as conn:
        return (
            await conn.execute(
                select(product_partners.c.affiliate_status).where(
                    product_partners.c.id == partnership_id
                )
            )
        ).scalar()


@pytest.fixture
async def race_product(api: Api) -> tuple[Actor, int]:
    owner = await api.actor()
    product = await api.product(owner, is_affiliate_enabled=True)
    return owner, product["id"]


async def test_races_on_every_state_change_have_one_winner(
    api: Api, database_url: str, race_product: tuple[Actor, int]
) -> None:
    owner, pid = race_product
    base_path = f"/v3/products/{pid}/partners"
    outcomes: dict[str, list[tuple[int, ...]]] = {}
    with serve_with_pid(database_url, workers=3, RATE_LIMIT_ENABLED="false") as (base, _):

        async def race(*calls: tuple[str, str, dict]) -> tuple[int, ...]:
            return tuple(
                await asyncio.gather(*(_request(base, m, p, owner, **kw) for m, p, kw in calls))
            )

        for _ in range(ROUNDS):
            # Two approves of one pending request: one 200, one 409; approved.
            _, ppid = await _pending(api, owner, pid)
            approve = ("POST", f"{base_path}/{ppid}/approve", {})
            got = await race(approve, approve)
            outcomes.setdefault("approve+approve", []).append(got)
            assert sorted(got) == [200, 409], got
            assert await _status_of(api, ppid) == "approved"

            # Approve vs reject: exactly one decision wins, and the row shows it.
            _, ppid = await _pending(api, owner, pid)
            got = await race(
                ("POST", f"{base_path}/{ppid}/approve", {}),
                ("POST", f"{base_path}/{ppid}/reject", {"json": {}}),
            )
            outcomes.setdefault("approve+reject", []).append(got)
            assert sorted(got) == [200, 409], got
            assert await _status_of(api, ppid) == ("approved" if got[0] == 200 else "rejected")

            # Approve vs delete: the delete always succeeds (any state may be removed); the
            # approve either came first (200) or found nothing (404). Gone in the end.
            _, ppid = await _pending(api, owner, pid)
            got = await race(
                ("POST", f"{base_path}/{ppid}/approve", {}),
                ("DELETE", f"{base_path}/{ppid}", {}),
            )
            outcomes.setdefault("approve+delete", []).append(got)
            assert got[1] == 204 and got[0] in (200, 404), got
            assert await _status_of(api, ppid) is None

            # Two deletes: one 204, one 404.
            _, ppid = await _pending(api, owner, pid)
            delete = ("DELETE", f"{base_path}/{ppid}", {})
            got = await race(delete, delete)
            outcomes.setdefault("delete+delete", []).append(got)
            assert sorted(got) == [204, 404], got

            # Add vs delete of the same partner: the final state agrees with the answers.
            partner = await api.actor()
            added = await api.add_partner(owner, pid, partner.unique_id)
            old_id = added.json()["id"]
            got = await race(
                ("POST", base_path, {"json": {"partner_unique_id": partner.unique_id}}),
                ("DELETE", f"{base_path}/{old_id}", {}),
            )
            outcomes.setdefault("add+delete", []).append(got)
            assert got[1] == 204 and got[0] in (200, 409), got
            async with api.engine.connect() as conn:
                remaining = (
                    await conn.execute(
                        select(product_partners.c.id).where(
                            product_partners.c.product_id == pid,
                            product_partners.c.partner_business_id == partner.id,
                        )
                    )
                ).all()
            # 200: the re-add came after the delete (a new row); 409: before it (none left).
            assert len(remaining) == (1 if got[0] == 200 else 0), (got, remaining)
            assert all(r.id != old_id for r in remaining)
    print({name: sorted(set(results)) for name, results in outcomes.items()})
