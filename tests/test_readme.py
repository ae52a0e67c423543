"""The README, run as a newcomer runs it: ``make run``, the curl line it prints, then every
shell block of the README in order, as written, against that server on a fresh database.

A block that cannot run here says why in an HTML comment just above it
(``<!-- not run: <reason> -->``); every other ``sh`` block runs, in order, in one bash process
(``set -euo pipefail``), so a block sees the shell variables of the blocks before it, as in a
newcomer's terminal. The only rewrite is the address: ``127.0.0.1:8000`` and
``localhost:8000`` become the test server's.

What each command must answer is written in the README as a comment, on the line before the
command or at its end: ``# what it does -> 200 {"affiliate_status": "pending"}``. The status is
the HTTP status of the command's last curl call (every call must answer below 400 unless its
expectation names the error status); the JSON object must be contained in that call's body
(or, for a command without curl, in what it prints). A command that exits non-zero fails the
test.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT
from tests.support.dns import LoopbackDns
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
EXPECT = re.compile(r"->\s*(?P<status>[1-5][0-9]{2})?\s*(?P<json>\{.*\})?\s*$")

# Shell run before the blocks: a curl that records every call's status and body (for the
# expectations) and fails on an HTTP error the README does not announce.
PRELUDE = r"""
curl() {
  local body status
  body="$(mktemp "$PP_TMP/body.XXXXXX")"
  status="$(command curl -sS -o "$body" -w '%{http_code}' "$@")" || { cat "$body"; return 1; }
  cat "$body"
  echo
  printf '%s %s %s\n' "$PP_CMD" "$status" "$body" >> "$PP_TMP/calls"
  if [ "$status" -ge 400 ] && [ "$status" != "${PP_EXPECT:-}" ]; then
    echo "HTTP $status from: curl $*" >&2
    return 22
  fi
}
"""


@dataclass
class Command:
    text: str
    line: int
    status: int | None = None
    body: dict | None = None


@dataclass
class Block:
    line: int
    code: str
    skip_reason: str | None


def shell_blocks(markdown: str) -> list[Block]:
    blocks, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i
            i += 1
            body = []
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            before = lines[start - 1] if start else ""
            skip = SKIP.search(before)
            blocks.append(Block(start + 1, "\n".join(body), skip["reason"] if skip else None))
        i += 1
    return blocks


def _expectation(comment: str) -> tuple[int | None, dict | None] | None:
    match = EXPECT.search(comment)
    if match is None or not (match["status"] or match["json"]):
        return None
    body = None
    if match["json"]:
        body = json.loads(re.sub(r",?\s*\.\.\.\s*", "", match["json"]))
    return (int(match["status"]) if match["status"] else None), body


def commands(block: Block) -> list[Command]:
    """The block's commands (continuation lines joined), each with its expectation."""
    found: list[Command] = []
    pending: tuple[int | None, dict | None] | None = None
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if stripped.startswith("#"):
            pending = _expectation(stripped) or pending
            i += 1
            continue
        start, parts = i, [line]
        while parts[-1].rstrip().endswith("\\"):
            i += 1
            parts.append(lines[i])
        text = "\n".join(parts)
        trailing = _expectation(parts[-1].split(" # ", 1)[1]) if " # " in parts[-1] else None
        status, body = trailing or pending or (None, None)
        found.append(Command(text, block.line + 1 + start, status, body))
        pending = None
        i += 1
    return found


def contains(actual: object, expected: object) -> bool:
    """``expected`` is a part of ``actual``: objects by key, lists item by item."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=False))
        )
    return actual == expected


# --- the server: make run ---------------------------------------------------------------------


@dataclass
class Newcomer:
    env: dict[str, str]
    port: int
    database: Path
    tmp: Path


@pytest.fixture
def newcomer(tmp_path: Path, loopback_dns: LoopbackDns) -> Newcomer:
    port = free_port()
    database = tmp_path / "data" / "readme.db"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PP_", "DATABASE_", "REDIS_")) and k not in {"HOST", "PORT"}
    }
    # The CLI as the README puts it on PATH ($PWD/.venv/bin) comes first; the test's own
    # environment is the fallback for a checkout whose virtualenv lives elsewhere.
    env["PATH"] = f"{env.get('PATH', '')}:{Path(sys.executable).parent}"
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        LOG_LEVEL="warning",
        HOST="127.0.0.1",
        PORT=str(port),
        # The domain proof asks the test's DNS server, which has no record of the README's.
        DNS_NAMESERVERS=loopback_dns.address,
    )
    return Newcomer(env, port, database, tmp_path)


class MakeRun:
    """``make run`` in the background, as in a terminal of its own."""

    def __init__(self, newcomer: Newcomer, log_name: str) -> None:
        self.log = newcomer.tmp / log_name
        self.base = f"http://127.0.0.1:{newcomer.port}"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=newcomer.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def printed_curl(self) -> str:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            output = self.log.read_text()
            assert self.proc.poll() is None, f"make run exited:\n{output[-3000:]}"
            curl = next((line.strip() for line in output.splitlines() if "curl " in line), None)
            if curl and self._answers():
                return curl
            time.sleep(0.2)
        raise TimeoutError(f"make run did not serve in time:\n{self.log.read_text()[-3000:]}")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def make_run(newcomer: Newcomer) -> Iterator[MakeRun]:
    server = MakeRun(newcomer, "make-run.log")
    try:
        yield server
    finally:
        server.stop()


def paste(curl: str, env: dict[str, str]) -> tuple[int, str]:
    """Run a printed curl line exactly as a newcomer pastes it: (status, body)."""
    done = subprocess.run(
        ["bash", "-c", curl + " -s -w '\\n%{http_code}'"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith(("sqlite_", "alembic"))
        ]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def last_event_type(database: Path) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT type FROM events ORDER BY id DESC LIMIT 1").fetchone()[0]


# --- the tests ----------------------------------------------------------------------------------


def test_every_readme_block_runs_as_written(newcomer: Newcomer, make_run: MakeRun) -> None:
    status, body = paste(make_run.printed_curl(), newcomer.env)
    assert status == 200, body
    assert json.loads(body)["partner"]["unique_id"] == "demo-partner"

    blocks = shell_blocks(README.read_text())
    runnable = [b for b in blocks if b.skip_reason is None and not _is_make_run(b)]
    assert len(runnable) >= 5, "the README's examples were not found"
    _run_blocks(runnable, newcomer, make_run.base)


def test_the_blocks_not_run_say_why_and_are_few() -> None:
    skipped = [b for b in shell_blocks(README.read_text()) if b.skip_reason]
    assert all(len(b.skip_reason or "") > 10 for b in skipped)
    assert len(skipped) <= 6, [b.line for b in skipped]


def test_a_second_make_run_reuses_the_demo_and_creates_nothing(newcomer: Newcomer) -> None:
    first = MakeRun(newcomer, "first.log")
    try:
        first_curl = first.printed_curl()
    finally:
        first.stop()
    # It says what it is doing, step by step, instead of a silent wait.
    progress = [line for line in first.log.read_text().splitlines() if line.startswith("==> ")]
    assert [p.split()[1] for p in progress][-3:] == ["migrating", "preparing", "serving"]
    before = row_counts(newcomer.database)

    second = MakeRun(newcomer, "second.log")
    try:
        curl = second.printed_curl()
        after = row_counts(newcomer.database)
        # Nothing new but the event log's record of the demo key's new secret.
        assert after.pop("events") == before.pop("events") + 1
        assert after == before
        assert last_event_type(newcomer.database) == "api_key.rotated"
        assert "reused" in second.log.read_text()
        status, body = paste(curl, newcomer.env)
        assert status == 200, body
        # The demo key has a new secret: the first run's line no longer authenticates.
        assert paste(first_curl, newcomer.env)[0] == 401
    finally:
        second.stop()


def test_commands_split_and_expectations_parse() -> None:
    block = Block(
        1,
        '# open it -> 200 {"is_affiliate_enabled": true, ...}\n'
        "curl -X PATCH $BASE/x \\\n  -d '{}'\n"
        'PP=$(curl $BASE/y | json id)   # -> {"affiliate_status": "pending"}\n'
        "curl $BASE/z  # -> 409\n",
        None,
    )
    found = commands(block)
    assert [c.status for c in found] == [200, None, 409]
    assert found[0].body == {"is_affiliate_enabled": True}
    assert found[0].text.count("\n") == 1
    assert found[1].body == {"affiliate_status": "pending"}
    assert contains({"a": 1, "b": [{"c": 2, "d": 3}]}, {"b": [{"c": 2}]})
    assert not contains({"a": 1}, {"a": 2})


def _is_make_run(block: Block) -> bool:
    return block.code.strip().startswith("make run")


def _run_blocks(blocks: list[Block], newcomer: Newcomer, base: str) -> None:
    cmds = [command for block in blocks for command in commands(block)]
    address = base.removeprefix("http://")
    script = ["set -euo pipefail", PRELUDE]
    for index, command in enumerate(cmds):
        text = command.text.replace("127.0.0.1:8000", address).replace("localhost:8000", address)
        expect = f"PP_EXPECT={command.status}" if command.status else "PP_EXPECT="
        script += [f"printf '\\n@@PP-CMD {index}\\n'", f"PP_CMD={index}; {expect}", text]
    calls = newcomer.tmp / "calls"
    calls.write_text("")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env={**newcomer.env, "PP_TMP": str(newcomer.tmp)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    outputs = _outputs(done.stdout)
    if done.returncode != 0:
        last = max(outputs) if outputs else None
        where = f"README line {cmds[last].line}: {cmds[last].text}" if last is not None else ""
        pytest.fail(f"{where}\nexit {done.returncode}\n{done.stderr[-3000:]}")
    recorded = _calls(calls)
    for index, command in enumerate(cmds):
        _check(command, recorded.get(index), outputs.get(index, ""))


def _outputs(stdout: str) -> dict[int, str]:
    parts = re.split(r"^@@PP-CMD (\d+)$", stdout, flags=re.MULTILINE)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _calls(path: Path) -> dict[int, list[tuple[int, str]]]:
    recorded: dict[int, list[tuple[int, str]]] = {}
    for line in path.read_text().splitlines():
        cmd, status, body = line.split(" ", 2)
        recorded.setdefault(int(cmd), []).append((int(status), Path(body).read_text()))
    return recorded


def _check(command: Command, calls: list[tuple[int, str]] | None, printed: str) -> None:
    where = f"README line {command.line}: {command.text}"
    if calls:
        status, body = calls[-1]
        if command.status is not None:
            assert status == command.status, f"{where}\nanswered {status}: {body}"
        text = body
    else:
        assert command.status is None, f"{where}\nmade no HTTP call"
        text = printed
    if command.body is not None:
        try:
            actual = json.loads(text)
        except json.JSONDecodeError:
            pytest.fail(f"{where}\nprinted no JSON: {text[:2000]}")
        assert contains(actual, command.body), f"{where}\nexpected {command.body}, got {text}"
