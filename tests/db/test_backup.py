"""``db backup`` and ``db restore``, on SQLite and PostgreSQL: a backup taken while adds run
against a live ``serve`` restores, into a fresh database, every partnership acknowledged
before the backup began (by id); a restore refuses a database that holds tables unless
``--force``; errors are one line on stderr."""

import asyncio
import json
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from product_partners.db.engine import create_engine
from product_partners.db.migrate import head_revision
from product_partners.settings import Settings
from tests.support.databases import pg_admin
from tests.support.load import WriteLoad, owner_and_product, seed_partners, stored_partnerships
from tests.support.servers import run_cli, serve

pytestmark = pytest.mark.slow

BEFORE = 150  # adds acknowledged before the backup starts
DURING = 60  # adds acknowledged while or after it runs


def _ok(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def _refused(done: subprocess.CompletedProcess, says: str) -> None:
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr, done.stderr


@pytest.fixture
async def fresh_database_url(backend: str, database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind (no tables), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"pp_restore_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _backup_during_writes(
    database_url: str, engine: AsyncEngine, backup: Path
) -> tuple[int, dict[str, int], dict]:
    """Adds run on a live serve; once BEFORE were acknowledged, ``db backup`` runs, and adds
    go on until DURING more were acknowledged. The product, the adds acknowledged before the
    backup began, and what the backup printed."""
    partners = await seed_partners(engine, (BEFORE + DURING) * 4)
    with serve(database_url, workers=2, RATE_LIMIT_ENABLED="false") as base:
        owner, product_id = await owner_and_product(base, engine)
        load = WriteLoad(base, owner, product_id, partners, clients=16)
        stop = asyncio.Event()
        running = asyncio.create_task(load.run(stop))
        try:
            await load.wait_until_acknowledged(BEFORE)
            before = load.acknowledged()
            backing_up = asyncio.create_task(
                asyncio.to_thread(run_cli, database_url, "db", "backup", str(backup))
            )
            await load.wait_until_acknowledged(len(before) + DURING)
            done = await backing_up
        finally:
            stop.set()
            await running
    load.assert_faults_answered_503()
    assert load.count(503) == 0, "the backup made the service unavailable"
    return product_id, before, _ok(done)


async def test_a_backup_taken_while_writes_run_restores_every_add_acknowledged_before_it(
    backend: str, database_url: str, engine: AsyncEngine, fresh_database_url: str, tmp_path: Path
) -> None:
    backup = tmp_path / "partners.backup"
    product_id, before, printed = await _backup_during_writes(database_url, engine, backup)
    assert printed["backup"] == str(backup) and printed["bytes"] == backup.stat().st_size > 0
    assert printed["format"] == ("sqlite" if backend == "sqlite" else "pg_dump")
    if backend == "sqlite":
        with sqlite3.connect(backup) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    restored = _ok(run_cli(fresh_database_url, "db", "restore", str(backup)))
    assert restored["revision"] == head_revision()
    restored_engine = create_engine(Settings(database_url=fresh_database_url))
    try:
        stored = await stored_partnerships(restored_engine, product_id)
    finally:
        await restored_engine.dispose()
    missing = {uid: i for uid, i in before.items() if stored.get(uid) != [i]}
    assert not missing, f"{len(missing)} acknowledged adds missing from the restore"

    # The target now holds tables: refused without --force, replaced with it.
    again = run_cli(fresh_database_url, "db", "restore", str(backup))
    _refused(again, "not empty")
    _ok(run_cli(fresh_database_url, "db", "restore", "--force", str(backup)))


def test_backup_and_restore_errors_are_one_line(
    backend: str, database_url: str, fresh_database_url: str, tmp_path: Path
) -> None:
    _refused(run_cli(fresh_database_url, "db", "restore", str(tmp_path / "none")), "no backup")
    not_a_backup = tmp_path / "not-a-backup"
    not_a_backup.write_text("hello")
    says = "not a backup" if backend == "sqlite" else "not appear to be a valid archive"
    _refused(run_cli(fresh_database_url, "db", "restore", str(not_a_backup)), says)
    unwritable = tmp_path / "no-such-directory" / "partners.backup"
    _refused(run_cli(database_url, "db", "backup", str(unwritable)), "no-such-directory")
    if backend == "postgres":
        # Without PostgreSQL's client tools on PATH (nor pg_config to find them).
        no_tools = run_cli(database_url, "db", "backup", str(tmp_path / "b"), PATH="/nonexistent")
        _refused(no_tools, "pg_dump not found: install PostgreSQL's client tools")
    else:
        missing = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
        _refused(run_cli(missing, "db", "backup", str(tmp_path / "b")), "no SQLite database")
