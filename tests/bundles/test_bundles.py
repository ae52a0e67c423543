"""Bundles and bundle partners: Scalev's operations, the product rules, tenant isolation."""

import asyncio

import pytest

from tests.support.api import assert_error, unique
from tests.support.stores import bundle

BUNDLE_PARTNER_FIELDS = {"id", "partner", "created_at"}


async def test_create_get_and_list_bundles(api, openapi):
    owner = await api.actor()
    response = await api.client.post(
        "/v3/bundles",
        json={"name": "Coffee set", "public_name": "The coffee set"},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    openapi.validate_response("createBundle", response)
    created = response.json()
    assert created["name"] == "Coffee set" and created["public_name"] == "The coffee set"
    assert created["business"]["id"] == owner.id
    assert created["is_bundle_sharing"] is False

    got = await api.client.get(f"/v3/bundles/{created['id']}", headers=owner.headers)
    openapi.validate_response("getBundle", got)
    assert got.json() == created

    second = await bundle(api, owner, name="Tea set", is_bundle_sharing=True)
    listed = await api.client.get("/v3/bundles", headers=owner.headers)
    openapi.validate_response("listBundles", listed)
    assert [b["id"] for b in listed.json()["data"]] == [second["id"], created["id"]]
    shared = await api.client.get("/v3/bundles?is_bundle_sharing=true", headers=owner.headers)
    assert [b["id"] for b in shared.json()["data"]] == [second["id"]]
    searched = await api.client.get("/v3/bundles?search=coff", headers=owner.headers)
    assert [b["id"] for b in searched.json()["data"]] == [created["id"]]


async def test_scalev_bundle_fields_not_kept_are_refused_by_name(api):
    owner = await api.actor()
    response = await api.client.post(
        "/v3/bundles",
        json={"name": "n", "public_name": "p", "bundlelines": [], "bundle_price_options": []},
        headers=owner.headers,
    )
    body = assert_error(response, 400, "validation_error")
    assert set(body["errors"]) == {"bundlelines", "bundle_price_options"}
    assert body["errors"]["bundlelines"] == ["is not supported by this service"]
    listed = await api.client.get("/v3/bundles/count", headers=owner.headers)
    assert listed.json() == {"count": 0}, "nothing half-written"


async def test_update_and_delete_a_bundle(api, openapi):
    owner = await api.actor()
    created = await bundle(api, owner, name="Old name")
    url = f"/v3/bundles/{created['id']}"
    updated = await api.client.patch(
        url, json={"name": "New name", "is_bundle_sharing": True}, headers=owner.headers
    )
    openapi.validate_response("updateBundle", updated)
    assert updated.json()["name"] == "New name" and updated.json()["is_bundle_sharing"] is True
    assert updated.json()["public_name"] == created["public_name"], "omitted fields stay"
    assert_error(await api.client.patch(url, json={"name": None}, headers=owner.headers), 400)
    assert_error(
        await api.client.patch(url, json={"images": []}, headers=owner.headers),
        400,
        "validation_error",
    )
    gone = await api.client.delete(url, headers=owner.headers)
    assert gone.status_code == 204, gone.text
    assert_error(await api.client.get(url, headers=owner.headers), 404, "bundle_not_found")
    assert_error(await api.client.delete(url, headers=owner.headers), 404, "bundle_not_found")


async def test_count_and_simplified_bundles_route_before_the_id(api, openapi):
    owner = await api.actor()
    first = await bundle(api, owner, name="Shared one", is_bundle_sharing=True)
    second = await bundle(api, owner, name="Private one")
    count = await api.client.get("/v3/bundles/count", headers=owner.headers)
    openapi.validate_response("countBundles", count)
    assert count.json() == {"count": 2}
    shared = await api.client.get("/v3/bundles/count?is_bundle_sharing=true", headers=owner.headers)
    assert shared.json() == {"count": 1}
    simple = await api.client.get("/v3/bundles/simplified", headers=owner.headers)
    openapi.validate_response("listBundlesSimplified", simple)
    assert [b["id"] for b in simple.json()["data"]] == [second["id"], first["id"]]
    assert simple.json()["is_paginated"] is True


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/v3/bundles", "store_id", "1"),
        ("/v3/bundles", "label", "x"),
        ("/v3/bundles/count", "label", "x"),
        ("/v3/bundles/simplified", "for_store_id", "1"),
    ],
)
async def test_documented_bundle_filters_not_supported_are_400(api, path, param, value):
    owner = await api.actor()
    response = await api.client.get(path, params={param: value}, headers=owner.headers)
    body = assert_error(response, 400, "filter_not_supported")
    assert body["errors"] == {param: ["is not supported by this service"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"public_name": "x"}, "name"),
        ({"name": "x"}, "public_name"),
        ({"name": "  ", "public_name": "x"}, "name"),
        ({"name": "x", "public_name": ""}, "public_name"),
    ],
)
async def test_create_bundle_needs_name_and_public_name(api, openapi, body, field):
    owner = await api.actor()
    response = await api.client.post("/v3/bundles", json=body, headers=owner.headers)
    assert field in assert_error(response, 400, "validation_error")["errors"]
    openapi.validate_response("createBundle", response)


async def test_bundle_scopes(api):
    owner = await api.actor(scopes=["bundle:read"])
    response = await api.client.post(
        "/v3/bundles", json={"name": "a", "public_name": "b"}, headers=owner.headers
    )
    assert_error(response, 403, "insufficient_scope")
    assert_error(await api.client.get("/v3/bundles", headers=owner.headers), 403)


async def test_add_list_and_delete_bundle_partners(api, openapi):
    owner = await api.actor()
    first, second = await api.actor(), await api.actor()
    b = await bundle(api, owner)
    path = f"/v3/bundles/{b['id']}/partners"

    added = await api.client.post(
        path, json={"partner_unique_id": first.unique_id}, headers=owner.headers
    )
    assert added.status_code == 200, added.text
    openapi.validate_response("createBundlePartner", added)
    body = added.json()
    assert set(body) == BUNDLE_PARTNER_FIELDS
    # As on products: no contact data until the partner consents to the owner.
    assert body["partner"] == {"unique_id": first.unique_id}
    other = (
        await api.client.post(
            path, json={"partner_unique_id": second.unique_id}, headers=owner.headers
        )
    ).json()

    listed = await api.client.get(path, headers=owner.headers)
    openapi.validate_response("listBundlePartners", listed)
    assert listed.json()["data"] == [other, body]

    deleted = await api.client.delete(f"{path}/{body['id']}", headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    openapi.validate_response("deleteBundlePartner", deleted)
    assert (await api.client.get(path, headers=owner.headers)).json()["data"] == [other]
    again = await api.client.delete(f"{path}/{body['id']}", headers=owner.headers)
    assert_error(again, 404, "partner_not_found")
    openapi.validate_response("deleteBundlePartner", again)


async def test_bundle_partner_errors_follow_the_product_rules(api, openapi):
    owner = await api.actor()
    partner, banned = await api.actor(), await api.actor()
    await api.ban(banned.id)
    b = await bundle(api, owner)
    path = f"/v3/bundles/{b['id']}/partners"

    async def add(uid):
        return await api.client.post(path, json={"partner_unique_id": uid}, headers=owner.headers)

    assert (await add(partner.unique_id)).status_code == 200
    ghost = unique("ghost")
    # An unknown unique id, and a banned business the owner has no relation with, are added
    # alike (named by their unique id alone): nothing tells the owner which ids exist.
    for uid in (ghost, banned.unique_id):
        alike = await add(uid)
        assert alike.status_code == 200 and alike.json()["partner"] == {"unique_id": uid}
    cases = [
        (await add(partner.unique_id), 409, "partner_already_exists"),
        (await add(ghost), 409, "partner_already_exists"),
        (await add(owner.unique_id), 400, "self_partnership"),
        (await add(""), 400, "validation_error"),
    ]
    for response, status, code in cases:
        assert_error(response, status, code)
        openapi.validate_response("createBundlePartner", response)
    missing = await api.client.post(
        "/v3/bundles/999999999/partners",
        json={"partner_unique_id": partner.unique_id},
        headers=owner.headers,
    )
    assert_error(missing, 404, "bundle_not_found")
    assert len((await api.client.get(path, headers=owner.headers)).json()["data"]) == 3


async def test_concurrent_identical_adds_give_one_winner(api):
    owner = await api.actor()
    partner = await api.actor()
    b = await bundle(api, owner)
    path = f"/v3/bundles/{b['id']}/partners"
    responses = await asyncio.gather(
        *(
            api.client.post(
                path, json={"partner_unique_id": partner.unique_id}, headers=owner.headers
            )
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5


async def test_another_business_bundle_is_404_everywhere(api, openapi):
    owner, intruder, partner = await api.actor(), await api.actor(), await api.actor()
    b = await bundle(api, owner)
    link = (
        await api.client.post(
            f"/v3/bundles/{b['id']}/partners",
            json={"partner_unique_id": partner.unique_id},
            headers=owner.headers,
        )
    ).json()
    mine = await bundle(api, intruder)
    h = intruder.headers
    responses = {
        "getBundle": await api.client.get(f"/v3/bundles/{b['id']}", headers=h),
        "listBundlePartners": await api.client.get(f"/v3/bundles/{b['id']}/partners", headers=h),
        "createBundlePartner": await api.client.post(
            f"/v3/bundles/{b['id']}/partners",
            json={"partner_unique_id": unique("x")},
            headers=h,
        ),
        "deleteBundlePartner": await api.client.delete(
            f"/v3/bundles/{b['id']}/partners/{link['id']}", headers=h
        ),
    }
    for operation, response in responses.items():
        assert_error(response, 404, "bundle_not_found")
        openapi.validate_response(operation, response)
    # The owner's link id under the intruder's own bundle: still not found, still not deleted.
    cross = await api.client.delete(f"/v3/bundles/{mine['id']}/partners/{link['id']}", headers=h)
    assert_error(cross, 404, "partner_not_found")
    listed = await api.client.get("/v3/bundles", headers=h)
    assert [x["id"] for x in listed.json()["data"]] == [mine["id"]]
    kept = await api.client.get(f"/v3/bundles/{b['id']}/partners", headers=owner.headers)
    assert kept.json()["data"] == [link]


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "9" * 30])
async def test_malformed_bundle_ids_are_404(api, raw):
    owner = await api.actor()
    assert_error(await api.client.get(f"/v3/bundles/{raw}", headers=owner.headers), 404)
    b = await bundle(api, owner)
    response = await api.client.delete(
        f"/v3/bundles/{b['id']}/partners/{raw}", headers=owner.headers
    )
    assert_error(response, 404, "partner_not_found")


async def test_bundle_partners_paginate_without_gaps(api):
    owner = await api.actor()
    b = await bundle(api, owner)
    path = f"/v3/bundles/{b['id']}/partners"
    ids = []
    for _ in range(5):
        p = await api.actor()
        r = await api.client.post(
            path, json={"partner_unique_id": p.unique_id}, headers=owner.headers
        )
        ids.append(r.json()["id"])
    seen, cursor = [], None
    while True:
        q = f"{path}?page_size=2" + (f"&next_cursor={cursor}" if cursor else "")
        page = (await api.client.get(q, headers=owner.headers)).json()
        seen += [x["id"] for x in page["data"]]
        if not page["has_next"]:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(ids, reverse=True)
