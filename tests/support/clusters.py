"""A PostgreSQL cluster of the test's own (initdb in a temporary directory, a free port), for
faults the machine's shared server must never see: restarts, crashes, a low
``max_connections``; and a streaming replica of one (``standby_of``: ``pg_basebackup -R`` on
another port).

PostgreSQL refuses to run as root: when the tests run as root, every server command runs as
the ``postgres`` user, in a directory that user owns. The cluster is always stopped
(``-m immediate``) and its directory removed, whatever the test did.
"""

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from product_partners.db.migrate import upgrade
from tests.support.servers import free_port

SERVER_USER = "postgres"
INSTALL_HINT = "install PostgreSQL's server (Debian: apt-get install postgresql)"


def server_bindir() -> Path:
    """The directory of initdb and pg_ctl: pg_config's, else the newest Debian install."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(done.stdout.strip())
        if done.returncode == 0 and (candidate / "initdb").exists():
            return candidate
    installed = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if installed:
        return Path(installed[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    pytest.fail(f"initdb and pg_ctl not found: {INSTALL_HINT}")


class PgCluster:
    """One PostgreSQL server: ``restart('fast')``, ``restart('immediate')`` (a crash: the next
    start runs crash recovery), ``url(database)`` for the service."""

    def __init__(self, root: Path, port: int, settings: dict[str, str]) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port
        self.settings = settings
        self.bindir = server_bindir()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def admin_dsn(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def migrated_database(self, name: str = "product_partners") -> str:
        """Create database ``name``, migrate it to the head; its URL."""

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_dsn())
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        url = self.url(name)
        upgrade(url)
        return url

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "shared_buffers": "'32MB'",
            **self.settings,
        }
        with (self.data / "postgresql.conf").open("a") as f:
            f.writelines(f"{name} = {value}\n" for name, value in conf.items())

    def start(self) -> None:
        self._pg_ctl("start", "-l", str(self.log))

    def restart(self, mode: str) -> None:
        """``fast``: clients are told to go, the server shuts down cleanly and starts again.
        ``immediate``: the server is killed without a checkpoint and recovers from its WAL."""
        if mode == "immediate":
            self._pg_ctl("stop", "-m", "immediate")
            self.start()
        else:
            self._pg_ctl("restart", "-m", mode, "-l", str(self.log))

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate", check=False)

    def shut_down(self) -> None:
        """A clean stop (``-m fast``: clients are told to go); ``start()`` brings it back."""
        self._pg_ctl("stop", "-m", "fast")

    def configure(self, **settings: str) -> None:
        """Add ``settings`` to postgresql.conf and reload (settings a reload can change)."""
        with (self.data / "postgresql.conf").open("a") as f:
            f.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._pg_ctl("reload")

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args, check=check)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {args[0]} failed: {done.stderr.strip()}\n{log}")


class Standby(PgCluster):
    """A streaming replica of ``primary``: its base backup (``pg_basebackup -R`` writes the
    connection to the primary and standby.signal), then its own port and socket directory."""

    def __init__(self, root: Path, port: int, settings: dict[str, str], primary: PgCluster):
        super().__init__(root, port, settings)
        self.primary = primary

    def init(self) -> None:
        self._run(
            "pg_basebackup",
            *("-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.primary.port)),
            # -c fast: checkpoint at once (a spread one takes minutes on an idle server).
            *("-U", SERVER_USER, "-X", "stream", "-R", "-c", "fast"),
        )
        conf = {
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "hot_standby": "on",
            **self.settings,
        }
        # Later lines win over the primary's, copied with the backup.
        with (self.data / "postgresql.conf").open("a") as f:
            f.writelines(f"{name} = {value}\n" for name, value in conf.items())


@contextmanager
def _started(make: Callable[[Path, int], PgCluster]) -> Iterator[PgCluster]:
    root = Path(tempfile.mkdtemp(prefix="pp-pg-cluster-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(SERVER_USER)
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.fail(f"no {SERVER_USER!r} user to run PostgreSQL as: {INSTALL_HINT}")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = make(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def pg_cluster(**settings: str) -> Iterator[PgCluster]:
    """A started cluster with ``settings`` added to its postgresql.conf."""
    with _started(lambda root, port: PgCluster(root, port, settings)) as cluster:
        yield cluster


@contextmanager
def standby_of(primary: PgCluster, **settings: str) -> Iterator[PgCluster]:
    """A started streaming replica of ``primary`` (everything the primary has, then its WAL as
    it comes), with ``settings`` added to its postgresql.conf."""
    with _started(lambda root, port: Standby(root, port, settings, primary)) as standby:
        yield standby
