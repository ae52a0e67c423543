"""exportProductPartners / exportAllProductPartners and importProductPartners: the file parses
back to the owner's view of every row and of no other owner's, batch by batch; an import
answers per row, runs every row through the add, and a second run adds nothing."""

import csv
import io
import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, insert, select

from product_partners.app import create_app
from product_partners.db.tables import events, product_partners
from product_partners.kit.jsonutil import dumps
from product_partners.partnerships import export
from product_partners.partnerships.importer import MAX_IMPORT_ROWS
from tests.support.api import assert_error, unique
from tests.support.lifecycle import parties, put_partnership

CSV = {"Content-Type": "text/csv"}


def _export_url(pid: int | None, fmt: str) -> str:
    base = f"/v3/products/{pid}/partners/export" if pid else "/v3/product-partners/export"
    return f"{base}?format={fmt}"


def _import_url(pid: int) -> str:
    return f"/v3/products/{pid}/partners/import"


def _jsonl(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def _csv(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text, newline=""))
    assert tuple(reader.fieldnames or ()) == export.COLUMN_NAMES
    return list(reader)


async def _list_all(api, owner, pid) -> list[dict]:
    """Every item of listProductPartners, page by page (as JSON text would give them)."""
    items, cursor = [], None
    while True:
        params = {"next_cursor": cursor} if cursor else {}
        response = await api.client.get(
            f"/v3/products/{pid}/partners", params=params, headers=owner.headers
        )
        body = response.json()
        items += body["data"]
        if not body["has_next"]:
            return items
        cursor = body["next_cursor"]


def _as_exported(item: dict) -> dict:
    """The list's body of a partnership as the export renders it (JSON round trip)."""
    return json.loads(dumps(export.export_row(item)))


async def _seed_named(api, pid: int, n: int) -> None:
    """``n`` approved partnerships of ``pid`` naming unique ids no business has."""
    now = datetime.now(UTC)
    prefix = unique("named")
    rows = [
        {
            "product_id": pid,
            "partner_unique_id": f"{prefix}-{i}",
            "partnership_type": "affiliate",
            "affiliate_status": "approved",
            "approved_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    async with api.engine.connect() as conn:
        await conn.execute(insert(product_partners), rows)
        if conn.in_transaction():
            await conn.commit()


async def _mixed(api):
    """An owner's product with partners in every status (one affiliate_pro), and another
    owner's product with a partner of its own."""
    p = await parties(api, is_affiliate_pro_enabled=True)
    ids = [await put_partnership(api, p.pid, p.partner.id, "approved", "affiliate_pro")]
    for status in ("pending", "rejected", "banned"):
        ids.append(await put_partnership(api, p.pid, (await api.business())["id"], status))
    added = await api.add_partner(p.owner, p.pid, unique("unknown"))
    ids.append(added.json()["id"])
    other = await parties(api)
    foreign = await put_partnership(api, other.pid, other.partner.id, "approved")
    return p, ids, other, foreign


async def test_export_csv_and_jsonl_are_the_owners_view_of_every_row(api):
    p, ids, other, foreign = await _mixed(api)
    listed = {item["id"]: _as_exported(item) for item in await _list_all(api, p.owner, p.pid)}
    assert set(listed) == set(ids)

    response = await api.client.get(_export_url(p.pid, "jsonl"), headers=p.owner.headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="product-{p.pid}-partners.jsonl"'
    )
    lines = _jsonl(response)
    assert [row["id"] for row in lines] == sorted(ids)  # id order
    assert {row["id"]: row for row in lines} == listed
    assert all(list(row) == list(export.COLUMN_NAMES) for row in lines)

    rows = _csv(await api.client.get(_export_url(p.pid, "csv"), headers=p.owner.headers))
    assert [int(r["id"]) for r in rows] == sorted(ids)
    for row in rows:
        expected = listed[int(row["id"])]
        assert row["product_id"] == str(p.pid)
        assert row["partner_unique_id"] == expected["partner_unique_id"]
        assert row["affiliate_status"] == expected["affiliate_status"]
        assert row["approved_at"] == (expected["approved_at"] or "")
        assert json.loads(row["custom_domains"]) == expected["custom_domains"]
        assert row["partner_is_banned"] == ("false" if expected["partner_id"] else "")
    # The partner of the affiliate_pro row consented: its contact data is there.
    pro = next(r for r in rows if r["partnership_type"] == "affiliate_pro")
    assert pro["partner_email"] == p.partner.business["email"]
    assert str(foreign) not in {r["id"] for r in rows}


async def test_export_of_all_products_and_tenant_isolation(api):
    p, ids, other, foreign = await _mixed(api)
    second = await api.product(p.owner, name="Second")
    extra = await put_partnership(api, second["id"], p.partner.id, "approved")

    mine = _jsonl(await api.client.get(_export_url(None, "jsonl"), headers=p.owner.headers))
    assert [(r["product_id"], r["id"]) for r in mine] == sorted(
        [(p.pid, i) for i in ids] + [(second["id"], extra)]
    )
    theirs = _csv(await api.client.get(_export_url(None, "csv"), headers=other.owner.headers))
    assert [int(r["id"]) for r in theirs] == [foreign]
    assert p.partner.unique_id not in str(theirs)

    # Another owner's product: 404, as for one that does not exist; a partner is no owner.
    for who in (other.owner, p.partner):
        response = await api.client.get(_export_url(p.pid, "csv"), headers=who.headers)
        assert_error(response, 404, "product_not_found")
    assert_error(await api.client.get(_export_url(p.pid, "xlsx"), headers=p.owner.headers), 400)


async def test_export_in_small_batches_streams_the_same_rows_as_the_list(api, settings, engine):
    p = await parties(api)
    await _seed_named(api, p.pid, 2000)
    await put_partnership(api, p.pid, p.partner.id, "pending")
    listed = {item["id"]: _as_exported(item) for item in await _list_all(api, p.owner, p.pid)}
    assert len(listed) == 2001

    app = create_app(settings.model_copy(update={"export_batch_size": 7}), engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        lines = _jsonl(await client.get(_export_url(p.pid, "jsonl"), headers=p.owner.headers))
        rows = _csv(await client.get(_export_url(p.pid, "csv"), headers=p.owner.headers))
    assert {row["id"]: row for row in lines} == listed and len(lines) == 2001
    assert sorted(int(r["id"]) for r in rows) == sorted(listed)

    # One chunk per batch of 7 (and the header): the body is never built whole.
    async with engine.connect() as conn:
        chunks = [
            chunk
            async for chunk in export.stream(
                conn, p.owner.id, p.pid, export.ExportFormat.csv, "https", batch_size=7
            )
        ]
    assert len(chunks) == 1 + -(-2001 // 7)
    assert max(len(c) for c in chunks) < 7 * 2000


async def _events_created(api) -> int:
    async with api.engine.connect() as conn:
        stmt = select(func.count()).where(events.c.type == "product_partner.created")
        return (await conn.execute(stmt)).scalar_one()


async def test_import_answers_each_row_and_a_second_run_adds_nothing(api):
    p = await parties(api)
    existing = await api.actor()
    ppid = await put_partnership(api, p.pid, existing.id, "pending")
    banned = await api.actor()
    await put_partnership(api, p.pid, banned.id, "banned")
    fresh, unknown = await api.actor(), unique("nobody")
    body = (
        "Partner_Unique_ID,type,status,tags,comment\n"
        f"{fresh.unique_id},affiliate,approved,vip,hello\n"
        f"{unknown},,,,\n"
        f"{existing.unique_id},,,,\n"
        f"{banned.unique_id},,,,\n"
        f"{p.owner.unique_id},,,,\n"
        "not a unique id!,,,,\n"
        ",affiliate,,,\n"
        "\n"
        f"{unique('x')},reseller,,,\n"
        f"{unique('y')},affiliate,pending,,\n"
        f"{fresh.unique_id},,,,\n"
    )
    before = await _events_created(api)
    response = await api.client.post(
        _import_url(p.pid), content=body.encode(), headers={**p.owner.headers, **CSV}
    )
    assert response.status_code == 200, response.text
    first = response.json()
    assert first["ignored_columns"] == ["comment"]
    outcomes = [(r["line"], r["outcome"], r["error_code"]) for r in first["rows"]]
    assert outcomes == [
        (2, "added", None),
        (3, "added", None),  # no business has it: added, as createProductPartner adds it
        (4, "already_partner", None),
        (5, "already_partner", None),
        (6, "invalid", "self_partnership"),
        (7, "invalid", "invalid_partner_unique_id"),
        (8, "invalid", "invalid_partner_unique_id"),  # line 9 is blank: skipped
        (10, "invalid", "invalid_partnership_type"),
        (11, "invalid", "invalid_affiliate_status"),
        (12, "already_partner", None),  # added by line 2
    ]
    assert (first["added"], first["already_partner"], first["invalid"]) == (2, 3, 5)
    rows = first["rows"]
    assert rows[2]["id"] == ppid and rows[2]["affiliate_status"] == "pending"
    assert rows[3]["affiliate_status"] == "banned"
    assert rows[9]["id"] == rows[0]["id"] and rows[0]["affiliate_status"] == "approved"
    assert await _events_created(api) == before + 2  # the add's own event, once per add

    # The partnerships are the add's: approved affiliates naming the unique ids.
    listed = {i["partner"]["unique_id"]: i for i in await _list_all(api, p.owner, p.pid)}
    assert listed[unknown]["affiliate_status"] == "approved"
    assert listed[fresh.unique_id]["partnership_type"] == "affiliate"

    again = await api.client.post(
        _import_url(p.pid), content=body.encode(), headers={**p.owner.headers, **CSV}
    )
    second = again.json()
    assert (second["added"], second["already_partner"], second["invalid"]) == (0, 5, 5)
    assert [r["id"] for r in second["rows"][:2]] == [r["id"] for r in first["rows"][:2]]
    assert [r["outcome"] for r in second["rows"][:2]] == ["already_partner"] * 2
    assert len(await _list_all(api, p.owner, p.pid)) == len(listed)
    assert await _events_created(api) == before + 2


async def test_an_export_file_imports_into_another_product(api):
    p, ids, other, foreign = await _mixed(api)
    target = await api.product(p.owner, name="Target")
    exported = await api.client.get(_export_url(p.pid, "csv"), headers=p.owner.headers)
    response = await api.client.post(
        _import_url(target["id"]), content=exported.content, headers={**p.owner.headers, **CSV}
    )
    body = response.json()
    assert "partner_unique_id" not in body["ignored_columns"]
    assert "id" in body["ignored_columns"]
    # Only the approved affiliates import as they are; other statuses and types are invalid.
    assert body["added"] == 1 and body["invalid"] == len(ids) - 1, body


async def test_import_bounds_and_refusals(api, settings, engine):
    p = await parties(api)
    headers = {**p.owner.headers, **CSV}
    too_many = "partner_unique_id\n" + "".join(
        f"{unique('n')}\n" for _ in range(MAX_IMPORT_ROWS + 1)
    )
    assert len(too_many.encode()) < settings.max_body_bytes
    response = await api.client.post(_import_url(p.pid), content=too_many, headers=headers)
    assert_error(response, 400, "too_many_import_rows")
    assert await _list_all(api, p.owner, p.pid) == []  # nothing added

    big = "partner_unique_id\n" + "x" * settings.max_body_bytes
    assert_error(await api.client.post(_import_url(p.pid), content=big, headers=headers), 413)
    for content, code in (
        ("", "import_file_invalid"),
        ("unique_id,type\nabc,affiliate\n", "import_file_invalid"),
        ('partner_unique_id\n"abc\n', "import_file_invalid"),
        ("partner_unique_id\nab\x00c\n", "nul_character"),
    ):
        response = await api.client.post(_import_url(p.pid), content=content, headers=headers)
        assert_error(response, 400, code)
    # A JSON content type is read as CSV (no header names the column); another is 415.
    response = await api.client.post(
        _import_url(p.pid), json={"partner_unique_id": "x"}, headers=p.owner.headers
    )
    assert_error(response, 400, "import_file_invalid")
    response = await api.client.post(
        _import_url(p.pid),
        content="partner_unique_id\nx\n",
        headers={**p.owner.headers, "Content-Type": "text/plain"},
    )
    assert_error(response, 415, "unsupported_media_type")
    # text/csv is accepted on the import only.
    response = await api.client.post(
        f"/v3/products/{p.pid}/partners", content="partner_unique_id\nx\n", headers=headers
    )
    assert_error(response, 415, "unsupported_media_type")
    # Another owner's product: 404 before any row.
    other = await api.actor()
    response = await api.client.post(
        _import_url(p.pid),
        content=f"partner_unique_id\n{other.unique_id}\n",
        headers={**other.headers, **CSV},
    )
    assert_error(response, 404, "product_not_found")


@pytest.mark.parametrize("limit", ["2/hour"])
async def test_import_spends_the_owners_budget_of_adds(api, settings, engine, limit):
    app = create_app(
        settings.model_copy(update={"rate_limit_enabled": True, "partner_add_limit": limit}),
        engine=engine,
    )
    p = await parties(api)
    names = [unique("b") for _ in range(3)]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post(
            _import_url(p.pid),
            content="partner_unique_id\n" + "\n".join(names),
            headers={**p.owner.headers, **CSV},
        )
    body = response.json()
    assert [r["outcome"] for r in body["rows"]] == ["added", "added", "invalid"]
    assert body["rows"][2]["error_code"] == "partner_adds_limited"


async def test_an_import_with_an_idempotency_key_is_answered_once(api):
    p = await parties(api)
    headers = {**p.owner.headers, **CSV, "Idempotency-Key": unique("import")}
    body = f"partner_unique_id\n{unique('a')}\n"
    first = await api.client.post(_import_url(p.pid), content=body, headers=headers)
    again = await api.client.post(_import_url(p.pid), content=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["added"] == 1  # the stored answer
    other = await api.client.post(
        _import_url(p.pid), content=body + f"{unique('b')}\n", headers=headers
    )
    assert_error(other, 422, "idempotency_key_reused")


async def test_import_tags_the_new_and_existing_partners_once(api):
    p = await parties(api)
    existing = await api.actor()
    ppid = await put_partnership(api, p.pid, existing.id, "approved")
    fresh = await api.actor()
    body = (
        "partner_unique_id,tags\n"
        f'{fresh.unique_id},"[""VIP"", ""gold""]"\n'
        f'{existing.unique_id},"q4-promo, vip"\n'
        f"{unique('z')},not a tag!\n"
    )

    async def run() -> dict:
        response = await api.client.post(
            _import_url(p.pid), content=body.encode(), headers={**p.owner.headers, **CSV}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def tag_events() -> int:
        query = select(func.count()).where(events.c.type == "product_partner.tags_changed")
        async with api.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()

    events_before = await tag_events()
    first = await run()
    assert [(r["outcome"], r["error_code"]) for r in first["rows"]] == [
        ("added", None),
        ("already_partner", None),
        ("invalid", "invalid_tags"),  # nothing added for that row
    ]
    listed = {i["partner"]["unique_id"]: i for i in await _list_all(api, p.owner, p.pid)}
    assert listed[fresh.unique_id]["tags"] == ["gold", "vip"]
    assert listed[existing.unique_id]["tags"] == ["q4-promo", "vip"]
    assert listed[existing.unique_id]["id"] == ppid
    assert len(listed) == 2
    events_after_first = await tag_events()
    assert events_after_first == events_before + 2

    second = await run()  # the same file: the same tags, no new event, no new row
    assert [r["outcome"] for r in second["rows"]] == ["already_partner"] * 2 + ["invalid"]
    again = {i["partner"]["unique_id"]: i["tags"] for i in await _list_all(api, p.owner, p.pid)}
    assert again == {k: v["tags"] for k, v in listed.items()}
    assert await tag_events() == events_after_first
