"""URLs stored for display (business and store logos, product thumbnails) are https URLs: a
``javascript:`` URL is 400 naming the field in the API, and refused by the CLI."""

import pytest

from product_partners.kit.urls import https_url
from tests.support.api import assert_error, unique
from tests.support.servers import run_cli
from tests.support.stores import store

BAD = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:image/svg+xml;base64,PHN2Zz4=",
    "http://cdn.example.com/logo.png",
    "//cdn.example.com/logo.png",
    "/logo.png",
    "https://",
    "https://user:pw@cdn.example.com/l.png",
    "https://cdn.example.com/a b.png",
    "https://cdn.example.com/\nx",
    "https://cdn.example.com:99999/l.png",
]


@pytest.mark.parametrize("url", BAD)
def test_only_https_urls_with_a_host_pass(url):
    with pytest.raises(ValueError):
        https_url(url)


def test_an_https_url_passes_unchanged():
    url = "https://cdn.example.com/logos/a.png?v=2#x"
    assert https_url(url) == url


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://cdn.example.com/l.png"])
async def test_a_store_logo_must_be_https(api, openapi, url):
    owner = await api.actor()
    s = await store(api, owner)
    response = await api.client.patch(
        f"/v3/stores/{s['id']}", json={"logo": url}, headers=owner.headers
    )
    openapi.validate_response("updateBusinessStore", response)
    body = assert_error(response, 400, "validation_error")
    assert list(body["errors"]) == ["logo"]
    cleared = await api.client.patch(
        f"/v3/stores/{s['id']}", json={"logo": ""}, headers=owner.headers
    )
    assert cleared.status_code == 200 and cleared.json()["logo"] is None


async def test_a_product_thumbnail_must_be_https(api, openapi):
    owner = await api.actor()
    body = {"name": "P", "item_type": "physical", "meta_thumbnail": "javascript:alert(1)"}
    response = await api.client.post("/v3/products", json=body, headers=owner.headers)
    openapi.validate_response("createProduct", response)
    assert list(assert_error(response, 400, "validation_error")["errors"]) == ["meta_thumbnail"]
    body["meta_thumbnail"] = "https://cdn.example.com/t.png"
    response = await api.client.post("/v3/products", json=body, headers=owner.headers)
    assert (
        response.status_code == 200 and response.json()["meta_thumbnail"] == body["meta_thumbnail"]
    )


async def test_a_business_logo_must_be_https_in_the_cli(database_url):
    uid = unique("logo")
    args = ["business", "create", "--unique-id", uid, "--username", "u",
            "--account-holder", "A", "--email", "a@example.com"]  # fmt: skip
    refused = run_cli(database_url, *args, "--logo", "javascript:alert(1)")
    assert refused.returncode != 0 and refused.stdout == ""
    assert "logo" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    accepted = run_cli(database_url, *args, "--logo", "https://cdn.example.com/l.png")
    assert accepted.returncode == 0, accepted.stderr


async def test_a_store_logo_must_be_https_in_the_cli(api, database_url):
    owner = await api.actor()
    s = await store(api, owner)
    result = run_cli(
        database_url, "store", "update", str(s["id"]), "--business", owner.unique_id,
        "--logo", "javascript:alert(1)",
    )  # fmt: skip
    assert result.returncode != 0 and "logo" in result.stderr
