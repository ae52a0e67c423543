"""The owner's private tags and notes, and per-partner commission overrides (single and bulk),
on SQLite and PostgreSQL: validation, the partner never seeing tags or notes (its views, its
events), the tag filter, set and clear, lock with and without items, dry runs saving nothing,
and concurrent locks locking each partnership once."""

import asyncio

from sqlalchemy import func, select

from product_partners.db.tables import events, partnership_notes, product_partners
from tests.support.api import assert_error
from tests.support.lifecycle import parties, put_partnership


async def _events(api, who, **query):
    rows, after = [], None
    while True:
        params = {"page_size": 25, **query, **({"after": after} if after else {})}
        response = await api.client.get("/v3/events", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        if not body["has_next"]:
            return rows
        after = body["next_cursor"]


async def _counts(api):
    """Rows that a dry run must leave as they were."""
    async with api.engine.connect() as conn:
        overrides = await conn.scalar(
            select(func.count()).where(product_partners.c.commission_rate.is_not(None))
        )
        return (
            overrides,
            await conn.scalar(select(func.count()).select_from(events)),
            await conn.scalar(select(func.count()).select_from(partnership_notes)),
        )


async def _partnership(api, **product):
    p = await parties(api, **product)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")
    return p, ppid


# --- tags ----------------------------------------------------------------------------------------


async def test_tags_are_normalized_set_changed_and_shown_to_the_owner_only(api):
    p, ppid = await _partnership(api)
    url = p.partner_url(ppid, "tags")
    put = await api.client.put(
        url, json={"tags": [" VIP ", "gold", "vip", "tier:1"]}, headers=p.owner.headers
    )
    assert put.status_code == 200, put.text
    assert put.json()["tags"] == ["gold", "tier:1", "vip"]
    version = put.json()["version"]
    changed = await api.client.patch(
        url, json={"add": ["q4.promo"], "remove": ["gold"]}, headers=p.owner.headers
    )
    assert changed.json()["tags"] == ["q4.promo", "tier:1", "vip"]
    # The owner's bookkeeping: the partnership's version (the partner's ETag) does not move.
    assert changed.json()["version"] == version == 1

    owner_view = await api.client.get(p.partner_url(ppid), headers=p.owner.headers)
    assert owner_view.json()["tags"] == ["q4.promo", "tier:1", "vip"]
    mine = await api.client.get(f"/v3/partnerships/{ppid}", headers=p.partner.headers)
    listed = await api.client.get("/v3/partnerships", headers=p.partner.headers)
    assert mine.status_code == 200 and "tags" not in mine.json()
    assert all("tags" not in b for b in listed.json()["data"])

    cleared = await api.client.put(url, json={"tags": []}, headers=p.owner.headers)
    assert cleared.json()["tags"] == []


async def test_bad_tags_are_refused_and_change_nothing(api):
    p, ppid = await _partnership(api)
    url = p.partner_url(ppid, "tags")
    await api.client.put(url, json={"tags": ["keep"]}, headers=p.owner.headers)
    for body in (
        {"tags": ["two words"]},
        {"tags": [""]},
        {"tags": ["x" * 33]},
        {"tags": ["naïve"]},
        {"tags": [f"t{i}" for i in range(21)]},
        {"tags": "vip"},
        {"tags": ["ok"], "extra": 1},
    ):
        assert_error(await api.client.put(url, json=body, headers=p.owner.headers), 400)
    for body in ({}, {"add": ["a"], "remove": ["a"]}, {"add": ["%"]}):
        assert_error(await api.client.patch(url, json=body, headers=p.owner.headers), 400)
    many = {"add": [f"t{i}" for i in range(20)]}
    assert_error(
        await api.client.patch(url, json=many, headers=p.owner.headers), 400, "too_many_tags"
    )
    after = await api.client.get(p.partner_url(ppid), headers=p.owner.headers)
    assert after.json()["tags"] == ["keep"]


async def test_concurrent_tag_changes_all_land(api):
    p, ppid = await _partnership(api)
    url = p.partner_url(ppid, "tags")
    answers = await asyncio.gather(
        *(api.client.patch(url, json={"add": [f"t{i}"]}, headers=p.owner.headers) for i in range(8))
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    final = await api.client.get(p.partner_url(ppid), headers=p.owner.headers)
    assert final.json()["tags"] == [f"t{i}" for i in range(8)]


async def test_list_filters_by_every_tag_named(api):
    p = await parties(api)
    ids = []
    for tags in (["vip", "gold"], ["vip"], ["gold"], []):
        partner = await api.business()
        ppid = await put_partnership(api, p.pid, partner["id"], "approved")
        await api.client.put(
            p.partner_url(ppid, "tags"), json={"tags": tags}, headers=p.owner.headers
        )
        ids.append(ppid)
    base = f"/v3/products/{p.pid}/partners"

    async def listed(query):
        response = await api.client.get(f"{base}?{query}", headers=p.owner.headers)
        assert response.status_code == 200, response.text
        return [b["id"] for b in response.json()["data"]]

    assert await listed("tag=vip") == [ids[1], ids[0]]
    assert await listed("tag=VIP&tag=gold") == [ids[0]]
    assert await listed("tag=gold&affiliate_status=approved") == [ids[2], ids[0]]
    assert await listed("tag=vi") == []  # a whole tag, not a part of one
    assert await listed("tag=v_p") == []  # _ is no wildcard
    bad = await api.client.get(f"{base}?tag=two%20words", headers=p.owner.headers)
    assert_error(bad, 400, "invalid_tag")


# --- notes ---------------------------------------------------------------------------------------


async def test_notes_are_added_listed_and_deleted_with_their_author(api):
    p, ppid = await _partnership(api)
    url = p.partner_url(ppid, "notes")
    first = await api.client.post(url, json={"body": "Met at the fair"}, headers=p.owner.headers)
    assert first.status_code == 200, first.text
    note = first.json()
    assert note["partnership_id"] == ppid and note["body"] == "Met at the fair"
    assert note["author"] == {
        "type": "api_key",
        "business_id": p.owner.id,
        "api_key_id": p.owner.key_id,
        "user_id": None,
    }
    for i in range(3):
        await api.client.post(url, json={"body": f"n{i}"}, headers=p.owner.headers)
    page = await api.client.get(f"{url}?page_size=2", headers=p.owner.headers)
    assert [n["body"] for n in page.json()["data"]] == ["n2", "n1"]
    rest = await api.client.get(
        f"{url}?page_size=2&next_cursor={page.json()['next_cursor']}", headers=p.owner.headers
    )
    assert [n["body"] for n in rest.json()["data"]] == ["n0", "Met at the fair"]

    gone = await api.client.delete(f"{url}/{note['id']}", headers=p.owner.headers)
    assert gone.status_code == 204
    again = await api.client.delete(f"{url}/{note['id']}", headers=p.owner.headers)
    assert_error(again, 404, "note_not_found")
    for body in ({"body": ""}, {"body": "   "}, {"body": "x" * 5001}, {}):
        assert_error(await api.client.post(url, json=body, headers=p.owner.headers), 400)


async def test_a_note_of_another_partnership_is_not_found(api):
    p, ppid = await _partnership(api)
    other = await put_partnership(api, p.pid, (await api.business())["id"], "pending")
    note = await api.client.post(
        p.partner_url(ppid, "notes"), json={"body": "mine"}, headers=p.owner.headers
    )
    wrong = await api.client.delete(
        p.partner_url(other, f"notes/{note.json()['id']}"), headers=p.owner.headers
    )
    assert_error(wrong, 404, "note_not_found")
    # The partner has no way to them: the partner-side paths do not exist, the owner's refuse.
    theirs = await api.client.get(p.partner_url(ppid, "notes"), headers=p.partner.headers)
    assert_error(theirs, 404)


async def test_the_partner_sees_no_tag_or_note_in_its_events(api):
    p, ppid = await _partnership(api, affiliate_commission_rate="10")
    await api.client.put(
        p.partner_url(ppid, "tags"), json={"tags": ["secret-tag"]}, headers=p.owner.headers
    )
    note = await api.client.post(
        p.partner_url(ppid, "notes"), json={"body": "secret note"}, headers=p.owner.headers
    )
    await api.client.delete(
        p.partner_url(ppid, f"notes/{note.json()['id']}"), headers=p.owner.headers
    )
    # Shared events after the tags were set: the partner sees them, without the tags.
    await api.client.patch(
        p.partner_url(ppid), json={"commission_rate": "15"}, headers=p.owner.headers
    )
    banned = await api.client.post(
        p.partner_url(ppid, "ban"), json={"reason": "spam"}, headers=p.owner.headers
    )
    assert banned.status_code == 200, banned.text

    owner_events = await _events(api, p.owner, resource_id=ppid, resource_type="product_partner")
    types = [e["type"] for e in owner_events]
    assert types == [
        "product_partner.tags_changed",
        "product_partner.note_added",
        "product_partner.note_deleted",
        "product_partner.commission_changed",
        "product_partner.banned",
    ]
    tagged = owner_events[0]
    assert tagged["data"]["tags"] == ["secret-tag"] and tagged["partner_business_id"] is None
    assert owner_events[1]["data"]["body"] == "secret note"
    changed = owner_events[3]
    assert (changed["from_status"], changed["to_status"]) == (None, "15.00")

    partner_events = await _events(api, p.partner)
    seen = [e for e in partner_events if e["resource"]["id"] == ppid]
    assert [e["type"] for e in seen] == [
        "product_partner.commission_changed",
        "product_partner.banned",
    ]
    text = str(partner_events)
    assert "secret" not in text and "'tags'" not in text
    for e in seen:
        assert e["data"]["effective_commission_rate"] == "15.00"


# --- commission override -------------------------------------------------------------------------


async def test_commission_override_set_cleared_and_refused_for_a_reseller(api):
    p, ppid = await _partnership(
        api, affiliate_commission_rate="10", affiliate_pro_commission_rate="20"
    )
    url = p.partner_url(ppid)
    before = await api.client.get(url, headers=p.owner.headers)
    assert (before.json()["commission_rate"], before.json()["effective_commission_rate"]) == (
        None,
        "10.00",
    )
    set_ = await api.client.patch(url, json={"commission_rate": 12.5}, headers=p.owner.headers)
    assert set_.status_code == 200, set_.text
    assert set_.json()["commission_rate"] == set_.json()["effective_commission_rate"] == "12.50"
    assert set_.json()["version"] == 2
    same = await api.client.patch(url, json={"commission_rate": "12.50"}, headers=p.owner.headers)
    assert same.json()["version"] == 2  # nothing changed, nothing recorded
    pro = await api.client.patch(
        url, json={"partnership_type": "affiliate_pro"}, headers=p.owner.headers
    )
    assert pro.json()["effective_commission_rate"] == "12.50"  # the override follows the type
    # The partner sees its rate: it is not private.
    mine = await api.client.get(f"/v3/partnerships/{ppid}", headers=p.partner.headers)
    assert mine.json()["effective_commission_rate"] == "12.50"

    cleared = await api.client.patch(url, json={"commission_rate": None}, headers=p.owner.headers)
    assert cleared.json()["commission_rate"] is None
    assert cleared.json()["effective_commission_rate"] == "20.00"  # affiliate_pro's rate

    for bad in ("-1", "100.01", "1.234", "abc", True):
        response = await api.client.patch(
            url, json={"commission_rate": bad}, headers=p.owner.headers
        )
        assert_error(response, 400)
    await api.client.patch(url, json={"commission_rate": "5"}, headers=p.owner.headers)
    reseller = await api.client.patch(
        url, json={"partnership_type": "reseller"}, headers=p.owner.headers
    )
    assert reseller.json()["commission_rate"] is None  # becoming a reseller clears it
    assert reseller.json()["effective_commission_rate"] is None
    refused = await api.client.patch(url, json={"commission_rate": "5"}, headers=p.owner.headers)
    assert_error(refused, 400, "commission_not_applicable")
    both = await api.client.patch(
        url,
        json={"partnership_type": "reseller", "commission_rate": "5"},
        headers=p.owner.headers,
    )
    assert_error(both, 400, "commission_not_applicable")


async def test_commission_dry_run_saves_nothing_and_names_the_event(api):
    p, ppid = await _partnership(api, affiliate_commission_rate="10")
    counts = await _counts(api)
    preview = await api.client.patch(
        p.partner_url(ppid) + "?dry_run=true",
        json={"commission_rate": "30"},
        headers=p.owner.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["result"]["commission_rate"] == "30.00"
    assert [e["type"] for e in preview.json()["events"]] == ["product_partner.commission_changed"]
    assert preview.json()["events"][0]["to"] == "30.00"
    assert await _counts(api) == counts


# --- bulk ----------------------------------------------------------------------------------------


async def _programme(api, n=4):
    """A product (affiliate 10%, affiliate_pro 20%) with approved partnerships of each type, a
    pending one, one with an override and a reseller."""
    p = await parties(api, affiliate_commission_rate="10", affiliate_pro_commission_rate="20")
    made = {}
    for name, status, kind, extra in (
        *((f"aff{i}", "approved", "affiliate", {}) for i in range(n)),
        ("pro", "approved", "affiliate_pro", {}),
        ("pending", "pending", "affiliate", {}),
        ("own", "approved", "affiliate", {"commission_rate": "3"}),
        ("reseller", "approved", "reseller", {}),
    ):
        partner = await api.business()
        made[name] = await put_partnership(api, p.pid, partner["id"], status, kind, **extra)
    return p, made


async def _rates(api, ids):
    async with api.engine.connect() as conn:
        rows = await conn.execute(
            select(product_partners.c.id, product_partners.c.commission_rate).where(
                product_partners.c.id.in_(ids)
            )
        )
        return {
            r.id: None if r.commission_rate is None else f"{r.commission_rate:.2f}" for r in rows
        }


async def test_bulk_set_commission_sets_and_clears_each_item(api):
    p, made = await _programme(api, n=2)
    url = f"/v3/products/{p.pid}/partners/bulk"
    items = [{"id": made["aff0"]}, {"id": made["reseller"]}, {"id": made["own"]}]
    body = {"action": "set_commission", "commission_rate": "7.5", "items": items}
    result = await api.client.post(url, json=body, headers=p.owner.headers)
    assert result.status_code == 200, result.text
    by_id = {i["id"]: i for i in result.json()["items"]}
    assert by_id[made["aff0"]]["commission_rate"] == "7.50"
    assert by_id[made["reseller"]]["error_code"] == "commission_not_applicable"
    clear = {"action": "set_commission", "commission_rate": None, "items": [{"id": made["own"]}]}
    cleared = await api.client.post(url, json=clear, headers=p.owner.headers)
    assert cleared.json()["items"][0]["commission_rate"] is None
    rates = await _rates(api, [made["aff0"], made["own"], made["reseller"]])
    assert rates == {made["aff0"]: "7.50", made["own"]: None, made["reseller"]: None}
    for bad in (
        {"action": "set_commission", "items": items},  # no rate named
        {"action": "approve", "commission_rate": "5", "items": items},
        {"action": "set_commission", "commission_rate": "5"},  # no items
        {"action": "lock_commission", "commission_rate": "5"},
    ):
        assert_error(await api.client.post(url, json=bad, headers=p.owner.headers), 400)


async def test_lock_commission_without_items_locks_every_approved_follower(api):
    p, made = await _programme(api)
    url = f"/v3/products/{p.pid}/partners/bulk"
    counts = await _counts(api)
    dry = await api.client.post(
        url + "?dry_run=true", json={"action": "lock_commission"}, headers=p.owner.headers
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False
    assert {i["outcome"] for i in dry.json()["items"]} == {"would_apply"}
    assert await _counts(api) == counts  # the dry run saved nothing, not even an event

    locked = await api.client.post(url, json={"action": "lock_commission"}, headers=p.owner.headers)
    body = locked.json()
    expected = sorted([made[f"aff{i}"] for i in range(4)] + [made["pro"]])
    assert [i["id"] for i in body["items"]] == expected == [i["id"] for i in dry.json()["items"]]
    assert body["applied"] is True and body["succeeded"] == 5
    rates = await _rates(api, list(made.values()))
    assert rates == {
        **{made[f"aff{i}"]: "10.00" for i in range(4)},
        made["pro"]: "20.00",
        made["pending"]: None,
        made["own"]: "3.00",
        made["reseller"]: None,
    }
    # A programme-wide change now leaves them where they were.
    await api.client.patch(
        f"/v3/products/{p.pid}", json={"affiliate_commission_rate": "50"}, headers=p.owner.headers
    )
    after = await api.client.get(p.partner_url(made["aff0"]), headers=p.owner.headers)
    assert after.json()["effective_commission_rate"] == "10.00"
    pending = await api.client.get(p.partner_url(made["pending"]), headers=p.owner.headers)
    assert pending.json()["effective_commission_rate"] == "50.00"
    changed = await _events(api, p.owner, type="product_partner.commission_changed")
    assert sorted(e["resource"]["id"] for e in changed) == expected
    again = await api.client.post(url, json={"action": "lock_commission"}, headers=p.owner.headers)
    assert again.json()["items"] == [] and again.json()["applied"] is False


async def test_lock_commission_with_items_says_why_it_left_some(api):
    p, made = await _programme(api, n=1)
    stranger = await parties(api)
    foreign = await put_partnership(api, stranger.pid, (await api.business())["id"], "approved")
    url = f"/v3/products/{p.pid}/partners/bulk"
    names = ["pending", "aff0", "own", "reseller"]
    items = [{"id": made[n]} for n in names] + [{"id": foreign}]
    result = await api.client.post(
        url, json={"action": "lock_commission", "items": items}, headers=p.owner.headers
    )
    assert result.status_code == 200, result.text
    outcomes = [(i["outcome"], i["commission_rate"]) for i in result.json()["items"]]
    assert outcomes == [
        ("unchanged", None),
        ("applied", "10.00"),
        ("unchanged", "3.00"),
        ("unchanged", None),
        ("failed", None),
    ]
    assert "not approved" in result.json()["items"][0]["message"]
    assert result.json()["items"][4]["error_code"] == "partner_not_found"
    assert (await _rates(api, [foreign]))[foreign] is None
    too_many = {"action": "lock_commission", "items": [{"id": i} for i in range(1, 102)]}
    assert_error(await api.client.post(url, json=too_many, headers=p.owner.headers), 400)


async def test_concurrent_locks_lock_each_partnership_once(api):
    p, made = await _programme(api, n=10)
    url = f"/v3/products/{p.pid}/partners/bulk"
    answers = await asyncio.gather(
        *(
            api.client.post(url, json={"action": "lock_commission"}, headers=p.owner.headers)
            for _ in range(4)
        )
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    locked = [i["id"] for a in answers for i in a.json()["items"]]
    followers = [made[f"aff{i}"] for i in range(10)] + [made["pro"]]
    assert sorted(locked) == sorted(followers)  # each by exactly one of the locks
    changed = await _events(api, p.owner, type="product_partner.commission_changed")
    assert sorted(e["resource"]["id"] for e in changed) == sorted(followers)
