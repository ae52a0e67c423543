"""affiliate_pro domains and links: the owner approves partner domains per partnership; the
links carry ap=<store unique id>, the approved domain and the product's slug; the partner
reads them; every other business gets 404."""

from typing import Any

from product_partners.domains.service import set_verified
from tests.support.api import assert_error
from tests.support.stores import Pro, domain, host, pro_partnership, store


def expected_links(pro: Pro, *domains: dict[str, Any]) -> list[dict[str, str]]:
    # The owner's unique id in the path: slugs are unique per owner only.
    path = f"{pro.owner.unique_id}/{pro.product['slug']}"
    ap = pro.store["unique_id"]
    return [
        {
            "domain": d["full_url"],
            "product_url": f"https://{d['full_url']}/{path}?ap={ap}",
            "checkout_url": f"https://{d['full_url']}/{path}/checkout?ap={ap}",
        }
        for d in domains
    ]


async def test_approved_domain_gives_links_that_the_partner_reads(api, openapi):
    pro = await pro_partnership(api)
    assert pro.partnership["affiliate_pro_links"] == []

    response = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)

    assert response.status_code == 200, response.text
    openapi.validate_response("approveAffiliateProDomain", response)
    body = response.json()
    assert body["store_id"] == pro.store["id"]
    assert body["affiliate_pro_domains"] == [
        {"id": pro.domain["id"], "business_id": pro.partner.id, "full_url": pro.domain["full_url"]}
    ]
    assert body["affiliate_pro_links"] == expected_links(pro, pro.domain)
    assert f"ap={pro.store['unique_id']}" in body["affiliate_pro_links"][0]["product_url"]

    # The partner sees the same links: its own partnership, and its partner product list.
    mine = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["affiliate_pro_links"] == expected_links(pro, pro.domain)
    listed = await api.client.get("/v3/products?is_owned=false", headers=pro.partner.headers)
    [product] = [p for p in listed.json()["data"] if p["id"] == pro.product["id"]]
    assert product["product_partners"][0]["affiliate_pro_links"] == expected_links(pro, pro.domain)


async def test_approving_twice_changes_nothing_and_bumps_the_version_once(api):
    pro = await pro_partnership(api)
    first = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    second = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert first.json()["version"] == pro.partnership["version"] + 1


async def test_two_domains_give_two_links_and_revoking_one_removes_its_link(api, openapi):
    pro = await pro_partnership(api)
    other = await domain(api, pro.partner, host("second"), verified=True)
    for d in (pro.domain, other):
        await api.client.post(f"{pro.path}/{d['id']}", headers=pro.owner.headers)

    revoked = await api.client.delete(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)

    assert revoked.status_code == 200, revoked.text
    openapi.validate_response("revokeAffiliateProDomain", revoked)
    assert revoked.json()["affiliate_pro_links"] == expected_links(pro, other)
    again = await api.client.delete(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert_error(again, 404, "affiliate_pro_domain_not_found")
    openapi.validate_response("revokeAffiliateProDomain", again)


async def test_candidates_are_the_partner_verified_domains_with_approval(api, openapi):
    pro = await pro_partnership(api)
    await domain(api, pro.partner, host("unverified"))  # not offered
    other = await domain(api, pro.partner, host("other"), verified=True)
    await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)

    response = await api.client.get(pro.path, headers=pro.owner.headers)

    openapi.validate_response("listAffiliateProDomainCandidates", response)
    assert [(d["id"], d["is_approved"]) for d in response.json()["data"]] == [
        (other["id"], False),
        (pro.domain["id"], True),
    ]


async def test_refusals(api, openapi):
    pro = await pro_partnership(api)
    unverified = await domain(api, pro.partner, host("unverified"))
    owners_own = await domain(api, pro.owner, host("owner"), verified=True)
    stranger = await api.actor()
    strangers = await domain(api, stranger, host("stranger"), verified=True)
    h = pro.owner.headers
    cases = [
        (f"{pro.path}/{unverified['id']}", 422, "domain_not_verified"),
        (f"{pro.path}/{owners_own['id']}", 404, "custom_domain_not_found"),
        (f"{pro.path}/{strangers['id']}", 404, "custom_domain_not_found"),
        (f"{pro.path}/999999999", 404, "custom_domain_not_found"),
        (f"{pro.path}/abc", 404, "custom_domain_not_found"),
    ]
    for path, status, code in cases:
        response = await api.client.post(path, headers=h)
        assert_error(response, status, code)
        openapi.validate_response("approveAffiliateProDomain", response)
    partnership = await api.client.get(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}", headers=h
    )
    assert partnership.json()["affiliate_pro_domains"] == []


async def test_only_affiliate_pro_partnerships_take_domains(api, openapi):
    pro = await pro_partnership(api, partnership_type="affiliate")
    response = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert_error(response, 409, "not_affiliate_pro")
    openapi.validate_response("approveAffiliateProDomain", response)
    listed = await api.client.get(pro.path, headers=pro.owner.headers)
    assert_error(listed, 409, "not_affiliate_pro")


async def test_links_need_a_store_and_vanish_with_it(api):
    pro = await pro_partnership(api)
    approved = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert approved.json()["affiliate_pro_links"]
    await api.client.delete(f"/v3/stores/{pro.store['id']}", headers=pro.partner.headers)
    after = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    assert after.json()["store_id"] is None
    assert after.json()["affiliate_pro_links"] == []
    assert after.json()["affiliate_pro_domains"] == approved.json()["affiliate_pro_domains"]


async def test_deleting_an_approved_domain_removes_its_approval(api):
    pro = await pro_partnership(api)
    await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    await api.client.delete(f"/v3/custom-domains/{pro.domain['id']}", headers=pro.partner.headers)
    after = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    assert after.json()["affiliate_pro_domains"] == []
    assert after.json()["affiliate_pro_links"] == []


async def _links_everywhere(api, pro: Pro) -> list[list[dict[str, str]]]:
    """The partnership's links as the owner (the hot path on PostgreSQL), the partner and the
    partner's product list read them."""
    owner_view = await api.client.get(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}",
        headers=pro.owner.headers,
    )
    partner_view = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    listed = await api.client.get("/v3/products?is_owned=false", headers=pro.partner.headers)
    [product] = [p for p in listed.json()["data"] if p["id"] == pro.product["id"]]
    return [
        owner_view.json()["affiliate_pro_links"],
        partner_view.json()["affiliate_pro_links"],
        product["product_partners"][0]["affiliate_pro_links"],
    ]


async def test_unverifying_a_domain_removes_its_links_at_once_and_reapproval_works(api):
    """The finding: un-verifying kept the links (routes and hot path), re-approving failed."""
    pro = await pro_partnership(api)
    approved = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert await _links_everywhere(api, pro) == [expected_links(pro, pro.domain)] * 3

    async with api.engine.connect() as conn:
        await set_verified(conn, pro.domain["id"], verified=False)

    assert await _links_everywhere(api, pro) == [[], [], []]
    after = await api.client.get(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}",
        headers=pro.owner.headers,
    )
    assert after.json()["affiliate_pro_domains"] == []
    assert after.json()["version"] == approved.json()["version"] + 1  # a new ETag
    refused = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert_error(refused, 422, "domain_not_verified")

    # Verified again, the domain carries links only once the owner approves it again.
    async with api.engine.connect() as conn:
        await set_verified(conn, pro.domain["id"])
    assert await _links_everywhere(api, pro) == [[], [], []]
    again = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    assert again.status_code == 200, again.text
    assert again.json()["affiliate_pro_links"] == expected_links(pro, pro.domain)
    assert await _links_everywhere(api, pro) == [expected_links(pro, pro.domain)] * 3


async def test_partners_see_only_the_owner_verified_domains(api):
    """The finding: partners saw the owner's unverified domains in custom_domains."""
    pro = await pro_partnership(api)
    verified = await domain(api, pro.owner, host("owner"), verified=True)
    claim = await domain(api, pro.owner, host("claimed"))  # e.g. a squatted name
    await store(api, pro.owner, name="Verified", custom_domain_id=verified["id"])
    await store(api, pro.owner, name="Claimed", custom_domain_id=claim["id"])
    shown = [{"id": verified["id"], "business_id": pro.owner.id, "full_url": verified["full_url"]}]

    listed = await api.client.get("/v3/products?is_owned=false", headers=pro.partner.headers)
    [product] = [p for p in listed.json()["data"] if p["id"] == pro.product["id"]]
    assert product["custom_domains"] == shown
    assert product["product_partners"][0]["custom_domains"] == shown
    mine = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    assert mine.json()["custom_domains"] == shown
    owner_view = await api.client.get(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}",
        headers=pro.owner.headers,
    )
    assert owner_view.json()["custom_domains"] == shown
    got = await api.client.get(f"/v3/products/{pro.product['id']}", headers=pro.owner.headers)
    assert got.json()["custom_domains"] == shown

    # Un-verified, the owner's domain leaves every view too.
    async with api.engine.connect() as conn:
        await set_verified(conn, verified["id"], verified=False)
    mine = await api.client.get(
        f"/v3/partnerships/{pro.partnership['id']}", headers=pro.partner.headers
    )
    assert mine.json()["custom_domains"] == []


async def test_other_businesses_get_404_and_change_nothing(api, openapi):
    pro = await pro_partnership(api)
    await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=pro.owner.headers)
    intruder = await api.actor()
    for actor in (intruder, pro.partner):  # the partner is not the owner either
        h = actor.headers
        cases = {
            "approveAffiliateProDomain": await api.client.post(
                f"{pro.path}/{pro.domain['id']}", headers=h
            ),
            "revokeAffiliateProDomain": await api.client.delete(
                f"{pro.path}/{pro.domain['id']}", headers=h
            ),
            "listAffiliateProDomainCandidates": await api.client.get(pro.path, headers=h),
        }
        for operation, response in cases.items():
            assert_error(response, 404, "partner_not_found")
            openapi.validate_response(operation, response)
    # A partnership id under another of the owner's products is not found either.
    other_product = await api.product(pro.owner, name="Other")
    wrong = (
        f"/v3/products/{other_product['id']}/partners/{pro.partnership['id']}"
        f"/affiliate-pro-domains/{pro.domain['id']}"
    )
    assert_error(await api.client.delete(wrong, headers=pro.owner.headers), 404)
    kept = await api.client.get(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}",
        headers=pro.owner.headers,
    )
    assert kept.json()["affiliate_pro_links"] == expected_links(pro, pro.domain)


async def test_domain_approval_needs_product_update(api):
    pro = await pro_partnership(api)
    reader = await api.key_for(pro.owner.unique_id, ["product:read", "product:list"])
    h = {"Authorization": f"Bearer {reader['key']}"}
    response = await api.client.post(f"{pro.path}/{pro.domain['id']}", headers=h)
    assert_error(response, 403, "insufficient_scope")
    assert (await api.client.get(pro.path, headers=h)).status_code == 200
