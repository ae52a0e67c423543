"""The partner's pages: its partnerships across owners with their links, joining a product
from the owner's shareable link, withdrawing and leaving; the business's stores and domains."""

from tests.support.dashboard import linked_partnership, signed_in
from tests.support.lifecycle import put_partnership


async def test_my_partnerships_show_status_reasons_and_links_to_copy(dashboard_app, api):
    browser, me = await signed_in(dashboard_app, api)
    assert (
        "You are not a partner of any product yet"
        in (await browser.get("/dashboard/partnerships")).text
    )
    owner = await api.actor()
    pro = await api.product(owner, name="Pro beans", is_affiliate_pro_enabled=True)
    other_owner = await api.actor()
    plain = await api.product(other_owner, name="Plain beans")
    host = f"shop-{me.actor.unique_id}.example"
    async with api.engine.connect() as conn:
        linked = await linked_partnership(conn, owner.id, me.actor.id, pro["id"], host)
    await put_partnership(
        api, plain["id"], me.actor.id, "rejected", rejection_reason="Not this season"
    )
    page = await browser.get("/dashboard/partnerships")
    assert "Pro beans" in page.text and "Plain beans" in page.text
    assert "Not this season" in page.text
    link = linked["affiliate_pro_links"][0]["product_url"]
    assert f'value="{link}"' in page.text and 'data-copy="link-' in page.text


async def test_join_from_the_shared_link_then_withdraw(dashboard_app, api):
    owner = await api.actor()
    product = await api.product(
        owner, name="Tea", is_affiliate_enabled=True, affiliate_commission_rate="8"
    )
    browser, me = await signed_in(dashboard_app, api)
    url = f"/dashboard/join/{product['id']}"
    page = await browser.get(url)
    assert "Join Tea" in page.text and "8.00% commission" in page.text
    too_long = await browser.post(url, {"partnership_type": "affiliate", "message": "x" * 2001})
    assert too_long.status_code == 400 and 'id="message-error"' in too_long.text
    not_open = await browser.post(url, {"partnership_type": "reseller"})
    assert not_open.status_code == 400
    joined = await browser.post(url, {"partnership_type": "affiliate", "message": "Hi!"})
    assert joined.status_code == 303 and joined.headers["location"].endswith("done=request")
    listed = await api.client.get(
        f"/v3/products/{product['id']}/partners?affiliate_status=pending", headers=owner.headers
    )
    (request,) = listed.json()["data"]
    assert request["message_to_product_owner"] == "Hi!"
    assert request["partner"]["unique_id"] == me.actor.unique_id

    mine = await browser.get("/dashboard/partnerships")
    assert "Withdraw my request" in mine.text
    stale = await browser.post(
        f"/dashboard/partnerships/{request['id']}/withdraw", {"version": "9"}
    )
    assert stale.status_code == 412 and "changed since you opened the page" in stale.text
    withdrawn = await browser.post(
        f"/dashboard/partnerships/{request['id']}/withdraw", {"version": "1"}
    )
    assert withdrawn.status_code == 303
    gone = await api.client.get(f"/v3/partnerships/{request['id']}", headers=me.actor.headers)
    assert gone.status_code == 404


async def test_leave_an_approved_partnership(dashboard_app, api):
    owner = await api.actor()
    product = await api.product(owner, name="Mugs")
    browser, me = await signed_in(dashboard_app, api)
    pid = await put_partnership(api, product["id"], me.actor.id, "approved")
    page = await browser.get("/dashboard/partnerships")
    assert "Leave" in page.text
    left = await browser.post(f"/dashboard/partnerships/{pid}/leave", {"version": "1"})
    assert left.status_code == 303 and left.headers["location"].endswith("done=leave")
    gone = await api.client.get(f"/v3/partnerships/{pid}", headers=me.actor.headers)
    assert gone.status_code == 404


async def test_a_product_open_to_no_request_and_another_partners_row_are_404(dashboard_app, api):
    owner = await api.actor()
    closed = await api.product(owner, name="Closed")
    browser, _ = await signed_in(dashboard_app, api)
    assert (await browser.get(f"/dashboard/join/{closed['id']}")).status_code == 404
    assert (await browser.get("/dashboard/join/not-a-number")).status_code == 404
    someone = await api.business()
    theirs = await put_partnership(api, closed["id"], someone["id"], "approved")
    await browser.get("/dashboard/partnerships")
    response = await browser.post(f"/dashboard/partnerships/{theirs}/leave", {"version": "1"})
    assert response.status_code == 404
    still = await api.client.get(
        f"/v3/products/{closed['id']}/partners/{theirs}", headers=owner.headers
    )
    assert still.json()["affiliate_status"] == "approved"


async def test_the_business_page_lists_stores_and_domains(dashboard_app, api):
    browser, me = await signed_in(dashboard_app, api)
    empty = await browser.get("/dashboard/business")
    assert "No stores yet" in empty.text and "No custom domains yet" in empty.text
    host = f"own-{me.actor.unique_id}.example"
    await api.client.post("/v3/custom-domains", json={"full_url": host}, headers=me.actor.headers)
    await api.client.post("/v3/stores", json={"name": "Corner shop"}, headers=me.actor.headers)
    page = await browser.get("/dashboard/business")
    assert host in page.text and "Corner shop" in page.text and "Not yet" in page.text


async def test_join_page_asks_the_products_questions_and_sends_the_answers(dashboard_app, api):
    owner = await api.actor()
    product = await api.product(owner, name="Jam", is_affiliate_enabled=True)
    questions = [
        {"id": "site", "label": "Your website", "kind": "url", "required": True},
        {"id": "reach", "label": "Audience", "kind": "single_choice", "options": ["S", "L"]},
    ]
    saved = await api.client.patch(
        f"/v3/products/{product['id']}/partnership",
        json={
            "application_questions": questions,
            "partnership_rules": [
                {
                    "name": "big audience",
                    "conditions": [
                        {"fact": "answer", "question_id": "reach", "op": "eq", "value": "L"}
                    ],
                    "outcome": "review",
                }
            ],
        },
        headers=owner.headers,
    )
    assert saved.status_code == 200, saved.text
    browser, _ = await signed_in(dashboard_app, api)
    url = f"/dashboard/join/{product['id']}"
    page = await browser.get(url)
    assert "Your website" in page.text and 'name="answer.reach"' in page.text

    missing = await browser.post(url, {"partnership_type": "affiliate", "answer.reach": "L"})
    assert missing.status_code == 400 and 'id="answers.site-error"' in missing.text
    assert '<option value="L" selected>' in missing.text  # the answers given are kept
    joined = await browser.post(
        url,
        {
            "partnership_type": "affiliate",
            "answer.site": "https://jam.example",
            "answer.reach": "L",
        },
    )
    assert joined.status_code == 303, joined.text
    (request,) = (
        await api.client.get(f"/v3/products/{product['id']}/partners", headers=owner.headers)
    ).json()["data"]
    decision = await api.client.get(
        f"/v3/products/{product['id']}/partners/{request['id']}/decision", headers=owner.headers
    )
    assert decision.json()["answers"] == {"site": "https://jam.example", "reach": "L"}
    # The owner's page of the partnership shows the answers and the decision.
    owner_browser, _ = await signed_in(dashboard_app, api, owner)
    page = await owner_browser.get(f"/dashboard/products/{product['id']}/partners/{request['id']}")
    assert page.status_code == 200, page.text
    assert "Your website" in page.text and "https://jam.example" in page.text
    assert "Decided on arrival: <strong>review</strong> by rule 1, “big audience”" in page.text
    assert "answer (Audience) eq L: saw L → yes" in page.text
