"""``product-partners partners ...``: list, approve, reject, ban, unban as the owner business."""

import asyncio
import json

from tests.support.lifecycle import db_state, parties, put_partnership
from tests.support.servers import run_cli


async def cli(database_url: str, *args: str):
    return await asyncio.to_thread(run_cli, database_url, "partners", *args)


def as_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one JSON document


async def test_list_prints_a_table_for_people_and_json_for_scripts(api, database_url):
    p = await parties(api)
    pending = await put_partnership(
        api, p.pid, p.partner.id, "pending", message_to_product_owner="Coffee blog, 20k readers"
    )
    other = await api.business()
    banned = await put_partnership(api, p.pid, other["id"], "banned", ban_note="fake reviews")
    who = ("--product", str(p.pid), "--business", p.owner.unique_id)

    table = await cli(database_url, "list", *who)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "PARTNER", "TYPE", "STATUS", "REQUESTED", "DECIDED", "NOTE"]
    assert lines[1].startswith(str(banned)) and "spam: fake reviews" in lines[1]
    assert lines[2].startswith(str(pending)) and "Coffee blog, 20k readers" in lines[2]
    assert p.partner.unique_id in lines[2] and "pending" in lines[2]

    body = as_json(await cli(database_url, "list", *who, "--status", "pending", "--json"))
    assert [i["id"] for i in body["data"]] == [pending] and body["is_paginated"] is True

    paged = as_json(await cli(database_url, "list", *who, "--page-size", "1", "--json"))
    assert paged["has_next"] is True
    rest = as_json(
        await cli(database_url, "list", *who, "--json", "--next-cursor", paged["next_cursor"])
    )
    assert [i["id"] for i in paged["data"] + rest["data"]] == [banned, pending]


async def test_approve_reject_ban_unban(api, database_url):
    p = await parties(api)
    who = ("--product", str(p.pid), "--business", p.owner.unique_id)
    first = await put_partnership(api, p.pid, p.partner.id, "pending")
    second = await put_partnership(api, p.pid, (await api.business())["id"], "pending")

    approved = as_json(await cli(database_url, "approve", str(first), *who, "--json"))
    assert approved["affiliate_status"] == "approved" and approved["approved_at"]

    rejected = await cli(database_url, "reject", str(second), *who, "--reason", "Not a fit")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    assert "Not a fit" in rejected.stdout

    banned = as_json(
        await cli(
            database_url, "ban", str(first), *who, "--reason", "fraud", "--note", "x", "--json"
        )
    )
    assert (banned["ban_reason"], banned["ban_note"]) == ("fraud", "x")
    unbanned = as_json(await cli(database_url, "unban", str(first), *who, "--json"))
    assert unbanned["affiliate_status"] == "rejected"


async def test_errors_go_to_stderr_with_a_nonzero_exit(api, database_url):
    p = await parties(api)
    ppid = await put_partnership(api, p.pid, p.partner.id, "approved")
    who = ("--product", str(p.pid), "--business", p.owner.unique_id)

    refused = await cli(database_url, "reject", str(ppid), *who, "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "it is approved" in refused.stderr and "invalid_transition" in refused.stderr

    stale = await cli(database_url, "approve", str(ppid), *who, "--if-match", '"7"')
    assert stale.returncode == 1 and "precondition_failed" in stale.stderr

    not_owner = await cli(
        database_url, "approve", str(ppid), "--product", str(p.pid), "--business",
        p.partner.unique_id,
    )  # fmt: skip
    assert not_owner.returncode == 1 and "partner_not_found" in not_owner.stderr
    unknown = await cli(database_url, "list", "--product", str(p.pid), "--business", "nobody-x")
    assert unknown.returncode == 1 and "business_not_found" in unknown.stderr
    bad_reason = await cli(database_url, "ban", str(ppid), *who, "--reason", "meh")
    assert bad_reason.returncode == 2 and bad_reason.stdout == ""
    assert (await db_state(api, ppid)).affiliate_status == "approved"
