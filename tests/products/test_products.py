"""Products: create, read, list; tenant isolation."""

import pytest

from tests.support.api import assert_error


async def test_create_product_returns_the_product(api, openapi):
    owner = await api.actor()
    response = await api.client.post(
        "/v3/products",
        json={
            "name": "Kopi Luwak",
            "item_type": "digital",
            "is_affiliate_enabled": True,
            "affiliate_commission_rate": 12.5,
            "affiliate_pro_commission_rate": "20",
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    openapi.validate_response("createProduct", response)
    body = response.json()
    assert body["name"] == "Kopi Luwak" and body["item_type"] == "digital"
    assert body["business"]["unique_id"] == owner.unique_id
    assert body["is_affiliate_enabled"] is True
    assert body["affiliate_commission_rate"] == "12.50"
    assert body["affiliate_pro_commission_rate"] == "20.00"
    assert body["is_affiliate_pro_enabled"] is False
    assert body["is_affiliate_auto_accept"] is False
    assert body["slug"].startswith("kopi-luwak")

    fetched = await api.client.get(f"/v3/products/{body['id']}", headers=owner.headers)
    openapi.validate_response("getProduct", fetched)
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "ok", "affiliate_commission_rate": 101}, "affiliate_commission_rate"),
        ({"name": "ok", "affiliate_commission_rate": -1}, "affiliate_commission_rate"),
        ({"name": "ok", "affiliate_commission_rate": "1.234"}, "affiliate_commission_rate"),
        ({"name": "ok", "item_type": "spaceship"}, "item_type"),
        ({"name": "ok", "slug": "Not A Slug"}, "slug"),
    ],
)
async def test_invalid_product_is_400(api, body, field):
    owner = await api.actor()
    response = await api.client.post("/v3/products", json=body, headers=owner.headers)
    assert field in assert_error(response, 400, "validation_error")["errors"]


async def test_duplicate_slug_is_409(api):
    owner = await api.actor()
    await api.product(owner, slug="same-slug")
    response = await api.client.post(
        "/v3/products",
        json={"name": "Again", "item_type": "physical", "slug": "same-slug"},
        headers=owner.headers,
    )
    assert_error(response, 409, "slug_taken")
    other = await api.actor()
    assert (await api.product(other, slug="same-slug"))["slug"] == "same-slug"


async def test_another_business_cannot_read_a_product(api):
    owner = await api.actor()
    intruder = await api.actor()
    product = await api.product(owner)
    response = await api.client.get(f"/v3/products/{product['id']}", headers=intruder.headers)
    assert_error(response, 404, "product_not_found")


async def test_list_shows_only_own_products_newest_first(api, openapi):
    owner = await api.actor()
    other = await api.actor()
    mine = [await api.product(owner, name=f"p{i}") for i in range(3)]
    await api.product(other)
    response = await api.client.get("/v3/products", headers=owner.headers)
    openapi.validate_response("listProducts", response)
    body = response.json()
    assert [p["id"] for p in body["data"]] == [p["id"] for p in reversed(mine)]
    assert all(p["product_partners"] is None for p in body["data"])


async def test_partner_sees_shared_products_with_its_partnership(api, openapi):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)
    await api.product(owner)  # not shared with the partner
    created = (await api.add_partner(owner, product["id"], partner.unique_id)).json()

    response = await api.client.get("/v3/products?is_owned=false", headers=partner.headers)

    openapi.validate_response("listProducts", response)
    data = response.json()["data"]
    assert [p["id"] for p in data] == [product["id"]]
    (mine,) = data[0]["product_partners"]
    # The partner sees its partnership as the owner does (but for the owner's private tags),
    # and itself whole.
    assert "tags" not in mine and created["tags"] == []
    assert {**mine, "partner": created["partner"], "tags": []} == created
    assert mine["partner"] == {**partner.business}


async def test_a_banned_partner_sees_nothing_of_the_products_terms(api):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(
        owner, partnership_sales_letter="Our secret terms", affiliate_commission_rate="12"
    )
    created = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    banned = await api.client.post(
        f"/v3/products/{product['id']}/partners/{created['id']}/ban",
        json={"reason": "fraud"},
        headers=owner.headers,
    )
    assert banned.status_code == 200

    response = await api.client.get("/v3/products?is_owned=false", headers=partner.headers)

    assert response.json()["data"] == []
    assert "Our secret terms" not in response.text
    # It still reads its own partnership: banned, with the reason.
    mine = await api.client.get(f"/v3/partnerships/{created['id']}", headers=partner.headers)
    assert mine.json()["affiliate_status"] == "banned" and mine.json()["ban_reason"] == "fraud"


async def test_create_product_requires_item_type_and_refuses_fields_it_does_not_keep(api):
    owner = await api.actor()
    missing = await api.client.post("/v3/products", json={"name": "p"}, headers=owner.headers)
    assert assert_error(missing, 400, "validation_error")["errors"] == {
        "item_type": ["is required"]
    }
    body = {"name": "p", "item_type": "digital", "is_inventory": True, "rich_description": "x"}
    dropped = await api.client.post("/v3/products", json=body, headers=owner.headers)
    errors = assert_error(dropped, 400, "validation_error")["errors"]
    assert errors == {
        "is_inventory": ["is not supported by this service"],
        "rich_description": ["is not supported by this service"],
    }
    count = await api.client.get("/v3/products/count", headers=owner.headers)
    assert count.json() == {"count": 0}, "nothing half-written"


async def test_update_product_sets_the_sharing_flag_and_fields(api, openapi):
    owner = await api.actor()
    product = await api.product(owner, name="Before", slug="before")
    assert product["item_type_name"] == "Physical"
    url = f"/v3/products/{product['id']}"
    response = await api.client.patch(
        url,
        json={"is_product_sharing": True, "partnership_sales_letter": "Sell it", "name": "After"},
        headers=owner.headers,
    )
    openapi.validate_response("updateProduct", response)
    updated = response.json()
    assert updated["is_product_sharing"] is True and updated["name"] == "After"
    assert updated["partnership_sales_letter"] == "Sell it" and updated["slug"] == "before"
    cleared = await api.client.patch(
        url, json={"partnership_sales_letter": None}, headers=owner.headers
    )
    assert "partnership_sales_letter" not in cleared.json(), "unset: omitted, not null"
    for bad, field in (({"name": None}, "body"), ({"variants": []}, "variants")):
        refused = await api.client.patch(url, json=bad, headers=owner.headers)
        assert field in assert_error(refused, 400, "validation_error")["errors"]
    other = await api.product(owner, slug="taken")
    clash = await api.client.patch(url, json={"slug": other["slug"]}, headers=owner.headers)
    assert_error(clash, 409, "slug_taken")


async def test_delete_product_removes_it_and_its_partnerships(api):
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    url = f"/v3/products/{product['id']}"
    added = await api.client.post(
        f"{url}/partners", json={"partner_unique_id": partner.unique_id}, headers=owner.headers
    )
    assert added.status_code == 200, added.text
    assert (await api.client.delete(url, headers=owner.headers)).status_code == 204
    assert_error(await api.client.get(url, headers=owner.headers), 404, "product_not_found")
    assert_error(await api.client.delete(url, headers=owner.headers), 404, "product_not_found")
    mine = await api.client.get("/v3/partnerships", headers=partner.headers)
    assert mine.json()["data"] == []


async def test_count_and_simplified_products_honour_the_filters(api, openapi):
    owner, partner = await api.actor(), await api.actor()
    shared = await api.product(owner, item_type="digital", is_product_sharing=True)
    plain = await api.product(owner, name="Plain")
    count = await api.client.get("/v3/products/count", headers=owner.headers)
    openapi.validate_response("countProducts", count)
    assert count.json() == {"count": 2}
    digital = await api.client.get("/v3/products/count?item_type=digital", headers=owner.headers)
    assert digital.json() == {"count": 1}
    listed = await api.client.get("/v3/products?item_type=physical", headers=owner.headers)
    assert [p["id"] for p in listed.json()["data"]] == [plain["id"]]
    simple = await api.client.get(
        "/v3/products/simplified?is_product_sharing=true", headers=owner.headers
    )
    openapi.validate_response("listProductsSimplified", simple)
    assert [p["id"] for p in simple.json()["data"]] == [shared["id"]]
    await api.client.post(
        f"/v3/products/{shared['id']}/partners",
        json={"partner_unique_id": partner.unique_id},
        headers=owner.headers,
    )
    theirs = await api.client.get("/v3/products/count?is_owned=false", headers=partner.headers)
    assert theirs.json() == {"count": 1}
    own = await api.client.get("/v3/products/simplified?is_owned=true", headers=partner.headers)
    assert own.json()["data"] == []


@pytest.mark.parametrize("path", ["/v3/products", "/v3/products/count", "/v3/products/simplified"])
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("store_id", "1"),
        ("label", "x"),
        ("pricing_type", "one_time"),
        ("is_inventory", "true"),
        ("warehouse_id", "2"),
        ("qty_type", "available_qty"),
        ("is_checked", "false"),
    ],
)
async def test_documented_product_filters_not_supported_are_400(api, path, param, value):
    owner = await api.actor()
    response = await api.client.get(path, params={param: value}, headers=owner.headers)
    body = assert_error(response, 400, "filter_not_supported")
    assert body["errors"] == {param: ["is not supported by this service"]}
    assert param in body["error"]
