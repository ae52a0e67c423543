"""End-to-end browser tests: Debian's Chromium driven by Playwright for Python (no browser is
ever downloaded), and the folder the tests write their screenshots to."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots of the main pages (git-ignored; the README names the folder).
SCREENSHOTS = Path(os.environ.get("PP_SCREENSHOTS", ROOT / "screenshots" / "dashboard"))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's package; `make test` installs it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
