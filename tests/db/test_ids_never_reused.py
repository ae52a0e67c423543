"""Ids are never reused, on SQLite as on PostgreSQL: a stale id, URL or If-Match that a client
kept can never name a newer row (SQLite's AUTOINCREMENT; migration 0002 for old databases)."""

import sqlite3

from alembic import command

from product_partners.db.migrate import alembic_config
from tests.support.api import assert_error
from tests.support.lifecycle import parties
from tests.support.servers import run_cli


async def test_a_partnership_deleted_and_created_again_gets_a_new_id(api):
    p = await parties(api, is_affiliate_enabled=True)
    request = {"partnership_type": "affiliate"}
    first = await api.client.post(p.request_url, json=request, headers=p.partner.headers)
    assert first.status_code == 200, first.text
    stale_etag = first.headers["etag"]
    withdrawn = await api.client.post(
        f"/v3/partnerships/{first.json()['id']}/withdraw", headers=p.partner.headers
    )
    assert withdrawn.status_code == 204

    again = await api.client.post(p.request_url, json=request, headers=p.partner.headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] > first.json()["id"]

    # The owner's decision taken on the old request names a partnership that is gone: it
    # cannot approve the new one.
    stale = await api.client.post(
        p.partner_url(first.json()["id"], "approve"),
        headers={**p.owner.headers, "If-Match": stale_etag},
    )
    assert_error(stale, 404, "partner_not_found")
    fresh = await api.client.get(p.partner_url(again.json()["id"]), headers=p.owner.headers)
    assert fresh.json()["affiliate_status"] == "pending"


async def test_deleting_the_newest_row_never_frees_its_id(api):
    p = await parties(api)
    added = await api.add_partner(p.owner, p.pid, p.partner.unique_id)
    assert added.status_code == 200
    removed = await api.client.delete(p.partner_url(added.json()["id"]), headers=p.owner.headers)
    assert removed.status_code == 204
    readded = await api.add_partner(p.owner, p.pid, p.partner.unique_id)
    assert readded.status_code == 200
    assert readded.json()["id"] != added.json()["id"]
    assert_error(
        await api.client.get(p.partner_url(added.json()["id"]), headers=p.owner.headers),
        404,
        "partner_not_found",
    )


async def test_a_deleted_domain_id_cannot_be_verified_for_a_new_domain(api, database_url):
    owner = await api.actor()

    async def register(host: str) -> int:
        response = await api.client.post(
            "/v3/custom-domains", json={"full_url": host}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        return response.json()["id"]

    old = await register(f"old-{owner.unique_id}.example")
    deleted = await api.client.delete(f"/v3/custom-domains/{old}", headers=owner.headers)
    assert deleted.status_code == 204
    new = await register(f"new-{owner.unique_id}.example")
    assert new != old
    verify_old = run_cli(database_url, "domain", "verify", str(old))
    assert verify_old.returncode == 1 and "custom_domain_not_found" in verify_old.stderr
    unverified = await api.client.get(f"/v3/custom-domains/{new}", headers=owner.headers)
    assert unverified.json()["is_verified"] is False


def test_the_migration_keeps_every_row_and_stops_reuse_on_an_old_sqlite_database(tmp_path):
    path = tmp_path / "old.db"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0001")
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(
            """
            INSERT INTO businesses (unique_id, username, account_holder, email) VALUES
                ('owner', 'o', 'O', 'o@example.com'), ('p1', 'p', 'P', 'p@example.com'),
                ('p2', 'q', 'Q', 'q@example.com');
            INSERT INTO products (business_id, name, slug) VALUES (1, 'Beans', 'beans');
            INSERT INTO custom_domains (business_id, full_url) VALUES (2, 'shop.p1.example');
            INSERT INTO stores (business_id, unique_id, name, custom_domain_id)
                VALUES (2, 'store_0000000000000001', 'P1', 1);
            INSERT INTO product_partners
                (product_id, partner_business_id, partnership_type, affiliate_status, store_id)
                VALUES (1, 2, 'affiliate_pro', 'approved', 1), (1, 3, 'affiliate', 'pending', NULL);
            INSERT INTO partnership_domains (partnership_id, custom_domain_id) VALUES (1, 1);
            """
        )
        columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in _TABLES}
        before = {t: _rows(db, t, columns[t]) for t in _TABLES}

    command.upgrade(config, "head")

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA foreign_keys=ON")
        # Every row is still there, children included (no cascade from the rebuilt parents).
        assert {t: _rows(db, t, columns[t]) for t in _TABLES} == before
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        db.execute("DELETE FROM product_partners WHERE id = 2")
        db.execute(
            "INSERT INTO product_partners (product_id, partner_business_id, partner_unique_id, "
            "partnership_type, affiliate_status) VALUES (1, 3, 'p2', 'affiliate', 'pending')"
        )
        newest = db.execute("SELECT max(id) FROM product_partners").fetchone()[0]
        assert newest == 3
        # The constraints came through the rebuild.
        checks = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'product_partners'"
        ).fetchone()[0]
        assert "AUTOINCREMENT" in checks and "ck_product_partners_affiliate_status" in checks


_TABLES = (
    "businesses",
    "products",
    "custom_domains",
    "stores",
    "product_partners",
    "partnership_domains",
)


def _rows(db: sqlite3.Connection, table: str, columns: list[str]) -> list[tuple]:
    """The rows of ``table``, in the columns it had before the migrations (later ones add
    columns)."""
    return db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2").fetchall()
