"""``product-partners partners export|import``: the API's export and import from the command
line, as the owner business."""

import asyncio
import csv
import io
import json

from product_partners.partnerships import export
from tests.support.api import unique
from tests.support.lifecycle import parties, put_partnership
from tests.support.servers import run_cli


async def cli(database_url: str, *args: str):
    return await asyncio.to_thread(run_cli, database_url, "partners", *args)


async def test_export_to_a_file_and_to_stdout(api, database_url, tmp_path):
    p = await parties(api)
    ids = [await put_partnership(api, p.pid, p.partner.id, "pending")]
    ids.append(await put_partnership(api, p.pid, (await api.business())["id"], "approved"))
    second = await api.product(p.owner, name="Second")
    ids.append(await put_partnership(api, second["id"], p.partner.id, "approved"))
    other = await parties(api)
    await put_partnership(api, other.pid, other.partner.id, "approved")

    target = tmp_path / "partners.csv"
    who = ("--business", p.owner.unique_id)
    result = await cli(
        database_url, "export", *who, "--product", str(p.pid), "--output", str(target)
    )
    assert result.returncode == 0 and result.stdout == "", result.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(), newline="")))
    assert tuple(rows[0]) == export.COLUMN_NAMES
    assert [int(r["id"]) for r in rows] == ids[:2]

    every = await cli(database_url, "export", *who, "--format", "jsonl")
    assert every.returncode == 0, every.stderr
    lines = [json.loads(line) for line in every.stdout.splitlines()]
    assert [r["id"] for r in lines] == ids  # all the owner's products, none of another's

    refused = await cli(database_url, "export", *who, "--product", str(other.pid))
    assert refused.returncode == 1 and "product_not_found" in refused.stderr


async def test_import_prints_each_row_and_a_second_run_adds_nothing(api, database_url, tmp_path):
    p = await parties(api)
    fresh, known = await api.actor(), await api.actor()
    await put_partnership(api, p.pid, known.id, "pending")
    source = tmp_path / "partners.csv"
    source.write_text(
        "partner_unique_id,tags\n"
        f"{fresh.unique_id},vip\n"
        f"{unique('nobody')},\n"
        f"{known.unique_id},\n"
        f"{p.owner.unique_id},\n"
    )
    who = ("--product", str(p.pid), "--business", p.owner.unique_id)

    first = await cli(database_url, "import", *who, str(source))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith(f"line 2: added {fresh.unique_id} (partnership ")
    assert lines[1].startswith("line 3: added ")
    assert lines[2].startswith(f"line 4: already_partner {known.unique_id}")
    assert lines[2].endswith(", pending)")
    assert lines[3].startswith(f"line 5: invalid {p.owner.unique_id}: self_partnership: ")
    assert lines[4] == "2 added, 1 already_partner, 1 invalid"

    second = await cli(database_url, "import", *who, str(source), "--json")
    body = json.loads(second.stdout)
    assert (body["added"], body["already_partner"], body["invalid"]) == (0, 3, 1)
    assert body["ignored_columns"] == []

    listed = await cli(database_url, "list", *who, "--json")
    assert len(json.loads(listed.stdout)["data"]) == 3

    source.write_text("unique_id\nabc\n")
    broken = await cli(database_url, "import", *who, str(source))
    assert broken.returncode == 1 and "import_file_invalid" in broken.stderr
