"""The owner's pages: products, the review queue, one partnership and its decisions (with the
version the page showed), bulk decisions, programme settings after their preview, and tenant
isolation (another business's URLs are 404)."""

import re

from tests.support.dashboard import Browser, linked_partnership, signed_in
from tests.support.lifecycle import ALL_TYPES_OPEN, put_partnership

ROW = re.compile(r'name="row" value="(\d+):(\d+)"')


async def _owner(dashboard_app, api, **product_fields):
    browser, who = await signed_in(dashboard_app, api)
    product = await api.product(who.actor, name="Coffee beans", **product_fields)
    return browser, who, product


async def _pending(api, product_id: int, n: int = 1, partnership_type: str = "affiliate"):
    ids = []
    for _ in range(n):
        partner = await api.business()
        ids.append(
            await put_partnership(
                api, product_id, partner["id"], "pending", partnership_type,
                message_to_product_owner="Hello there",
            )
        )  # fmt: skip
    return ids


async def _status(api, who, product_id, partnership_id) -> str:
    response = await api.client.get(
        f"/v3/products/{product_id}/partners/{partnership_id}", headers=who.actor.headers
    )
    return response.json()["affiliate_status"] if response.status_code == 200 else "gone"


async def test_products_page_shows_settings_and_counts_and_an_empty_state(dashboard_app, api):
    browser, who = await signed_in(dashboard_app, api)
    empty = await browser.get("/dashboard/products")
    assert "You have no products yet" in empty.text
    product = await api.product(
        who.actor, name="Coffee beans", is_affiliate_enabled=True, affiliate_commission_rate="12.5"
    )
    await _pending(api, product["id"], 2)
    page = await browser.get("/dashboard/products")
    assert "Coffee beans" in page.text and "12.50%" in page.text
    assert "<strong>2</strong> pending" in page.text
    assert f"/dashboard/join/{product['id']}" in page.text


async def test_the_queue_shows_pending_first_filters_searches_and_pages_by_25(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, **ALL_TYPES_OPEN)
    base = f"/dashboard/products/{product['id']}"
    assert "No pending requests." in (await browser.get(base)).text
    approved = await api.business(unique_id=f"approved-{product['id']}")
    await put_partnership(api, product["id"], approved["id"], "approved")
    pending = await _pending(api, product["id"], 26)
    reseller = await _pending(api, product["id"], 1, "reseller")

    first = await browser.get(base)
    rows = [int(i) for i, _ in ROW.findall(first.text)]
    assert rows == sorted(pending + reseller, reverse=True)[:25]  # pending only, newest first
    assert approved["unique_id"] not in first.text
    cursor = re.search(r"next_cursor=([\w-]+)", first.text).group(1)
    second = await browser.get(f"{base}?status=pending&next_cursor={cursor}")
    assert [int(i) for i, _ in ROW.findall(second.text)] == sorted(
        pending + reseller, reverse=True
    )[25:]

    resellers = await browser.get(f"{base}?status=pending&type=reseller")
    assert [int(i) for i, _ in ROW.findall(resellers.text)] == reseller
    everyone = await browser.get(f"{base}?status=all&q=approved-")
    assert approved["unique_id"] in everyone.text
    assert "No partner matches" in (await browser.get(f"{base}?status=all&q=nobody-zz")).text


async def test_approve_reject_ban_unban_and_delete_from_the_partnership_page(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    first, second = await _pending(api, product["id"], 2)
    page_url = f"/dashboard/products/{product['id']}/partners/{first}"
    page = await browser.get(page_url)
    assert "Hello there" in page.text and 'name="version" value="1"' in page.text
    approved = await browser.post(f"{page_url}/approve", {"version": "1"})
    assert approved.status_code == 303 and approved.headers["location"].endswith("done=approve")
    assert await _status(api, who, product["id"], first) == "approved"

    confirm = await browser.get(f"{page_url}?confirm=ban")
    assert "Ban " in confirm.text and 'name="ban_reason"' in confirm.text
    no_reason = await browser.post(f"{page_url}/ban", {"version": "2", "ban_reason": ""})
    assert no_reason.status_code == 400 and 'id="ban_reason-error"' in no_reason.text
    banned = await browser.post(
        f"{page_url}/ban", {"version": "2", "ban_reason": "spam", "note": "Bought clicks"}
    )
    assert banned.status_code == 303
    assert await _status(api, who, product["id"], first) == "banned"
    assert "Bought clicks" in (await browser.get(page_url)).text
    assert (await browser.post(f"{page_url}/unban", {"version": "3"})).status_code == 303
    assert await _status(api, who, product["id"], first) == "rejected"
    assert "Delete this partnership?" in (await browser.get(f"{page_url}?confirm=remove")).text
    assert (await browser.post(f"{page_url}/remove", {"version": "4"})).status_code == 303
    assert await _status(api, who, product["id"], first) == "gone"

    other = f"/dashboard/products/{product['id']}/partners/{second}"
    await browser.get(other)
    rejected = await browser.post(f"{other}/reject", {"version": "1", "reason": "Not a fit"})
    assert rejected.status_code == 303
    body = (await api.client.get(
        f"/v3/products/{product['id']}/partners/{second}", headers=who.actor.headers
    )).json()  # fmt: skip
    assert body["affiliate_status"] == "rejected" and body["rejection_reason"] == "Not a fit"


async def test_a_decision_on_a_stale_page_is_refused_with_the_fresh_state(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    (pid,) = await _pending(api, product["id"])
    page_url = f"/dashboard/products/{product['id']}/partners/{pid}"
    await browser.get(page_url)
    # Meanwhile the API approves it (version 2); the page still carries version 1.
    await api.client.post(
        f"/v3/products/{product['id']}/partners/{pid}/approve", headers=who.actor.headers
    )
    stale = await browser.post(f"{page_url}/ban", {"version": "1", "ban_reason": "fraud"})
    assert stale.status_code == 412
    assert "changed since you opened the page" in stale.text
    assert "It is now approved" in stale.text and "(version 2)" in stale.text
    assert await _status(api, who, product["id"], pid) == "approved"


async def test_bulk_approve_three_and_reject_with_a_result_per_row(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    ids = await _pending(api, product["id"], 4)
    queue = await browser.get(f"/dashboard/products/{product['id']}")
    rows = dict(ROW.findall(queue.text))
    chosen = [f"{i}:{rows[str(i)]}" for i in ids[:3]]
    done = await browser.post(
        f"/dashboard/products/{product['id']}/bulk", {"action": "approve", "row": chosen}
    )
    assert done.status_code == 200 and done.text.count("✓ Approved") == 3
    for i in ids[:3]:
        assert await _status(api, who, product["id"], i) == "approved"
    # A stale row (already decided) is refused on its own; the others go through.
    again = await browser.post(
        f"/dashboard/products/{product['id']}/bulk",
        {"action": "reject", "reason": "Full", "row": [chosen[0], f"{ids[3]}:1"]},
    )
    assert again.text.count("✓ Rejected") == 1 and again.text.count("✗ Not changed") == 1
    assert await _status(api, who, product["id"], ids[3]) == "rejected"
    nothing = await browser.post(f"/dashboard/products/{product['id']}/bulk", {"action": "approve"})
    assert nothing.status_code == 400 and "Select at least one request" in nothing.text


async def test_settings_are_previewed_then_saved(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    await _pending(api, product["id"], 2)
    url = f"/dashboard/products/{product['id']}/settings"
    await browser.get(url)
    form = {
        "is_affiliate_enabled": "1",
        "is_affiliate_auto_accept": "1",
        "affiliate_commission_rate": "15",
        "rerequest_cooldown_seconds": "0",
    }
    preview = await browser.post(f"{url}/preview", form)
    assert preview.status_code == 200
    assert "<strong>2</strong> pending request(s) approved at once" in preview.text
    product_now = (await api.client.get(
        f"/v3/products/{product['id']}", headers=who.actor.headers
    )).json()  # fmt: skip
    assert product_now["is_affiliate_auto_accept"] is False  # the preview saved nothing
    bad = await browser.post(f"{url}/preview", {**form, "affiliate_commission_rate": "150"})
    assert bad.status_code == 400 and 'id="affiliate_commission_rate-error"' in bad.text
    saved = await browser.post(url, form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=settings")
    product_now = (await api.client.get(
        f"/v3/products/{product['id']}", headers=who.actor.headers
    )).json()  # fmt: skip
    assert product_now["is_affiliate_auto_accept"] is True
    assert product_now["affiliate_commission_rate"] == "15.00"


async def test_a_post_without_the_csrf_token_changes_nothing(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    (pid,) = await _pending(api, product["id"])
    url = f"/dashboard/products/{product['id']}/partners/{pid}/approve"
    for data in ({"version": "1"}, {"version": "1", "csrf_token": "forged"}):
        refused = await browser.post(url, data, csrf=False)
        assert refused.status_code == 403 and "security token" in refused.text
    assert await _status(api, who, product["id"], pid) == "pending"


async def test_another_business_gets_404_for_every_url_of_a_partnership(dashboard_app, api):
    _, owner, product = await _owner(dashboard_app, api, is_affiliate_enabled=True)
    (pid,) = await _pending(api, product["id"])
    intruder, _ = await signed_in(dashboard_app, api)
    base = f"/dashboard/products/{product['id']}"
    for path in (base, f"{base}/partners/{pid}", f"{base}/settings"):
        response = await intruder.get(path)
        assert response.status_code == 404, path
        assert "Hello there" not in response.text and "Coffee beans" not in response.text
    await intruder.get("/dashboard/products")
    for action, data in (
        ("approve", {"version": "1"}),
        ("ban", {"version": "1", "ban_reason": "spam"}),
        ("remove", {"version": "1"}),
    ):
        response = await intruder.post(f"{base}/partners/{pid}/{action}", data)
        assert response.status_code == 404, action
    bulk = await intruder.post(f"{base}/bulk", {"action": "approve", "row": [f"{pid}:1"]})
    assert bulk.status_code == 404
    assert await _status(api, owner, product["id"], pid) == "pending"
    assert (await intruder.get("/dashboard/products/abc/partners/1")).status_code == 404


async def test_static_files_are_served_by_the_process(dashboard_app):
    browser = Browser(dashboard_app)
    css = await browser.client.get("/dashboard/static/dashboard.css")
    js = await browser.client.get("/dashboard/static/dashboard.js")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert js.status_code == 200 and "clipboard" in js.text


async def test_the_owner_revokes_and_approves_an_affiliate_pro_domain(dashboard_app, api):
    browser, who, product = await _owner(dashboard_app, api, is_affiliate_pro_enabled=True)
    partner = await api.actor()
    host = f"shop-{partner.unique_id}.example"
    async with api.engine.connect() as conn:
        linked = await linked_partnership(conn, who.actor.id, partner.id, product["id"], host)
    url = f"/dashboard/products/{product['id']}/partners/{linked['id']}"
    page = await browser.get(url)
    assert host in page.text and linked["affiliate_pro_links"][0]["product_url"] in page.text
    domain_id = linked["affiliate_pro_domains"][0]["id"]
    revoked = await browser.post(f"{url}/domains/{domain_id}/revoke", {})
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("revoke_domain")
    page = await browser.get(url)
    assert "Approve for links" in page.text and "No partner links yet" in page.text
    approved = await browser.post(f"{url}/domains/{domain_id}/approve", {})
    assert approved.status_code == 303
    assert linked["affiliate_pro_links"][0]["product_url"] in (await browser.get(url)).text


async def test_tags_notes_and_commission_on_the_partnership_page_stay_the_owners(
    dashboard_app, api
):
    browser, who, product = await _owner(
        dashboard_app, api, is_affiliate_enabled=True, affiliate_commission_rate="10"
    )
    partner_browser, partner = await signed_in(dashboard_app, api)
    pid = await put_partnership(api, product["id"], partner.actor.id, "approved")
    page_url = f"/dashboard/products/{product['id']}/partners/{pid}"
    page = await browser.get(page_url)
    assert "No notes yet." in page.text and "10.00%" in page.text

    tagged = await browser.post(f"{page_url}/tags", {"tags": "VIP, wholesale-lead"})
    assert tagged.status_code == 303 and tagged.headers["location"].endswith("done=tags")
    noted = await browser.post(f"{page_url}/notes", {"note_body": "Private: ask for volume"})
    assert noted.status_code == 303
    rated = await browser.post(f"{page_url}/commission", {"version": "1", "commission_rate": "15"})
    assert rated.status_code == 303
    body = (await api.client.get(
        f"/v3/products/{product['id']}/partners/{pid}", headers=who.actor.headers
    )).json()  # fmt: skip
    assert body["tags"] == ["vip", "wholesale-lead"] and body["commission_rate"] == "15.00"
    notes = (await api.client.get(
        f"/v3/products/{product['id']}/partners/{pid}/notes", headers=who.actor.headers
    )).json()["data"]  # fmt: skip
    assert notes[0]["author"]["type"] == "user" and notes[0]["author"]["user_id"] is not None

    page = await browser.get(page_url)
    assert "wholesale-lead" in page.text and "Private: ask for volume" in page.text
    assert "15.00%" in page.text
    bad = await browser.post(f"{page_url}/tags", {"tags": "two%20words naïve"})
    assert bad.status_code == 400 and 'id="tags-error"' in bad.text
    blank = await browser.post(f"{page_url}/notes", {"note_body": "   "})
    assert blank.status_code == 400 and 'id="note_body-error"' in blank.text

    # The partner's dashboard shows its partnership and rate, never the tags or notes.
    mine = await partner_browser.get("/dashboard/partnerships")
    assert product["name"] in mine.text
    assert "wholesale-lead" not in mine.text and "ask for volume" not in mine.text
    # Another business cannot add to them.
    intruder, _ = await signed_in(dashboard_app, api)
    await intruder.get("/dashboard/products")
    for path, data in (("tags", {"tags": "x"}), ("notes", {"note_body": "x"})):
        assert (await intruder.post(f"{page_url}/{path}", data)).status_code == 404
    delete = await intruder.post(f"{page_url}/notes/{notes[0]['id']}/delete", {})
    assert delete.status_code == 404

    gone = await browser.post(f"{page_url}/notes/{notes[0]['id']}/delete", {})
    assert gone.status_code == 303
    assert "No notes yet." in (await browser.get(page_url)).text
