"""The set-up that ``make test`` does by itself on a fresh machine, and what it says when it
cannot: one line naming what to install."""

import os
import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT


def test_make_test_installs_and_starts_what_the_suite_needs_before_pytest():
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    steps = planned.splitlines()
    deps = next(i for i, s in enumerate(steps) if "scripts/install-system-deps.sh" in s)
    services = next(i for i, s in enumerate(steps) if "scripts/start-services.sh" in s)
    tests = next(i for i, s in enumerate(steps) if "-m pytest" in s)
    assert deps < tests and services < tests


def test_ci_runs_exactly_the_readme_test_command():
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]


def _bare_path(tmp_path: Path, *tools: str) -> str:
    """A PATH with only ``tools`` (and what a shell script needs), nothing else installed."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "seq", "sleep", "ls", "sort", "tail", "mkdir", *tools):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return str(bindir)


def _run(script: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_services_names_a_missing_postgresql_in_one_line(tmp_path):
    result = _run("start-services.sh", _bare_path(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "PostgreSQL is not installed" in result.stderr and "apt-get install" in result.stderr


def test_start_services_leaves_running_servers_alone():
    result = _run("start-services.sh", os.environ["PATH"])
    assert result.returncode == 0, result.stderr
    assert "starting" not in result.stdout


def test_install_system_deps_names_what_to_install_when_it_cannot(tmp_path):
    path = _bare_path(tmp_path)
    # Not root, and no sudo: nothing can be installed.
    fake_id = Path(path) / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    result = _run("install-system-deps.sh", path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "wrk" in result.stderr and "apt-get install" in result.stderr
