"""The service behind PgBouncer in transaction-pooling mode (``DATABASE_PGBOUNCER=true``).

PgBouncer (Debian's package; scripts/install-system-deps.sh installs it) is started by the test
on a free port with a generated configuration, in front of the test database. Its server pool
is much smaller than the service's connection pool, so consecutive statements of one client
connection land on different server connections: anything that relies on a server-side
prepared statement surviving between two statements breaks here.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.servers import free_port, serve

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

SERVER_POOL_SIZE = 2
PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
)


@contextmanager
def pgbouncer(database_url: str) -> Iterator[str]:
    """Start PgBouncer (transaction pooling) in front of ``database_url``; yield its URL."""
    if PGBOUNCER is None:
        pytest.fail("pgbouncer is not installed: run scripts/install-system-deps.sh")
    url = make_url(database_url)
    port = free_port()
    # PgBouncer refuses to run as root; as root it drops to the postgres user, which must be
    # able to read its files (pytest's tmp_path is private to root).
    workdir = Path(tempfile.mkdtemp(prefix="pp-pgbouncer-"))
    workdir.chmod(0o755)
    user = url.username or "postgres"
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
{url.database} = host={url.host or "127.0.0.1"} port={url.port or 5432} dbname={url.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "users.txt"}
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
"""
    )
    for f in workdir.iterdir():
        f.chmod(0o644)
    command = [PGBOUNCER, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    bouncer_url = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    try:
        _wait_until_accepting(proc, port)
        yield bouncer_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_accepting(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"pgbouncer exited: {output[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def test_adds_and_lists_through_pgbouncer_transaction_pooling(api, database_url):
    owner = await api.actor()
    partners = [await api.actor() for _ in range(12)]
    products = [await api.product(owner) for _ in range(3)]

    with (
        pgbouncer(database_url) as bouncer_url,
        serve(bouncer_url, workers=2, DATABASE_PGBOUNCER="true") as base,
    ):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def add(product_id: int, uid: str) -> httpx.Response:
                return await client.post(
                    f"/v3/products/{product_id}/partners",
                    json={"partner_unique_id": uid},
                    headers=owner.headers,
                )

            async def page(product_id: int, **params: str) -> httpx.Response:
                return await client.get(
                    f"/v3/products/{product_id}/partners",
                    params={"page_size": "5", **params},
                    headers=owner.headers,
                )

            # Distinct adds, each twice (one 200, one 409), interleaved with reads, at once.
            adds = [
                add(pr["id"], p.unique_id) for _ in range(2) for pr in products for p in partners
            ]
            reads = [page(pr["id"]) for pr in products for _ in range(10)]
            responses = await asyncio.gather(*adds, *reads)
            add_responses, read_responses = responses[: len(adds)], responses[len(adds) :]

            unexpected = [
                r.text for r in responses if r.status_code not in (200, 409) or r.is_server_error
            ]
            assert not unexpected, unexpected[:3]
            statuses = [r.status_code for r in add_responses]
            assert statuses.count(200) == len(products) * len(partners)
            assert statuses.count(409) == len(products) * len(partners)
            assert all(r.status_code == 200 for r in read_responses)

            # Every product's partners, walked page by page with cursors, through PgBouncer.
            for product in products:
                seen: list[str] = []
                params: dict[str, str] = {}
                while True:
                    response = await page(product["id"], **params)
                    assert response.status_code == 200, response.text
                    body = response.json()
                    seen += [p["partner"]["unique_id"] for p in body["data"]]
                    if not body["has_next"]:
                        break
                    params = {"next_cursor": body["next_cursor"]}
                assert sorted(seen) == sorted(p.unique_id for p in partners)
