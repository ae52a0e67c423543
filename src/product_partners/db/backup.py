"""Backing up the database of ``DATABASE_URL`` while the service serves, and restoring a
backup into an empty database (CLI ``db backup`` / ``db restore``).

- SQLite: the online backup API (``sqlite3.Connection.backup``), in one step: the copy is the
  database as of one moment (a read transaction; in WAL mode writers go on meanwhile). A
  restore copies the backup into the target the same way.
- PostgreSQL: ``pg_dump --format=custom`` (one snapshot of the whole database, taken while it
  serves) and ``pg_restore`` in a single transaction (all or nothing). Both need PostgreSQL's
  client tools, at least the server's version.

A restore refuses a target that holds tables (it would mix two databases) unless ``force``:
then SQLite's target is overwritten and PostgreSQL's objects are dropped first. Stop the
service before restoring into its database.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from product_partners.settings import Settings

CLIENT_TOOLS_HINT = "install PostgreSQL's client tools (Debian: apt-get install postgresql-client)"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, in one line."""


def backup(settings: Settings, path: Path) -> dict[str, Any]:
    """Write a backup of the database of ``settings`` to ``path``; what was written. The file
    appears complete or not at all (written beside it, then renamed)."""
    url = make_url(settings.database_url)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if url.get_backend_name() == "sqlite":
            _copy_sqlite(_sqlite_file(url, must_exist=True), partial)
            kind = "sqlite"
        else:
            dump = _tool("pg_dump")
            _run(dump, "--format=custom", f"--file={partial}", _libpq_uri(url), url=url)
            kind = "pg_dump"
        os.replace(partial, path)
    except OSError as exc:
        raise BackupError(f"cannot write the backup to {path}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return {"backup": str(path), "format": kind, "bytes": path.stat().st_size}


async def table_names(conn: AsyncConnection) -> list[str]:
    """The tables in the database of ``conn`` (a restore target must have none)."""
    names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return names


def restore(settings: Settings, path: Path, *, replace: bool) -> dict[str, Any]:
    """Restore the backup at ``path`` into the database of ``settings``; ``replace``: what the
    target holds is replaced (else it must be empty: see :func:`table_names`)."""
    url = make_url(settings.database_url)
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    if url.get_backend_name() == "sqlite":
        _copy_sqlite(path, _sqlite_file(url, must_exist=False), source_is_backup=True)
    else:
        _run(
            _tool("pg_restore"),
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            *(["--clean", "--if-exists"] if replace else []),
            f"--dbname={_libpq_uri(url)}",
            str(path),
            url=url,
        )
    return {"restored_from": str(path)}


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_file(url: URL, *, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    path = Path(url.database)
    if must_exist and not path.is_file():
        raise BackupError(f"no SQLite database at {path}")
    return path


def _copy_sqlite(source: Path, target: Path, *, source_is_backup: bool = False) -> None:
    """Copy the SQLite database ``source`` to ``target`` with the online backup API."""
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            if source_is_backup:
                _check_is_ours(src, source)
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # all pages in one step: one consistent moment
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not copy {source} to {target}: {exc}") from None


def _check_is_ours(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError:
        raise BackupError(f"{path} is not a backup of this service's SQLite database") from None


# --- PostgreSQL -----------------------------------------------------------------------------


def _tool(name: str) -> str:
    """The path of PostgreSQL client tool ``name``: on PATH, else pg_config's directory."""
    found = shutil.which(name)
    if found:
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout
        candidate = Path(bindir.strip()) / name
        if candidate.is_file():
            return str(candidate)
    raise BackupError(f"{name} not found: {CLIENT_TOOLS_HINT}")


def _libpq_uri(url: URL) -> str:
    """``url`` as libpq understands it; the password travels in PGPASSWORD (see _run), never
    on a command line other users can read."""
    return url.set(drivername="postgresql", password=None, query={}).render_as_string()


def _run(*command: str, url: URL) -> None:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise BackupError(f"cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        name = Path(command[0]).name
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        reason = reason.removeprefix(f"{name}: ").removeprefix("error: ")
        raise BackupError(f"{name} failed: {reason}")
