"""Running the real service for tests: ``product-partners serve`` in subprocesses, and the
CLI's commands."""

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import httpx

from product_partners.cli.main import main
from product_partners.settings import get_settings

BIN = Path(sys.executable).parent / "product-partners"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PP_")}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="warning", **extra)
    return env


def run_cli(
    database_url: str, *args: str, stdin: str = "", **extra_env: str
) -> subprocess.CompletedProcess:
    """``product-partners ARGS`` with ``DATABASE_URL`` (and ``extra_env``): its exit code,
    stdout and stderr. It runs the CLI's ``main()`` in this process, in a thread of its own
    (the caller may be inside an event loop), because a new interpreter per command would cost
    a second of imports each; ``cli_subprocess`` runs the installed command itself."""
    result: dict[str, Any] = {}

    def run() -> None:
        out, err = io.StringIO(), io.StringIO()
        saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
        with _environment(cli_env(database_url, **extra_env)), redirect_stdout(out), \
                redirect_stderr(err):  # fmt: skip
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
            finally:
                sys.stdin = saved_stdin
        result.update(code=code, out=out.getvalue(), err=err.getvalue())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"product-partners {' '.join(args)} did not finish"
    return subprocess.CompletedProcess(
        ["product-partners", *args], result["code"], result["out"], result["err"]
    )


def cli_subprocess(database_url: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    """The installed ``product-partners`` command, in a process of its own."""
    return subprocess.run(
        [str(BIN), *args],
        env=cli_env(database_url, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """The process environment replaced by ``env`` (and the settings read again) meanwhile."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@contextmanager
def serve(
    database_url: str, workers: int = 1, port: int | None = None, **extra_env: str
) -> Iterator[str]:
    """Start ``product-partners serve`` and yield its base URL once it answers."""
    with serve_with_pid(database_url, workers, port=port, **extra_env) as (base, _pid):
        yield base


@contextmanager
def serve_with_pid(
    database_url: str,
    workers: int = 1,
    *,
    port: int | None = None,
    log: Path | None = None,
    **extra_env: str,
) -> Iterator[tuple[str, int]]:
    """Start ``product-partners serve``; yield its base URL and the supervisor's pid (with
    ``workers`` > 1 its children are the workers) once every worker runs and it answers.
    ``log``: a file for the server's log lines (stdout)."""
    port = port or free_port()
    log_file = log.open("ab") if log is not None else None
    proc = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=cli_env(database_url, **extra_env),
        stdout=log_file if log_file is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    expected_workers = workers if workers > 1 else 0
    try:
        deadline = time.monotonic() + 30
        while len(worker_pids(proc.pid)) < expected_workers or not _answers(base):
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("serve did not start in 30 s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_file is not None:
            log_file.close()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def worker_pids(parent: int) -> list[int]:
    """The worker processes of the ``serve`` supervisor ``parent``."""
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").glob("*"):
        try:
            text = (task / "children").read_text()
        except OSError:  # a thread that has ended since the listing
            continue
        children += [int(pid) for pid in text.split()]
    # uvicorn's workers are the children running our app (not e.g. a resource tracker).
    return [pid for pid in children if "multiprocessing.resource_tracker" not in _cmdline(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def log_records(path: Path, level: str) -> list[dict]:
    """The JSON log records (``LOG_FORMAT=json``) at ``level`` in a server's log file."""
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # not ours (a crash's traceback, a third party's print)
        if isinstance(record, dict) and record.get("level") == level:
            records.append(record)
    return records
