"""Every partnership write records its event, seen by the owner and the partner alike:
created (the route and, on PostgreSQL, the hot path), requested, approved (by the owner or by
the system), rejected, banned, unbanned, deleted, withdrawn, left, accepted, updated."""

from typing import Any

from tests.support.api import Actor, Api, unique
from tests.support.lifecycle import ALL_TYPES_OPEN, parties
from tests.support.servers import run_cli

REQUEST = {"partnership_type": "affiliate", "message_to_product_owner": "hello"}


async def _partnership_events(api: Api, who: Actor, partnership_id: int) -> list[dict[str, Any]]:
    response = await api.client.get(
        "/v3/events",
        params={"resource_type": "product_partner", "resource_id": partnership_id},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _moves(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(e["type"], e["from_status"], e["to_status"]) for e in events]


async def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else {}


async def test_the_owner_s_moves_are_events_seen_by_both_sides(api: Api) -> None:
    p = await parties(api, **ALL_TYPES_OPEN)
    requested = await _ok(
        await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    )
    pid = requested["id"]
    h = p.owner.headers
    await _ok(await api.client.post(p.partner_url(pid, "reject"), json={"reason": "No"}, headers=h))
    await _ok(await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers))
    await _ok(await api.client.post(p.partner_url(pid, "approve"), headers=h))
    ban = {"reason": "spam", "note": "bulk mail"}
    await _ok(await api.client.post(p.partner_url(pid, "ban"), json=ban, headers=h))
    await _ok(await api.client.post(p.partner_url(pid, "unban"), headers=h))
    await _ok(await api.client.delete(p.partner_url(pid), headers=h))

    expected = [
        ("product_partner.requested", None, "pending"),
        ("product_partner.rejected", "pending", "rejected"),
        ("product_partner.requested", "rejected", "pending"),
        ("product_partner.approved", "pending", "approved"),
        ("product_partner.banned", "approved", "banned"),
        ("product_partner.unbanned", "banned", "rejected"),
        ("product_partner.deleted", "rejected", None),
    ]
    for who in (p.owner, p.partner):
        events = await _partnership_events(api, who, pid)
        assert _moves(events) == expected, who
    events = await _partnership_events(api, p.owner, pid)
    assert events[1]["reason"] == "No"
    assert (events[4]["reason"], events[4]["note"]) == ("spam", "bulk mail")
    assert events[0]["actor"]["api_key_id"] == p.partner.key_id
    assert events[3]["actor"]["api_key_id"] == p.owner.key_id
    assert all(e["resource"]["product_id"] == p.pid for e in events)
    assert {(e["owner_business_id"], e["partner_business_id"]) for e in events} == {
        (p.owner.id, p.partner.id)
    }
    assert events[3]["data"]["affiliate_status"] == "approved"
    assert events[-1]["data"]["id"] == pid  # the partnership as it was


async def test_an_add_is_an_event_on_the_route_and_the_hot_path(api: Api) -> None:
    p = await parties(api)
    added = await _ok(await api.add_partner(p.owner, p.pid, p.partner.unique_id))
    for who in (p.owner, p.partner):
        events = await _partnership_events(api, who, added["id"])
        assert _moves(events) == [("product_partner.created", None, "approved")]
        # The partner is in the audience: the owner's private tags are left out.
        assert events[0]["data"] == {k: v for k, v in added.items() if k != "tags"}
        assert events[0]["actor"]["api_key_id"] == p.owner.key_id
    # A refused add (a duplicate) records nothing.
    again = await api.add_partner(p.owner, p.pid, p.partner.unique_id)
    assert again.status_code == 409
    assert len(await _partnership_events(api, p.owner, added["id"])) == 1


async def test_the_partner_s_moves_are_events(api: Api) -> None:
    p = await parties(api, **ALL_TYPES_OPEN)
    first = await _ok(await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers))
    await _ok(
        await api.client.post(f"/v3/partnerships/{first['id']}/withdraw", headers=p.partner.headers)
    )
    second = await _ok(
        await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    )
    await _ok(
        await api.client.post(p.partner_url(second["id"], "approve"), headers=p.owner.headers)
    )
    await _ok(
        await api.client.post(f"/v3/partnerships/{second['id']}/leave", headers=p.partner.headers)
    )
    assert _moves(await _partnership_events(api, p.owner, first["id"])) == [
        ("product_partner.requested", None, "pending"),
        ("product_partner.withdrawn", "pending", None),
    ]
    assert _moves(await _partnership_events(api, p.owner, second["id"]))[-1] == (
        "product_partner.left",
        "approved",
        None,
    )


async def test_auto_accepted_requests_are_approved_by_the_system(api: Api) -> None:
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    made = await _ok(await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers))
    events = await _partnership_events(api, p.partner, made["id"])
    assert _moves(events) == [
        ("product_partner.requested", None, "pending"),
        ("product_partner.approved", "pending", "approved"),
    ]
    assert events[1]["actor"]["type"] == "system"
    assert events[0]["request_id"] == events[1]["request_id"]


async def test_accept_and_update_are_events(api: Api) -> None:
    p = await parties(api)
    added = await _ok(await api.add_partner(p.owner, p.pid, p.partner.unique_id))
    await _ok(
        await api.client.post(
            f"/v3/partnerships/{added['id']}/accept", json={}, headers=p.partner.headers
        )
    )
    await _ok(
        await api.client.patch(
            p.partner_url(added["id"]),
            json={"partnership_type": "reseller"},
            headers=p.owner.headers,
        )
    )
    events = await _partnership_events(api, p.partner, added["id"])
    assert _moves(events) == [
        ("product_partner.created", None, "approved"),
        ("product_partner.accepted", "approved", "approved"),
        ("product_partner.updated", "approved", "approved"),
    ]
    assert events[2]["data"]["partnership_type"] == "reseller"


async def test_custom_domain_changes_are_events(api: Api, database_url: str) -> None:
    owner = await api.actor()
    created = await _ok(
        await api.client.post(
            "/v3/custom-domains",
            json={"full_url": f"{unique('evd')}.example.com"},
            headers=owner.headers,
        )
    )
    for args in ((), ("--undo",)):
        done = run_cli(database_url, "domain", "verify", str(created["id"]), *args)
        assert done.returncode == 0, done.stderr
    await _ok(await api.client.delete(f"/v3/custom-domains/{created['id']}", headers=owner.headers))
    response = await api.client.get(
        "/v3/events",
        params={"resource_type": "custom_domain", "resource_id": created["id"]},
        headers=owner.headers,
    )
    events = response.json()["data"]
    assert [e["type"] for e in events] == [
        "custom_domain.created",
        "custom_domain.verified",
        "custom_domain.unverified",
        "custom_domain.deleted",
    ]
    assert [e["data"]["is_verified"] for e in events] == [False, True, False, False]
    assert events[1]["actor"]["type"] == "system"  # the operator's CLI
