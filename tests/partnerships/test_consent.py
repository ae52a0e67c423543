"""Consent: what binds a partner (its store, its domains' links) and what exposes it (its
contact data) follow the partner's own say; adds are bounded per owner."""

import asyncio

import httpx

from product_partners.app import create_app
from tests.support.api import assert_error, unique
from tests.support.stores import domain, host, store


async def _affiliate_pro_added_directly(api):
    """An owner adds a business, then switches it to affiliate_pro: the partner never asked."""
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner, is_affiliate_pro_enabled=True)
    added = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    url = f"/v3/products/{product['id']}/partners/{added['id']}"
    switched = await api.client.patch(
        url, json={"partnership_type": "affiliate_pro"}, headers=owner.headers
    )
    assert switched.status_code == 200, switched.text
    return owner, partner, product, added, url


async def test_an_owner_cannot_bind_a_partner_to_affiliate_pro_without_its_consent(api):
    owner, partner, product, added, url = await _affiliate_pro_added_directly(api)
    partner_domain = await domain(api, partner, host("partner"), verified=True)
    partner_store = await store(api, partner, name="Partner store")

    refused = await api.client.post(
        f"{url}/affiliate-pro-domains/{partner_domain['id']}", headers=owner.headers
    )
    assert_error(refused, 409, "partner_consent_required")
    routed = await api.client.patch(
        url, json={"store_id": partner_store["id"]}, headers=owner.headers
    )
    assert_error(routed, 422, "store_is_partners_choice")

    accepted = await api.client.post(
        f"/v3/partnerships/{added['id']}/accept",
        json={"store_id": partner_store["id"]},
        headers=partner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    approved = await api.client.post(
        f"{url}/affiliate-pro-domains/{partner_domain['id']}", headers=owner.headers
    )
    assert approved.status_code == 200, approved.text
    links = approved.json()["affiliate_pro_links"]
    assert [link["domain"] for link in links] == [partner_domain["full_url"]]
    assert partner_store["unique_id"] in links[0]["product_url"]


async def test_a_partner_accepts_only_for_its_own_store(api):
    owner, partner, product, added, url = await _affiliate_pro_added_directly(api)
    owners_store = await store(api, owner, name="Not the partner's")
    refused = await api.client.post(
        f"/v3/partnerships/{added['id']}/accept",
        json={"store_id": owners_store["id"]},
        headers=partner.headers,
    )
    assert_error(refused, 422, "store_not_found")
    stranger = await api.actor()
    foreign = await api.client.post(
        f"/v3/partnerships/{added['id']}/accept", headers=stranger.headers
    )
    assert_error(foreign, 404, "partner_not_found")


async def test_two_products_never_give_the_same_link_on_a_partner_domain(api):
    """Slugs are unique per owner only: the owner in the path keeps links apart."""
    partner = await api.actor()
    partner_store = await store(api, partner, name="One store for all")
    partner_domain = await domain(api, partner, host("shared"), verified=True)
    urls = []
    for _ in range(2):
        owner = await api.actor()
        product = await api.product(
            owner,
            slug="alpha-beans",
            is_affiliate_pro_enabled=True,
            is_affiliate_auto_accept=True,
        )
        requested = await api.client.post(
            f"/v3/products/{product['id']}/partnership-requests",
            json={"partnership_type": "affiliate_pro", "store_id": partner_store["id"]},
            headers=partner.headers,
        )
        assert requested.json()["affiliate_status"] == "approved", requested.text
        approved = await api.client.post(
            f"/v3/products/{product['id']}/partners/{requested.json()['id']}"
            f"/affiliate-pro-domains/{partner_domain['id']}",
            headers=owner.headers,
        )
        urls += [link["product_url"] for link in approved.json()["affiliate_pro_links"]]
    assert len(urls) == 2 and len(set(urls)) == 2


async def test_bundle_partners_show_contact_data_only_after_consent(api):
    owner, partner = await api.actor(), await api.actor()
    bundle = await api.client.post(
        "/v3/bundles", json={"name": "Kit", "public_name": "Kit"}, headers=owner.headers
    )
    path = f"/v3/bundles/{bundle.json()['id']}/partners"
    added = await api.client.post(
        path, json={"partner_unique_id": partner.unique_id}, headers=owner.headers
    )
    assert added.json()["partner"] == {"unique_id": partner.unique_id}
    product = await api.product(owner, is_affiliate_enabled=True)
    await api.client.post(
        f"/v3/products/{product['id']}/partnership-requests",
        json={"partnership_type": "affiliate"},
        headers=partner.headers,
    )
    listed = await api.client.get(path, headers=owner.headers)
    assert listed.json()["data"][0]["partner"] == {**partner.business}


async def test_a_business_sees_who_added_it(api):
    owner, partner = await api.actor(), await api.actor()
    product = await api.product(owner)
    added = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    mine = await api.client.get("/v3/partnerships", headers=partner.headers)
    (seen,) = mine.json()["data"]
    assert seen["id"] == added["id"]
    assert seen["product_owner"]["unique_id"] == owner.unique_id
    assert seen["partner"] == {**partner.business}  # itself, whole


async def test_adds_are_bounded_per_owner(settings, engine, api):
    limited = create_app(
        settings.model_copy(
            update={
                "rate_limit_enabled": True,
                "rate_limit": "1000/day",
                "partner_add_limit": "3/day",
            }
        ),
        engine=engine,
    )
    owner = await api.actor()
    product = await api.product(owner)
    bundle = await api.client.post(
        "/v3/bundles", json={"name": "Kit", "public_name": "Kit"}, headers=owner.headers
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="http://t"
    ) as c:

        async def add(path: str) -> httpx.Response:
            return await c.post(
                path, json={"partner_unique_id": unique("someone")}, headers=owner.headers
            )

        products_path = f"/v3/products/{product['id']}/partners"
        answers = [await add(products_path) for _ in range(2)]
        answers.append(await add(f"/v3/bundles/{bundle.json()['id']}/partners"))
        assert [a.status_code for a in answers] == [200, 200, 200]
        over = await add(products_path)
        assert_error(over, 429, "partner_adds_limited")
        assert int(over.headers["retry-after"]) >= 1
        # Another owner's budget is its own.
        other = await api.actor()
        other_product = await api.product(other)
        fine = await c.post(
            f"/v3/products/{other_product['id']}/partners",
            json={"partner_unique_id": unique("someone")},
            headers=other.headers,
        )
        assert fine.status_code == 200


async def _accept(api, partner, partnership_id, store_id) -> httpx.Response:
    return await api.client.post(
        f"/v3/partnerships/{partnership_id}/accept",
        json={"store_id": store_id},
        headers=partner.headers,
    )


async def test_accepting_with_a_store_after_the_owner_left_affiliate_pro_is_409(api):
    """The partnership's type, not the body, is in the way: 409 to re-read, nothing accepted."""
    owner, partner, product, added, url = await _affiliate_pro_added_directly(api)
    partner_store = await store(api, partner, name="Partner store")
    back = await api.client.patch(
        url, json={"partnership_type": "affiliate"}, headers=owner.headers
    )
    assert back.status_code == 200

    refused = await _accept(api, partner, added["id"], partner_store["id"])

    body = assert_error(refused, 409, "not_affiliate_pro")
    assert "store_id" in body["errors"]
    final = (await api.client.get(url, headers=owner.headers)).json()
    assert final["partner_consented_at"] is None and final["store_id"] is None


async def test_concurrent_accepts_and_owner_changes_leave_a_consistent_partnership(api):
    """Whichever lands first: a store and an affiliate_pro consent only on an affiliate_pro
    partnership, and every refusal a 409 the client can act on (re-read)."""
    for _ in range(8):
        owner, partner, product, added, url = await _affiliate_pro_added_directly(api)
        partner_store = await store(api, partner, name="Partner store")

        accepted, changed = await asyncio.gather(
            _accept(api, partner, added["id"], partner_store["id"]),
            api.client.patch(url, json={"partnership_type": "affiliate"}, headers=owner.headers),
        )

        assert changed.status_code == 200, changed.text
        if accepted.status_code != 200:
            refusal = assert_error(accepted, 409)
            assert refusal["error_code"] in ("not_affiliate_pro", "concurrent_change")
        final = (await api.client.get(url, headers=owner.headers)).json()
        assert final["partnership_type"] == "affiliate"
        assert final["store_id"] is None and final["affiliate_pro_consented_at"] is None
        # The contact data is shared exactly when the accept went through.
        assert (final["partner_consented_at"] is not None) == (accepted.status_code == 200)


async def test_probing_store_ids_gives_one_answer(api):
    """Store ids are global and sequential: whichever id an owner tries on a partnership, the
    answer is the same, before and after the partner accepted; a partner naming a store that
    is not its own gets one answer too, whether the store exists or not."""
    owner, partner, product, added, url = await _affiliate_pro_added_directly(api)
    stranger = await api.actor()
    stores = [
        (await store(api, partner, name="The partner's"))["id"],
        (await store(api, stranger, name="A stranger's"))["id"],
        (await store(api, owner, name="The owner's"))["id"],
        2**40,  # no store
    ]

    async def owner_answers() -> list[tuple[int, dict]]:
        answers = []
        for store_id in stores:
            r = await api.client.patch(url, json={"store_id": store_id}, headers=owner.headers)
            assert_error(r, 422, "store_is_partners_choice")
            answers.append((r.status_code, r.json()))
        return answers

    before = await owner_answers()
    assert all(a == before[0] for a in before), before
    accepted = await _accept(api, partner, added["id"], stores[0])
    assert accepted.status_code == 200, accepted.text
    assert await owner_answers() == before

    foreign = [await _accept(api, partner, added["id"], s) for s in stores[1:]]
    asked = [
        await api.client.post(
            f"/v3/products/{(await api.product(owner, is_affiliate_pro_enabled=True))['id']}"
            "/partnership-requests",
            json={"partnership_type": "affiliate_pro", "store_id": s},
            headers=partner.headers,
        )
        for s in stores[1:]
    ]
    for answers in (foreign, asked):
        bodies = [assert_error(r, 422, "store_not_found") for r in answers]
        assert all(b == bodies[0] for b in bodies), bodies
    # None of it moved the partnership off the partner's choice.
    final = (await api.client.get(url, headers=owner.headers)).json()
    assert final["store_id"] == stores[0]
