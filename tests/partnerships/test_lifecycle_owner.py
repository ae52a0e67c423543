"""Owner side of the lifecycle: get, update, review actions, delete, If-Match, isolation, lists."""

import pytest

from tests.support.api import assert_error
from tests.support.lifecycle import ALL_TYPES_OPEN, db_state, parties, put_partnership
from tests.support.stores import store

OWNER_ROUTES = [
    ("getProductPartner", "GET", "", None),
    ("updateProductPartner", "PATCH", "", {"partnership_type": "reseller"}),
    ("deleteProductPartner", "DELETE", "", None),
    ("approveProductPartner", "POST", "approve", None),
    ("rejectProductPartner", "POST", "reject", {"reason": "no"}),
    ("banProductPartner", "POST", "ban", {"reason": "fraud"}),
    ("unbanProductPartner", "POST", "unban", None),
]


async def call(api, p, headers, method, action, body, partnership_id):
    return await api.client.request(
        method, p.partner_url(partnership_id, action), json=body, headers=headers
    )


async def test_get_partner_returns_the_partnership_with_its_etag(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending", message_to_product_owner="hi")

    response = await api.client.get(p.partner_url(ppid), headers=p.owner.headers)

    openapi.validate_response("getProductPartner", response)
    body = response.json()
    assert response.status_code == 200
    assert body["id"] == ppid and body["product_id"] == p.pid
    assert body["partner"]["unique_id"] == p.partner.unique_id
    assert body["message_to_product_owner"] == "hi"
    assert response.headers["etag"] == '"1"' and body["version"] == 1


async def test_reject_sets_rejected_at_and_a_reason_the_partner_reads(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")

    response = await api.client.post(
        p.partner_url(ppid, "reject"), json={"reason": "Audience mismatch"}, headers=p.owner.headers
    )

    openapi.validate_response("rejectProductPartner", response)
    body = response.json()
    assert body["affiliate_status"] == "rejected"
    assert body["rejected_at"] and body["approved_at"] is None
    mine = await api.client.get(f"/v3/partnerships/{ppid}", headers=p.partner.headers)
    openapi.validate_response("getMyPartnership", mine)
    assert mine.json()["rejection_reason"] == "Audience mismatch"


async def test_reject_without_a_body_is_fine(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    response = await api.client.post(p.partner_url(ppid, "reject"), headers=p.owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["rejection_reason"] is None


async def test_approve_sets_approved_at(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")

    response = await api.client.post(p.partner_url(ppid, "approve"), headers=p.owner.headers)

    openapi.validate_response("approveProductPartner", response)
    body = response.json()
    assert body["affiliate_status"] == "approved" and body["approved_at"]
    assert body["rejected_at"] is None and body["rejection_reason"] is None


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": "bogus"}, {"reason": "spam", "extra": 1}, {"note": "x"}]
)
async def test_ban_needs_a_reason_from_the_fixed_list(api, openapi, body):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")

    response = await api.client.post(p.partner_url(ppid, "ban"), json=body, headers=p.owner.headers)

    openapi.validate_response("banProductPartner", response)
    assert_error(response, 400)
    assert (await db_state(api, ppid)).affiliate_status == "approved"


async def test_ban_reason_and_note_are_readable_by_the_partner_and_unban_lifts_them(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")

    banned = await api.client.post(
        p.partner_url(ppid, "ban"),
        json={"reason": "brand_misuse", "note": "Used our logo in ads"},
        headers=p.owner.headers,
    )
    openapi.validate_response("banProductPartner", banned)
    mine = (await api.client.get(f"/v3/partnerships/{ppid}", headers=p.partner.headers)).json()
    assert mine["affiliate_status"] == "banned" and mine["banned_at"]
    assert (mine["ban_reason"], mine["ban_note"]) == ("brand_misuse", "Used our logo in ads")

    unbanned = await api.client.post(p.partner_url(ppid, "unban"), headers=p.owner.headers)
    openapi.validate_response("unbanProductPartner", unbanned)
    body = unbanned.json()
    assert body["affiliate_status"] == "rejected" and body["rejected_at"]
    assert body["ban_reason"] is None and body["ban_note"] is None and body["banned_at"] is None


async def test_delete_removes_the_partnership_but_not_a_ban(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")
    response = await api.client.delete(p.partner_url(ppid), headers=p.owner.headers)
    openapi.validate_response("deleteProductPartner", response)
    assert response.status_code == 204 and response.content == b""
    assert await db_state(api, ppid) is None
    again = await api.client.delete(p.partner_url(ppid), headers=p.owner.headers)
    assert_error(again, 404, "partner_not_found")

    other = await api.actor()
    banned = await put_partnership(api, p.pid, other.id, "banned")
    refused = await api.client.delete(p.partner_url(banned), headers=p.owner.headers)
    assert "banned" in assert_error(refused, 409, "invalid_transition")["message"]


# --- updateProductPartner -------------------------------------------------------------------


async def test_update_changes_type_and_the_store_is_the_partners_choice(api, openapi):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")
    partner_store = await store(api, p.partner)
    owner_store = await store(api, p.owner)
    url = p.partner_url(ppid)

    # The owner cannot route the partner, and learns nothing of its stores by trying: the
    # same answer for the partner's store, the owner's own and one that does not exist.
    for store_id in (partner_store["id"], owner_store["id"], 2**62):
        for body in (
            {"store_id": store_id},
            {"partnership_type": "affiliate_pro", "store_id": store_id},
        ):
            refused = await api.client.patch(url, json=body, headers=p.owner.headers)
            assert_error(refused, 400, "store_is_partners_choice")
    ok = await api.client.patch(
        url, json={"partnership_type": "affiliate_pro"}, headers=p.owner.headers
    )
    openapi.validate_response("updateProductPartner", ok)
    assert (ok.json()["partnership_type"], ok.json()["store_id"]) == ("affiliate_pro", None)
    assert ok.json()["affiliate_status"] == "approved" and ok.json()["version"] == 2
    # The partner agreed to affiliate, not to affiliate_pro: it chooses its store on accept.
    assert ok.json()["affiliate_pro_consented_at"] is None
    accepted = await api.client.post(
        f"/v3/partnerships/{ppid}/accept",
        json={"store_id": partner_store["id"]},
        headers=p.partner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["store_id"] == partner_store["id"]
    assert accepted.json()["affiliate_pro_consented_at"] is not None

    back = await api.client.patch(
        url, json={"partnership_type": "affiliate"}, headers=p.owner.headers
    )
    assert (back.json()["partnership_type"], back.json()["store_id"]) == ("affiliate", None)
    assert back.json()["affiliate_pro_consented_at"] is None


async def test_update_with_nothing_to_change_keeps_the_version(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    response = await api.client.patch(p.partner_url(ppid), json={}, headers=p.owner.headers)
    assert response.status_code == 200 and response.json()["version"] == 1


@pytest.mark.parametrize(
    "body", [{"affiliate_status": "approved"}, {"partnership_type": "vip"}, {"store_id": 0}]
)
async def test_update_refuses_unknown_or_invalid_fields(api, openapi, body):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    response = await api.client.patch(p.partner_url(ppid), json=body, headers=p.owner.headers)
    openapi.validate_response("updateProductPartner", response)
    assert_error(response, 400)


# --- If-Match ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("POST", "approve", None),
        ("POST", "reject", None),
        ("POST", "ban", {"reason": "spam"}),
        ("PATCH", "", {"partnership_type": "reseller"}),
        ("DELETE", "", None),
    ],
)
async def test_a_stale_if_match_is_412_and_changes_nothing(api, method, action, body):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    await api.client.patch(
        p.partner_url(ppid), json={"partnership_type": "affiliate_pro"}, headers=p.owner.headers
    )  # version 2 now

    for stale in ('"1"', 'W/"1"', "garbage", '"1", "7"'):
        headers = {**p.owner.headers, "If-Match": stale}
        response = await call(api, p, headers, method, action, body, ppid)
        assert_error(response, 412, "precondition_failed")
        assert response.headers["etag"] == '"2"'
    assert tuple(await db_state(api, ppid))[:2] == ("pending", 2)

    fresh = {**p.owner.headers, "If-Match": '"1", "2"'}
    response = await call(api, p, fresh, method, action, body, ppid)
    assert response.status_code in (200, 204), response.text


async def test_if_match_star_only_needs_the_partnership_to_exist(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    headers = {**p.owner.headers, "If-Match": "*"}
    response = await api.client.post(p.partner_url(ppid, "approve"), headers=headers)
    assert response.status_code == 200
    missing = await api.client.post(p.partner_url(2**62, "approve"), headers=headers)
    assert_error(missing, 404, "partner_not_found")


async def test_partner_side_writes_honour_if_match(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    headers = {**p.partner.headers, "If-Match": '"9"'}
    response = await api.client.post(f"/v3/partnerships/{ppid}/withdraw", headers=headers)
    assert_error(response, 412)
    headers["If-Match"] = '"1"'
    response = await api.client.post(f"/v3/partnerships/{ppid}/withdraw", headers=headers)
    assert response.status_code == 204


# --- tenant isolation and scopes ---------------------------------------------------------------


@pytest.mark.parametrize(("operation", "method", "action", "body"), OWNER_ROUTES)
async def test_owner_routes_are_404_for_anyone_but_the_owner(
    api, openapi, operation, method, action, body
):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    stranger = await api.actor()
    # The stranger's own product with the owner's partnership id in the path.
    theirs = await api.product(stranger)
    other_product = await api.product(p.owner)

    for headers, product_id in (
        (stranger.headers, p.pid),  # another business's product
        (p.partner.headers, p.pid),  # the partner is not the owner
        (stranger.headers, theirs["id"]),  # the partnership is not of this product
        (p.owner.headers, other_product["id"]),  # the owner's other product
        (p.owner.headers, "abc"),  # not an id
    ):
        url = f"/v3/products/{product_id}/partners/{ppid}" + (f"/{action}" if action else "")
        response = await api.client.request(method, url, json=body, headers=headers)
        openapi.validate_response(operation, response)
        assert response.status_code == 404, (headers, product_id, response.text)
        assert response.json()["error_code"] in ("partner_not_found", "product_not_found")
    state = await db_state(api, ppid)
    assert tuple(state)[:2] == ("pending", 1)


@pytest.mark.parametrize(("operation", "method", "action", "body"), OWNER_ROUTES)
async def test_owner_routes_need_their_scope(api, operation, method, action, body):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    needed = "product:read" if method == "GET" else "product:update"
    others = [s for s in ("product:list", "product:read", "product:update") if s != needed]
    key = await api.key_for(p.owner.unique_id, others)
    headers = {"Authorization": f"Bearer {key['key']}"}
    response = await call(api, p, headers, method, action, body, ppid)
    assert_error(response, 403, "insufficient_scope")


# --- listProductPartners: pagination and filters ---------------------------------------------


async def collect(api, url: str, headers, page_size: int, between=None):
    """Walk next_cursor to the end, calling ``between()`` after each page."""
    seen, cursor, pages = [], None, 0
    while True:
        params = {"page_size": page_size, **({"next_cursor": cursor} if cursor else {})}
        response = await api.client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["id"] for item in body["data"])
        pages += 1
        if between:
            await between()
        if not body["has_next"]:
            return seen, pages, body
        cursor = body["next_cursor"]


async def test_partner_pages_miss_and_repeat_nothing_while_rows_are_added(api, openapi):
    p = await parties(api)
    ids = [
        await put_partnership(api, p.pid, (await api.business())["id"], "pending")
        for _ in range(55)
    ]

    async def add_one() -> None:
        await put_partnership(api, p.pid, (await api.business())["id"], "approved")

    seen, pages, last = await collect(
        api, f"/v3/products/{p.pid}/partners", p.owner.headers, 25, add_one
    )

    assert pages == 3
    assert seen == sorted(ids, reverse=True)
    assert last["has_previous"] is True and last["previous_cursor"]
    back = await api.client.get(
        f"/v3/products/{p.pid}/partners",
        params={"previous_cursor": last["previous_cursor"], "page_size": 25},
        headers=p.owner.headers,
    )
    openapi.validate_response("listProductPartners", back)
    assert [i["id"] for i in back.json()["data"]] == sorted(ids, reverse=True)[25:50]


@pytest.mark.parametrize("param", ["next_cursor", "previous_cursor"])
async def test_a_bad_cursor_is_400(api, openapi, param):
    p = await parties(api)
    response = await api.client.get(
        f"/v3/products/{p.pid}/partners", params={param: "nope!"}, headers=p.owner.headers
    )
    openapi.validate_response("listProductPartners", response)
    assert_error(response, 400, "invalid_cursor")


async def test_partner_list_filters_by_status_and_type(api, openapi):
    p = await parties(api, **ALL_TYPES_OPEN)
    made = {}
    for status in ("pending", "approved", "rejected", "banned"):
        for ptype in ("affiliate", "affiliate_pro", "reseller"):
            biz = await api.business()
            made[(status, ptype)] = await put_partnership(api, p.pid, biz["id"], status, ptype)
    url = f"/v3/products/{p.pid}/partners"
    for params, expected in (
        ({"affiliate_status": "pending"}, {v for (s, _), v in made.items() if s == "pending"}),
        ({"partnership_type": "reseller"}, {v for (_, t), v in made.items() if t == "reseller"}),
        (
            {"affiliate_status": "banned", "partnership_type": "affiliate_pro"},
            {made[("banned", "affiliate_pro")]},
        ),
    ):
        response = await api.client.get(url, params=params, headers=p.owner.headers)
        openapi.validate_response("listProductPartners", response)
        assert {i["id"] for i in response.json()["data"]} == expected
    bad = await api.client.get(url, params={"affiliate_status": "gone"}, headers=p.owner.headers)
    assert_error(bad, 400)


def test_if_match_parsing():
    from product_partners.partnerships.etags import parse_if_match

    assert parse_if_match(None) is None and parse_if_match(" * ") is None
    assert parse_if_match('"3", W/"4" , "x", 5, "²", ""') == [3, 4]
    assert parse_if_match("garbage") == []
