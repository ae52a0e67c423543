"""Authentication and secrets: scopes on every route (generated from the route table), keys
stored only as hashes (nothing key-shaped in any table or log), constant-time comparison, and
revocation that takes effect at once in every worker process."""

import asyncio
import inspect
import json
import logging
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import String, Text, select

from product_partners.auth import dependencies, keys
from product_partners.auth.scopes import ALL_SCOPES
from product_partners.db.tables import metadata
from tests.support.api import Api
from tests.support.routes import World, build_world, fill_path, v3_routes
from tests.support.servers import run_cli, serve

# A plaintext key: "ppk_<12 hex>_<at least 32 url-safe characters>".
KEY_PATTERN = re.compile(r"ppk_[0-9a-f]{12}_[A-Za-z0-9_-]{32,}")


class _Everything(logging.Handler):
    """Keeps every log record of the session from the moment this module is imported
    (collection time, so before any test runs): message, arguments and extra fields."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        extra = {k: v for k, v in vars(record).items() if k not in ("msg", "args")}
        self.lines.append(f"{text} {record.args!r} {extra!r} {record.exc_text or ''}")


SESSION_LOG = _Everything()
logging.getLogger().addHandler(SESSION_LOG)

V3 = v3_routes()


# --- scopes -------------------------------------------------------------------------------


def test_every_v3_route_declares_exactly_one_known_scope() -> None:
    assert V3, "no /v3 routes found"
    problems = [f"{r.label}: {r.scopes}" for r in V3 if len(r.scopes) != 1]
    assert not problems, f"routes without exactly one required scope: {problems}"
    unknown = [f"{r.label}: {r.scopes[0]}" for r in V3 if r.scopes[0] not in ALL_SCOPES]
    assert not unknown, f"unknown scopes: {unknown}"


def test_scope_actions_match_the_methods() -> None:
    """Reads need list/read scopes; writes never get by with one."""
    for r in V3:
        action = r.scopes[0].split(":")[1]
        if r.method == "GET":
            assert action in ("list", "read"), r.label
        else:
            assert action not in ("list", "read"), r.label


@pytest.fixture
async def world(api: Api) -> World:
    return await build_world(api.client, api.engine)


async def test_a_key_without_the_routes_scope_gets_403_on_every_route(
    api: Api, world: World
) -> None:
    problems = []
    for route in V3:
        (scope,) = route.scopes
        owner = world.p if route.path.startswith("/v3/partnerships") else world.a
        weak = await api.key_for(owner.unique_id, [s for s in ALL_SCOPES if s != scope])
        values = world.path_values(route.path)
        # The scope is checked before any lookup: an unseeded id does as well.
        path = fill_path(route, values or dict.fromkeys(route.path_params, 1))
        kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {weak['key']}"}}
        if route.method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = {}
        response = await api.client.request(route.method, path, **kwargs)
        body = response.json() if response.content else {}
        if response.status_code != 403 or body.get("error_code") != "insufficient_scope":
            problems.append(f"{route.label}: {response.status_code} {response.text[:200]}")
        elif scope not in body["message"]:
            problems.append(f"{route.label}: the 403 does not name {scope}")
    assert not problems, "\n".join(problems)


# --- keys at rest and in logs ---------------------------------------------------------------


async def _key_shaped_values(api: Api) -> list[str]:
    found = []
    async with api.engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not columns:
                continue
            for row in await conn.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and KEY_PATTERN.search(value):
                        found.append(f"{table.name}.{column.name}")
    return found


async def test_no_plaintext_key_in_any_table_or_log(api: Api, world: World) -> None:
    """Runs after most of the suite (same session database): nothing anywhere looks like a
    key, though every test made keys and used them, good and bad."""
    owner = await api.actor()
    service_logger = logging.getLogger("product_partners")
    level = service_logger.level
    service_logger.setLevel(logging.DEBUG)  # the access log too, whatever the test config
    try:
        # Make keys travel through every path that could log or store them.
        await api.client.get("/v3/products", headers=owner.headers)
        await api.client.get("/v3/products", headers={"Authorization": f"Bearer {owner.key}x"})
        await api.client.get("/v3/products", headers={"Authorization": owner.key})
        await api.client.get(f"/v3/products?search={owner.key}", headers=owner.headers)
        await api.client.post(
            "/v3/products", json={"name": owner.key, "slug": "BAD SLUG"}, headers=owner.headers
        )
        await api.client.get("/v3/nowhere", headers=world.b.headers)
    finally:
        service_logger.setLevel(level)
    assert await _key_shaped_values(api) == []
    leaked = [line[:200] for line in SESSION_LOG.lines if KEY_PATTERN.search(line)]
    assert SESSION_LOG.lines, "no log record was captured: the scan would prove nothing"
    assert not leaked, f"log records carry an API key: {leaked}"


def test_the_key_secret_is_only_ever_hashed_sha256_hex() -> None:
    new = keys.generate_key()
    assert new.key_hash == keys.hash_key(new.key) and len(new.key_hash) == 64
    assert new.key not in new.key_hash and new.prefix in new.key
    assert KEY_PATTERN.fullmatch(new.key)


def test_key_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    source = inspect.getsource(keys.matches)
    assert "hmac.compare_digest(" in source
    assert "==" not in source
    calls: list[tuple[str, str]] = []
    real = keys.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    new = keys.generate_key()
    assert keys.matches(new.key, new.key_hash)
    assert not keys.matches(new.key + "x", new.key_hash)
    assert len(calls) == 2
    # Every way in verifies through keys.matches (and compares nothing itself): the dependency
    # and the hot path both hand the key row to accept_key, which, like live_key (the
    # idempotency layer's look at the key), verifies it with verify_key.
    verify_source = inspect.getsource(dependencies.verify_key)
    assert "matches(" in verify_source and "key_hash ==" not in verify_source
    for way_in in (dependencies.accept_key, dependencies.live_key):
        assert "verify_key(" in inspect.getsource(way_in)
        assert "key_hash ==" not in inspect.getsource(way_in)
    assert "accept_key(" in inspect.getsource(dependencies.authenticate)
    from product_partners.partnerships import hotpath as fastpath

    assert "accept_key(" in inspect.getsource(fastpath)
    assert "key_hash ==" not in inspect.getsource(fastpath)


# --- revocation across worker processes -------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.slow
async def test_revoked_key_is_refused_at_once_by_every_worker(api: Api, database_url: str) -> None:
    owner = await api.actor()
    created = run_cli(
        database_url, "key", "create", "--business", owner.unique_id, "--scope", "product:list"
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {key['key']}"}

    async def burst(base: str, n: int) -> list[int]:
        # A fresh connection per request, so the kernel spreads them over the workers.
        async def one() -> int:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return (await client.get("/v3/products", headers=headers)).status_code

        return list(await asyncio.gather(*(one() for _ in range(n))))

    with serve(database_url, workers=2, RATE_LIMIT_ENABLED="false") as base:
        assert set(await burst(base, 40)) == {200}
        revoked = run_cli(
            database_url, "key", "revoke", str(key["id"]), "--business", owner.unique_id
        )
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout)["revoked_at"] is not None
        assert set(await burst(base, 60)) == {401}
