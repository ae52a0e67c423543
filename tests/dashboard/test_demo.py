"""The demo of ``make run``: its printed dashboard sign-in works, on every run, and its pending
request waits in the queue."""

import json

from product_partners.app import create_app
from product_partners.db.engine import create_engine
from product_partners.settings import Settings
from tests.support.dashboard import Browser
from tests.support.servers import run_cli


async def test_every_demo_run_prints_a_sign_in_that_works_and_a_request_to_review(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    assert run_cli(url, "db", "upgrade").returncode == 0
    first = json.loads(run_cli(url, "demo").stdout)["dashboard"]
    second = json.loads(run_cli(url, "demo").stdout)["dashboard"]
    assert second["email"] == first["email"] and second["password"] != first["password"]

    settings = Settings(database_url=url, rate_limit_enabled=False)
    engine = create_engine(settings)
    try:
        app = create_app(settings, engine=engine)
        stale = await Browser(app).sign_in(first["email"], first["password"])
        assert stale.status_code == 401  # the first run's password was replaced
        browser = Browser(app)
        assert (await browser.sign_in(second["email"], second["password"])).status_code == 303
        products = await browser.get("/dashboard/products")
        assert "<strong>1</strong> pending" in products.text
        queue = await browser.get("/dashboard/products/1")
        assert "Bean Bloggers" in queue.text and "We review coffee gear" in queue.text
    finally:
        await engine.dispose()
