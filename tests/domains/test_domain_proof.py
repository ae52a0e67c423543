"""Domains need proof: a claim blocks nobody, the first to publish its token in DNS holds the
name, lapsed claims vanish, and one name has one spelling (UTS #46 non-transitional).

The app's resolver asks the test's DNS server on loopback (``loopback_dns``)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from product_partners.db.tables import custom_domains
from product_partners.domains.hostnames import normalize_hostname
from product_partners.domains.proof import MAX_LOOKUPS_IN_FLIGHT
from product_partners.domains.service import purge_lapsed, set_verified
from product_partners.settings import Settings, describe_settings_error
from tests.support.api import assert_error
from tests.support.stores import domain, host, store


def publish(loopback_dns, claim: dict, *extra: str) -> None:
    """Put the claim's token (and ``extra`` values) in the TXT record it names."""
    v = claim["verification"]
    assert v["record_type"] == "TXT"
    loopback_dns.txt.setdefault(v["record_name"], []).extend([v["record_value"], *extra])


async def verify(api, actor, claim: dict):
    return await api.client.post(f"/v3/custom-domains/{claim['id']}/verify", headers=actor.headers)


async def claim_of(api, actor, name: str) -> dict:
    return await domain(api, actor, name)


async def test_a_claim_shows_the_record_that_proves_it(api, openapi, settings):
    owner = await api.actor()
    name = host()
    claim = await claim_of(api, owner, name)
    assert claim["is_verified"] is False
    assert claim["verification"]["record_name"] == f"_product-partners.{name}"
    assert len(claim["verification"]["record_value"]) >= 32
    expires = datetime.fromisoformat(claim["claim_expires_at"])
    created = datetime.fromisoformat(claim["created_at"])
    assert abs(expires - created - settings.domain_claim_ttl) < timedelta(minutes=1)
    # Each claim has its own token, even of the same name.
    other = await claim_of(api, await api.actor(), name)
    assert other["verification"]["record_value"] != claim["verification"]["record_value"]


async def test_squatting_a_name_blocks_nobody_and_the_proven_owner_holds_it(
    api, openapi, loopback_dns
):
    """The finding: anyone registered www.paypal.com and the real owner got 409."""
    squatter, real = await api.actor(), await api.actor()
    name = f"www.paypal-{uuid.uuid4().hex[:8]}.example"
    squat = await claim_of(api, squatter, name)
    claim = await claim_of(api, real, name)  # not 409: an unverified claim blocks nothing
    # The squatter cannot prove it: the record carries the real owner's token only.
    publish(loopback_dns, claim)
    refused = await verify(api, squatter, squat)
    assert_error(refused, 422, "domain_proof_not_found")
    openapi.validate_response("verifyCustomDomain", refused)

    verified = await verify(api, real, claim)
    assert verified.status_code == 200, verified.text
    openapi.validate_response("verifyCustomDomain", verified)
    body = verified.json()
    assert body["is_verified"] is True
    assert body["verification"] is None and body["claim_expires_at"] is None
    # The losing claim is gone, and nobody can claim the name while it is held.
    gone = await api.client.get(f"/v3/custom-domains/{squat['id']}", headers=squatter.headers)
    assert_error(gone, 404, "custom_domain_not_found")
    for actor, spelling in ((squatter, name), (await api.actor(), name.upper() + ".")):
        again = await api.client.post(
            "/v3/custom-domains", json={"full_url": spelling}, headers=actor.headers
        )
        assert_error(again, 409, "domain_taken")
    # Verifying again changes nothing.
    assert (await verify(api, real, claim)).json() == body


async def test_a_missing_or_wrong_record_says_what_was_expected(api, openapi, loopback_dns):
    owner = await api.actor()
    claim = await claim_of(api, owner, host())
    v = claim["verification"]
    missing = await verify(api, owner, claim)
    body = assert_error(missing, 422, "domain_proof_not_found")
    assert v["record_name"] in body["message"] and v["record_value"] in body["message"]
    assert "no TXT record" in body["message"]
    assert body["errors"] == {
        "verification": [f"expected TXT {v['record_name']} = {v['record_value']}"]
    }

    loopback_dns.txt[v["record_name"]] = ["v=spf1 -all", v["record_value"][:-1]]
    wrong = await verify(api, owner, claim)
    assert "2 other TXT value(s)" in assert_error(wrong, 422, "domain_proof_not_found")["message"]
    after = await api.client.get(f"/v3/custom-domains/{claim['id']}", headers=owner.headers)
    assert after.json()["is_verified"] is False

    loopback_dns.txt[v["record_name"]].append(v["record_value"])  # among other records
    assert (await verify(api, owner, claim)).json()["is_verified"] is True


async def test_a_dns_failure_is_503_and_changes_nothing(api, openapi, loopback_dns):
    owner = await api.actor()
    claim = await claim_of(api, owner, host())
    loopback_dns.silent.add(claim["verification"]["record_name"])
    response = await verify(api, owner, claim)
    assert "no answer" in assert_error(response, 503, "dns_lookup_failed")["message"]
    openapi.validate_response("verifyCustomDomain", response)
    after = await api.client.get(f"/v3/custom-domains/{claim['id']}", headers=owner.headers)
    assert after.json()["is_verified"] is False


async def test_silent_name_servers_hold_a_bounded_number_of_requests(api, loopback_dns):
    """A business controls its names' servers: lookups that never end must not pile up (each
    request holds a database connection while DNS answers)."""
    owner = await api.actor()
    claims = [await claim_of(api, owner, host("silent")) for _ in range(MAX_LOOKUPS_IN_FLIGHT + 2)]
    for c in claims:
        loopback_dns.silent.add(c["verification"]["record_name"])
    responses = await asyncio.gather(*(verify(api, owner, c) for c in claims))
    messages = [assert_error(r, 503, "dns_lookup_failed")["message"] for r in responses]
    waited = [m for m in messages if "no answer" in m]
    assert 1 <= len(waited) <= MAX_LOOKUPS_IN_FLIGHT
    assert sum("too many lookups" in m for m in messages) == len(messages) - len(waited)


async def test_concurrent_proofs_of_one_name_have_one_winner(api, loopback_dns):
    for _ in range(3):
        name = host("race")
        actors = [await api.actor() for _ in range(3)]
        claims = [await claim_of(api, a, name) for a in actors]
        for c in claims:  # every claimant publishes its token: each proof is valid
            publish(loopback_dns, c)
        responses = await asyncio.gather(
            *(verify(api, a, c) for a, c in zip(actors, claims, strict=True))
        )
        assert sorted(r.status_code for r in responses)[0] == 200, [r.text for r in responses]
        for r in sorted(responses, key=lambda r: r.status_code)[1:]:
            # A loser that raced the winner is told the name is taken; one that came after
            # finds its claim deleted with the other losing claims.
            if r.status_code == 409:
                assert_error(r, 409, "domain_taken")
            else:
                assert_error(r, 404, "custom_domain_not_found")
        async with api.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(custom_domains.c.is_verified).where(custom_domains.c.full_url == name)
                )
            ).all()
        assert [bool(r.is_verified) for r in rows] == [True]


async def test_the_operator_verifies_too_and_cannot_give_a_held_name_twice(api):
    first, second = await api.actor(), await api.actor()
    name = host("operator")
    a = await claim_of(api, first, name)
    b = await claim_of(api, second, name)
    async with api.engine.connect() as conn:
        assert (await set_verified(conn, a["id"]))["is_verified"] is True
        with pytest.raises(Exception) as refused:
            await set_verified(conn, b["id"])
    # The rival claim was dropped when the first was verified: nothing left to verify.
    assert getattr(refused.value, "error_code", None) == "custom_domain_not_found"


async def _lapse(api, claim: dict) -> None:
    async with api.engine.connect() as conn:
        await conn.execute(
            update(custom_domains)
            .where(custom_domains.c.id == claim["id"])
            .values(claim_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await conn.commit()


async def _count(api, name: str) -> int:
    async with api.engine.connect() as conn:
        stmt = select(func.count()).where(custom_domains.c.full_url == name)
        return (await conn.execute(stmt)).scalar_one()


async def test_a_lapsed_claim_is_not_shown_cannot_be_verified_and_is_purged(
    api, openapi, loopback_dns
):
    owner = await api.actor()
    name = host("lapsed")
    claim = await claim_of(api, owner, name)
    used_by = await store(api, owner, custom_domain_id=claim["id"])
    assert used_by["custom_domain"]["full_url"] == name
    publish(loopback_dns, claim)
    await _lapse(api, claim)

    got = await api.client.get(f"/v3/custom-domains/{claim['id']}", headers=owner.headers)
    assert_error(got, 404, "custom_domain_not_found")
    its_store = await api.client.get(f"/v3/stores/{used_by['id']}", headers=owner.headers)
    assert its_store.json()["custom_domain"] is None
    listed = await api.client.get("/v3/custom-domains", headers=owner.headers)
    assert claim["id"] not in [d["id"] for d in listed.json()["data"]]
    refused = await verify(api, owner, claim)
    assert_error(refused, 404, "custom_domain_not_found")
    openapi.validate_response("verifyCustomDomain", refused)
    async with api.engine.connect() as conn:
        with pytest.raises(Exception) as by_operator:
            await set_verified(conn, claim["id"])
    assert getattr(by_operator.value, "error_code", None) == "custom_domain_not_found"

    # The next claim of any name deletes it; the operator's purge does the same on demand.
    assert await _count(api, name) == 1
    await claim_of(api, await api.actor(), host("next"))
    assert await _count(api, name) == 0
    again = await claim_of(api, owner, name)  # the name is free to claim again
    await _lapse(api, again)
    async with api.engine.connect() as conn:
        assert await purge_lapsed(conn) >= 1
    assert await _count(api, name) == 0


async def test_unverifying_makes_a_claim_again_that_others_may_race_for(api, loopback_dns):
    owner, other = await api.actor(), await api.actor()
    name = host("undo")
    claim = await domain(api, owner, name, verified=True)
    assert_error(
        await api.client.post("/v3/custom-domains", json={"full_url": name}, headers=other.headers),
        409,
        "domain_taken",
    )
    async with api.engine.connect() as conn:
        undone = await set_verified(conn, claim["id"], verified=False)
    assert undone["is_verified"] is False and undone["claim_expires_at"] is not None
    assert undone["verification"]["record_value"]
    rival = await claim_of(api, other, name)
    publish(loopback_dns, rival)
    assert (await verify(api, other, rival)).json()["is_verified"] is True


# --- one name, one spelling: UTS #46 non-transitional -----------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("faß.example", "xn--fa-hia.example"),
        ("FAß.EXAMPLE.", "xn--fa-hia.example"),
        ("ｆａß．ｅｘａｍｐｌｅ", "xn--fa-hia.example"),  # full-width letters and dot
        ("ｆａß．ｅｘａｍｐｌｅ．", "xn--fa-hia.example"),  # and a full-width final dot
        ("XN--FA-HIA.example", "xn--fa-hia.example"),  # the A-label
        ("fass.example", "fass.example"),  # non-transitional: ß is not ss
        ("FASS.Example.", "fass.example"),
        ("shop\u3002example\u3002", "shop.example"),  # ideographic full stops
    ],
)
def test_uts46_non_transitional_spellings(spelling, canonical):
    assert normalize_hostname(spelling) == canonical


async def test_fass_and_fass_with_sharp_s_are_two_domains_each_with_one_spelling(api):
    owner = await api.actor()
    tag = uuid.uuid4().hex[:8]
    sharp = await claim_of(api, owner, f"faß-{tag}.example")
    plain = await claim_of(api, owner, f"fass-{tag}.example")
    assert sharp["full_url"] != plain["full_url"]
    assert sharp["full_url"] == normalize_hostname(f"faß-{tag}.example").lower()
    for spelling in (
        f"FAß-{tag}.EXAMPLE.",
        f"ｆａß-{tag}．ｅｘａｍｐｌｅ",
        sharp["full_url"].upper(),
        f"https://faß-{tag}.example/",
    ):
        again = await api.client.post(
            "/v3/custom-domains", json={"full_url": spelling}, headers=owner.headers
        )
        assert_error(again, 409, "domain_taken")


async def test_the_database_keeps_one_verified_holder_per_name(api):
    """The last line of defence, whatever the code above it does: a partial unique index."""
    name = host("index")
    a = await domain(api, await api.actor(), name, verified=True)
    b_owner = await api.actor()
    async with api.engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(
                insert(custom_domains).values(
                    business_id=b_owner.id, full_url=name, is_verified=True
                )
            )
        await conn.rollback()
    assert a["is_verified"] is True


# --- the settings ------------------------------------------------------------------------------


def test_dns_settings_are_read_and_a_wrong_one_is_named():
    s = Settings(dns_nameservers=" 127.0.0.1:5353, [::1]:53 ,192.0.2.1", domain_claim_ttl="P2D")
    assert s.nameservers == [("127.0.0.1", 5353), ("::1", 53), ("192.0.2.1", 53)]
    assert s.domain_claim_ttl == timedelta(days=2)
    assert Settings().nameservers == []  # the system resolver
    for field, value in (
        ("dns_nameservers", "ns1.example.com"),
        ("dns_nameservers", "127.0.0.1:70000"),
        ("domain_claim_ttl", "0"),
        ("dns_timeout", "0"),
    ):
        with pytest.raises(ValidationError) as exc:
            Settings(**{field: value})
        line = describe_settings_error(exc.value)
        assert line.startswith(f"invalid setting: {field.upper()}=") and "accepted:" in line
