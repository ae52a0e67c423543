"""Partner side: request, cool-down, withdraw, leave, listMyPartnerships, and isolation."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api import assert_error
from tests.support.lifecycle import ALL_TYPES_OPEN, db_state, parties, put_partnership, set_columns
from tests.support.stores import store

REQUEST = {"partnership_type": "affiliate", "message_to_product_owner": "We run a coffee blog"}


async def test_request_creates_a_pending_partnership_with_requested_at(api, openapi):
    p = await parties(api, is_affiliate_enabled=True)

    response = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)

    openapi.validate_response("requestProductPartnership", response)
    body = response.json()
    assert response.status_code == 200
    assert body["affiliate_status"] == "pending" and body["requested_at"]
    assert body["approved_at"] is None and body["rejected_at"] is None
    assert body["message_to_product_owner"] == REQUEST["message_to_product_owner"]
    assert body["partner"]["unique_id"] == p.partner.unique_id
    # The owner sees it in its review queue.
    queue = await api.client.get(
        f"/v3/products/{p.pid}/partners",
        params={"affiliate_status": "pending"},
        headers=p.owner.headers,
    )
    assert [i["id"] for i in queue.json()["data"]] == [body["id"]]


async def test_a_new_product_is_closed_and_not_revealed(api, openapi):
    p = await parties(api)  # new products are closed to requests
    response = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    openapi.validate_response("requestProductPartnership", response)
    body = assert_error(response, 404, "product_not_found")
    assert p.product["name"] not in response.text and body["errors"] == {}
    missing = await api.client.post(
        "/v3/products/999999999/partnership-requests", json=REQUEST, headers=p.partner.headers
    )
    assert missing.json() == response.json()
    # ... but the owner can still add partners directly.
    assert (await api.add_partner(p.owner, p.pid, p.partner.unique_id)).status_code == 200


@pytest.mark.parametrize(
    ("ptype", "flag"),
    [
        ("affiliate", "is_affiliate_enabled"),
        ("affiliate_pro", "is_affiliate_pro_enabled"),
        ("reseller", "is_product_sharing"),
    ],
)
async def test_each_type_needs_its_programme_switch(api, openapi, ptype, flag):
    others = {f: True for f in ALL_TYPES_OPEN if f != flag}
    p = await parties(api, **others)
    body = {"partnership_type": ptype}
    refused = await api.client.post(p.request_url, json=body, headers=p.partner.headers)
    openapi.validate_response("requestProductPartnership", refused)
    assert_error(refused, 422, "partnership_type_not_open")

    await api.client.patch(
        f"/v3/products/{p.pid}/partnership", json={flag: True}, headers=p.owner.headers
    )
    accepted = await api.client.post(p.request_url, json=body, headers=p.partner.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["partnership_type"] == ptype


async def test_auto_accept_approves_affiliate_types_but_not_resellers(api):
    p = await parties(api, **ALL_TYPES_OPEN, is_affiliate_auto_accept=True)
    statuses = {}
    for ptype in ("affiliate", "affiliate_pro", "reseller"):
        partner = await api.actor()
        response = await api.client.post(
            p.request_url, json={"partnership_type": ptype}, headers=partner.headers
        )
        statuses[ptype] = response.json()["affiliate_status"]
    assert statuses == {"affiliate": "approved", "affiliate_pro": "approved", "reseller": "pending"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"partnership_type": "vip"}, "validation_error"),
        ({"partnership_type": "affiliate", "extra": 1}, "validation_error"),
        ({"partnership_type": "affiliate", "message_to_product_owner": "x" * 2001}, None),
    ],
)
async def test_request_body_is_validated(api, openapi, body, code):
    p = await parties(api, is_affiliate_enabled=True)
    response = await api.client.post(p.request_url, json=body, headers=p.partner.headers)
    openapi.validate_response("requestProductPartnership", response)
    assert_error(response, 422, code)


async def test_the_owner_and_banned_businesses_cannot_request(api):
    p = await parties(api, is_affiliate_enabled=True)
    own = await api.client.post(p.request_url, json=REQUEST, headers=p.owner.headers)
    assert_error(own, 422, "self_partnership")
    await api.ban(p.partner.id)
    banned = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    # A platform-banned business writes nothing at all (tests/auth/test_platform_ban.py).
    assert_error(banned, 403, "business_banned")


async def test_affiliate_pro_request_may_name_one_of_the_partners_own_stores(api, openapi):
    p = await parties(api, is_affiliate_pro_enabled=True, is_affiliate_enabled=True)
    mine = await store(api, p.partner)
    theirs = await store(api, p.owner)
    url, headers = p.request_url, p.partner.headers

    wrong_type = await api.client.post(
        url, json={"partnership_type": "affiliate", "store_id": mine["id"]}, headers=headers
    )
    assert_error(wrong_type, 422, "store_requires_affiliate_pro")
    foreign = await api.client.post(
        url, json={"partnership_type": "affiliate_pro", "store_id": theirs["id"]}, headers=headers
    )
    assert_error(foreign, 422, "store_not_found")
    ok = await api.client.post(
        url, json={"partnership_type": "affiliate_pro", "store_id": mine["id"]}, headers=headers
    )
    openapi.validate_response("requestProductPartnership", ok)
    assert ok.json()["store_id"] == mine["id"]


async def test_a_rejected_partner_waits_for_the_cooldown(api, openapi):
    p = await parties(api, is_affiliate_enabled=True, rerequest_cooldown_seconds=3600)
    first = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    ppid = first.json()["id"]
    await api.client.post(
        p.partner_url(ppid, "reject"), json={"reason": "Later"}, headers=p.owner.headers
    )

    early = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    openapi.validate_response("requestProductPartnership", early)
    assert_error(early, 409, "rerequest_cooldown")
    assert 3500 < int(early.headers["retry-after"]) <= 3601

    await set_columns(api, ppid, rejected_at=datetime.now(UTC) - timedelta(seconds=3601))
    again = await api.client.post(
        p.request_url, json={"partnership_type": "affiliate"}, headers=p.partner.headers
    )
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["id"] == ppid and body["affiliate_status"] == "pending"
    assert body["rejected_at"] is None and body["rejection_reason"] is None


async def test_a_banned_partner_cannot_request_again(api):
    p = await parties(api, is_affiliate_enabled=True)
    ppid = await put_partnership(api, p.pid, p.partner.id, "banned")
    response = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)
    assert "banned" in assert_error(response, 409, "invalid_transition")["message"]
    assert (await db_state(api, ppid)).affiliate_status == "banned"


async def test_withdraw_and_leave_delete_the_partnership(api, openapi):
    p = await parties(api, is_affiliate_enabled=True)
    pending = (await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)).json()
    left = await api.client.post(
        f"/v3/partnerships/{pending['id']}/leave", headers=p.partner.headers
    )
    openapi.validate_response("leaveProductPartnership", left)
    assert "pending" in assert_error(left, 409, "invalid_transition")["message"]
    withdrawn = await api.client.post(
        f"/v3/partnerships/{pending['id']}/withdraw", headers=p.partner.headers
    )
    openapi.validate_response("withdrawProductPartnership", withdrawn)
    assert withdrawn.status_code == 204 and await db_state(api, pending["id"]) is None

    approved = await put_partnership(api, p.pid, p.partner.id, "approved")
    response = await api.client.post(
        f"/v3/partnerships/{approved}/leave", headers=p.partner.headers
    )
    assert response.status_code == 204 and await db_state(api, approved) is None


# --- listMyPartnerships ----------------------------------------------------------------------


async def test_my_partnerships_span_owners_and_show_only_mine(api, openapi):
    partner = await api.actor()
    someone_else = await api.actor()
    mine = []
    for _ in range(3):
        owner = await api.actor()
        product = await api.product(owner)
        mine.append(await put_partnership(api, product["id"], partner.id, "approved"))
        await put_partnership(api, product["id"], someone_else.id, "approved")

    response = await api.client.get("/v3/partnerships", headers=partner.headers)

    openapi.validate_response("listMyPartnerships", response)
    assert [i["id"] for i in response.json()["data"]] == sorted(mine, reverse=True)
    assert all(i["partner"]["id"] == partner.id for i in response.json()["data"])


async def test_my_partnerships_paginate_without_gaps_while_rows_are_added(api, openapi):
    partner = await api.actor()
    owner = await api.actor()
    products = [await api.product(owner) for _ in range(28)]
    ids = [await put_partnership(api, pr["id"], partner.id, "pending") for pr in products]
    extra = iter([await api.product(owner) for _ in range(4)])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"page_size": 10, **({"next_cursor": cursor} if cursor else {})}
        response = await api.client.get("/v3/partnerships", params=params, headers=partner.headers)
        openapi.validate_response("listMyPartnerships", response)
        body = response.json()
        seen += [i["id"] for i in body["data"]]
        pages += 1
        await put_partnership(api, next(extra)["id"], partner.id, "approved")
        if not body["has_next"]:
            break
        cursor = body["next_cursor"]
    assert pages == 3 and seen == sorted(ids, reverse=True)

    bad = await api.client.get(
        "/v3/partnerships", params={"next_cursor": "%%%"}, headers=partner.headers
    )
    openapi.validate_response("listMyPartnerships", bad)
    assert_error(bad, 400, "invalid_cursor")


async def test_my_partnerships_filter_by_status_and_type(api):
    partner = await api.actor()
    owner = await api.actor()
    made = {}
    for status in ("pending", "approved", "rejected", "banned"):
        for ptype in ("affiliate", "reseller"):
            product = await api.product(owner)
            made[(status, ptype)] = await put_partnership(
                api, product["id"], partner.id, status, ptype
            )
    for params, expected in (
        (
            {"affiliate_status": "rejected"},
            {made[("rejected", t)] for t in ("affiliate", "reseller")},
        ),
        (
            {"affiliate_status": "banned", "partnership_type": "reseller"},
            {made[("banned", "reseller")]},
        ),
        ({"partnership_type": "affiliate"}, {v for (_, t), v in made.items() if t == "affiliate"}),
    ):
        response = await api.client.get("/v3/partnerships", params=params, headers=partner.headers)
        assert {i["id"] for i in response.json()["data"]} == expected, params


async def test_partner_routes_are_404_for_other_businesses(api, openapi):
    p = await parties(api, is_affiliate_enabled=True)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    for headers in (p.owner.headers, (await api.actor()).headers):
        for operation, method, url in (
            ("getMyPartnership", "GET", f"/v3/partnerships/{ppid}"),
            ("withdrawProductPartnership", "POST", f"/v3/partnerships/{ppid}/withdraw"),
            ("leaveProductPartnership", "POST", f"/v3/partnerships/{ppid}/leave"),
        ):
            response = await api.client.request(method, url, headers=headers)
            openapi.validate_response(operation, response)
            assert_error(response, 404, "partner_not_found")
        listed = await api.client.get("/v3/partnerships", headers=headers)
        assert ppid not in [i["id"] for i in listed.json()["data"]]
    assert (await db_state(api, ppid)).affiliate_status == "pending"


@pytest.mark.parametrize(
    ("method", "url", "scope"),
    [
        ("GET", "/v3/partnerships", "product:list"),
        ("GET", "/v3/partnerships/1", "product:read"),
        ("POST", "/v3/partnerships/1/withdraw", "product:update"),
        ("POST", "/v3/partnerships/1/leave", "product:update"),
        ("POST", "/v3/products/1/partnership-requests", "product:update"),
    ],
)
async def test_partner_routes_need_their_scope(api, method, url, scope):
    others = [s for s in ("product:list", "product:read", "product:update") if s != scope]
    actor = await api.actor(scopes=others)
    response = await api.client.request(method, url, json=REQUEST, headers=actor.headers)
    assert_error(response, 403, "insufficient_scope")


async def test_list_products_is_owned_false_shows_my_partnership_rows(api, openapi):
    p = await parties(api, is_affiliate_enabled=True)
    requested = await api.client.post(p.request_url, json=REQUEST, headers=p.partner.headers)

    response = await api.client.get(
        "/v3/products", params={"is_owned": "false"}, headers=p.partner.headers
    )

    openapi.validate_response("listProducts", response)
    [item] = [i for i in response.json()["data"] if i["id"] == p.pid]
    assert [pp["id"] for pp in item["product_partners"]] == [requested.json()["id"]]
    assert item["product_partners"][0]["affiliate_status"] == "pending"
