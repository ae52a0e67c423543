"""?dry_run=true on every owner decision: it answers what would happen (the resulting body, the
links added and removed, the events) and saves nothing: row counts and the partnership rows
are unchanged."""

import pytest
from sqlalchemy import func, select

from product_partners.db.tables import metadata, product_partners
from tests.support.api import assert_error
from tests.support.lifecycle import parties, put_partnership

# (action, status before, method, path suffix, body, status after, event)
CASES = [
    ("approve", "pending", "POST", "approve", None, "approved", "product_partner.approved"),
    (
        "reject",
        "pending",
        "POST",
        "reject",
        {"reason": "no"},
        "rejected",
        "product_partner.rejected",
    ),
    ("ban", "approved", "POST", "ban", {"reason": "spam"}, "banned", "product_partner.banned"),
    ("unban", "banned", "POST", "unban", None, "rejected", "product_partner.unbanned"),
    ("delete", "approved", "DELETE", "", None, None, "product_partner.deleted"),
    (
        "update",
        "approved",
        "PATCH",
        "",
        {"partnership_type": "reseller"},
        "approved",
        "product_partner.updated",
    ),
]


async def _snapshot(api):
    """Every table's row count, and every partnership row."""
    async with api.engine.connect() as conn:
        counts = {
            name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in metadata.tables.items()
        }
        rows = (await conn.execute(select(product_partners).order_by(product_partners.c.id))).all()
    return counts, [tuple(r) for r in rows]


@pytest.mark.parametrize(("action", "source", "method", "suffix", "body", "target", "event"), CASES)
async def test_a_dry_run_answers_the_outcome_and_saves_nothing(
    api, action, source, method, suffix, body, target, event
):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, source)
    before = await _snapshot(api)
    kwargs = {"headers": p.owner.headers, **({"json": body} if body is not None else {})}

    response = await api.client.request(
        method, p.partner_url(ppid, suffix) + "?dry_run=true", **kwargs
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["dry_run"] is True
    if target is None:
        assert answer["result"] is None
    else:
        assert answer["result"]["affiliate_status"] == target
        assert answer["result"]["version"] == 2 and answer["result"]["id"] == ppid
    assert answer["events"] == [
        {"type": event, "partnership_id": ppid, "product_id": p.pid, "from": source, "to": target}
    ]
    assert answer["links_added"] == [] and answer["links_removed"] == []
    assert await _snapshot(api) == before
    # The real decision still works afterwards, and lands where the dry run said.
    real = await api.client.request(method, p.partner_url(ppid, suffix), **kwargs)
    assert real.status_code in (200, 204), real.text
    if target is not None:
        assert real.json()["affiliate_status"] == target


async def test_a_refused_dry_run_gives_the_real_error(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")
    response = await api.client.post(
        p.partner_url(ppid, "approve") + "?dry_run=true", headers=p.owner.headers
    )
    body = assert_error(response, 409, "invalid_transition")
    assert body["errors"]["allowed_actions"] == ["ban", "update", "remove"]
    stale = await api.client.post(
        p.partner_url(ppid, "ban") + "?dry_run=true",
        json={"reason": "spam"},
        headers={**p.owner.headers, "If-Match": '"9"'},
    )
    assert_error(stale, 412)


async def test_another_owner_dry_run_is_404(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    intruder = await api.actor()
    response = await api.client.post(
        p.partner_url(ppid, "approve") + "?dry_run=true", headers=intruder.headers
    )
    assert_error(response, 404)


async def test_a_dry_run_of_the_settings_names_what_it_would_approve_and_saves_nothing(api):
    p = await parties(api, is_affiliate_enabled=True)
    pending = await put_partnership(api, p.pid, p.partner.id, "pending")
    before = await _snapshot(api)
    url = f"/v3/products/{p.pid}/partnership"
    body = {"is_affiliate_auto_accept": True}

    response = await api.client.patch(url + "?dry_run=true", json=body, headers=p.owner.headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["dry_run"] is True and answer["result"]["is_affiliate_auto_accept"] is True
    assert answer["approved_partnerships"] == [pending]
    assert {e["type"] for e in answer["events"]} == {
        "product.partnership_settings_updated",
        "product_partner.approved",
    }
    assert await _snapshot(api) == before
    real = await api.client.patch(url, json=body, headers=p.owner.headers)
    assert real.json()["is_affiliate_auto_accept"] is True
    state = await api.client.get(p.partner_url(pending), headers=p.owner.headers)
    assert state.json()["affiliate_status"] == "approved"
