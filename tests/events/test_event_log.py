"""The event log: every change recorded in its own transaction, with its actor, request id
and body; listEvents oldest first with a resumable cursor; each business sees only its own."""

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from product_partners.db.connections import transaction
from product_partners.db.tables import events
from product_partners.events.enums import EventType
from product_partners.events.service import SYSTEM, new_event_id, record
from tests.support.api import Actor, Api, assert_error, unique
from tests.support.lifecycle import ALL_TYPES_OPEN, parties, put_partnership
from tests.support.servers import run_cli


async def _events(api: Api, who: Actor, **params: Any) -> list[dict[str, Any]]:
    """Every event ``who`` sees (all pages), oldest first."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        response = await api.client.get("/v3/events", params=query, headers=who.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["data"])
        after = page["next_cursor"]
        if not page["has_next"]:
            return found


async def _count(api: Api) -> int:
    async with api.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(events))).scalar_one()


async def test_store_changes_are_recorded_with_actor_request_id_and_body(api: Api) -> None:
    owner = await api.actor()
    headers = {**owner.headers, "X-Request-Id": "req-store-events-1"}
    created = await api.client.post("/v3/stores", json={"name": "Shop"}, headers=headers)
    assert created.status_code == 200, created.text
    store = created.json()
    patched = await api.client.patch(
        f"/v3/stores/{store['id']}", json={"name": "Shop 2"}, headers=owner.headers
    )
    assert patched.status_code == 200
    deleted = await api.client.delete(f"/v3/stores/{store['id']}", headers=owner.headers)
    assert deleted.status_code == 204

    seen = await _events(api, owner, resource_type="store", resource_id=store["id"])
    assert [e["type"] for e in seen] == ["store.created", "store.updated", "store.deleted"]
    first = seen[0]
    assert first["id"].startswith("evt_") and len(first["id"]) == 30
    assert first["actor"] == {
        "type": "api_key",
        "business_id": owner.id,
        "api_key_id": owner.key_id,
        "user_id": None,
    }
    assert first["request_id"] == "req-store-events-1"
    assert first["resource"] == {"type": "store", "id": store["id"], "product_id": None}
    assert first["owner_business_id"] == owner.id and first["partner_business_id"] is None
    assert first["data"] == store
    assert seen[1]["data"]["name"] == "Shop 2"
    assert seen[2]["data"]["name"] == "Shop 2"  # the body as it was when deleted
    again = await api.client.get(f"/v3/events/{first['id']}", headers=owner.headers)
    assert again.status_code == 200 and again.json() == first


async def test_events_are_listed_oldest_first_and_resume_after_a_cursor(api: Api) -> None:
    owner = await api.actor()
    for n in range(5):
        response = await api.client.post(
            "/v3/stores", json={"name": f"S{n}"}, headers=owner.headers
        )
        assert response.status_code == 200
    page = (
        await api.client.get(
            "/v3/events", params={"type": "store.created", "page_size": 2}, headers=owner.headers
        )
    ).json()
    assert [e["data"]["name"] for e in page["data"]] == ["S0", "S1"]
    assert page["has_next"] is True and page["next_cursor"] == page["data"][-1]["id"]
    rest = await _events(api, owner, type="store.created", after=page["next_cursor"])
    assert [e["data"]["name"] for e in rest] == ["S2", "S3", "S4"]
    # Caught up: the cursor stays usable, and a new event shows up after it.
    caught_up = (
        await api.client.get("/v3/events", params={"after": rest[-1]["id"]}, headers=owner.headers)
    ).json()
    assert caught_up["data"] == [] and caught_up["next_cursor"] == rest[-1]["id"]
    await api.client.post("/v3/stores", json={"name": "S5"}, headers=owner.headers)
    newer = await _events(api, owner, after=rest[-1]["id"])
    assert [e["data"]["name"] for e in newer] == ["S5"]


async def test_a_business_sees_only_the_events_it_is_the_audience_of(api: Api) -> None:
    owner, stranger = await api.actor(), await api.actor()
    store = (
        await api.client.post("/v3/stores", json={"name": "Mine"}, headers=owner.headers)
    ).json()
    mine = await _events(api, owner, resource_type="store", resource_id=store["id"])
    assert len(mine) == 1
    theirs = await _events(api, stranger)
    assert all(stranger.id in (e["owner_business_id"], e["partner_business_id"]) for e in theirs)
    assert mine[0]["id"] not in {e["id"] for e in theirs}
    response = await api.client.get(f"/v3/events/{mine[0]['id']}", headers=stranger.headers)
    assert_error(response, 404, "event_not_found")


async def test_auto_approval_is_an_event_by_the_system_seen_by_owner_and_partner(
    api: Api,
) -> None:
    p = await parties(api, **ALL_TYPES_OPEN)
    partnership_id = await put_partnership(api, p.pid, p.partner.id, "pending")
    response = await api.client.patch(
        f"/v3/products/{p.pid}/partnership",
        json={"is_affiliate_auto_accept": True},
        headers=p.owner.headers,
    )
    assert response.status_code == 200, response.text
    settings = await _events(api, p.owner, type="product.partnership_settings_updated")
    assert [e["resource"]["id"] for e in settings] == [p.pid]
    assert settings[0]["actor"]["type"] == "api_key"
    assert settings[0]["data"]["is_affiliate_auto_accept"] is True
    for who in (p.owner, p.partner):
        approved = await _events(api, who, type="product_partner.approved")
        assert len(approved) == 1, who
        event = approved[0]
        assert event["actor"]["type"] == "system" and event["actor"]["api_key_id"] is None
        assert event["resource"] == {
            "type": "product_partner",
            "id": partnership_id,
            "product_id": p.pid,
        }
        assert (event["from_status"], event["to_status"]) == ("pending", "approved")
        assert event["data"]["affiliate_status"] == "approved"
        assert event["request_id"] == settings[0]["request_id"]


async def test_no_event_for_a_refused_or_rolled_back_change(api: Api) -> None:
    owner = await api.actor()
    domain = await api.client.post(
        "/v3/custom-domains",
        json={"full_url": f"{unique('ev')}.example.com"},
        headers=owner.headers,
    )
    assert domain.status_code == 200, domain.text
    body = {"name": "A", "custom_domain_id": domain.json()["id"]}
    assert (
        await api.client.post("/v3/stores", json=body, headers=owner.headers)
    ).status_code == 200
    before = await _count(api)
    refused = await api.client.post("/v3/stores", json=body, headers=owner.headers)
    assert_error(refused, 409, "custom_domain_in_use")
    assert await _count(api) == before

    # A change that fails after its event was written leaves neither.
    async with api.engine.connect() as conn:
        with pytest.raises(RuntimeError, match="boom"):
            async with transaction(conn):
                await record(
                    conn,
                    EventType.store_updated,
                    resource_id=1,
                    data={},
                    owner_business_id=owner.id,
                    actor=SYSTEM,
                )
                raise RuntimeError("boom")
    assert await _count(api) == before


async def test_record_outside_a_transaction_is_refused(api: Api) -> None:
    async with api.engine.connect() as conn:
        with pytest.raises(RuntimeError, match="inside db.connections.transaction"):
            await record(
                conn, EventType.store_created, resource_id=1, data={}, owner_business_id=None
            )


async def test_api_key_changes_are_events_of_the_business(api: Api, database_url: str) -> None:
    owner = await api.actor()
    other = await api.key_for(owner.unique_id, ["store:list"])
    revoked = run_cli(
        database_url, "key", "revoke", str(other["id"]), "--business", owner.unique_id
    )
    assert revoked.returncode == 0, revoked.stderr
    seen = await _events(api, owner, resource_type="api_key")
    assert [(e["type"], e["resource"]["id"]) for e in seen] == [
        ("api_key.created", owner.key_id),
        ("api_key.created", other["id"]),
        ("api_key.revoked", other["id"]),
    ]
    assert all(
        e["actor"] == {**e["actor"], "type": "business", "business_id": owner.id} for e in seen
    )
    assert other["key"] not in str(seen)  # never the secret
    assert seen[2]["data"]["revoked_at"] is not None


async def test_bad_cursors_and_types_are_refused(api: Api) -> None:
    owner = await api.actor()
    for cursor in ("nope", new_event_id(), "evt_" + "Z" * 40):
        response = await api.client.get(
            "/v3/events", params={"after": cursor}, headers=owner.headers
        )
        assert response.status_code == 400, response.text
        assert_error(response, response.status_code)
    response = await api.client.get(
        "/v3/events", params={"type": "store.exploded"}, headers=owner.headers
    )
    assert_error(response, 400)
    assert "store.exploded" in response.json()["message"]


async def test_events_export_streams_json_lines_oldest_first(api: Api, database_url: str) -> None:
    owner = await api.actor()
    for n in range(3):
        await api.client.post("/v3/stores", json={"name": f"E{n}"}, headers=owner.headers)
    listed = await _events(api, owner)
    result = run_cli(database_url, "events", "export", "--business", owner.unique_id)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == listed
    after = run_cli(
        database_url, "events", "export", "--business", owner.unique_id, "--after", listed[1]["id"]
    )
    assert [json.loads(line)["id"] for line in after.stdout.splitlines()] == [
        e["id"] for e in listed[2:]
    ]
