"""Concurrent decisions on one partnership: exactly one winner, a consistent final state."""

import asyncio

import pytest

from tests.support.lifecycle import db_state, parties, put_partnership

N = 16


@pytest.mark.parametrize("if_match", [None, '"1"'])
async def test_concurrent_approve_and_reject_have_exactly_one_winner(api, if_match):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    headers = {**p.owner.headers, **({"If-Match": if_match} if if_match else {})}

    async def decide(i: int):
        action = "approve" if i % 2 else "reject"
        return action, await api.client.post(p.partner_url(ppid, action), headers=headers)

    results = await asyncio.gather(*(decide(i) for i in range(N)))

    winners = [(a, r) for a, r in results if r.status_code == 200]
    losers = [r for _, r in results if r.status_code != 200]
    assert len(winners) == 1, [r.status_code for _, r in results]
    action, won = winners[0]
    final = "approved" if action == "approve" else "rejected"
    assert won.json()["affiliate_status"] == final and won.json()["version"] == 2
    expected_loss = {412} if if_match else {409}
    assert {r.status_code for r in losers} == expected_loss, [r.text for r in losers]
    if not if_match:
        # A loser of the other action is refused naming the winner's status; approve-after-
        # reject is allowed by the table, so it may only lose to "already approved".
        assert all(r.json()["error_code"] == "invalid_transition" for r in losers)
    state = await db_state(api, ppid)
    assert (state.affiliate_status, state.version) == (final, 2)


async def test_concurrent_requests_of_one_partner_create_one_partnership(api):
    p = await parties(api, is_affiliate_enabled=True)
    body = {"partnership_type": "affiliate"}

    results = await asyncio.gather(
        *(api.client.post(p.request_url, json=body, headers=p.partner.headers) for _ in range(N))
    )

    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1, [r.text for r in results]
    assert set(codes) == {200, 409}
    mine = await api.client.get("/v3/partnerships", headers=p.partner.headers)
    assert len(mine.json()["data"]) == 1
