"""Signing in to the dashboard: cookies, CSRF, wrong passwords, disabled users, revoked
sessions and the sign-in limits."""

import httpx

from product_partners.app import create_app
from product_partners.users import service as users
from tests.support.dashboard import Browser, csrf_of, person, signed_in


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(dashboard_app):
    browser = Browser(dashboard_app)
    response = await browser.client.get("/dashboard/products")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/products"


async def test_sign_in_sets_an_httponly_lax_session_cookie_and_shows_the_products(
    dashboard_app, api
):
    who = await person(api)
    browser = Browser(dashboard_app)
    response = await browser.sign_in(who.email)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/products"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pp_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # a loopback address: make run's plain http
    page = await browser.get("/dashboard/products")
    assert page.status_code == 200 and who.email in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_the_session_cookie_is_secure_outside_loopback(dashboard_app, api):
    who = await person(api)
    transport = httpx.ASGITransport(app=dashboard_app, client=("10.9.9.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://partners.example") as c:
        page = await c.get("/dashboard/login")
        # A Secure cookie is not kept over plain http: send it back by hand.
        c.cookies.set("pp_sign_in", page.cookies["pp_sign_in"])
        response = await c.post(
            "/dashboard/login",
            data={"csrf_token": csrf_of(page.text), "email": who.email, "password": "x" * 12},
        )
        assert "Secure" in page.headers["set-cookie"]
        assert response.status_code == 401


async def test_a_wrong_password_is_refused_in_words_without_a_session(dashboard_app, api):
    who = await person(api)
    browser = Browser(dashboard_app)
    response = await browser.sign_in(who.email, "not the password")
    assert response.status_code == 401
    assert "The email or the password is wrong." in response.text
    assert "pp_session" not in response.headers.get("set-cookie", "")
    assert (await browser.client.get("/dashboard/products")).status_code == 303


async def test_sign_in_without_the_csrf_token_is_refused(dashboard_app, api):
    who = await person(api)
    browser = Browser(dashboard_app)
    await browser.get("/dashboard/login")
    response = await browser.post(
        "/dashboard/login", {"email": who.email, "password": "a long test password"}, csrf=False
    )
    assert response.status_code == 403 and "security token" in response.text


async def test_a_disabled_user_is_refused_at_once_even_with_a_live_session(dashboard_app, api):
    browser, who = await signed_in(dashboard_app, api)
    assert (await browser.get("/dashboard/products")).status_code == 200
    async with api.engine.connect() as conn:
        await users.disable_user(conn, who.email)
    assert (await browser.client.get("/dashboard/products")).status_code == 303
    again = await Browser(dashboard_app).sign_in(who.email)
    assert again.status_code == 401 and "disabled" in again.text


async def test_signing_out_revokes_the_session_for_every_process(dashboard_app, api):
    browser, _ = await signed_in(dashboard_app, api)
    cookie = browser.client.cookies["pp_session"]
    out = await browser.post("/dashboard/logout", {})
    assert out.status_code == 303 and out.headers["location"].endswith("done=signed_out")
    # The same cookie, replayed from elsewhere: refused (the session is revoked in the database).
    other = Browser(dashboard_app)
    other.client.cookies.set("pp_session", cookie, domain="127.0.0.1", path="/dashboard")
    assert (await other.client.get("/dashboard/products")).status_code == 303


async def test_sign_in_attempts_are_limited_per_account(settings, engine, api):
    app = create_app(
        settings.model_copy(update={"dashboard_sign_in_limit": "3/hour"}), engine=engine
    )
    who = await person(api)
    statuses = []
    for _ in range(4):
        statuses.append((await Browser(app).sign_in(who.email, "wrong password!")).status_code)
    assert statuses == [401, 401, 401, 429]
    # The right password is refused too while the account is limited.
    limited = await Browser(app).sign_in(who.email)
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert int(limited.headers["retry-after"]) >= 1


async def test_sign_in_attempts_are_limited_per_address(settings, engine, api):
    app = create_app(
        settings.model_copy(update={"dashboard_sign_in_address_limit": "2/hour"}), engine=engine
    )
    browser = Browser(app)
    first = await person(api)
    second = await person(api)
    assert (await browser.sign_in(first.email, "wrong password!")).status_code == 401
    assert (await browser.sign_in(second.email, "wrong password!")).status_code == 401
    assert (await browser.sign_in(second.email)).status_code == 429
