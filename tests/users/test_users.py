"""Dashboard users: created by the CLI with the password on stdin, hashed with argon2,
listed without secrets, disabled at once; sign-in and sessions as the service does them."""

import json

import pytest

from product_partners.db.tables import users
from product_partners.users import service
from product_partners.users.errors import InvalidCredentials, UserDisabled
from tests.support.api import unique
from tests.support.servers import run_cli


def ok(result) -> dict | list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_user_create_reads_the_password_from_stdin_and_stores_an_argon2_hash(
    api, database_url
):
    business = await api.business()
    email = f"{unique('u')}@Example.com"
    created = ok(
        run_cli(
            database_url, "user", "create", "--business", business["unique_id"],
            "--email", email, "--password-stdin", stdin="correct horse battery\n",
        )
    )  # fmt: skip
    assert created["email"] == email.lower() and created["business"] == business["unique_id"]
    assert created["disabled"] is False and "password" not in json.dumps(created)
    async with api.engine.connect() as conn:
        stored = (await conn.execute(users.select().where(users.c.email == email.lower()))).one()
        assert stored.password_hash.startswith("$argon2id$")
        user, token = await service.sign_in(conn, email, "correct horse battery")
        assert user.id == created["id"]
        assert (await service.session_user(conn, token)).business_id == business["id"]

    listed = ok(run_cli(database_url, "user", "list", "--business", business["unique_id"]))
    assert [u["email"] for u in listed] == [email.lower()]


async def test_user_create_refuses_a_taken_email_a_short_password_and_an_unknown_business(
    api, database_url
):
    business = await api.business()
    email = f"{unique('u')}@example.com"
    args = ("user", "create", "--business", business["unique_id"], "--email", email)
    assert (
        run_cli(database_url, *args, "--password-stdin", stdin="long enough pw\n").returncode == 0
    )
    taken = run_cli(database_url, *args, "--password-stdin", stdin="long enough pw\n")
    assert taken.returncode == 1 and "email_taken" in taken.stderr
    short = run_cli(
        database_url, "user", "create", "--business", business["unique_id"],
        "--email", f"{unique('u')}@example.com", "--password-stdin", stdin="short\n",
    )  # fmt: skip
    assert short.returncode == 1 and "weak_password" in short.stderr
    nobody = run_cli(
        database_url, "user", "create", "--business", unique("none"),
        "--email", f"{unique('u')}@example.com", "--password-stdin", stdin="long enough pw\n",
    )  # fmt: skip
    assert nobody.returncode == 1 and "business_not_found" in nobody.stderr
    empty = run_cli(database_url, *args, "--password-stdin", stdin="")
    assert empty.returncode == 2 and "stdin" in empty.stderr


async def test_disable_ends_every_session_at_once_and_refuses_sign_in(api, database_url):
    business = await api.business()
    email = f"{unique('u')}@example.com"
    async with api.engine.connect() as conn:
        await service.create_user(conn, business["unique_id"], email, "a good password")
        _, token = await service.sign_in(conn, email, "a good password")
        assert await service.session_user(conn, token) is not None
    disabled = ok(run_cli(database_url, "user", "disable", "--email", email))
    assert disabled["disabled"] is True
    async with api.engine.connect() as conn:
        assert await service.session_user(conn, token) is None
        with pytest.raises(UserDisabled):
            await service.sign_in(conn, email, "a good password")


async def test_wrong_password_and_unknown_email_are_the_same_refusal(api):
    business = await api.business()
    email = f"{unique('u')}@example.com"
    async with api.engine.connect() as conn:
        await service.create_user(conn, business["unique_id"], email, "a good password")
        for who, password in ((email, "a bad password"), (f"x{email}", "a good password")):
            with pytest.raises(InvalidCredentials):
                await service.sign_in(conn, who, password)


async def test_signing_out_revokes_the_session(api):
    business = await api.business()
    email = f"{unique('u')}@example.com"
    async with api.engine.connect() as conn:
        await service.create_user(conn, business["unique_id"], email, "a good password")
        _, token = await service.sign_in(conn, email, "a good password")
        await service.sign_out(conn, token)
        assert await service.session_user(conn, token) is None
        assert await service.session_user(conn, "not-a-token") is None
