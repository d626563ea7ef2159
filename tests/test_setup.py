"""The newcomer's set-up: system-packages.txt and tools/require.py, which `make leaflets` and `make test` run first.

The script runs in a copy of the files it reads (the list, the npm lock, a node_modules/ folder of our
making), so what the real checkout's node_modules/ holds does not matter; apt-get, sudo and npm are
stand-ins that write down how they were called, so nothing is installed. The system's own packages
must be there, as `make test` makes sure before the tests run.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
SCRIPT = TOP / "tools" / "require.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("careleaf_require", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


require = _load_script()


@pytest.fixture
def checkout(tmp_path):
    """A copy of what the script reads, with node_modules/ newer than the lock (installed)."""
    top = tmp_path / "repo"
    (top / "tools").mkdir(parents=True)
    for name in ("tools/require.py", "system-packages.txt", "package.json", "package-lock.json"):
        shutil.copy2(TOP / name, top / name)
    lock = (top / "package-lock.json").stat().st_mtime
    (top / "node_modules").mkdir()
    os.utime(top / "node_modules", (lock + 10, lock + 10))
    return top


@pytest.fixture
def stand_ins(tmp_path):
    """A folder of apt-get, sudo and npm that log their arguments (and DEBIAN_FRONTEND) and do nothing else."""
    folder, log = tmp_path / "stand-ins", tmp_path / "calls.log"
    folder.mkdir()
    for name in ("apt-get", "npm"):
        (folder / name).write_text(f'#!/bin/sh\necho "{name} DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "{log}"\n')
    (folder / "sudo").write_text('#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n')
    for path in folder.iterdir():
        path.chmod(0o755)
    return folder, log


def _path_without(tmp_path, *names):
    """A folder of links to every program on PATH but `names`: the machine as it would be without them."""
    folder = tmp_path / "path"
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name not in names and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return folder


def _run(top, goal, path, **env):
    unset = ("CARELEAF_NO_INSTALL", "DEBIAN_FRONTEND")  # CI exports DEBIAN_FRONTEND: the script must set it itself
    environment = {k: v for k, v in os.environ.items() if k not in unset} | {"PATH": path} | env
    return subprocess.run([sys.executable, str(top / "tools" / "require.py"), goal], env=environment,
                          capture_output=True, text=True, timeout=60)


def test_the_list_parses_and_every_package_says_why_and_how_to_find_it():
    packages = {p.debian: p for p in require.read_list()}
    assert {"libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fontconfig", "python3-venv", "make",
            "poppler-utils", "qpdf", "git", "postgresql", "chromium", "nodejs", "npm"} <= set(packages)
    for package in packages.values():
        assert package.need in ("build", "test")
        assert len(package.reason.split()) >= 3, package
        assert package.brew and " " not in package.brew, package
        for check in package.detect.split("|"):
            kind, _, what = check.partition(":")
            assert kind in ("cmd", "lib", "file", "py") and what, package
    assert packages["libharfbuzz-subset0"].detect == "lib:libharfbuzz-subset.so.0"
    assert packages["poppler-utils"].detect == "cmd:pdftotext"
    assert packages["chromium"].detect == "file:/usr/bin/chromium"  # where tests/test_browser.py looks
    assert packages["libpango-1.0-0"].need == "build" and packages["postgresql"].need == "test"


def test_a_missing_tool_stops_the_run_with_the_reason_and_the_install_line(tmp_path, checkout, stand_ins):
    folder, log = stand_ins
    path = _path_without(tmp_path, "pdftotext", "apt-get", "sudo")
    result = _run(checkout, "test", f"{path}{os.pathsep}{folder}", CARELEAF_NO_INSTALL="1")
    assert result.returncode == 1, result
    assert "poppler-utils" in result.stderr and "the tests read PDFs as Poppler-based viewers do" in result.stderr
    assert re.search(r"^  Debian/Ubuntu:  (sudo )?apt-get install -y poppler-utils$", result.stderr, re.M), result.stderr
    assert re.search(r"^  macOS: +brew install poppler$", result.stderr, re.M), result.stderr
    assert result.stdout == "" and not log.exists()  # nothing installed, not even npm's packages


def test_where_it_may_install_it_runs_one_update_and_one_install(tmp_path, checkout, stand_ins):
    folder, log = stand_ins
    path = _path_without(tmp_path, "pdftotext", "apt-get", "sudo")
    result = _run(checkout, "test", f"{folder}{os.pathsep}{path}")
    assert log.read_text().splitlines() == [
        "apt-get DEBIAN_FRONTEND=noninteractive update -qq",
        "apt-get DEBIAN_FRONTEND=noninteractive install -y --no-install-recommends poppler-utils"]
    assert "apt-get install -y --no-install-recommends poppler-utils" in result.stdout  # said before it ran
    # The stand-in installed nothing, so pdftotext is still missing: say so rather than fail in the tests.
    assert result.returncode == 1 and "apt-get install -y poppler-utils" in result.stderr


def test_with_everything_present_it_does_nothing_quickly(checkout, stand_ins):
    folder, log = stand_ins
    started = time.monotonic()
    result = _run(checkout, "test", f"{folder}{os.pathsep}{os.environ['PATH']}")
    took = time.monotonic() - started
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result
    assert not log.exists()  # no apt-get, no npm
    assert took < 3, took  # about 0.05 s; the bound leaves room for a machine busy with the other tests


def test_npm_ci_runs_when_node_modules_is_older_than_the_lock(checkout, stand_ins):
    folder, log = stand_ins
    lock = (checkout / "package-lock.json").stat().st_mtime
    os.utime(checkout / "node_modules", (lock - 10, lock - 10))
    result = _run(checkout, "test", f"{folder}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 0, result
    assert log.read_text().splitlines() == ["npm DEBIAN_FRONTEND= ci --no-audit --no-fund"]
    assert (checkout / "node_modules").stat().st_mtime >= lock  # marked installed: the next run does nothing
    assert _run(checkout, "test", f"{folder}{os.pathsep}{os.environ['PATH']}").returncode == 0
    assert len(log.read_text().splitlines()) == 1
