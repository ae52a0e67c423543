"""listPartnershipTransitions serves the table the service enforces, and a refused move names
the actions allowed from the partnership's current status."""

import pytest

from product_partners.partnerships import transitions as tt
from tests.support.api import assert_error
from tests.support.lifecycle import parties, put_partnership


async def test_the_published_table_is_the_enforced_table(api):
    p = await parties(api)
    response = await api.client.get("/v3/partnership-transitions", headers=p.owner.headers)
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert len(rows) == len(tt.TRANSITIONS)
    published = {(r["actor"], r["from"], r["action"], r["to"]) for r in rows}
    enforced = {(t.actor, t.source, t.action, t.target) for t in tt.TRANSITIONS}
    assert published == enforced
    assert ("owner", "pending", "approve", "approved") in published
    assert ("owner", "remove") not in {
        (r["actor"], r["action"]) for r in rows if r["from"] == "banned"
    }


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        ("approved", "approve", ["ban", "update", "remove"]),
        ("banned", "remove", ["unban"]),
        ("rejected", "unban", ["ban", "update", "remove"]),
    ],
)
async def test_a_refused_move_lists_the_actions_allowed_from_the_current_status(
    api, status, action, allowed
):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, status)
    method = "DELETE" if action == "remove" else "POST"
    url = p.partner_url(ppid, "" if action == "remove" else action)
    response = await api.client.request(method, url, headers=p.owner.headers)
    body = assert_error(response, 409, "invalid_transition")
    assert body["errors"]["allowed_actions"] == allowed
    assert list(tt.allowed_actions("owner", status)) == allowed
    assert f"From {status}, the owner may: {', '.join(allowed)}." in body["message"]
