"""If-Match is bounded: at most MAX_IF_MATCH_TAGS tags, 400 ``too_many_etags`` beyond, found
without reading the rest of the header (it once gave a false 503 past 32,767 tags and a 3.5 MB
list held a worker for seconds)."""

import time

import pytest

from product_partners.partnerships.errors import TooManyEtags
from product_partners.partnerships.etags import MAX_IF_MATCH_TAGS, parse_if_match
from tests.support.api import assert_error
from tests.support.lifecycle import db_state, parties, put_partnership
from tests.support.servers import run_cli


def tags(n: int, start: int = 1) -> str:
    return ", ".join(f'"{v}"' for v in range(start, start + n))


def test_parse_accepts_the_limit_and_refuses_one_more():
    assert parse_if_match(tags(MAX_IF_MATCH_TAGS)) == list(range(1, MAX_IF_MATCH_TAGS + 1))
    with pytest.raises(TooManyEtags):
        parse_if_match(tags(MAX_IF_MATCH_TAGS + 1))


def test_a_huge_list_is_refused_without_splitting_it():
    header = tags(500_000)  # ~5 MB
    started = time.perf_counter()
    with pytest.raises(TooManyEtags):
        parse_if_match(header)
    # Generous: splitting and parsing the whole list took seconds.
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("POST", "approve", None),
        ("PATCH", "", {"partnership_type": "reseller"}),
        ("DELETE", "", None),
    ],
)
async def test_too_many_tags_are_400_naming_the_header_and_change_nothing(
    api, openapi, method, action, body
):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")

    for count in (MAX_IF_MATCH_TAGS + 1, 40_000):
        headers = {**p.owner.headers, "If-Match": tags(count)}
        response = await api.client.request(
            method, p.partner_url(ppid, action), json=body, headers=headers
        )
        error = assert_error(response, 400, "too_many_etags")
        assert list(error["errors"]) == ["If-Match"]
    assert tuple(await db_state(api, ppid))[:2] == ("pending", 1)

    # The limit itself is a precondition like any other.
    headers = {**p.owner.headers, "If-Match": tags(MAX_IF_MATCH_TAGS)}
    response = await api.client.request(
        method, p.partner_url(ppid, action), json=body, headers=headers
    )
    assert response.status_code in (200, 204), response.text


async def test_the_partner_side_refuses_alike(api):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    headers = {**p.partner.headers, "If-Match": tags(MAX_IF_MATCH_TAGS + 1)}
    response = await api.client.post(f"/v3/partnerships/{ppid}/withdraw", headers=headers)
    assert_error(response, 400, "too_many_etags")
    assert tuple(await db_state(api, ppid))[:2] == ("pending", 1)


async def test_the_cli_refuses_too_many_tags_in_one_line(api, database_url):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "pending")
    result = run_cli(
        database_url, "partners", "approve", str(ppid), "--product", str(p.pid),
        "--business", p.owner.unique_id, "--if-match", tags(MAX_IF_MATCH_TAGS + 1),
    )  # fmt: skip
    assert result.returncode != 0 and result.stdout == ""
    assert "entity tags" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert tuple(await db_state(api, ppid))[:2] == ("pending", 1)
