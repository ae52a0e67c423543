"""Application questions and explainable auto-approve rules: a rule set and the decision
traces of five kinds of request, validation of rules and questions, the dry run over the
pending queue (saving nothing), tenant isolation, and ``is_affiliate_auto_accept`` as the last
rule; on SQLite and PostgreSQL."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update

from product_partners.db.tables import (
    businesses,
    custom_domains,
    events,
    partnership_decisions,
    product_partners,
)
from tests.support.api import assert_error
from tests.support.lifecycle import ALL_TYPES_OPEN, db_state, parties, put_partnership

QUESTIONS = [
    {"id": "site", "label": "Where will you promote us?", "kind": "url", "required": True},
    {
        "id": "channel",
        "label": "Main channel",
        "kind": "single_choice",
        "options": ["blog", "social", "email"],
        "partnership_types": ["affiliate", "affiliate_pro"],
    },
    {"id": "pitch", "label": "Tell us about you", "kind": "long_text"},
]
REJECT_BANNED = "You are banned by other programmes."
REJECT_YOUNG = "Come back after your first week."
RULES = [
    {
        "name": "banned elsewhere",
        "conditions": [{"fact": "banned_by_other_owners", "op": "gte", "value": 1}],
        "outcome": "reject",
        "reason": REJECT_BANNED,
    },
    {
        "name": "young business",
        "conditions": [{"fact": "business_age_days", "op": "lte", "value": 6}],
        "outcome": "reject",
        "reason": REJECT_YOUNG,
    },
    {
        "name": "verified affiliates",
        "conditions": [
            {"fact": "partnership_type", "op": "in", "value": ["affiliate", "affiliate_pro"]},
            {"fact": "verified_domains", "op": "gte", "value": 1},
            {"fact": "answer", "question_id": "site", "op": "answered", "value": True},
        ],
        "outcome": "approve",
    },
    {
        "name": "resellers",
        "conditions": [{"fact": "partnership_type", "op": "eq", "value": "reseller"}],
        "outcome": "review",
    },
]
ANSWERS = {"site": "https://blog.example.com/reviews", "channel": "blog"}


def settings_url(pid) -> str:
    return f"/v3/products/{pid}/partnership"


def decision_url(pid, ppid) -> str:
    return f"/v3/products/{pid}/partners/{ppid}/decision"


def preview_url(pid) -> str:
    return f"/v3/products/{pid}/partnership-rules/preview"


async def _programme(api, questions=QUESTIONS, rules=RULES, **settings):
    p = await parties(api, **ALL_TYPES_OPEN)
    body = {"application_questions": questions, "partnership_rules": rules, **settings}
    response = await api.client.patch(settings_url(p.pid), json=body, headers=p.owner.headers)
    assert response.status_code == 200, response.text
    return p


async def _applicant(api, age_days=30, verified_domains=0):
    """A partner business created ``age_days`` ago with ``verified_domains`` verified domains."""
    actor = await api.actor()
    async with api.engine.connect() as conn:
        created = datetime.now(UTC) - timedelta(days=age_days, hours=1)
        await conn.execute(
            update(businesses).where(businesses.c.id == actor.id).values(created_at=created)
        )
        for _ in range(verified_domains):
            host = f"{uuid.uuid4().hex[:10]}.example.org"
            await conn.execute(
                insert(custom_domains).values(business_id=actor.id, full_url=host, is_verified=True)
            )
    return actor


async def _request(api, p, actor, partnership_type="affiliate", answers=ANSWERS):
    body = {"partnership_type": partnership_type}
    if answers is not None:
        body["answers"] = answers
    return await api.client.post(p.request_url, json=body, headers=actor.headers)


async def _decision(api, p, ppid):
    response = await api.client.get(decision_url(p.pid, ppid), headers=p.owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _events_of(api, ppid):
    async with api.engine.connect() as conn:
        rows = await conn.execute(
            select(events.c.type, events.c.actor_type, events.c.reason, events.c.note)
            .where(events.c.resource_id == ppid, events.c.resource_type == "product_partner")
            .order_by(events.c.id)
        )
        return [tuple(r) for r in rows]


async def _counts(api, pid):
    async with api.engine.connect() as conn:

        async def count(stmt):
            return (await conn.execute(stmt)).scalar_one()

        pp = product_partners
        return (
            await count(select(func.count()).select_from(pp).where(pp.c.product_id == pid)),
            await count(
                select(func.count())
                .select_from(partnership_decisions.join(pp))
                .where(pp.c.product_id == pid)
            ),
            await count(select(func.count()).select_from(events).where(events.c.product_id == pid)),
            await count(select(func.max(pp.c.version)).where(pp.c.product_id == pid)),
        )


# --- five kinds of request and their traces ---------------------------------------------------


async def test_affiliate_with_verified_domain_is_approved_by_rule_with_its_trace(api, openapi):
    p = await _programme(api)
    actor = await _applicant(api, verified_domains=1)

    response = await _request(api, p, actor)

    assert response.status_code == 200, response.text
    assert response.json()["affiliate_status"] == "approved"
    decision = await _decision(api, p, response.json()["id"])
    openapi.validate_response(
        "getProductPartnerDecision",
        await api.client.get(
            decision_url(p.pid, decision["partnership_id"]), headers=p.owner.headers
        ),
    )
    assert (decision["outcome"], decision["matched_rule"], decision["reason"]) == (
        "approve",
        2,
        None,
    )
    assert decision["answers"] == ANSWERS
    assert decision["facts"]["verified_domains"] == 1
    assert decision["facts"]["business_age_days"] == 30
    assert [r["matched"] for r in decision["rules"]] == [False, False, True]
    approving = decision["rules"][2]["conditions"]
    assert [(c["fact"], c["input"], c["holds"]) for c in approving] == [
        ("partnership_type", "affiliate", True),
        ("verified_domains", 1, True),
        ("answer", ANSWERS["site"], True),
    ]
    assert decision["rules"][1]["conditions"][0]["input"] == 30
    ppid = decision["partnership_id"]
    assert await _events_of(api, ppid) == [
        ("product_partner.requested", "api_key", None, None),
        (
            "product_partner.approved",
            "system",
            None,
            "decided by rule 2 (verified affiliates); trace: getProductPartnerDecision",
        ),
    ]


async def test_reseller_is_left_for_review(api):
    p = await _programme(api)
    actor = await _applicant(api, verified_domains=1)

    response = await _request(api, p, actor, "reseller", {"site": "https://shop.example.com"})

    assert response.status_code == 200, response.text
    assert response.json()["affiliate_status"] == "pending"
    decision = await _decision(api, p, response.json()["id"])
    assert (decision["outcome"], decision["matched_rule"]) == ("review", 3)
    assert decision["rules"][2]["conditions"][0] == {
        "fact": "partnership_type",
        "op": "in",
        "value": ["affiliate", "affiliate_pro"],
        "question_id": None,
        "input": "reseller",
        "holds": False,
    }
    assert [e[0] for e in await _events_of(api, response.json()["id"])] == [
        "product_partner.requested"
    ]


async def test_young_business_is_rejected_with_the_rules_reason(api):
    p = await _programme(api)
    actor = await _applicant(api, age_days=2, verified_domains=1)

    response = await _request(api, p, actor)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["affiliate_status"] == "rejected"
    assert body["rejection_reason"] == REJECT_YOUNG  # the partner reads why
    decision = await _decision(api, p, body["id"])
    assert (decision["outcome"], decision["matched_rule"], decision["reason"]) == (
        "reject",
        1,
        REJECT_YOUNG,
    )
    assert decision["rules"][1]["conditions"][0]["input"] == 2
    assert len(decision["rules"]) == 2  # evaluation stops at the first match
    assert await _events_of(api, body["id"]) == [
        ("product_partner.requested", "api_key", None, None),
        (
            "product_partner.rejected",
            "system",
            REJECT_YOUNG,
            "decided by rule 1 (young business); trace: getProductPartnerDecision",
        ),
    ]


async def test_business_banned_by_other_owners_is_rejected(api):
    p = await _programme(api)
    actor = await _applicant(api, verified_domains=1)
    for _ in range(2):
        other_owner = await api.actor()
        other = await api.product(other_owner)
        await put_partnership(api, other["id"], actor.id, "banned")
    # A ban by the same owner on another of its products is not another owner's.
    own_other = await api.product(p.owner)
    await put_partnership(api, own_other["id"], actor.id, "banned")

    response = await _request(api, p, actor)

    assert response.json()["affiliate_status"] == "rejected", response.text
    decision = await _decision(api, p, response.json()["id"])
    assert (decision["matched_rule"], decision["reason"]) == (0, REJECT_BANNED)
    assert decision["facts"]["banned_by_other_owners"] == 2


async def test_missing_required_answer_is_400_and_saves_nothing(api):
    p = await _programme(api)
    actor = await _applicant(api, verified_domains=1)
    before = await _counts(api, p.pid)

    for answers in (None, {"channel": "blog"}, {"site": "   "}):
        response = await _request(api, p, actor, answers=answers)
        body = assert_error(response, 400, "application_answer_missing")
        assert body["errors"] == {"answers.site": ["is required"]}
        assert "site" in body["message"]

    assert await _counts(api, p.pid) == before


async def test_invalid_answers_are_400_naming_each_question(api):
    p = await _programme(api)
    actor = await _applicant(api)
    cases = [
        ({"site": "https://a.example.com", "channel": "tv"}, "answers.channel"),
        ({"site": "javascript:alert(1)"}, "answers.site"),
        ({"site": "https://a.example.com", "nope": "x"}, "answers.nope"),
        ({"site": "https://a.example.com", "pitch": "x" * 5001}, "answers"),
    ]
    for answers, field in cases:
        response = await _request(api, p, actor, answers=answers)
        body = assert_error(response, 400)
        assert any(name.startswith(field) for name in body["errors"]), body
        if field != "answers":  # too long: the body model refuses it first
            assert body["error_code"] == "application_answer_invalid", body
            assert field.removeprefix("answers.") in body["message"]
    # channel is not asked of resellers: an answer to it is invalid there.
    response = await _request(api, p, actor, "reseller", ANSWERS)
    assert assert_error(response, 400, "application_answer_invalid")["errors"] == {
        "answers.channel": ["is not a question asked of reseller requests"]
    }
    assert (await _counts(api, p.pid))[0] == 0


# --- is_affiliate_auto_accept as the last rule ----------------------------------------------


async def test_auto_accept_still_approves_affiliates_and_comes_after_the_rules(api):
    young_reject = [RULES[1]]
    p = await _programme(api, questions=[], rules=young_reject, is_affiliate_auto_accept=True)

    old = await _request(api, p, await _applicant(api), answers=None)
    reseller = await _request(api, p, await _applicant(api), "reseller", answers=None)
    young = await _request(api, p, await _applicant(api, age_days=0), answers=None)

    assert old.json()["affiliate_status"] == "approved", old.text
    trace = await _decision(api, p, old.json()["id"])
    assert trace["matched_rule"] == "is_affiliate_auto_accept"
    assert [r["index"] for r in trace["rules"]] == [0, None]
    assert reseller.json()["affiliate_status"] == "pending"
    assert (await _decision(api, p, reseller.json()["id"]))["outcome"] == "review"
    assert young.json()["affiliate_status"] == "rejected"
    assert (await _decision(api, p, young.json()["id"]))["matched_rule"] == 0
    events_of_old = await _events_of(api, old.json()["id"])
    assert events_of_old[1][:2] == ("product_partner.approved", "system")
    assert "is_affiliate_auto_accept" in events_of_old[1][3]


async def test_without_rules_or_auto_accept_a_request_waits_with_a_trace(api):
    p = await parties(api, **ALL_TYPES_OPEN)
    response = await _request(api, p, await api.actor(), answers=None)
    assert response.json()["affiliate_status"] == "pending"
    decision = await _decision(api, p, response.json()["id"])
    assert (decision["outcome"], decision["rules"], decision["answers"]) == ("review", [], {})


async def test_a_partner_added_directly_has_no_decision(api, openapi):
    p = await parties(api)
    added = await api.add_partner(p.owner, p.pid, p.partner.unique_id)
    response = await api.client.get(
        decision_url(p.pid, added.json()["id"]), headers=p.owner.headers
    )
    openapi.validate_response("getProductPartnerDecision", response)
    decision = response.json()
    assert decision == {
        "partnership_id": added.json()["id"],
        "product_id": p.pid,
        "affiliate_status": "approved",
        "decided_at": None,
        "answers": {},
        "outcome": None,
        "reason": None,
        "matched_rule": None,
        "facts": {},
        "rules": [],
    }


# --- validation of questions and rules -----------------------------------------------------


async def test_questions_get_stable_ids_and_partners_see_questions_not_rules(api):
    p = await _programme(api)
    unnamed = [{"label": "Audience size", "kind": "short_text"}, *QUESTIONS]
    response = await api.client.patch(
        settings_url(p.pid), json={"application_questions": unnamed}, headers=p.owner.headers
    )
    saved = response.json()["application_questions"]
    generated = saved[0]["id"]
    assert generated.startswith("q_") and saved[1]["id"] == "site"
    assert saved[0]["partnership_types"] == ["affiliate", "affiliate_pro", "reseller"]
    relabelled = [{**saved[0], "label": "Audience size (followers)"}, *saved[1:]]
    again = await api.client.patch(
        settings_url(p.pid), json={"application_questions": relabelled}, headers=p.owner.headers
    )
    assert again.json()["application_questions"][0]["id"] == generated
    assert again.json()["application_questions"][0]["label"] == "Audience size (followers)"

    partner = await _applicant(api, verified_domains=1)
    await _request(api, p, partner, answers={**ANSWERS, generated: "12000"})
    listed = await api.client.get(
        "/v3/products", params={"is_owned": "false"}, headers=partner.headers
    )
    (product,) = listed.json()["data"]
    assert product["application_questions"] == again.json()["application_questions"]
    assert "partnership_rules" not in product


async def _rules_saved(api, p):
    response = await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)
    return response.json()["partnership_rules"]


async def test_invalid_questions_and_rules_are_400_and_change_nothing(api):
    p = await _programme(api)
    saved = await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)
    q = {"label": "Q", "kind": "short_text"}
    rule = {"name": "r", "conditions": [], "outcome": "review"}
    bad = [
        ({"application_questions": [q] * 21}, "validation_error"),
        ({"application_questions": [{**q, "kind": "single_choice"}]}, "validation_error"),
        (
            {"application_questions": [{**q, "kind": "single_choice", "options": ["a", "a"]}]},
            "validation_error",
        ),
        ({"application_questions": [{**q, "options": ["a", "b"]}]}, "validation_error"),
        ({"application_questions": [{**q, "kind": "essay"}]}, "validation_error"),
        ({"application_questions": [{**q, "id": "x"}, {**q, "id": "x"}]}, "validation_error"),
        ({"application_questions": [{**q, "id": "Bad Id"}]}, "validation_error"),
        ({"partnership_rules": [rule] * 21}, "validation_error"),
        (
            {
                "partnership_rules": [
                    {**rule, "conditions": [{"fact": "karma", "op": "eq", "value": 1}]}
                ]
            },
            "validation_error",
        ),
        (
            {
                "partnership_rules": [
                    {**rule, "conditions": [{"fact": "active_stores", "op": "in", "value": [1]}]}
                ]
            },
            "validation_error",
        ),
        (
            {
                "partnership_rules": [
                    {
                        **rule,
                        "conditions": [{"fact": "partnership_type", "op": "eq", "value": "vip"}],
                    }
                ]
            },
            "validation_error",
        ),
        ({"partnership_rules": [{**rule, "outcome": "reject"}]}, "validation_error"),
        ({"partnership_rules": [{**rule, "reason": "why"}]}, "validation_error"),
        (
            {
                "partnership_rules": [
                    {
                        **rule,
                        "conditions": [
                            {
                                "fact": "answer",
                                "question_id": "ghost",
                                "op": "answered",
                                "value": True,
                            }
                        ],
                    }
                ]
            },
            "rule_question_unknown",
        ),
        # Dropping a question a saved rule looks at (rule 2 looks at "site").
        ({"application_questions": QUESTIONS[1:]}, "rule_question_unknown"),
    ]
    for body, code in bad:
        for url in (settings_url(p.pid), f"/v3/products/{p.pid}/partnership/check-changes"):
            response = await api.client.request(
                "PATCH" if url.endswith("partnership") else "POST",
                url,
                json=body,
                headers=p.owner.headers,
            )
            error = assert_error(response, 400, code)
            assert error["errors"], error
    unknown = await api.client.patch(settings_url(p.pid), json=bad[-2][0], headers=p.owner.headers)
    assert list(assert_error(unknown, 400)["errors"]) == [
        "partnership_rules.0.conditions.0.question_id"
    ]
    after = await api.client.get(f"/v3/products/{p.pid}", headers=p.owner.headers)
    assert after.json() == saved.json()


# --- the dry run over the queue -------------------------------------------------------------


async def test_preview_over_the_pending_queue_saves_nothing(api, openapi):
    p = await _programme(api, rules=[])  # no rules yet: every request waits
    verified = await _applicant(api, verified_domains=1)
    young = await _applicant(api, age_days=1, verified_domains=1)
    reseller = await _applicant(api)
    ids = []
    for actor, ptype in ((verified, "affiliate"), (young, "affiliate"), (reseller, "reseller")):
        response = await _request(api, p, actor, ptype, {"site": "https://x.example.com"})
        assert response.json()["affiliate_status"] == "pending", response.text
        ids.append(response.json()["id"])
    before = await _counts(api, p.pid)

    response = await api.client.post(
        preview_url(p.pid), json={"partnership_rules": RULES}, headers=p.owner.headers
    )

    openapi.validate_response("previewProductPartnershipRules", response)
    preview = response.json()
    assert preview["rules"] == "proposed" and preview["has_more"] is False
    assert [(i["partnership_id"], i["outcome"], i["matched_rule"]) for i in preview["data"]] == [
        (ids[0], "approve", 2),
        (ids[1], "reject", 1),
        (ids[2], "review", 3),
    ]
    assert preview["data"][1]["reason"] == REJECT_YOUNG
    assert preview["summary"] == {"approve": 1, "reject": 1, "review": 1}
    # One at a time: the cursor pages through the queue.
    first = await api.client.post(
        preview_url(p.pid),
        params={"limit": 1},
        json={"partnership_rules": RULES},
        headers=p.owner.headers,
    )
    assert first.json()["has_more"] is True and first.json()["next_after_id"] == ids[0]
    rest = await api.client.post(
        preview_url(p.pid),
        params={"limit": 5, "after_id": ids[0]},
        json={"partnership_rules": RULES},
        headers=p.owner.headers,
    )
    assert [i["partnership_id"] for i in rest.json()["data"]] == ids[1:]
    # The saved rules (none): all stay.
    saved = await api.client.post(preview_url(p.pid), headers=p.owner.headers)
    assert saved.json()["rules"] == "saved" and saved.json()["summary"]["review"] == 3
    too_many = await api.client.post(
        preview_url(p.pid), params={"limit": 501}, headers=p.owner.headers
    )
    assert_error(too_many, 400)
    # checkProductPartnershipChanges previews the same counts.
    check = await api.client.post(
        f"/v3/products/{p.pid}/partnership/check-changes",
        json={"partnership_rules": RULES},
        headers=p.owner.headers,
    )
    openapi.validate_response("checkProductPartnershipChanges", check)
    assert check.json()["pending_requests_by_rules"] == {
        "evaluated": 3,
        "approve": 1,
        "reject": 1,
        "review": 1,
    }
    assert "partnership_rules" in check.json()["changes"]

    assert await _counts(api, p.pid) == before
    for ppid in ids:
        assert (await db_state(api, ppid)).affiliate_status == "pending"
    assert await _rules_saved(api, p) == []


# --- tenant isolation -----------------------------------------------------------------------


async def test_decisions_and_previews_are_the_owners_alone(api):
    p = await _programme(api)
    partner = await _applicant(api, verified_domains=1)
    ppid = (await _request(api, p, partner)).json()["id"]
    stranger = await api.actor()
    for who in (stranger, partner):
        response = await api.client.get(decision_url(p.pid, ppid), headers=who.headers)
        body = assert_error(response, 404, "partner_not_found")
        assert ANSWERS["site"] not in response.text and body["errors"] == {}
        preview = await api.client.post(preview_url(p.pid), headers=who.headers)
        assert_error(preview, 404, "product_not_found")
    # Another owner's product with the same partnership id: not found either.
    theirs = await api.product(stranger)
    response = await api.client.get(decision_url(theirs["id"], ppid), headers=stranger.headers)
    assert_error(response, 404, "partner_not_found")
    assert (await _decision(api, p, ppid))["outcome"] == "approve"


async def test_a_request_again_after_a_rule_rejection_replaces_the_decision(api):
    p = await _programme(api)
    actor = await _applicant(api, age_days=1)
    first = await _request(api, p, actor)
    assert first.json()["affiliate_status"] == "rejected", first.text
    cleared = await api.client.patch(
        settings_url(p.pid), json={"partnership_rules": []}, headers=p.owner.headers
    )
    assert cleared.status_code == 200, cleared.text

    again = await _request(api, p, actor, answers={"site": "https://again.example.com"})

    assert again.json()["id"] == first.json()["id"]
    assert again.json()["affiliate_status"] == "pending"
    decision = await _decision(api, p, first.json()["id"])
    assert (decision["outcome"], decision["rules"]) == ("review", [])
    assert decision["answers"] == {"site": "https://again.example.com"}
    assert (await _counts(api, p.pid))[1] == 1  # one decision per partnership


async def test_the_export_carries_each_requests_answers_and_decision(api):
    p = await _programme(api)
    young = await _applicant(api, age_days=1)
    ppid = (await _request(api, p, young)).json()["id"]
    added = (await api.add_partner(p.owner, p.pid, f"added-{uuid.uuid4().hex[:8]}")).json()["id"]
    response = await api.client.get(
        f"/v3/products/{p.pid}/partners/export?format=jsonl", headers=p.owner.headers
    )
    assert response.status_code == 200, response.text
    rows = {r["id"]: r for r in map(json.loads, response.text.splitlines())}
    assert rows[ppid]["answers"] == ANSWERS
    assert rows[ppid]["decision_outcome"] == "reject"
    trace = await _decision(api, p, ppid)
    assert rows[ppid]["decision_trace"]["matched_rule"] == trace["matched_rule"] == 1
    assert [r["name"] for r in rows[ppid]["decision_trace"]["rules"]] == [
        r["name"] for r in trace["rules"]
    ]
    # An added partnership was never decided: its decision columns are empty.
    assert (rows[added]["answers"], rows[added]["decision_outcome"]) == (None, None)
