"""No tracebacks for users: every CLI failure and every bad setting is one line on stderr that
says what is wrong and what to do, with a non-zero exit; ``--debug`` shows the traceback."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.api import unique
from tests.support.servers import BIN, free_port, run_cli


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """The CLI with exactly the settings given (none inherited from the test run)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PP_", "DATABASE_", "REDIS_", "RATE_LIMIT", "LOG_"))
        and k not in {"HOST", "PORT", "XDG_DATA_HOME"}
    }
    return subprocess.run(
        [str(BIN), *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("RATE_LIMIT", "lots", "N/minute"),
        ("PORT", "eighty", "1 to 65535"),
        ("PORT", "70000", "1 to 65535"),
        ("LOG_LEVEL", "loud", "debug | info"),
        ("LOG_FORMAT", "xml", "auto | json | text"),
        ("DATABASE_URL", "mysql://app@db/shop", "postgresql+asyncpg://"),
        ("DATABASE_POOL_SIZE", "0", "at least 1"),
        ("DATABASE_TIMEOUT", "soon", "seconds"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_its_forms(
    tmp_path, variable, value, named
):
    database = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    settings = {"DATABASE_URL": database, variable: value}
    line = one_line_error(cli("key", "list", "--business", "x", **settings), 2)
    assert f"{variable}=" in line and named in line


def test_a_password_in_a_bad_database_url_is_not_printed(tmp_path):
    line = one_line_error(cli("db", "upgrade", DATABASE_URL="mysql://app:hunter2@db/shop"), 2)
    assert "hunter2" not in line and "DATABASE_URL" in line


def test_postgres_urls_are_read_as_asyncpg_ones(pg_database_url):
    plain = pg_database_url.replace("postgresql+asyncpg://", "postgres://", 1)
    result = cli("db", "upgrade", DATABASE_URL=plain)
    assert result.returncode == 0, result.stderr
    assert '"database":"postgresql+asyncpg://' in result.stdout


def test_commands_on_an_unmigrated_database_say_to_run_db_upgrade(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    line = one_line_error(cli("key", "list", "--business", "x", DATABASE_URL=database), 1)
    assert "product-partners db upgrade" in line


def test_serve_refuses_to_start_while_migrations_are_pending(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    port = free_port()
    result = cli("serve", "--port", str(port), DATABASE_URL=database)
    line = one_line_error(result, 1)
    assert "has no schema yet" in line and "product-partners db upgrade" in line


def test_an_unreachable_database_is_one_line(tmp_path):
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    line = one_line_error(cli("key", "list", "--business", "x", DATABASE_URL=unreachable), 1)
    assert "cannot reach the database" in line and "DATABASE_URL" in line


def test_debug_shows_the_traceback(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert cli("db", "upgrade", DATABASE_URL=database).returncode == 0
    for result in (
        cli("--debug", "key", "list", "--business", "nobody", DATABASE_URL=database),
        cli("key", "list", "--business", "nobody", DATABASE_URL=database, LOG_LEVEL="debug"),
    ):
        assert result.returncode == 1
        assert "Traceback" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: No business")


def test_the_default_database_is_the_same_from_every_directory(tmp_path):
    data_home = tmp_path / "data"
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    uid = unique("dir")
    assert cli("db", "upgrade", cwd=first, XDG_DATA_HOME=str(data_home)).returncode == 0
    created = cli(
        "business", "create", "--unique-id", uid, "--username", "d", "--account-holder", "D",
        "--email", "d@example.com", cwd=second, XDG_DATA_HOME=str(data_home),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = cli("key", "list", "--business", uid, cwd=first, XDG_DATA_HOME=str(data_home))
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed.stderr
    assert (data_home / "product-partners" / "product-partners.db").is_file()
    assert not list(first.iterdir()) and not list(second.iterdir())


def test_demo_refuses_a_database_with_data_but_no_demo(database_url):
    uid = unique("real")
    made = run_cli(
        database_url, "business", "create", "--unique-id", uid, "--username", "r",
        "--account-holder", "R", "--email", "r@example.com",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    line = one_line_error(run_cli(database_url, "demo"), 1)
    assert "no demo data" in line and "DATABASE_URL" in line


def test_bad_input_is_one_line_with_exit_2(database_url):
    result = run_cli(
        database_url, "business", "create", "--unique-id", unique("x"), "--username", "x",
        "--account-holder", "X", "--email", "not-an-email",
    )  # fmt: skip
    assert "email" in one_line_error(result, 2)
