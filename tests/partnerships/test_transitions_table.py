"""The transition table, walked exhaustively against the HTTP API: every actor x status x action.

Allowed moves succeed and land in the table's target status (or delete the partnership);
refused ones answer 409 naming the current status. "none" is "no partnership yet".
"""

import pytest

from product_partners.partnerships import transitions as tt
from tests.support import ROOT
from tests.support.api import assert_error
from tests.support.lifecycle import ALL_TYPES_OPEN, db_state, parties, put_partnership

CASES = [
    (actor, action, source)
    for actor in tt.ACTORS
    for action in tt.ACTIONS[actor]
    for source in (None, *tt.STATUSES)
]
README = ROOT / "README.md"
MISSING_ID = 2**62

OPERATIONS = {
    ("owner", "add"): "createProductPartner",
    ("owner", "approve"): "approveProductPartner",
    ("owner", "reject"): "rejectProductPartner",
    ("owner", "ban"): "banProductPartner",
    ("owner", "unban"): "unbanProductPartner",
    ("owner", "update"): "updateProductPartner",
    ("owner", "remove"): "deleteProductPartner",
    ("partner", "request"): "requestProductPartnership",
    ("partner", "withdraw"): "withdrawProductPartnership",
    ("partner", "leave"): "leaveProductPartnership",
    ("partner", "accept"): "acceptProductPartnership",
    # The service's own move, on a settings change (walked in test_programme_settings.py).
    ("system", "auto_approve"): "updateProductPartnership",
    # A reject rule deciding a request on arrival (walked in test_rules_questions.py).
    ("system", "auto_reject"): "requestProductPartnership",
}


async def perform(api, p, actor: str, action: str, partnership_id: int):
    owner, partner = p.owner.headers, p.partner.headers
    c = api.client
    match (actor, action):
        case ("owner", "add"):
            return await api.add_partner(p.owner, p.pid, p.partner.unique_id)
        case ("owner", "approve" | "unban"):
            return await c.post(p.partner_url(partnership_id, action), headers=owner)
        case ("owner", "reject"):
            return await c.post(
                p.partner_url(partnership_id, "reject"), json={"reason": "Not a fit"}, headers=owner
            )
        case ("owner", "ban") if partnership_id == MISSING_ID:  # the block list: no partnership
            return await c.post(
                f"/v3/products/{p.pid}/banned-partners",
                json={"partner_unique_id": p.partner.unique_id, "reason": "spam"},
                headers=owner,
            )
        case ("owner", "ban"):
            return await c.post(
                p.partner_url(partnership_id, "ban"),
                json={"reason": "spam", "note": "bulk mail"},
                headers=owner,
            )
        case ("owner", "update"):
            return await c.patch(
                p.partner_url(partnership_id), json={"partnership_type": "reseller"}, headers=owner
            )
        case ("owner", "remove"):
            return await c.delete(p.partner_url(partnership_id), headers=owner)
        case ("partner", "request"):
            body = {"partnership_type": "affiliate", "message_to_product_owner": "Hello"}
            return await c.post(p.request_url, json=body, headers=partner)
        case ("partner", "accept"):
            return await c.post(f"/v3/partnerships/{partnership_id}/accept", headers=partner)
        case ("partner", "withdraw" | "leave"):
            return await c.post(f"/v3/partnerships/{partnership_id}/{action}", headers=partner)
    raise AssertionError(f"no request for {actor} {action}")


@pytest.mark.parametrize(
    ("actor", "action", "source"), CASES, ids=[f"{a}-{x}-from-{s}" for a, x, s in CASES]
)
async def test_every_transition(api, openapi, actor, action, source):
    p = await parties(api, **ALL_TYPES_OPEN)
    partnership_id = (
        await put_partnership(api, p.pid, p.partner.id, source) if source else MISSING_ID
    )
    transition = tt.find(actor, source, action)

    response = await perform(api, p, actor, action, partnership_id)

    openapi.validate_response(operation_of(actor, action, source), response)
    creates = action in ("add", "request")
    if transition is not None:
        if transition.target is None:
            assert response.status_code == 204, response.text
            assert await db_state(api, partnership_id) is None
            return
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["affiliate_status"] == transition.target
        assert response.headers["etag"] == f'"{body["version"]}"'
        if source is not None:
            state = await db_state(api, partnership_id)
            assert (state.affiliate_status, state.version) == (transition.target, 2)
        return
    if source is None and not creates:
        assert_error(response, 404, "partner_not_found")
        return
    code = "partner_already_exists" if action == "add" else "invalid_transition"
    body = assert_error(response, 409, code)
    assert source in body["message"], body
    state = await db_state(api, partnership_id)
    assert (state.affiliate_status, state.version) == (source, 1), "a refused move changed the row"


@pytest.mark.parametrize("source", [None, "rejected"])
async def test_request_is_approved_at_once_when_the_product_auto_accepts(api, source):
    p = await parties(api, **ALL_TYPES_OPEN, is_affiliate_auto_accept=True)
    if source:
        await put_partnership(api, p.pid, p.partner.id, source)
    body = {"partnership_type": "affiliate", "message_to_product_owner": "Hi"}

    response = await api.client.post(p.request_url, json=body, headers=p.partner.headers)

    assert response.status_code == 200, response.text
    assert response.json()["affiliate_status"] == "approved"
    assert response.json()["approved_at"] is not None


def operation_of(actor: str, action: str, source: str | None) -> str:
    """The operation ``perform`` calls: banning with no partnership is the block list's."""
    if (actor, action, source) == ("owner", "ban", None):
        return "banBusinessFromProduct"
    return OPERATIONS[(actor, action)]


def test_every_action_of_the_table_has_an_operation():
    assert {(t.actor, t.action) for t in tt.TRANSITIONS} == set(OPERATIONS)
    for t in tt.TRANSITIONS:
        assert operation_of(t.actor, t.action, t.source) == t.operation_id


async def test_openapi_descriptions_render_the_table(openapi):
    for t in tt.TRANSITIONS:
        if t.action == "add":
            continue  # Scalev's own operation; its row is in the full table below
        _, _, op = openapi.operation(t.operation_id)
        assert tt.describe(t.actor, t.action) in op["description"], t.operation_id
    _, _, get_one = openapi.operation("getProductPartner")
    assert tt.markdown_table() in get_one["description"]


def test_readme_renders_the_whole_table():
    assert tt.markdown_table() in README.read_text()
