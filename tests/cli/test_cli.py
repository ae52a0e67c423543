"""The command line: one JSON document on stdout per command, errors on stderr, exit != 0."""

import json
import subprocess

from tests.support.api import unique
from tests.support.servers import free_port, run_cli, serve


def ok(result) -> dict | list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_db_upgrade_reports_the_head(database_url):
    out = ok(run_cli(database_url, "db", "upgrade"))
    assert out["revision"]


def test_business_create_prints_business_simple(database_url):
    uid = unique("cli")
    out = ok(
        run_cli(
            database_url,
            "business", "create", "--unique-id", uid, "--username", "cli",
            "--account-holder", "CLI Ltd", "--email", "cli@example.com",
        )
    )  # fmt: skip
    # No logo: omitted (Scalev types BusinessSimple.logo as a string, not nullable).
    assert set(out) == {"id", "unique_id", "username", "account_holder", "email", "is_banned"}
    assert out["unique_id"] == uid and out["is_banned"] is False

    again = run_cli(
        database_url,
        "business", "create", "--unique-id", uid, "--username", "cli",
        "--account-holder", "CLI Ltd", "--email", "cli@example.com",
    )  # fmt: skip
    assert again.returncode != 0 and again.stdout == ""
    assert "already exists" in again.stderr


def test_business_create_rejects_bad_email(database_url):
    result = run_cli(
        database_url,
        "business", "create", "--unique-id", unique("cli"), "--username", "x",
        "--account-holder", "X", "--email", "not-an-email",
    )  # fmt: skip
    assert result.returncode == 2 and "email" in result.stderr and result.stdout == ""


def test_key_create_list_revoke(database_url):
    uid = unique("cli")
    ok(
        run_cli(
            database_url,
            "business", "create", "--unique-id", uid, "--username", "k",
            "--account-holder", "K", "--email", "k@example.com",
        )
    )  # fmt: skip
    created = ok(
        run_cli(
            database_url, "key", "create", "--business", uid,
            "--scope", "product:list", "--scope", "product:update", "--name", "ci",
        )
    )  # fmt: skip
    assert created["key"].startswith("ppk_") and created["scopes"] == [
        "product:list",
        "product:update",
    ]

    listed = ok(run_cli(database_url, "key", "list", "--business", uid))
    assert [k["id"] for k in listed] == [created["id"]]
    assert created["key"] not in json.dumps(listed)  # the secret is shown once only

    revoked = ok(run_cli(database_url, "key", "revoke", str(created["id"]), "--business", uid))
    assert revoked["revoked_at"] is not None


def test_key_revoke_refuses_a_key_of_another_business(database_url):
    owner, other = unique("cli"), unique("cli")
    for uid in (owner, other):
        ok(
            run_cli(
                database_url,
                "business", "create", "--unique-id", uid, "--username", "k",
                "--account-holder", "K", "--email", "k@example.com",
            )
        )  # fmt: skip
    key = ok(run_cli(database_url, "key", "create", "--business", owner, "--all-scopes"))
    refused = run_cli(database_url, "key", "revoke", str(key["id"]), "--business", other)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "api_key_not_found" in refused.stderr and "Traceback" not in refused.stderr
    still_live = ok(run_cli(database_url, "key", "list", "--business", owner))
    assert still_live[0]["revoked_at"] is None
    # --business is required: a bare id can no longer revoke whichever key has it.
    assert run_cli(database_url, "key", "revoke", str(key["id"])).returncode == 2


def test_key_create_print_secret_prints_only_the_key(database_url):
    uid = unique("cli")
    ok(
        run_cli(
            database_url,
            "business", "create", "--unique-id", uid, "--username", "k",
            "--account-holder", "K", "--email", "k@example.com",
        )
    )  # fmt: skip
    printed = run_cli(database_url, "key", "create", "--business", uid, "--all-scopes",
                      "--print-secret")  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("ppk_") and printed.stdout.count("\n") == 1


def test_key_create_refuses_unknown_scope_and_business(database_url):
    bad_scope = run_cli(database_url, "key", "create", "--business", "x", "--scope", "everything")
    assert bad_scope.returncode != 0 and bad_scope.stdout == ""
    missing = run_cli(database_url, "key", "create", "--business", unique("none"), "--all-scopes")
    assert missing.returncode != 0 and "business" in missing.stderr.lower()


def test_demo_prints_a_curl_line_that_works(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    port = free_port()
    ok(run_cli(url, "db", "upgrade"))
    first = ok(run_cli(url, "demo", PORT=str(port)))
    assert first["seeded"] is True and first["key"] in first["curl"]
    second = ok(run_cli(url, "demo", PORT=str(port)))
    # The same demo key (no new row) with a new secret: only its hash is stored.
    assert second["seeded"] is False and second["key"] != first["key"]
    assert second["dashboard"]["password"] != first["dashboard"]["password"]

    with serve(url, port=port):
        # Exactly the printed line, as a newcomer pastes it.
        status, body = _paste(second["curl"])
        assert status == "200", body
        assert json.loads(body)["partner"]["unique_id"] == "demo-partner"
        assert _paste(first["curl"])[0] == "401"  # the first run's secret was replaced
    keys = ok(run_cli(url, "key", "list", "--business", "demo-owner"))
    assert len(keys) == 1


def _paste(curl: str) -> tuple[str, str]:
    pasted = subprocess.run(
        ["bash", "-c", curl + " -s -w '\\n%{http_code}'"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    body, _, status = pasted.stdout.rpartition("\n")
    return status, body


def test_product_create_list_and_get_for_an_owner(database_url):
    uid = unique("cli")
    ok(
        run_cli(
            database_url,
            "business", "create", "--unique-id", uid, "--username", "p",
            "--account-holder", "P", "--email", "p@example.com",
        )
    )  # fmt: skip
    created = ok(
        run_cli(
            database_url, "product", "create", "--business", uid, "--name", "Sourdough starter",
            "--affiliate", "--affiliate-commission-rate", "12.5",
        )
    )  # fmt: skip
    assert created["is_affiliate_enabled"] is True and created["is_product_sharing"] is False
    assert created["affiliate_commission_rate"] == "12.50"
    assert created["business"]["unique_id"] == uid
    listed = ok(run_cli(database_url, "product", "list", "--business", uid))
    assert [p["id"] for p in listed["data"]] == [created["id"]]
    got = ok(run_cli(database_url, "product", "get", str(created["id"]), "--business", uid))
    assert got["id"] == created["id"]
    other = unique("cli")
    ok(
        run_cli(
            database_url,
            "business", "create", "--unique-id", other, "--username", "o",
            "--account-holder", "O", "--email", "o@example.com",
        )
    )  # fmt: skip
    hidden = run_cli(database_url, "product", "get", str(created["id"]), "--business", other)
    assert hidden.returncode == 1 and "product_not_found" in hidden.stderr
