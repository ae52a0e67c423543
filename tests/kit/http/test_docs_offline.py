"""``/docs`` and ``/redoc`` work on a host without internet: every script, style sheet and
image the pages load comes from the service itself."""

import re

import pytest

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_everything_from_the_service(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    urls = [a or b for a, b in ASSET.findall(response.text)]
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, response.text
    for url in urls:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert any(u == "/openapi.json" for u in urls)
    assert "cdn" not in response.text.lower() and "googleapis" not in response.text
