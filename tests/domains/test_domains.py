"""Custom domains (ours): normalization, global uniqueness decided by the database, isolation."""

import asyncio
import json
import subprocess

import pytest

from product_partners.domains.hostnames import InvalidHostname, normalize_hostname
from tests.support.api import assert_error
from tests.support.servers import run_cli
from tests.support.stores import domain, host, store


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("shop.example.com", "shop.example.com"),
        ("  Shop.EXAMPLE.com  ", "shop.example.com"),
        ("shop.example.com.", "shop.example.com"),
        ("https://shop.example.com", "shop.example.com"),
        ("HTTP://shop.example.com/", "shop.example.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("shop\u3002example\u3002com", "shop.example.com"),
    ],
)
def test_host_names_are_normalized(raw, normalized):
    assert normalize_hostname(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "localhost",
        "shop.example.com:8080",
        "shop.example.com/path",
        "shop.example.com?x=1",
        "shop.example.com#top",
        "ftp://shop.example.com",
        "user@shop.example.com",
        "192.168.1.1",
        "[::1]",
        "*.example.com",
        "-shop.example.com",
        "shop_1.example.com",
        "shop..example.com",
        "shop.123",
        "a" * 64 + ".example.com",
        ("a" * 60 + ".") * 5 + "com",
    ],
)
def test_unusable_host_names_are_refused(raw):
    with pytest.raises(InvalidHostname):
        normalize_hostname(raw)


async def test_create_get_list_and_delete_a_domain(api, openapi):
    owner = await api.actor()
    name = host()
    response = await api.client.post(
        "/v3/custom-domains", json={"full_url": f"https://{name.upper()}./"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    openapi.validate_response("createCustomDomain", response)
    d = response.json()
    assert d["full_url"] == name and d["is_verified"] is False and d["business_id"] == owner.id
    assert d["store_id"] is None

    got = await api.client.get(f"/v3/custom-domains/{d['id']}", headers=owner.headers)
    openapi.validate_response("getCustomDomain", got)
    assert got.json() == d
    listed = await api.client.get("/v3/custom-domains", headers=owner.headers)
    openapi.validate_response("listCustomDomains", listed)
    assert listed.json()["data"] == [d]
    by_name = await api.client.get(
        "/v3/custom-domains", params={"full_url": name.upper()}, headers=owner.headers
    )
    assert by_name.json()["data"] == [d]

    deleted = await api.client.delete(f"/v3/custom-domains/{d['id']}", headers=owner.headers)
    assert deleted.status_code == 204
    openapi.validate_response("deleteCustomDomain", deleted)
    missing = await api.client.get(f"/v3/custom-domains/{d['id']}", headers=owner.headers)
    assert_error(missing, 404, "custom_domain_not_found")
    # Deleting freed the name.
    assert (await domain(api, owner, name))["full_url"] == name


async def test_a_business_claims_a_name_once_whatever_the_spelling(api, openapi):
    owner = await api.actor()
    name = host()
    await domain(api, owner, name)
    for spelling in (name, name.upper(), f"https://{name}/", f"{name}."):
        response = await api.client.post(
            "/v3/custom-domains", json={"full_url": spelling}, headers=owner.headers
        )
        body = assert_error(response, 409, "domain_taken")
        assert "full_url" in body["errors"]
        openapi.validate_response("createCustomDomain", response)
    listed = (await api.client.get("/v3/custom-domains", headers=owner.headers)).json()["data"]
    assert [d["full_url"] for d in listed] == [name]


async def test_concurrent_claims_by_one_business_make_one_claim(api):
    owner = await api.actor()
    for _ in range(5):
        name = host("race")
        responses = await asyncio.gather(
            *(
                api.client.post(
                    "/v3/custom-domains", json={"full_url": spelling}, headers=owner.headers
                )
                for spelling in (name, name.upper() + ".")
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()
        assert winner["full_url"] == name


@pytest.mark.parametrize(
    "body",
    [
        {"full_url": "not a domain"},
        {"full_url": "shop.example.com/x"},
        {"full_url": "10.0.0.1"},
        {"full_url": ""},
        {},
        {"full_url": "shop.example.com", "is_verified": True},
    ],
)
async def test_invalid_domain_bodies_are_422(api, openapi, body):
    owner = await api.actor()
    response = await api.client.post("/v3/custom-domains", json=body, headers=owner.headers)
    errors = assert_error(response, 422)["errors"]
    assert set(errors) & {"full_url", "is_verified"}
    openapi.validate_response("createCustomDomain", response)


async def test_another_business_domain_is_404_and_untouched(api, openapi):
    owner, intruder = await api.actor(), await api.actor()
    d = await domain(api, owner, host())
    h = intruder.headers
    got = await api.client.get(f"/v3/custom-domains/{d['id']}", headers=h)
    assert_error(got, 404, "custom_domain_not_found")
    openapi.validate_response("getCustomDomain", got)
    deleted = await api.client.delete(f"/v3/custom-domains/{d['id']}", headers=h)
    assert_error(deleted, 404, "custom_domain_not_found")
    openapi.validate_response("deleteCustomDomain", deleted)
    filtered = await api.client.get(
        "/v3/custom-domains", params={"full_url": d["full_url"]}, headers=h
    )
    assert filtered.json()["data"] == []
    kept = await api.client.get(f"/v3/custom-domains/{d['id']}", headers=owner.headers)
    assert kept.json() == d


async def test_deleting_a_domain_takes_it_off_its_store(api):
    owner = await api.actor()
    d = await domain(api, owner, host())
    s = await store(api, owner, custom_domain_id=d["id"])
    listed = (await api.client.get("/v3/custom-domains", headers=owner.headers)).json()["data"]
    assert listed[0]["store_id"] == s["id"]
    await api.client.delete(f"/v3/custom-domains/{d['id']}", headers=owner.headers)
    after = await api.client.get(f"/v3/stores/{s['id']}", headers=owner.headers)
    assert after.json()["custom_domain"] is None


async def test_domain_scopes(api):
    reader = await api.actor(scopes=["store:list"])
    response = await api.client.post(
        "/v3/custom-domains", json={"full_url": host()}, headers=reader.headers
    )
    assert_error(response, 403, "insufficient_scope")


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(database_url, *args)


async def test_cli_registers_verifies_and_attaches_a_domain(api, database_url):
    owner = await api.actor()
    name = host("cli")
    created = await asyncio.to_thread(
        _cli, database_url, "domain", "create", "--business", owner.unique_id, name.upper()
    )
    assert created.returncode == 0, created.stderr
    d = json.loads(created.stdout)
    assert d["full_url"] == name
    verified = await asyncio.to_thread(_cli, database_url, "domain", "verify", str(d["id"]))
    assert json.loads(verified.stdout)["is_verified"] is True
    made = await asyncio.to_thread(
        _cli,
        database_url,
        *("store", "create", "--business", owner.unique_id, "--name", "CLI store"),
        *("--custom-domain-id", str(d["id"])),
    )
    s = json.loads(made.stdout)
    assert s["custom_domain"] == {"id": d["id"], "full_url": name, "is_verified": True}
    dup = await asyncio.to_thread(
        _cli, database_url, "domain", "create", "--business", owner.unique_id, name
    )
    assert dup.returncode != 0 and "domain_taken" in dup.stderr and dup.stdout == ""
    undone = await asyncio.to_thread(_cli, database_url, "domain", "verify", str(d["id"]), "--undo")
    claim = json.loads(undone.stdout)
    assert claim["is_verified"] is False
    assert claim["verification"]["record_name"] == f"_product-partners.{name}"
    purged = await asyncio.to_thread(_cli, database_url, "domain", "purge")
    assert purged.returncode == 0, purged.stderr
    assert isinstance(json.loads(purged.stdout)["purged"], int)
