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
async def test_invalid_product_is_422(api, body, field):
    owner = await api.actor()
    response = await api.client.post("/v3/products", json=body, headers=owner.headers)
    assert field in assert_error(response, 422, "validation_error")["errors"]


async def test_duplicate_slug_is_409(api):
    owner = await api.actor()
    await api.product(owner, slug="same-slug")
    response = await api.client.post(
        "/v3/products", json={"name": "Again", "slug": "same-slug"}, headers=owner.headers
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
    # The partner sees its partnership as the owner does, and itself whole.
    assert {**mine, "partner": created["partner"]} == created
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
