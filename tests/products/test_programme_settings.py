"""Programme settings: updateProductPartnership, checkProductPartnershipChanges, and what a
settings change does to existing partnerships."""

import uuid

import pytest
from sqlalchemy import insert

from product_partners.db.tables import custom_domains, partnership_domains, stores
from tests.support.api import assert_error
from tests.support.lifecycle import db_state, parties, put_partnership


def settings_url(product_id) -> str:
    return f"/v3/products/{product_id}/partnership"


def check_url(product_id) -> str:
    return f"/v3/products/{product_id}/partnership/check-changes"


async def test_update_saves_settings_and_returns_the_product(api, openapi):
    p = await parties(api)
    body = {
        "is_affiliate_enabled": True,
        "is_affiliate_pro_enabled": True,
        "is_product_sharing": True,
        "is_affiliate_auto_accept": True,
        "affiliate_commission_rate": "12.5",
        "affiliate_pro_commission_rate": 20,
        "partnership_sales_letter": "Earn 12.5% on every bag.",
        "rerequest_cooldown_seconds": 86400,
    }

    response = await api.client.patch(settings_url(p.pid), json=body, headers=p.owner.headers)

    openapi.validate_response("updateProductPartnership", response)
    product = response.json()
    assert response.status_code == 200 and product["id"] == p.pid
    assert product["affiliate_commission_rate"] == "12.50"
    assert product["affiliate_pro_commission_rate"] == "20.00"
    for field in ("is_affiliate_enabled", "is_affiliate_pro_enabled", "is_product_sharing"):
        assert product[field] is True
    assert product["rerequest_cooldown_seconds"] == 86400
    fetched = await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)
    assert {k: fetched.json()[k] for k in product if k != "last_updated_at"} == {
        k: v for k, v in product.items() if k != "last_updated_at"
    }


async def test_omitted_fields_stay_and_null_clears_a_rate(api):
    p = await parties(api, is_affiliate_enabled=True, affiliate_commission_rate="10")
    response = await api.client.patch(
        settings_url(p.pid), json={"affiliate_commission_rate": None}, headers=p.owner.headers
    )
    assert "affiliate_commission_rate" not in response.json()  # unset: omitted (not nullable)
    assert response.json()["is_affiliate_enabled"] is True
    for body in ({}, None):
        same = await api.client.patch(settings_url(p.pid), json=body, headers=p.owner.headers)
        assert same.status_code == 200 and same.json()["is_affiliate_enabled"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"is_affiliate_enabled": None},
        {"is_affiliate_enabled": "yes"},
        {"affiliate_commission_rate": "100.01"},
        {"affiliate_commission_rate": -1},
        {"affiliate_commission_rate": "1.234"},
        {"rerequest_cooldown_seconds": -5},
        {"rerequest_cooldown_seconds": None},
        {"is_affiliate_enabeld": True},
    ],
)
async def test_invalid_settings_are_400_and_change_nothing(api, openapi, body):
    p = await parties(api)
    for operation, method, url in (
        ("updateProductPartnership", "PATCH", settings_url(p.pid)),
        ("checkProductPartnershipChanges", "POST", check_url(p.pid)),
    ):
        response = await api.client.request(method, url, json=body, headers=p.owner.headers)
        openapi.validate_response(operation, response)
        assert_error(response, 400)
    product = (await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)).json()
    assert product["is_affiliate_enabled"] is False and "affiliate_commission_rate" not in product


async def test_settings_routes_are_404_for_another_business_and_need_product_update(api, openapi):
    p = await parties(api)
    stranger = await api.actor()
    for operation, method, url in (
        ("updateProductPartnership", "PATCH", settings_url(p.pid)),
        ("checkProductPartnershipChanges", "POST", check_url(p.pid)),
    ):
        body = {"is_affiliate_enabled": True}
        for headers in (stranger.headers, p.partner.headers):
            response = await api.client.request(method, url, json=body, headers=headers)
            openapi.validate_response(operation, response)
            assert_error(response, 404, "product_not_found")
        missing = await api.client.request(
            method, url.replace(str(p.pid), "0"), json=body, headers=p.owner.headers
        )
        assert_error(missing, 404, "product_not_found")
        key = await api.key_for(p.owner.unique_id, ["product:read", "product:list"])
        forbidden = await api.client.request(
            method, url, json=body, headers={"Authorization": f"Bearer {key['key']}"}
        )
        assert_error(forbidden, 403, "insufficient_scope")
    product = (await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)).json()
    assert product["is_affiliate_enabled"] is False


async def test_turning_auto_accept_on_approves_pending_requests_of_enabled_types(api, openapi):
    p = await parties(api, is_affiliate_enabled=True, is_product_sharing=True)
    pending = {}
    for ptype in ("affiliate", "affiliate_pro", "reseller"):
        pending[ptype] = await put_partnership(
            api, p.pid, (await api.business())["id"], "pending", ptype
        )
    rejected = await put_partnership(api, p.pid, (await api.business())["id"], "rejected")
    change = {"is_affiliate_auto_accept": True}

    preview = await api.client.post(check_url(p.pid), json=change, headers=p.owner.headers)

    openapi.validate_response("checkProductPartnershipChanges", preview)
    report = preview.json()
    assert report["pending_requests_approved"] == 1  # affiliate only: pro is closed
    assert report["changes"] == {"is_affiliate_auto_accept": {"before": False, "after": True}}
    assert report["partnerships_by_status"] == {
        "pending": 3,
        "approved": 0,
        "rejected": 1,
        "banned": 0,
    }
    assert (await db_state(api, pending["affiliate"])).affiliate_status == "pending"

    await api.client.patch(settings_url(p.pid), json=change, headers=p.owner.headers)

    after = {t: tuple(await db_state(api, i))[:2] for t, i in pending.items()}
    assert after == {
        "affiliate": ("approved", 2),
        "affiliate_pro": ("pending", 1),  # affiliate_pro is closed
        "reseller": ("pending", 1),  # resellers are always reviewed
    }
    assert (await db_state(api, rejected)).affiliate_status == "rejected"

    opening = {"is_affiliate_pro_enabled": True}
    preview = await api.client.post(check_url(p.pid), json=opening, headers=p.owner.headers)
    assert preview.json()["pending_requests_approved"] == 1
    assert preview.json()["types_opened_to_requests"] == ["affiliate_pro"]
    await api.client.patch(settings_url(p.pid), json=opening, headers=p.owner.headers)
    assert (await db_state(api, pending["affiliate_pro"])).affiliate_status == "approved"


async def test_closing_a_type_keeps_partnerships_and_pending_requests(api):
    p = await parties(api, is_affiliate_enabled=True)
    waiting = await put_partnership(api, p.pid, (await api.business())["id"], "pending")
    partner = await put_partnership(api, p.pid, (await api.business())["id"], "approved")
    change = {"is_affiliate_enabled": False}

    preview = (await api.client.post(check_url(p.pid), json=change, headers=p.owner.headers)).json()
    assert preview["types_closed_to_requests"] == ["affiliate"]
    assert preview["pending_requests_of_closed_types"] == 1

    await api.client.patch(settings_url(p.pid), json=change, headers=p.owner.headers)
    assert (await db_state(api, waiting)).affiliate_status == "pending"
    assert (await db_state(api, partner)).affiliate_status == "approved"
    newcomer = await api.actor()
    closed = await api.client.post(
        p.request_url, json={"partnership_type": "affiliate"}, headers=newcomer.headers
    )
    assert_error(closed, 404, "product_not_found")


async def _pro_partnership_with_links(api, p) -> int:
    """An approved affiliate_pro partnership routed to a partner store, with one approved domain."""
    host = f"shop-{uuid.uuid4().hex[:10]}.example.com"
    async with api.engine.connect() as conn:
        domain_id = (
            await conn.execute(
                insert(custom_domains)
                .values(business_id=p.partner.id, full_url=host, is_verified=True)
                .returning(custom_domains.c.id)
            )
        ).scalar_one()
        store_id = (
            await conn.execute(
                insert(stores)
                .values(
                    business_id=p.partner.id,
                    unique_id=f"store_{uuid.uuid4().hex[:12]}",
                    name="Partner store",
                )
                .returning(stores.c.id)
            )
        ).scalar_one()
    ppid = await put_partnership(
        api, p.pid, p.partner.id, "approved", "affiliate_pro", store_id=store_id
    )
    async with api.engine.connect() as conn:
        await conn.execute(
            insert(partnership_domains).values(partnership_id=ppid, custom_domain_id=domain_id)
        )
    return ppid


async def test_switching_affiliate_pro_off_suspends_links_and_on_restores_them(api, openapi):
    p = await parties(api, is_affiliate_pro_enabled=True)
    ppid = await _pro_partnership_with_links(api, p)

    async def links() -> list:
        response = await api.client.get(f"/v3/partnerships/{ppid}", headers=p.partner.headers)
        openapi.validate_response("getMyPartnership", response)
        assert response.json()["affiliate_status"] == "approved"
        return response.json()["affiliate_pro_links"]

    assert len(await links()) == 1
    off = {"is_affiliate_pro_enabled": False}
    preview = (await api.client.post(check_url(p.pid), json=off, headers=p.owner.headers)).json()
    assert preview["affiliate_pro_partnerships_losing_links"] == 1
    assert preview["affiliate_pro_partnerships_regaining_links"] == 0
    assert len(await links()) == 1, "check-changes must not save anything"

    await api.client.patch(settings_url(p.pid), json=off, headers=p.owner.headers)
    assert await links() == []

    on = {"is_affiliate_pro_enabled": True}
    preview = (await api.client.post(check_url(p.pid), json=on, headers=p.owner.headers)).json()
    assert preview["affiliate_pro_partnerships_regaining_links"] == 1
    await api.client.patch(settings_url(p.pid), json=on, headers=p.owner.headers)
    assert len(await links()) == 1
