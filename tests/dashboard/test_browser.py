"""The dashboard in a real browser (Debian's Chromium, driven by Playwright), against
``product-partners serve`` on a fresh SQLite database: what a person does, click by click.
Screenshots of the main pages land in ``screenshots/dashboard/``."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from product_partners.businesses.schemas import BusinessCreate
from product_partners.businesses.service import create_business
from product_partners.db.engine import create_engine
from product_partners.db.migrate import upgrade
from product_partners.partnerships import service as partnerships
from product_partners.partnerships.schemas import PartnershipRequest
from product_partners.products.schemas import CreateRequestProduct, ItemType
from product_partners.products.service import create_product
from product_partners.settings import Settings
from product_partners.users.service import create_user
from tests.support.browser import chromium, screenshot
from tests.support.dashboard import PASSWORD, linked_partnership
from tests.support.servers import serve

pytestmark = pytest.mark.slow

APPLICANTS = ("anna-shop", "bert-shop", "cara-shop", "dino-shop", "emma-shop", "finn-shop")


@dataclass
class World:
    base: str
    product_id: int
    requests: dict[str, int]
    partner_link: str


async def _seed(database_url: str) -> dict[str, Any]:
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as conn:

            async def business(unique_id: str, name: str) -> dict[str, Any]:
                data = BusinessCreate(
                    unique_id=unique_id,
                    username=unique_id.replace("-", ""),
                    account_holder=name,
                    email=f"hello@{unique_id}.example",
                )
                return await create_business(conn, data)

            owner = await business("roastery", "Roastery Ltd")
            await create_user(conn, "roastery", "owner@roastery.example", PASSWORD)
            product = await create_product(
                conn,
                owner["id"],
                CreateRequestProduct(
                    name="Single-origin beans",
                    item_type=ItemType.physical,
                    is_affiliate_enabled=True,
                    is_affiliate_pro_enabled=True,
                    affiliate_commission_rate=10,
                ),
            )
            requests = {}
            for unique_id in APPLICANTS:
                applicant = await business(unique_id, unique_id.replace("-", " ").title())
                ask = PartnershipRequest.model_validate(
                    {"partnership_type": "affiliate", "message_to_product_owner": "Hi!"}
                )
                made = await partnerships.request_partnership(
                    conn, applicant["id"], product["id"], ask, "https"
                )
                requests[unique_id] = made["id"]
            partner = await business("globex", "Globex")
            await create_user(conn, "globex", "partner@globex.example", PASSWORD)
            linked = await linked_partnership(
                conn, owner["id"], partner["id"], product["id"], "shop.globex.example"
            )
            await business("intruder", "Intruder Inc")
            await create_user(conn, "intruder", "someone@intruder.example", PASSWORD)
            return {
                "product_id": product["id"],
                "requests": requests,
                "link": linked["affiliate_pro_links"][0]["product_url"],
            }
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'e2e.db'}"
    upgrade(database_url)
    seeded = asyncio.run(_seed(database_url))
    with serve(database_url) as base:
        yield World(base, seeded["product_id"], seeded["requests"], seeded["link"])


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    # After the world: Playwright's sync API runs an event loop of its own in this thread,
    # and the world's seeding needs none to be running.
    with chromium() as launched:
        yield launched


def _sign_in(browser: Any, world: World, email: str, **context: Any) -> Any:
    return _sign_in_in(browser.new_context(**context), world, email)


def _review(page: Any, world: World, unique_id: str) -> None:
    page.goto(f"{world.base}/dashboard/products/{world.product_id}")
    page.get_by_role("link", name=f"Review {unique_id}").click()
    page.wait_for_url(f"**/partners/{world.requests[unique_id]}")


def test_a_wrong_password_is_refused(browser, world):
    page = browser.new_context().new_page()
    page.goto(f"{world.base}/dashboard/login")
    page.get_by_label("Email").fill("owner@roastery.example")
    page.get_by_label("Password").fill("not the password")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 401
    assert page.get_by_role("alert").inner_text() == "The email or the password is wrong."
    screenshot(page, "sign-in-refused")


def test_the_owner_signs_in_and_approves_a_pending_request_from_the_queue(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example")
    screenshot(page, "products")
    page.goto(f"{world.base}/dashboard/products/{world.product_id}")
    expect(page.get_by_role("link", name="Pending 6")).to_be_visible()
    screenshot(page, "queue")
    _review(page, world, "anna-shop")
    screenshot(page, "partnership")
    page.get_by_role("button", name="Approve", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Approved."
    expect(page.locator(".facts .status-approved")).to_be_visible()


def test_the_owner_rejects_with_a_reason(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example")
    _review(page, world, "bert-shop")
    page.get_by_label("Reason (shown to the partner, optional)").fill("Not a fit for us")
    page.get_by_role("button", name="Reject").click()
    assert page.get_by_role("status").inner_text() == "Rejected."
    assert "Not a fit for us" in page.locator(".facts").inner_text()


def test_the_owner_bulk_approves_three(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example")
    page.goto(f"{world.base}/dashboard/products/{world.product_id}")
    for unique_id in ("cara-shop", "dino-shop", "emma-shop"):
        page.get_by_label(f"Select {unique_id}").check()
    page.get_by_role("button", name="Approve selected").click()
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 3
    assert all("✓ Approved" in text for text in rows.all_inner_texts())
    screenshot(page, "bulk-result")


def test_a_stale_decision_is_refused_with_the_fresh_state(browser, world):
    context = browser.new_context()
    stale = _sign_in_in(context, world, "owner@roastery.example")
    _review(stale, world, "finn-shop")
    fresh = context.new_page()
    _review(fresh, world, "finn-shop")
    fresh.get_by_label("Reason (shown to the partner, optional)").fill("Changed my mind")
    fresh.get_by_role("button", name="Reject").click()
    assert fresh.get_by_role("status").inner_text() == "Rejected."
    # The first tab still shows the pending request: its approval is refused.
    stale.get_by_role("button", name="Approve", exact=True).click()
    alert = stale.get_by_role("alert").inner_text()
    assert "Not changed: this partnership changed since you opened the page." in alert
    assert "It is now rejected" in alert
    screenshot(stale, "stale-decision")


def _sign_in_in(context: Any, world: World, email: str) -> Any:
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{world.base}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/products")
    return page


def test_the_owner_changes_settings_after_the_preview(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example")
    page.goto(f"{world.base}/dashboard/products/{world.product_id}/settings")
    page.get_by_label("Affiliate commission (%)").fill("12.5")
    page.get_by_role("button", name="Preview the changes").click()
    expect(page.get_by_role("heading", name="Before you save")).to_be_visible()
    preview = page.locator(".preview").inner_text()
    assert "affiliate commission rate" in preview and "12.5" in preview
    screenshot(page, "settings-preview")
    page.get_by_role("button", name="Save these settings").click()
    assert page.get_by_role("status").inner_text() == "Settings saved."
    assert "Affiliate 12.50%" in page.locator(".card").first.inner_text()


def test_a_form_without_its_csrf_token_is_refused(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example")
    page.goto(f"{world.base}/dashboard/products/{world.product_id}/settings")
    page.locator("form.settings input[name=csrf_token]").evaluate("el => el.remove()")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Preview the changes").click()
    assert posted.value.status == 403
    assert "security token is missing or wrong" in page.get_by_role("alert").inner_text()


def test_another_business_gets_404_for_a_partnership_url(browser, world):
    page = _sign_in(browser, world, "someone@intruder.example")
    url = (
        f"{world.base}/dashboard/products/{world.product_id}/partners/{world.requests['anna-shop']}"
    )
    response = page.goto(url)
    assert response.status == 404
    assert "anna-shop" not in page.content()
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_a_partner_copies_its_link(browser, world):
    page = _sign_in(
        browser,
        world,
        "partner@globex.example",
        permissions=["clipboard-read", "clipboard-write"],
    )
    page.get_by_role("link", name="My partnerships").click()
    field = page.get_by_label("Product link on shop.globex.example")
    assert field.input_value() == world.partner_link
    page.get_by_role("button", name="Copy").first.click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == world.partner_link
    screenshot(page, "my-partnerships")


def test_pages_are_readable_at_phone_width(browser, world):
    page = _sign_in(
        browser, world, "owner@roastery.example", viewport={"width": 390, "height": 844}
    )
    page.goto(f"{world.base}/dashboard/products/{world.product_id}?status=all")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "queue-phone")


def test_times_show_in_the_viewers_time_zone(browser, world):
    page = _sign_in(browser, world, "owner@roastery.example", timezone_id="Asia/Jakarta")
    page.goto(
        f"{world.base}/dashboard/products/{world.product_id}/partners/{world.requests['anna-shop']}"
    )
    first = page.locator("time").first
    assert first.get_attribute("datetime").endswith("Z")
    assert "UTC" not in first.inner_text() and "UTC" in first.get_attribute("title")


def test_screenshots_are_written(world):
    # The README's screenshot folder holds the main pages after the tests above.
    from tests.support.browser import SCREENSHOTS

    names = {p.stem for p in Path(SCREENSHOTS).glob("*.png")}
    assert {"products", "queue", "partnership", "settings-preview", "my-partnerships"} <= names
