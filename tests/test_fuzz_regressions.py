"""Cases the fuzzer found, kept as plain regression tests (both backends)."""

import pytest

from tests.support.api import Api


async def test_boolean_for_integer_field_is_rejected(api: Api) -> None:
    # Found: {"rerequest_cooldown_seconds": false} was accepted as 0 (lax coercion).
    owner = await api.actor()
    response = await api.client.post(
        "/v3/products",
        json={"name": "x", "rerequest_cooldown_seconds": False},
        headers=owner.headers,
    )
    assert response.status_code == 400, response.text
    assert "rerequest_cooldown_seconds" in response.json()["errors"]


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
async def test_non_boolean_for_boolean_field_is_rejected(api: Api, value: object) -> None:
    owner = await api.actor()
    response = await api.client.post(
        "/v3/products",
        json={"name": "x", "item_type": "physical", "is_affiliate_enabled": value},
        headers=owner.headers,
    )
    assert response.status_code == 400, response.text
    assert "is_affiliate_enabled" in response.json()["errors"]


@pytest.mark.parametrize(
    "full_url", ["8\u0096X\U000309b1Y\u00bc&[\u00d2\u00cb", "[shop.example", "a]b.c"]
)
async def test_host_name_with_bracket_is_400_not_500(api: Api, full_url: str) -> None:
    # Found: urlsplit raised "Invalid IPv6 URL" for an unbalanced "[" -> 500.
    owner = await api.actor()
    response = await api.client.post(
        "/v3/custom-domains", json={"full_url": full_url}, headers=owner.headers
    )
    assert response.status_code == 400, response.text


async def test_store_domain_filter_with_bracket_is_not_500(api: Api) -> None:
    # Found: GET /v3/stores?domain=<text with "]"> -> 500 (same hostname parser).
    owner = await api.actor()
    response = await api.client.get(
        "/v3/stores", params={"domain": "\u00c9\u00af\u00ca]h"}, headers=owner.headers
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v3/bundles", {"name": "b", "public_name": "b", "is_bundle_sharing": 0}),
        ("/v3/stores", {"name": "s", "custom_domain_id": True}),
    ],
)
async def test_lax_coercions_are_refused_in_every_body(api: Api, path: str, body: dict) -> None:
    # Found: {"is_bundle_sharing": 0} was accepted as false (bundles).
    owner = await api.actor()
    response = await api.client.post(path, json=body, headers=owner.headers)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v3/products/{pid}/partners", {"partner_unique_id": "\u0000\u00d8K"}),
        ("POST", "/v3/stores", {"name": "a\u0000b"}),
        ("POST", "/v3/products", {"name": "x", "description": "\u0000"}),
    ],
)
async def test_nul_in_a_body_string_is_400_not_500(api: Api, method, path, body) -> None:
    # Found (PostgreSQL): a NUL in a string reached the database -> 500.
    owner = await api.actor()
    product = await api.product(owner)
    response = await api.client.request(
        method, path.format(pid=product["id"]), json=body, headers=owner.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "nul_character"


async def test_nul_in_a_query_or_path_is_refused_not_500(api: Api) -> None:
    # Found (PostgreSQL): GET /v3/bundles?search=<text with %00> -> 500.
    owner = await api.actor()
    response = await api.client.get("/v3/bundles?search=a%00b", headers=owner.headers)
    assert response.status_code == 400, response.text
    response = await api.client.get("/v3/stores/store_%00", headers=owner.headers)
    assert response.status_code == 404, response.text


async def test_escaped_backslash_before_u0000_is_not_a_nul(api: Api) -> None:
    owner = await api.actor()
    response = await api.client.post(
        "/v3/products",
        content=b'{"name": "a\\\\u0000", "item_type": "physical"}',
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "a\\u0000"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v3/stores", {"name": "s", "custom_domain_id": 3241448084285552494239423710363648}),
        ("/v3/stores", {"name": "s", "custom_domain_id": 2**63}),
        (
            "/v3/products/{pid}/partnership-requests",
            {"partnership_type": "affiliate_pro", "store_id": 523278437618091321982976},
        ),
    ],
)
async def test_ids_beyond_int64_in_a_body_are_400_not_500(api: Api, path, body) -> None:
    # Found (PostgreSQL): asyncpg "value out of int64 range" -> 500.
    owner = await api.actor()
    product = await api.product(owner, is_affiliate_pro_enabled=True)
    partner = await api.actor()
    response = await api.client.post(
        path.format(pid=product["id"]), json=body, headers=partner.headers
    )
    assert response.status_code == 400, response.text
