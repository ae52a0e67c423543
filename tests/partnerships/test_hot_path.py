"""The hot path (fastpath.py) answers exactly what the FastAPI routes answer.

On PostgreSQL, add/get/list product partners are served by one statement each; every other
outcome is handed to the routes. These tests run the same requests against the app with and
without the hot path, on the same database, and compare status, body and headers.
"""

import base64

import httpx
import pytest
from bench.without_events import take_out_event_write

from product_partners.app import create_app
from product_partners.auth.service import revoke_key
from product_partners.domains.service import set_verified
from product_partners.partnerships import hotpath
from product_partners.partnerships.hotpath import HotPath
from tests.support.api import unique
from tests.support.stores import domain, host, pro_partnership, store

pytestmark = pytest.mark.postgres_only

COMPARED_HEADERS = ("content-type", "etag", "x-ratelimit-limit")
# A cursor that decodes to an id above every row (a full page after it) but, with zeros before
# the id, is longer than the route accepts.
LONG_CURSOR = base64.urlsafe_b64encode(b"1:" + b"0" * 300 + b"9" * 18).decode().rstrip("=")


@pytest.fixture
async def plain_client(settings, engine):
    """The same app and database with the hot path off: every request takes the routes."""
    app = create_app(settings.model_copy(update={"hot_path": False}), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


@pytest.fixture
def hot_calls(monkeypatch):
    """Counts the statements the hot path ran (to prove it served the request)."""
    calls: list[str] = []
    original = HotPath._run

    async def counting(self, conn, name, params):
        calls.append(name)
        return await original(self, conn, name, params)

    monkeypatch.setattr(HotPath, "_run", counting)
    return calls


async def same(api, plain_client, method, url, headers, **kwargs) -> httpx.Response:
    hot = await api.client.request(method, url, headers=headers, **kwargs)
    plain = await plain_client.request(method, url, headers=headers, **kwargs)
    assert (hot.status_code, hot.json()) == (plain.status_code, plain.json())
    for name in COMPARED_HEADERS:
        assert hot.headers.get(name) == plain.headers.get(name), name
    return hot


async def test_get_and_list_match_the_routes_with_domains_and_links(api, plain_client, hot_calls):
    pro = await pro_partnership(api)
    # The owner's store domain (custom_domains) and an approved partner domain (links).
    owner_domain = await domain(api, pro.owner, host("owner"), verified=True)
    await store(api, pro.owner, name="Owner store", custom_domain_id=owner_domain["id"])
    approve = await api.client.post(
        f"/v3/products/{pro.product['id']}/partners/{pro.partnership['id']}"
        f"/affiliate-pro-domains/{pro.domain['id']}",
        headers=pro.owner.headers,
    )
    assert approve.status_code == 200, approve.text
    for _ in range(3):
        other = await api.actor()
        assert (
            await api.add_partner(pro.owner, pro.product["id"], other.unique_id)
        ).status_code == 200

    base = f"/v3/products/{pro.product['id']}/partners"
    one = await same(api, plain_client, "GET", f"{base}/{pro.partnership['id']}", pro.owner.headers)
    assert one.json()["affiliate_pro_links"] and one.json()["custom_domains"]
    assert "get" in hot_calls

    first = await same(api, plain_client, "GET", f"{base}?page_size=2", pro.owner.headers)
    cursor = first.json()["next_cursor"]
    second = await same(
        api, plain_client, "GET", f"{base}?page_size=2&next_cursor={cursor}", pro.owner.headers
    )
    back = second.json()["previous_cursor"]
    await same(
        api, plain_client, "GET", f"{base}?page_size=2&previous_cursor={back}", pro.owner.headers
    )
    assert {"first", "after", "before"} <= set(hot_calls)


async def test_unverified_domains_show_and_link_nowhere_on_the_hot_path(
    api, plain_client, hot_calls
):
    pro = await pro_partnership(api)
    owner_domain = await domain(api, pro.owner, host("owner"), verified=True)
    await store(api, pro.owner, name="Owner store", custom_domain_id=owner_domain["id"])
    claim = await domain(api, pro.owner, host("claim"))
    await store(api, pro.owner, name="Claimed", custom_domain_id=claim["id"])
    base = f"/v3/products/{pro.product['id']}/partners"
    approve = await api.client.post(
        f"{base}/{pro.partnership['id']}/affiliate-pro-domains/{pro.domain['id']}",
        headers=pro.owner.headers,
    )
    assert approve.json()["affiliate_pro_links"]
    async with api.engine.connect() as conn:
        for d in (owner_domain, pro.domain):
            await set_verified(conn, d["id"], verified=False)

    one = await same(api, plain_client, "GET", f"{base}/{pro.partnership['id']}", pro.owner.headers)
    listed = await same(api, plain_client, "GET", base, pro.owner.headers)
    assert {"get", "first"} <= set(hot_calls)
    for body in (one.json(), listed.json()["data"][0]):
        assert body["custom_domains"] == []
        assert body["affiliate_pro_domains"] == [] and body["affiliate_pro_links"] == []


async def test_tags_and_commission_render_alike_and_a_tag_filter_takes_the_route(
    api, plain_client, hot_calls
):
    owner = await api.actor()
    product = await api.product(
        owner, affiliate_commission_rate="10", affiliate_pro_commission_rate="12.5"
    )
    base = f"/v3/products/{product['id']}/partners"
    ids = []
    for _ in range(3):
        added = await api.add_partner(owner, product["id"], (await api.actor()).unique_id)
        ids.append(added.json()["id"])
    tagged = await api.client.put(
        f"{base}/{ids[0]}/tags", json={"tags": ["VIP", "gold"]}, headers=owner.headers
    )
    assert tagged.json()["tags"] == ["gold", "vip"], tagged.text
    rated = await api.client.patch(
        f"{base}/{ids[1]}",
        json={"partnership_type": "affiliate_pro", "commission_rate": "7.25"},
        headers=owner.headers,
    )
    assert rated.json()["effective_commission_rate"] == "7.25", rated.text

    one = await same(api, plain_client, "GET", f"{base}/{ids[0]}", owner.headers)
    assert (one.json()["tags"], one.json()["effective_commission_rate"]) == (
        ["gold", "vip"],
        "10.00",
    )
    listed = await same(api, plain_client, "GET", base, owner.headers)
    assert [b["commission_rate"] for b in listed.json()["data"]] == [None, "7.25", None]
    assert {"get", "first"} <= set(hot_calls)

    hot_calls.clear()
    filtered = await same(api, plain_client, "GET", f"{base}?tag=vip&tag=gold", owner.headers)
    assert [b["id"] for b in filtered.json()["data"]] == [ids[0]]
    await same(api, plain_client, "GET", f"{base}?tag=nobody", owner.headers)
    assert hot_calls == []  # a filter the hot path does not serve: the route answered


async def test_add_matches_the_route(api, plain_client, hot_calls):
    owner, first, second = await api.actor(), await api.actor(), await api.actor()
    product = await api.product(owner)
    owner_domain = await domain(api, owner, host("owner"), verified=True)
    await store(api, owner, name="Owner store", custom_domain_id=owner_domain["id"])
    url = f"/v3/products/{product['id']}/partners"

    hot = await api.client.post(
        url, json={"partner_unique_id": first.unique_id}, headers=owner.headers
    )
    plain = await plain_client.post(
        url, json={"partner_unique_id": second.unique_id}, headers=owner.headers
    )

    # The key with the add's dry run first (nothing is written for a bad key), then the add
    # with its event: two statements, no BEGIN/COMMIT.
    assert hot_calls == ["would_add", "add"]
    assert hot.status_code == plain.status_code == 200
    a, b = hot.json(), plain.json()
    for varying in ("id", "partner", "approved_at", "created_at", "updated_at"):
        a.pop(varying), b.pop(varying)
    assert a["tags"] == [] and a["effective_commission_rate"] is None
    assert a == b and a["custom_domains"] == [
        {"id": owner_domain["id"], "business_id": owner.id, "full_url": owner_domain["full_url"]}
    ]
    assert hot.headers["etag"] == plain.headers["etag"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v3/products/{pid}/partners", {"partner_unique_id": "{partner}"}),  # duplicate
        ("POST", "/v3/products/{pid}/partners", {"partner_unique_id": "{owner}"}),  # itself
        ("POST", "/v3/products/{pid}/partners", {"partner_unique_id": ""}),
        ("POST", "/v3/products/{pid}/partners", {"partner_unique_id": "{partner}", "x": 1}),
        ("GET", "/v3/products/{pid}/partners/999999999", None),
        ("GET", "/v3/products/{pid}/partners?page_size=0", None),
        ("GET", "/v3/products/{pid}/partners?next_cursor=bogus", None),
        ("GET", "/v3/products/{pid}/partners?next_cursor=" + LONG_CURSOR, None),
        ("GET", "/v3/products/{other_pid}/partners", None),  # another business's product
        ("GET", "/v3/products/{pid}/partners/{ppid}", "no-scope"),
        ("GET", "/v3/products/{pid}/partners/{ppid}", "forged"),
        ("GET", "/v3/products/{pid}/partners", "forged"),
        ("GET", "/v3/products/{pid}/partners/{ppid}", "revoked"),
        ("GET", "/v3/products/{pid}/partners", "revoked"),
    ],
)
async def test_every_refusal_comes_from_the_route(api, plain_client, method, path, body):
    owner, partner, stranger = await api.actor(), await api.actor(), await api.actor()
    product = await api.product(owner)
    other_product = await api.product(stranger)
    created = (await api.add_partner(owner, product["id"], partner.unique_id)).json()
    url = path.format(pid=product["id"], other_pid=other_product["id"], ppid=created["id"])
    headers = owner.headers
    if body == "no-scope":
        weak = await api.key_for(owner.unique_id, ["product:list"])
        headers, body = {"Authorization": f"Bearer {weak['key']}"}, None
    elif body == "forged":  # the owner's prefix, another secret: the data must not leak
        headers, body = {"Authorization": f"Bearer {owner.key[:-6]}AAAAAA"}, None
    elif body == "revoked":
        async with api.engine.connect() as conn:
            await revoke_key(conn, owner.id, owner.key_id)
        body = None
    elif body is not None:
        body = {
            k: v.format(partner=partner.unique_id, owner=owner.unique_id)
            if isinstance(v, str)
            else v
            for k, v in body.items()
        }
    kwargs = {"json": body} if body is not None else {}
    response = await same(api, plain_client, method, url, headers, **kwargs)
    assert response.status_code >= 400


async def test_a_refused_request_is_counted_once_against_the_rate_limit(settings, engine, api):
    limited = create_app(
        # Per day: windows are aligned to the clock, and a minute boundary between two of the
        # requests would restart the count (this failed once in CI).
        settings.model_copy(update={"rate_limit_enabled": True, "rate_limit": "5/day"}),
        engine=engine,
    )
    owner = await api.actor()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=limited), base_url="http://t"
    ) as c:
        remaining = []
        for _ in range(3):  # not the caller's product: the hot path hands it to the route
            r = await c.get("/v3/products/999999999/partners", headers=owner.headers)
            assert r.status_code == 404
            remaining.append(int(r.headers["x-ratelimit-remaining"]))
    assert remaining == [4, 3, 2]


async def test_adds_answer_alike_for_every_kind_of_unique_id_on_both_paths(
    api, plain_client, hot_calls
):
    """Unknown, existing, banned-and-unknown-to-the-owner: the same answer (the unique id
    alone), from the hot path and the route; a partner that consented is shown whole by both."""
    owner = await api.actor()
    hot_product, plain_product = await api.product(owner), await api.product(owner)
    asked = await api.product(owner, is_affiliate_enabled=True)
    existing, banned, consented = await api.actor(), await api.actor(), await api.actor()
    await api.ban(banned.id)
    joined = await api.client.post(
        f"/v3/products/{asked['id']}/partnership-requests",
        json={"partnership_type": "affiliate"},
        headers=consented.headers,
    )
    assert joined.status_code == 200, joined.text

    shown = {}
    for uid in (unique("nobody"), existing.unique_id, banned.unique_id, consented.unique_id):
        body = {"partner_unique_id": uid}
        hot_calls.clear()
        hot = await api.client.post(
            f"/v3/products/{hot_product['id']}/partners", json=body, headers=owner.headers
        )
        assert hot_calls == ["would_add", "add"], uid  # served by the hot path
        plain = await plain_client.post(
            f"/v3/products/{plain_product['id']}/partners", json=body, headers=owner.headers
        )
        assert hot.status_code == plain.status_code == 200, (hot.text, plain.text)
        a, b = hot.json(), plain.json()
        for varying in ("id", "product_id", "approved_at", "created_at", "updated_at"):
            a.pop(varying), b.pop(varying)
        assert a == b
        shown[uid] = a["partner"]
    assert list(shown.values())[:3] == [{"unique_id": uid} for uid in list(shown)[:3]]
    assert shown[consented.unique_id] == {**consented.business}


async def test_the_benchmarks_add_without_events_adds_alike_and_records_nothing(
    api, settings, engine, hot_calls, monkeypatch
):
    """bench/without_events.py, the "before" of the event write's cost in ``make bench``: the
    same hot path and body, but no event (so ``1 - service / it`` is the event's cost)."""
    monkeypatch.setitem(hotpath.STATEMENTS, "add", hotpath.STATEMENTS["add"])
    for name in ("event_values", "shared"):
        monkeypatch.setattr(hotpath, name, getattr(hotpath, name))  # restored after the test
    owner, with_event, without = await api.actor(), await api.actor(), await api.actor()
    product = await api.product(owner)
    url = f"/v3/products/{product['id']}/partners"

    recorded = await api.client.post(
        url, json={"partner_unique_id": with_event.unique_id}, headers=owner.headers
    )
    take_out_event_write()
    # The app compiled its statements at the first add: a fresh one compiles the changed add.
    fresh = create_app(settings, engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fresh), base_url="http://t"
    ) as c:
        body = {"partner_unique_id": without.unique_id}
        silent = await c.post(url, json=body, headers=owner.headers)

    assert recorded.status_code == silent.status_code == 200, silent.text
    assert hot_calls == ["would_add", "add", "would_add", "add"]
    a, b = recorded.json(), silent.json()
    for varying in ("id", "partner", "approved_at", "created_at", "updated_at"):
        a.pop(varying), b.pop(varying)
    assert a == b
    log = await api.client.get(
        "/v3/events", params={"type": "product_partner.created"}, headers=owner.headers
    )
    assert [e["resource"]["id"] for e in log.json()["data"]] == [recorded.json()["id"]]
