"""Stores (Scalev's BusinessStore operations): every operation, its errors, tenant isolation."""

import pytest

from tests.support.api import assert_error
from tests.support.stores import domain, host, store

STORE_FIELDS = {
    "id",
    "unique_id",
    "name",
    "business_id",
    "is_active",
    "is_public",
    "logo",
    "custom_domain",
    "created_at",
    "last_updated_at",
}


async def test_create_get_update_list_and_delete_a_store(api, openapi):
    owner = await api.actor()
    d = await domain(api, owner, host())
    created = await api.client.post(
        "/v3/stores", json={"name": "Main", "custom_domain_id": d["id"]}, headers=owner.headers
    )
    assert created.status_code == 200, created.text
    openapi.validate_response("createBusinessStore", created)
    s = created.json()
    assert set(s) == STORE_FIELDS
    assert s["unique_id"].startswith("store_") and s["unique_id"][6:].isalnum()
    assert s["business_id"] == owner.id and s["is_active"] and s["is_public"]
    assert s["custom_domain"] == {"id": d["id"], "full_url": d["full_url"], "is_verified": False}

    by_id = await api.client.get(f"/v3/stores/{s['id']}", headers=owner.headers)
    openapi.validate_response("getBusinessStore", by_id)
    assert by_id.json() == s
    by_unique_id = await api.client.get(f"/v3/stores/{s['unique_id']}", headers=owner.headers)
    assert by_unique_id.json() == s

    patched = await api.client.patch(
        f"/v3/stores/{s['id']}",
        json={"name": "Renamed", "is_public": False, "logo": "https://cdn.example.com/l.png"},
        headers=owner.headers,
    )
    openapi.validate_response("updateBusinessStore", patched)
    body = patched.json()
    assert (body["name"], body["is_public"], body["logo"]) == (
        "Renamed",
        False,
        "https://cdn.example.com/l.png",
    )
    assert body["custom_domain"] == s["custom_domain"]  # omitted fields stay
    cleared = await api.client.patch(
        f"/v3/stores/{s['id']}",
        json={"custom_domain_id": None, "logo": "", "is_active": False},
        headers=owner.headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["custom_domain"] is None and cleared.json()["logo"] is None
    assert cleared.json()["is_active"] is False

    listed = await api.client.get("/v3/stores", headers=owner.headers)
    openapi.validate_response("listBusinessStores", listed)
    assert [x["id"] for x in listed.json()["data"]] == [s["id"]]

    deleted = await api.client.delete(f"/v3/stores/{s['id']}", headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    openapi.validate_response("deleteBusinessStore", deleted)
    gone = await api.client.get(f"/v3/stores/{s['id']}", headers=owner.headers)
    assert_error(gone, 404, "store_not_found")
    openapi.validate_response("getBusinessStore", gone)
    assert_error(await api.client.delete(f"/v3/stores/{s['id']}", headers=owner.headers), 404)


async def test_store_domain_must_be_your_own_and_unused(api, openapi):
    owner, other = await api.actor(), await api.actor()
    mine = await domain(api, owner, host())
    theirs = await domain(api, other, host())
    first = await store(api, owner, custom_domain_id=mine["id"])

    for domain_id in (theirs["id"], 999_999_999):
        response = await api.client.post(
            "/v3/stores", json={"name": "x", "custom_domain_id": domain_id}, headers=owner.headers
        )
        body = assert_error(response, 422, "custom_domain_not_found")
        assert "custom_domain_id" in body["errors"]
        openapi.validate_response("createBusinessStore", response)
    taken = await api.client.post(
        "/v3/stores", json={"name": "x", "custom_domain_id": mine["id"]}, headers=owner.headers
    )
    assert_error(taken, 409, "custom_domain_in_use")
    openapi.validate_response("createBusinessStore", taken)

    second = await store(api, owner)
    for domain_id, status, code in (
        (theirs["id"], 422, "custom_domain_not_found"),
        (mine["id"], 409, "custom_domain_in_use"),
    ):
        response = await api.client.patch(
            f"/v3/stores/{second['id']}",
            json={"custom_domain_id": domain_id},
            headers=owner.headers,
        )
        assert_error(response, status, code)
        openapi.validate_response("updateBusinessStore", response)
    # Nothing changed by the refusals.
    assert (await api.client.get(f"/v3/stores/{second['id']}", headers=owner.headers)).json()[
        "custom_domain"
    ] is None
    # Moving the domain: free it on the first store, then take it on the second.
    await api.client.patch(
        f"/v3/stores/{first['id']}", json={"custom_domain_id": None}, headers=owner.headers
    )
    moved = await api.client.patch(
        f"/v3/stores/{second['id']}", json={"custom_domain_id": mine["id"]}, headers=owner.headers
    )
    assert moved.json()["custom_domain"]["id"] == mine["id"]


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("post", {}, "name"),
        ("post", {"name": "  "}, "name"),
        ("post", {"name": "x", "custom_domain_id": 0}, "custom_domain_id"),
        ("post", {"name": "x", "custom_domain_id": "1"}, "custom_domain_id"),
        ("post", {"name": "x", "is_public": True}, "is_public"),
        ("patch", {"name": None}, "name"),
        ("patch", {"is_public": "yes"}, "is_public"),
        ("patch", {"is_active": None}, "is_active"),
        ("patch", {"visibility": "public"}, "visibility"),
        ("patch", {"logo": "x" * 2049}, "logo"),
    ],
)
async def test_invalid_store_bodies_are_422(api, openapi, method, body, field):
    owner = await api.actor()
    s = await store(api, owner)
    if method == "post":
        response = await api.client.post("/v3/stores", json=body, headers=owner.headers)
        operation = "createBusinessStore"
    else:
        response = await api.client.patch(f"/v3/stores/{s['id']}", json=body, headers=owner.headers)
        operation = "updateBusinessStore"
    assert field in assert_error(response, 422)["errors"]
    openapi.validate_response(operation, response)


async def test_list_filters_and_pagination(api):
    owner = await api.actor()
    d = await domain(api, owner, host())
    plain = [await store(api, owner, name=f"Plain {i}") for i in range(3)]
    on_domain = await store(api, owner, name="Flagship", custom_domain_id=d["id"])
    h = owner.headers

    async def ids(query: str) -> list[int]:
        response = await api.client.get(f"/v3/stores{query}", headers=h)
        assert response.status_code == 200, response.text
        return [x["id"] for x in response.json()["data"]]

    assert await ids("?has_domain=true") == [on_domain["id"]]
    assert await ids("?has_domain=false") == [s["id"] for s in reversed(plain)]
    assert await ids(f"?domain=HTTPS://{d['full_url'].upper()}/") == [on_domain["id"]]
    assert await ids("?search=flag") == [on_domain["id"]]
    assert await ids("?search=%25") == []  # LIKE wildcards are literal
    assert_error(await api.client.get("/v3/stores?domain=a/b", headers=h), 422, "invalid_domain")

    seen, cursor = [], None
    while True:
        page = (
            await api.client.get(
                "/v3/stores",
                params={"page_size": 2, "next_cursor": cursor} if cursor else {"page_size": 2},
                headers=h,
            )
        ).json()
        seen += [x["id"] for x in page["data"]]
        if not page["has_next"]:
            break
        cursor = page["next_cursor"]
    assert seen == [on_domain["id"]] + [s["id"] for s in reversed(plain)]


async def test_another_business_store_is_404_and_untouched(api, openapi):
    owner, intruder = await api.actor(), await api.actor()
    s = await store(api, owner, name="Private")
    h = intruder.headers
    for ref in (s["id"], s["unique_id"]):
        cases = {
            "getBusinessStore": await api.client.get(f"/v3/stores/{ref}", headers=h),
            "updateBusinessStore": await api.client.patch(
                f"/v3/stores/{ref}", json={"name": "Pwned"}, headers=h
            ),
            "deleteBusinessStore": await api.client.delete(f"/v3/stores/{ref}", headers=h),
        }
        for operation, response in cases.items():
            assert_error(response, 404, "store_not_found")
            openapi.validate_response(operation, response)
    assert (await api.client.get("/v3/stores", headers=h)).json()["data"] == []
    kept = await api.client.get(f"/v3/stores/{s['id']}", headers=owner.headers)
    assert kept.json() == s


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "9" * 30, "store_", "store_!x", "1.5"])
async def test_malformed_store_ids_are_404(api, raw):
    owner = await api.actor()
    assert_error(await api.client.get(f"/v3/stores/{raw}", headers=owner.headers), 404)


async def test_store_scopes(api):
    reader = await api.actor(scopes=["store:read", "store:list"])
    response = await api.client.post("/v3/stores", json={"name": "x"}, headers=reader.headers)
    assert_error(response, 403, "insufficient_scope")
    assert (await api.client.get("/v3/stores", headers=reader.headers)).status_code == 200
    assert_error(await api.client.delete("/v3/stores/1", headers=reader.headers), 403)


async def test_owner_store_domains_are_the_partnership_custom_domains(api):
    owner, partner = await api.actor(), await api.actor()
    d = await domain(api, owner, host("owner"), verified=True)
    s = await store(api, owner, custom_domain_id=d["id"])
    # A store's unverified claim is no place to view the product: not listed.
    claim = await domain(api, owner, host("claim"))
    await store(api, owner, name="Claimed", custom_domain_id=claim["id"])
    product = await api.product(owner)
    added = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    assert added["custom_domains"] == [
        {"id": d["id"], "business_id": owner.id, "full_url": d["full_url"]}
    ]
    await api.client.patch(
        f"/v3/stores/{s['id']}", json={"is_active": False}, headers=owner.headers
    )
    listed = await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
    assert listed.json()["data"][0]["custom_domains"] == []
