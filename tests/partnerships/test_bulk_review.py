"""bulkReviewProductPartners: 100 items per bulk, legal and illegal mixed, racing single
decisions; per partnership exactly one winner, in each mode, on SQLite and PostgreSQL."""

import asyncio

import pytest

from tests.support.api import assert_error
from tests.support.lifecycle import db_state, parties, put_partnership

RACED = 20


def _bulk_url(p) -> str:
    return f"/v3/products/{p.pid}/partners/bulk"


async def _world(api, statuses):
    p = await parties(api)
    partners = [await api.business() for _ in statuses]
    ids = [
        await put_partnership(api, p.pid, b["id"], status)
        for b, status in zip(partners, statuses, strict=True)
    ]
    return p, ids


async def _race(api, p, ids, body, raced):
    """The bulk, and a single reject on each of ``raced``, all at once."""

    async def single(ppid):
        return await api.client.post(
            p.partner_url(ppid, "reject"), json={"reason": "raced"}, headers=p.owner.headers
        )

    bulk, *singles = await asyncio.gather(
        api.client.post(_bulk_url(p), json=body, headers=p.owner.headers),
        *(single(ppid) for ppid in raced),
    )
    assert bulk.status_code == 200, bulk.text
    return bulk.json(), dict(zip(raced, singles, strict=True))


async def test_best_effort_mixed_items_one_winner_each(api):
    statuses = ["pending"] * 60 + ["approved"] * 20 + ["banned"] * 20
    p, ids = await _world(api, statuses)
    raced = ids[:RACED]
    stale = ids[30]
    items = [{"id": i, **({"version": 7} if i == stale else {})} for i in ids]
    body = {"action": "approve", "mode": "best_effort", "items": items}

    result, singles = await _race(api, p, ids, body, raced)

    assert result["applied"] is True and result["dry_run"] is False
    by_id = {item["id"]: item for item in result["items"]}
    assert [item["id"] for item in result["items"]] == ids  # the order sent
    for ppid, status in zip(ids, statuses, strict=True):
        item = by_id[ppid]
        state = await db_state(api, ppid)
        if ppid in singles:
            bulk_won = item["outcome"] == "applied"
            single_won = singles[ppid].status_code == 200
            assert bulk_won != single_won, (item, singles[ppid].text)
            loser = singles[ppid] if bulk_won else None
            if loser is not None:
                assert_error(loser, 409, "invalid_transition")
            else:
                assert item["error_code"] == "invalid_transition" and item["status"] == 409
            expected = "approved" if bulk_won else "rejected"
            assert (state.affiliate_status, state.version) == (expected, 2)
        elif ppid == stale:
            assert (item["outcome"], item["status"]) == ("failed", 412), item
            assert (state.affiliate_status, state.version) == ("pending", 1)
        elif status == "pending":
            assert item["outcome"] == "applied", item
            assert (item["affiliate_status"], item["version"]) == ("approved", 2)
            assert (state.affiliate_status, state.version) == ("approved", 2)
        else:
            assert (item["outcome"], item["error_code"]) == ("failed", "invalid_transition")
            assert (state.affiliate_status, state.version) == (status, 1)
    assert result["failed"] == sum(i["outcome"] == "failed" for i in result["items"])


async def test_all_or_nothing_with_illegal_items_saves_nothing_and_singles_win(api):
    statuses = ["pending"] * 80 + ["approved"] * 20
    p, ids = await _world(api, statuses)
    raced = ids[:RACED]
    body = {"action": "approve", "mode": "all_or_nothing", "items": [{"id": i} for i in ids]}

    result, singles = await _race(api, p, ids, body, raced)

    assert result["applied"] is False
    assert all(r.status_code == 200 for r in singles.values()), [
        r.text for r in singles.values() if r.status_code != 200
    ]
    by_id = {item["id"]: item for item in result["items"]}
    for ppid, status in zip(ids, statuses, strict=True):
        state = await db_state(api, ppid)
        if ppid in singles:
            assert (state.affiliate_status, state.version) == ("rejected", 2)
        else:
            assert (state.affiliate_status, state.version) == (status, 1)
            expected = "would_apply" if status == "pending" else "failed"
            assert by_id[ppid]["outcome"] == expected, by_id[ppid]


async def test_all_or_nothing_legal_items_either_all_or_none_one_winner_each(api):
    p, ids = await _world(api, ["pending"] * 100)
    raced = ids[-RACED:]
    body = {"action": "approve", "mode": "all_or_nothing", "items": [{"id": i} for i in ids]}

    result, singles = await _race(api, p, ids, body, raced)

    states = {ppid: await db_state(api, ppid) for ppid in ids}
    if result["applied"]:
        assert all(s.affiliate_status == "approved" for s in states.values())
        assert all(r.status_code == 409 for r in singles.values())
    else:
        for ppid in ids:
            expected = "rejected" if ppid in singles else "pending"
            assert states[ppid].affiliate_status == expected
        assert all(r.status_code == 200 for r in singles.values())
        assert result["failed"] >= 1


@pytest.mark.parametrize("mode", ["best_effort", "all_or_nothing"])
async def test_dry_run_bulk_saves_nothing(api, mode):
    statuses = ["pending"] * 5 + ["approved"] * 5 + ["banned"] * 2
    p, ids = await _world(api, statuses)
    before = [await db_state(api, i) for i in ids]
    body = {"action": "ban", "reason": "spam", "note": "n", "mode": mode}
    body["items"] = [{"id": i} for i in ids]

    response = await api.client.post(
        _bulk_url(p) + "?dry_run=true", json=body, headers=p.owner.headers
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["dry_run"] is True and result["applied"] is False
    outcomes = [item["outcome"] for item in result["items"]]
    assert outcomes == ["would_apply"] * 10 + ["failed"] * 2
    assert all(item["affiliate_status"] == "banned" for item in result["items"][:10])
    assert [await db_state(api, i) for i in ids] == before


async def test_bulk_delete_and_unban(api):
    p, ids = await _world(api, ["pending", "banned", "approved"])
    body = {"action": "delete", "items": [{"id": i} for i in ids]}
    result = (await api.client.post(_bulk_url(p), json=body, headers=p.owner.headers)).json()
    assert [(i["outcome"], i["status"]) for i in result["items"]] == [
        ("applied", 204),
        ("failed", 409),
        ("applied", 204),
    ]
    assert await db_state(api, ids[0]) is None and await db_state(api, ids[2]) is None
    body = {"action": "unban", "items": [{"id": ids[1]}]}
    result = (await api.client.post(_bulk_url(p), json=body, headers=p.owner.headers)).json()
    assert result["items"][0]["affiliate_status"] == "rejected"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "approve", "items": [{"id": i} for i in range(1, 102)]},
        {"action": "approve", "items": []},
        {"action": "approve", "items": [{"id": 1}, {"id": 1}]},
        {"action": "ban", "items": [{"id": 1}]},
        {"action": "ban", "reason": "because", "items": [{"id": 1}]},
        {"action": "approve", "reason": "x", "items": [{"id": 1}]},
        {"action": "approve", "mode": "some", "items": [{"id": 1}]},
        {"action": "approve", "items": [{"id": "1"}]},
        {"action": "approve", "items": [{"id": 1, "version": 2**40}]},
    ],
)
async def test_bad_bulk_bodies_are_400(api, body):
    p = await parties(api)
    response = await api.client.post(_bulk_url(p), json=body, headers=p.owner.headers)
    assert_error(response, 400)


async def test_another_owners_product_is_404_and_nothing_changes(api):
    p, ids = await _world(api, ["pending"])
    intruder = await api.actor()
    body = {"action": "approve", "items": [{"id": ids[0]}]}
    response = await api.client.post(_bulk_url(p), json=body, headers=intruder.headers)
    assert_error(response, 404, "product_not_found")
    assert (await db_state(api, ids[0])).affiliate_status == "pending"
