"""When things go wrong around a build, every PDF stays whole and the next build puts things right.

A full disk, a read-only output folder, a missing font or logo, a build killed
part-way, a second build on the same folder, a leaflet that takes too long:
each ends with a plain message and the right exit status (1, or 2 for invalid
input), never a traceback; every PDF in the output is either the good one from
the last build or the good one from this build (compared byte for byte), never
truncated; and a normal build afterwards repairs the catalog.

The faults are simulated (we run as root, so file permissions stop nothing): a
disk that fills up while a PDF is being written, and a rename refused as on a
read-only disk, by replacing os.write and os.replace for the test's length.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import careleaf.build.run as building
from careleaf.cli import main as cli
from careleaf.build.run import build
from careleaf.project import Project
from careleaf.cli.main import main
from careleaf.build.output import MANIFEST, locked
from conftest import edit, replace_in, require, small_project, with_theme

ROOT = Path(__file__).resolve().parents[1]
GENERATE = ROOT / "generate.py"
KILL_BUILD = Path(__file__).resolve().parent / "kill_build.py"
BRAND = "harbour-skin"
TREATMENT = "botox-facial-lines"
AFTERCARE = f"{BRAND}/en/{TREATMENT}-aftercare.pdf"
PRE_TREATMENT = f"{BRAND}/en/{TREATMENT}-pre-treatment.pdf"


# --- a small project: one clinic, one treatment (two leaflets in English) ---------------------

def rename_clinic(root: Path) -> None:
    """A change that reaches every page of every leaflet."""
    edit(root / f"leaflets/brands/{BRAND}.yaml", r"(?m)^name: .*$", "name: Harbour Skin Clinic Ltd")


def pdfs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.pdf"))}


def files_state(out: Path, pattern: str = "*") -> dict[str, tuple[bytes, int, int]]:
    """Each file's bytes, modification time and inode: enough to tell whether anything was rewritten."""
    return {str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(out.rglob(pattern)) if p.is_file()}


def partials(out: Path) -> list[Path]:
    return sorted(out.rglob("*.partial"))


@dataclass
class Versions:
    """The small project built as it is (old) and with the clinic renamed (new): every PDF differs."""

    old_root: Path
    old_out: Path
    old: dict[str, bytes]
    new: dict[str, bytes]

    def start(self, dest: Path, *, copy_styles: bool = False) -> tuple[Path, Path]:
        """A project with the new content over an output folder holding the old PDFs.

        Its styles/ (the brands' logos) is the old project's, linked, unless the
        test changes something in it and asks for a copy of its own.
        """
        root = dest / "project"
        shutil.copytree(self.old_root / "leaflets", root / "leaflets")
        if copy_styles:
            shutil.copytree(self.old_root / "styles", root / "styles")
        else:
            (root / "styles").symlink_to(self.old_root / "styles", target_is_directory=True)
        rename_clinic(root)
        shutil.copytree(self.old_out, dest / "out")
        return root, dest / "out"


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> Versions:
    old_root = small_project(tmp_path_factory.mktemp("old"))
    new_root = small_project(tmp_path_factory.mktemp("new"))
    rename_clinic(new_root)
    built = {}
    for root in (old_root, new_root):
        summary = build(Project(root), root / "out", large_print=False, jobs=1)
        assert sorted(summary.built) == [AFTERCARE, PRE_TREATMENT] and not summary.failed
        built[root] = pdfs(root / "out")
    assert all(built[old_root][name] != built[new_root][name] for name in built[old_root])
    return Versions(old_root, old_root / "out", built[old_root], built[new_root])


def run(root: Path, out: Path, *extra: str) -> list[str]:
    return ["--project", str(root), "build", "--out", str(out), "--no-large-print", "--jobs", "1", "--quiet", *extra]


def assert_plain(err: str) -> None:
    assert "Traceback" not in err and "Internal error" not in err, err


def assert_repaired(versions: Versions, root: Path, out: Path, capsys) -> None:
    """The next normal build: exit 0, every PDF the new good one, nothing temporary left."""
    code = main(run(root, out))
    err = capsys.readouterr().err
    assert code == 0, err
    assert pdfs(out) == versions.new
    assert not partials(out)
    assert set(json.loads((out / MANIFEST).read_text("utf-8"))) == set(versions.new)


# --- 3. a full disk, a read-only folder, a missing font or logo -------------------------------

def test_disk_filling_up_part_way_keeps_every_pdf_whole_and_says_so(versions, tmp_path, monkeypatch, capsys):
    root, out = versions.start(tmp_path)
    real_write = os.write
    written = []

    def write(descriptor, data):
        name = os.readlink(f"/proc/self/fd/{descriptor}")
        if name.endswith(".partial") and ".pdf." in name:
            written.append(name)
            if len(written) == 2:  # the first PDF fits; the disk fills half-way through the second
                real_write(descriptor, bytes(data[: len(data) // 2]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", write)
    code = main(run(root, out))
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.fullmatch(rf"Error: cannot write to {re.escape(str(out))}/{BRAND}/en/{TREATMENT}-[a-z-]+\.pdf: "
                        r"the disk is full\. [^\n]+\n", err), err
    assert_plain(err)
    state = pdfs(out)
    assert sorted(n for n in state if state[n] == versions.new[n]) == [AFTERCARE]   # written before the disk filled
    assert sorted(n for n in state if state[n] == versions.old[n]) == [PRE_TREATMENT]  # left as it was
    assert not partials(out), "the half-written temporary file was left behind"
    assert_repaired(versions, root, out, capsys)


def test_read_only_output_folder_changes_nothing_and_says_so(versions, tmp_path, monkeypatch, capsys):
    root, out = versions.start(tmp_path)
    before = files_state(out)

    def replace(source, destination, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", replace)
    code = main(run(root, out))
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.fullmatch(rf"Error: cannot write to {re.escape(str(out))}/\S+\.pdf: the disk or folder is read-only\. "
                        r"[^\n]+\n", err), err
    assert_plain(err)
    assert files_state(out) == before
    assert_repaired(versions, root, out, capsys)


@pytest.mark.parametrize("where", ["is-a-file", "under-a-file"])
def test_an_output_path_that_cannot_be_a_folder_is_named_plainly(where, versions, tmp_path, capsys):
    root, _ = versions.start(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "is-a-file" else blocker / "out"
    code = main(run(root, out))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"Error: cannot write to {out}: a file of that name is in the way of a folder."), err
    assert_plain(err)
    assert blocker.read_text() == "not a folder"


def test_missing_font_fails_every_leaflet_by_name_and_keeps_the_old_pdfs(versions, tmp_path, capsys):
    """The clinic's stylesheet (its own, replacing careleaf's) names a font of its own that goes missing.

    (A project's copy of one of careleaf's own fonts cannot go missing: the theme's is used instead.)
    """
    root, out = versions.start(tmp_path, copy_styles=True)
    with_theme(root)
    font = root / "styles/fonts/ClinicSans-Bold.ttf"
    (root / "styles/fonts/NotoSans-Bold.ttf").rename(font)
    replace_in(root / "styles/leaflet.css", 'url("fonts/NotoSans-Bold.ttf")', 'url("fonts/ClinicSans-Bold.ttf")')
    before = files_state(out, "*.pdf")
    saved = font.read_bytes()
    font.unlink()
    code = main(run(root, out))
    err = capsys.readouterr().err
    assert code == 1, err
    failures = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert sorted(line.split(":")[1].strip() for line in failures) == [AFTERCARE[:-4], PRE_TREATMENT[:-4]], err
    assert all("missing" in line and "fonts/ClinicSans-Bold.ttf" in line for line in failures), err
    assert_plain(err)
    assert files_state(out, "*.pdf") == before
    font.write_bytes(saved)
    assert_repaired(versions, root, out, capsys)


def test_missing_logo_is_invalid_input_and_changes_nothing(versions, tmp_path, capsys):
    root, out = versions.start(tmp_path, copy_styles=True)
    before = files_state(out)
    (root / f"styles/brands/{BRAND}/logo.svg").unlink()
    code = main(run(root, out))
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(rf"^\S*leaflets/brands/{BRAND}\.yaml:\d+:\d+: the logo file styles/brands/{BRAND}/logo\.svg "
                     r"does not exist$", err, re.MULTILINE), err
    assert "nothing was built" in err
    assert_plain(err)
    assert files_state(out) == before


# --- 4. builds killed part-way -------------------------------------------------------------------

@pytest.mark.slow
def test_killed_builds_never_leave_a_broken_pdf(tmp_path):
    """tests/kill_build.py, with fewer kills and a smaller catalog than when run by hand (20 kills)."""
    require("qpdf")         # kill_build.py checks each PDF with qpdf --check too
    project = small_project(tmp_path / "project", languages="en, tr")  # four leaflets
    result = subprocess.run([sys.executable, str(KILL_BUILD), "--times", "5", "--project", str(project),
                             "--no-large-print", "--jobs", "2", "--seed", "20240611"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "each PDF is checked with pypdf and qpdf --check" in result.stdout, result.stdout
    assert "0 left a broken PDF; the repair build worked" in result.stdout, result.stdout
    assert "BROKEN" not in result.stdout


# --- 5. two builds at once ----------------------------------------------------------------------

def test_a_second_build_on_the_same_output_is_refused_and_changes_nothing(versions, tmp_path):
    root, out = versions.start(tmp_path)
    before = files_state(out)
    with locked(out):
        result = subprocess.run([sys.executable, str(GENERATE), *run(root, out, "--force")],
                                capture_output=True, text=True, timeout=120)
        assert files_state(out) == before
    assert result.returncode == 1, result.stderr
    assert result.stderr == (f"Error: another build is writing to {out} right now; "
                             "wait for it to finish and try again\n")
    assert files_state(out) == before


# --- 7. the render time limit -------------------------------------------------------------------

def test_tiny_time_limit_fails_each_leaflet_with_exit_1_and_keeps_the_old_pdfs(versions, tmp_path, monkeypatch,
                                                                                 capsys):
    root, out = versions.start(tmp_path)
    before = files_state(out, "*.pdf")
    # Below what the command's option allows: give its build() a tiny limit, wherever the command takes build from.
    def tiny_limit(*args, **options):
        return build(*args, **{**options, "time_limit_seconds": 0.001})

    monkeypatch.setattr(building, "build", tiny_limit)
    monkeypatch.setattr(cli, "build", tiny_limit, raising=False)
    code = main(run(root, out))
    err = capsys.readouterr().err
    assert code == 1, err
    failures = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert sorted(failures) == [f"Error: {name[:-4]}: rendering took longer than 0.001 s and was stopped"
                                for name in (AFTERCARE, PRE_TREATMENT)], err
    assert_plain(err)
    assert files_state(out, "*.pdf") == before


@pytest.mark.slow
def test_only_the_leaflet_that_runs_away_is_stopped(versions, tmp_path):
    """A pre-treatment leaflet hundreds of pages long is stopped; the aftercare leaflet is built as usual."""
    root, out = versions.start(tmp_path)
    # The limit: twice what this machine takes to build the whole project as it is, just now (so the aftercare
    # leaflet never meets it, however busy the machine is), and far below what the long leaflet takes (tens of
    # times as long).
    started = time.monotonic()
    assert not build(Project(root), tmp_path / "timing", large_print=False, jobs=1).failed
    limit = round(max(2.5, 2 * (time.monotonic() - started)), 1)
    wording = root / f"leaflets/treatments/{TREATMENT}/en.yaml"
    paragraph = "This sentence is here to make one answer very long, so the leaflet takes a long time. " * 5
    edit(wording, r"(?m)^(  [a-z0-9-]+:\n    question: [^\n]*\n    answer: \|\n)",
         "".join(f"      {paragraph}\n\n" for _ in range(1500)))
    assert wording.stat().st_size < 1_000_000  # under the input size limit
    before = files_state(out)
    summary = build(Project(root), out, large_print=False, jobs=1, time_limit_seconds=limit)
    assert summary.failed == [f"{PRE_TREATMENT[:-4]}: rendering took longer than {limit:g} s and was stopped"]
    assert summary.built == [AFTERCARE]
    assert pdfs(out)[AFTERCARE] == versions.new[AFTERCARE]
    assert files_state(out)[PRE_TREATMENT] == before[PRE_TREATMENT]
    assert not partials(out)
