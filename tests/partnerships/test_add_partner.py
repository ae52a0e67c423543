"""createProductPartner: every status code of the contract, and the exact response shape."""

import re

import pytest

from tests.support import ROOT
from tests.support.api import ERROR_FIELDS, assert_error, unique

# ProductPartner's fields as CONTRACT.md (and Scalev's spec) list them.
PRODUCT_PARTNER_FIELDS = {
    "id",
    "partner",
    "partnership_type",
    "affiliate_status",
    "message_to_product_owner",
    "requested_at",
    "approved_at",
    "rejected_at",
    "created_at",
    "store_id",
    "custom_domains",
    "affiliate_pro_domains",
    "affiliate_pro_links",
}
BUSINESS_SIMPLE_FIELDS = {
    "id",
    "unique_id",
    "username",
    "account_holder",
    "email",
    "logo",
    "is_banned",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


async def test_owner_adds_partner_and_gets_an_approved_affiliate(api, openapi):
    owner = await api.actor()
    partner = await api.actor(logo="https://cdn.example.com/logo.png")
    product = await api.product(owner)

    response = await api.add_partner(owner, product["id"], partner.unique_id)

    assert response.status_code == 200, response.text
    body = response.json()
    openapi.validate_response("createProductPartner", response)
    assert set(body) >= PRODUCT_PARTNER_FIELDS
    # No contact data before the partner consents: the unique id the owner named, alone.
    assert body["partner"] == {"unique_id": partner.unique_id}
    assert body["partner_consented_at"] is None
    assert body["partnership_type"] == "affiliate"
    assert body["affiliate_status"] == "approved"
    assert body["message_to_product_owner"] is None
    assert body["requested_at"] is None and body["rejected_at"] is None
    assert RFC3339_UTC.match(body["approved_at"]) and RFC3339_UTC.match(body["created_at"])
    assert body["store_id"] is None
    assert body["custom_domains"] == [] and body["affiliate_pro_domains"] == []
    assert body["affiliate_pro_links"] == []
    assert isinstance(body["id"], int)


async def test_added_partner_is_listed_with_the_same_body(api, openapi):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)
    created = (await api.add_partner(owner, product["id"], partner.unique_id)).json()

    response = await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)

    openapi.validate_response("listProductPartners", response)
    assert response.json()["data"] == [created]


def test_contract_fields_match_contract_md():
    """The field list above is CONTRACT.md's (when the shared contract is beside the repo)."""
    if not CONTRACT.exists():
        # A plain clone has no ../shared; the constant above still pins the fields.
        assert PRODUCT_PARTNER_FIELDS
        return
    text = CONTRACT.read_text()
    section = text.split("## ProductPartner", 1)[1].split("\n## ", 1)[0]
    fields = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    assert fields == PRODUCT_PARTNER_FIELDS


async def test_openapi_names_the_contract_operation_and_schemas(openapi):
    method, path, op = openapi.operation("createProductPartner")
    assert (method, path) == ("POST", "/v3/products/{product_id}/partners")
    body_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/CreatePartnerRequest")
    assert openapi.response_schema_name("createProductPartner", 200) == "ProductPartner"
    for status in (401, 403, 404, 409, 422):
        assert openapi.response_schema_name("createProductPartner", status) == "ApiErrorResponse"
    schemas = openapi.document["components"]["schemas"]
    for name in ("ProductPartner", "BusinessSimple", "CreatePartnerRequest", "ApiErrorResponse"):
        assert name in schemas
    assert set(schemas["ProductPartner"]["properties"]) >= PRODUCT_PARTNER_FIELDS
    assert set(schemas["ApiErrorResponse"]["properties"]) == ERROR_FIELDS
    assert "HTTPValidationError" not in schemas


async def test_duplicate_add_returns_409(api):
    owner = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)
    assert (await api.add_partner(owner, product["id"], partner.unique_id)).status_code == 200

    response = await api.add_partner(owner, product["id"], partner.unique_id)

    assert_error(response, 409, "partner_already_exists")


async def test_another_business_product_is_404_and_unchanged(api):
    owner = await api.actor()
    intruder = await api.actor()
    partner = await api.actor()
    product = await api.product(owner)

    response = await api.add_partner(intruder, product["id"], partner.unique_id)

    assert_error(response, 404, "product_not_found")
    listed = await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
    assert listed.json()["data"] == []


@pytest.mark.parametrize("product_id", ["999999999", "0", "-1", "abc", "9" * 30, "1.5"])
async def test_unknown_or_malformed_product_id_is_404(api, product_id):
    owner = await api.actor()
    partner = await api.actor()
    response = await api.add_partner(owner, product_id, partner.unique_id)
    assert_error(response, 404, "product_not_found")


async def test_the_partner_is_shown_whole_once_it_accepts(api, openapi):
    owner = await api.actor()
    partner = await api.actor(logo="https://cdn.example.com/logo.png")
    product = await api.product(owner)
    added = (await api.add_partner(owner, product["id"], partner.unique_id)).json()

    accepted = await api.client.post(
        f"/v3/partnerships/{added['id']}/accept", headers=partner.headers
    )
    assert accepted.status_code == 200, accepted.text
    openapi.validate_response("acceptProductPartnership", accepted)

    seen = await api.client.get(
        f"/v3/products/{product['id']}/partners/{added['id']}", headers=owner.headers
    )
    assert set(seen.json()["partner"]) == BUSINESS_SIMPLE_FIELDS
    assert seen.json()["partner"] == {**partner.business}
    assert seen.json()["partner"]["logo"] == "https://cdn.example.com/logo.png"
    assert RFC3339_UTC.match(seen.json()["partner_consented_at"])


async def test_a_partner_that_asked_before_is_added_whole(api):
    """Consent is to an owner: a business that asked to join one of its products is known."""
    owner = await api.actor()
    partner = await api.actor()
    first = await api.product(owner, is_affiliate_enabled=True)
    second = await api.product(owner)
    asked = await api.client.post(
        f"/v3/products/{first['id']}/partnership-requests",
        json={"partnership_type": "affiliate"},
        headers=partner.headers,
    )
    assert asked.status_code == 200, asked.text

    added = await api.add_partner(owner, second["id"], partner.unique_id)

    assert added.json()["partner"] == {**partner.business}


async def test_unknown_and_existing_unique_ids_answer_alike(api, openapi):
    """An owner with no relation to a business learns nothing from adding it."""
    owner = await api.actor()
    existing = await api.actor()
    product = await api.product(owner)
    unknown = unique("nobody")

    answers = [
        await api.add_partner(owner, product["id"], uid) for uid in (existing.unique_id, unknown)
    ]

    for answer, uid in zip(answers, (existing.unique_id, unknown), strict=True):
        assert answer.status_code == 200, answer.text
        openapi.validate_response("createProductPartner", answer)
        assert answer.json()["partner"] == {"unique_id": uid}
    shapes = [
        {k: v for k, v in a.json().items() if k not in ("id", "partner", "created_at",
                                                          "approved_at", "updated_at")}
        for a in answers
    ]  # fmt: skip
    assert shapes[0] == shapes[1]


async def test_a_business_created_later_finds_the_partnership_that_named_it(api):
    owner = await api.actor()
    product = await api.product(owner)
    later = unique("later")
    added = (await api.add_partner(owner, product["id"], later)).json()

    business = await api.actor(unique_id=later)

    mine = await api.client.get("/v3/partnerships", headers=business.headers)
    assert [p["id"] for p in mine.json()["data"]] == [added["id"]]
    assert mine.json()["data"][0]["product_owner"]["unique_id"] == owner.unique_id


async def test_adding_itself_is_422(api):
    owner = await api.actor()
    product = await api.product(owner)
    response = await api.add_partner(owner, product["id"], owner.unique_id)
    assert_error(response, 422, "self_partnership")


async def test_adding_a_banned_business_that_consented_is_422(api):
    owner = await api.actor()
    banned = await api.actor()
    product = await api.product(owner, is_affiliate_enabled=True)
    asked = await api.client.post(
        f"/v3/products/{product['id']}/partnership-requests",
        json={"partnership_type": "affiliate"},
        headers=banned.headers,
    )
    assert asked.status_code == 200
    await api.ban(banned.id)
    other = await api.product(owner)
    response = await api.add_partner(owner, other["id"], banned.unique_id)
    assert_error(response, 422, "business_banned")


async def test_a_banned_business_unknown_to_the_owner_is_added_alike_and_sees_who(api):
    owner = await api.actor()
    banned = await api.actor()
    await api.ban(banned.id)
    product = await api.product(owner)
    added = await api.add_partner(owner, product["id"], banned.unique_id)
    assert added.status_code == 200 and added.json()["partner"] == {"unique_id": banned.unique_id}
    # A business always sees who added it; banned, it may read but not accept.
    (mine,) = (await api.client.get("/v3/partnerships", headers=banned.headers)).json()["data"]
    assert mine["id"] == added.json()["id"]
    assert mine["product_owner"]["unique_id"] == owner.unique_id
    accept = await api.client.post(f"/v3/partnerships/{mine['id']}/accept", headers=banned.headers)
    assert_error(accept, 403, "business_banned")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "partner_unique_id"),
        ({"partner_unique_id": None}, "partner_unique_id"),
        ({"partner_unique_id": 42}, "partner_unique_id"),
        ({"partner_unique_id": ["a"]}, "partner_unique_id"),
        ({"partner_unique_id": ""}, "partner_unique_id"),
        ({"partner_unique_id": "   "}, "partner_unique_id"),
        ({"partner_unique_id": "x" * 65}, "partner_unique_id"),
        ([], "body"),
        ("just a string", "body"),
    ],
)
async def test_invalid_body_is_422_naming_the_field(api, body, field):
    owner = await api.actor()
    product = await api.product(owner)
    response = await api.client.post(
        f"/v3/products/{product['id']}/partners", json=body, headers=owner.headers
    )
    errors = assert_error(response, 422, "validation_error")["errors"]
    assert field in errors and all(isinstance(m, str) for m in errors[field])


@pytest.mark.parametrize("raw", [b"{", b"{'partner_unique_id': 'x'}", b"not json", b'{"a": 1} x'])
async def test_body_that_is_not_json_is_400(api, raw):
    owner = await api.actor()
    product = await api.product(owner)
    response = await api.client.post(
        f"/v3/products/{product['id']}/partners",
        content=raw,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400)


async def test_empty_body_is_422_body_required(api):
    owner = await api.actor()
    product = await api.product(owner)
    response = await api.client.post(
        f"/v3/products/{product['id']}/partners",
        content=b"",
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert "body" in assert_error(response, 422, "validation_error")["errors"]


async def test_nothing_is_written_by_a_refused_add(api):
    owner = await api.actor()
    product = await api.product(owner)
    await api.add_partner(owner, product["id"], owner.unique_id)
    await api.add_partner(owner, 2**62, unique("ghost"))
    listed = await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
    assert listed.json()["data"] == []
