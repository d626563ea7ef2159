"""`pip install careleaf` outside a checkout: the wheel carries the theme and the starter project, so
`careleaf new` and `careleaf build` work in a folder that has nothing of this repository.

The wheel is built from this checkout and installed into a new virtual environment in a temporary
folder. Its requirements are not downloaded (tests never reach beyond this machine): the new
environment sees this environment's site-packages through a .pth line, which adds folders to the
path but does not run their start-up files, so the checkout's editable careleaf stays out of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pypdf
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def run(*args, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
                          **kwargs)


def test_a_wheel_installed_outside_the_checkout_starts_and_builds_a_project(tmp_path):
    wheels = tmp_path / "wheels"
    made = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
               "--quiet", "-w", wheels, ROOT, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    [wheel] = wheels.glob("careleaf-*.whl")

    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).stdout.strip())
    (site / "requirements-from-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
                    "--quiet", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    where = run(python, "-c", "import careleaf; print(careleaf.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr

    careleaf = env / "bin" / "careleaf"
    started = run(careleaf, "new", tmp_path / "x", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    built = run(careleaf, "build", "--quiet", cwd=tmp_path / "x")
    assert built.returncode == 0, built.stderr
    pdfs = sorted((tmp_path / "x" / "out").rglob("*.pdf"))
    assert len(pdfs) == 4
    for pdf in pdfs:
        catalog = pypdf.PdfReader(pdf).trailer["/Root"]
        assert "/StructTreeRoot" in catalog and str(catalog["/Lang"]) == "en"
    assert not any(Path(p).is_relative_to(ROOT) for p in (tmp_path / "x").rglob("*"))


def test_installing_from_a_checkout_as_the_docs_say_leaves_it_clean(tmp_path):
    """docs/admin: `pip install "git+file:///path/to/careleaf"` builds from a copy pip makes of the committed
    checkout, so nothing (build/, careleaf.egg-info/) is written into the checkout itself."""
    def untracked() -> str:
        return run("git", "status", "--porcelain", "--ignored", "--untracked-files=all", cwd=ROOT).stdout

    before = untracked()
    made = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
               "-w", tmp_path, f"git+file://{ROOT}", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert list(tmp_path.glob("careleaf-*.whl"))
    assert untracked() == before
