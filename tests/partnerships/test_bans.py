"""Bans hold: the product's block list (banBusinessFromProduct) bans a business by unique id,
partner or not, so that leaving first never escapes a ban, and a banned partner reads nothing
of the product's terms."""

import asyncio

from tests.support.api import assert_error, unique
from tests.support.lifecycle import db_state, parties, unclaim

REQUEST = {"partnership_type": "affiliate"}
BAN = {"reason": "spam", "note": "Coupon sites"}


def _ban_url(pid: int) -> str:
    return f"/v3/products/{pid}/banned-partners"


async def _approved(api, p) -> dict:
    asked = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    assert asked.json()["affiliate_status"] == "approved", asked.text
    return asked.json()


async def test_a_business_that_left_can_still_be_banned_and_cannot_return(api, openapi):
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    joined = await _approved(api, p)
    left = await api.client.post(
        f"/v3/partnerships/{joined['id']}/leave", headers=p.partner.headers
    )
    assert left.status_code == 204

    banned = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    openapi.validate_response("banBusinessFromProduct", banned)
    body = banned.json()
    assert body["affiliate_status"] == "banned" and body["ban_reason"] == "spam"
    assert body["partner"]["unique_id"] == p.partner.unique_id

    again = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    assert "banned" in assert_error(again, 409, "invalid_transition")["message"]
    # The partner sees the ban and its reason, and cannot leave it.
    (mine,) = (await api.client.get("/v3/partnerships", headers=p.partner.headers)).json()["data"]
    assert mine["id"] == body["id"] and mine["ban_note"] == "Coupon sites"
    leave = await api.client.post(f"/v3/partnerships/{mine['id']}/leave", headers=p.partner.headers)
    assert_error(leave, 409, "invalid_transition")


async def test_banning_a_current_partner_bans_its_partnership(api):
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    joined = await _approved(api, p)
    banned = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    assert banned.status_code == 200 and banned.json()["id"] == joined["id"]
    assert (await db_state(api, joined["id"])).affiliate_status == "banned"
    twice = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    assert_error(twice, 409, "invalid_transition")


async def test_leave_racing_ban_always_ends_banned(api):
    """Whichever lands first, the business ends on the product's block list."""
    for _ in range(10):
        p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
        joined = await _approved(api, p)

        async def leave(ppid=joined["id"], headers=p.partner.headers):
            return await api.client.post(f"/v3/partnerships/{ppid}/leave", headers=headers)

        async def ban(pid=p.pid, owner=p.owner, uid=p.partner.unique_id):
            return await api.client.post(
                _ban_url(pid), json={"partner_unique_id": uid, **BAN}, headers=owner.headers
            )

        left, banned = await asyncio.gather(leave(), ban())
        assert left.status_code in (204, 409), left.text
        assert banned.status_code == 200, banned.text
        again = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
        assert_error(again, 409, "invalid_transition")


async def test_an_unknown_unique_id_is_banned_alike_and_the_ban_binds_it_once_it_exists(api):
    p = await parties(api, is_affiliate_enabled=True)
    later = unique("later")
    banned = await api.client.post(
        _ban_url(p.pid), json={"partner_unique_id": later, **BAN}, headers=p.owner.headers
    )
    assert banned.status_code == 200, banned.text
    assert banned.json()["partner"] == {"unique_id": later}
    business = await api.actor(unique_id=later)
    refused = await api.client.post(p.request_url, json=REQUEST, headers=business.headers)
    assert_error(refused, 409, "invalid_transition")


async def test_ban_refuses_itself_an_unknown_reason_and_another_owners_product(api):
    p = await parties(api)
    own = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.owner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    assert_error(own, 422, "self_partnership")
    reason = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, "reason": "grudge"},
        headers=p.owner.headers,
    )
    assert reason.status_code in (400, 422)
    foreign = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.owner.unique_id, **BAN},
        headers=p.partner.headers,
    )
    assert_error(foreign, 404, "product_not_found")


async def test_a_banned_partner_reads_nothing_of_the_products_terms(api):
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    joined = await _approved(api, p)
    listed = await api.client.get(
        "/v3/products", params={"is_owned": "false"}, headers=p.partner.headers
    )
    assert [x["id"] for x in listed.json()["data"]] == [p.pid]

    await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    listed = await api.client.get(
        "/v3/products", params={"is_owned": "false"}, headers=p.partner.headers
    )
    assert listed.json()["data"] == []
    read = await api.client.get(f"/v3/products/{p.pid}", headers=p.partner.headers)
    assert_error(read, 404, "product_not_found")
    mine = await api.client.get(f"/v3/partnerships/{joined['id']}", headers=p.partner.headers)
    body = mine.json()
    assert body["affiliate_status"] == "banned"
    assert body["custom_domains"] == [] and body["affiliate_pro_links"] == []


async def test_a_block_list_entry_binds_the_business_even_before_it_names_it(api):
    """An add that raced the business's creation names it by unique id alone: asking to join
    finds that partnership by the unique id (and claims it), so the ban holds, never a 500."""
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    banned = await api.client.post(
        _ban_url(p.pid),
        json={"partner_unique_id": p.partner.unique_id, **BAN},
        headers=p.owner.headers,
    )
    assert banned.status_code == 200
    await unclaim(api, banned.json()["id"])

    again = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    assert_error(again, 409, "invalid_transition")


async def test_an_unclaimed_direct_add_becomes_the_business_s_once_it_asks(api):
    p = await parties(api, is_affiliate_enabled=True, is_affiliate_auto_accept=True)
    added = (await api.add_partner(p.owner, p.pid, p.partner.unique_id)).json()
    await unclaim(api, added["id"])
    mine = await api.client.get("/v3/partnerships", headers=p.partner.headers)
    assert mine.json()["data"] == []

    asked = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)

    # It already is a partner (it accepts, it does not ask): refused, but now it sees it.
    assert_error(asked, 409, "invalid_transition")
    mine = await api.client.get("/v3/partnerships", headers=p.partner.headers)
    assert [row["id"] for row in mine.json()["data"]] == [added["id"]]
