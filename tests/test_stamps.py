"""A build with nothing to do reads no YAML, yet never misses an edit (careleaf.build.stamps' rule).

Each test counts how often the build reads the catalog (careleaf.content.catalog.load_catalog): a build that
trusts the stamps reads it zero times; one that checks everything reads it once.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import careleaf.content.catalog
import careleaf.leaflet.html
from careleaf.build import stamps
from careleaf.errors import RenderError
from careleaf.build.run import build
from careleaf.project import THEME, Project
from conftest import mini_project

WORDING = "leaflets/treatments/demo/en.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The mini catalog and its output, built once (standard print only, to keep it quick)."""
    work = tmp_path_factory.mktemp("stamps")
    root = mini_project(work / "project")
    summary = build(Project(root), work / "out", large_print=False)
    assert not summary.failed
    return work


@pytest.fixture
def project(built, tmp_path, monkeypatch):
    """A copy of the built catalog, settled (its first build checks everything, as it was moved), and a
    counter of catalog reads from then on."""
    shutil.copytree(built, tmp_path, dirs_exist_ok=True, symlinks=True)
    root, out = tmp_path / "project", tmp_path / "out"
    assert not build(Project(root), out, large_print=False).built
    reads = []
    original = careleaf.content.catalog.load_catalog
    monkeypatch.setattr(careleaf.content.catalog, "load_catalog", lambda project: reads.append(1) or original(project))
    return root, out, reads


def rebuild(root, out, **options):
    return build(Project(root), out, large_print=False, **options)


def same_size_edit(path, old: str, new: str) -> None:
    """Change a word for another of the same length, keeping the file's size and modification time."""
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text("utf-8").replace(old, new, 1), "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


def test_nothing_changed_reads_no_yaml_and_builds_nothing(project):
    root, out, reads = project
    summary = rebuild(root, out)
    assert reads == [] and summary.built == [] and len(summary.unchanged) == 2
    assert summary.drafts == [] and summary.failed == []


def test_an_edit_that_keeps_size_and_mtime_is_still_built(project):
    root, out, reads = project
    same_size_edit(root / WORDING, "Effect starts", "Effect begins")     # the timeline's words, in both leaflets
    summary = rebuild(root, out)
    assert reads == [1] and len(summary.built) == 2, summary


def test_new_stamps_with_the_same_bytes_are_not_a_change(project):
    root, out, reads = project
    wording = root / WORDING
    wording.write_bytes(wording.read_bytes())          # a checkout or an editor saving without a change
    assert rebuild(root, out).built == [] and reads == []
    assert stamps.load(out).inputs.files[str(wording)].same_file(wording.stat())   # the stamps caught up


def test_a_file_added_anywhere_in_the_project_means_a_full_check(project):
    root, out, reads = project
    (root / "leaflets" / "notes.txt").write_text("a file the catalog does not read\n", "utf-8")
    assert rebuild(root, out).built == [] and reads == [1]


def test_a_deleted_pdf_is_rebuilt(project):
    root, out, reads = project
    victim = next(out.rglob("*.pdf"))
    victim.unlink()
    summary = rebuild(root, out)
    assert summary.built == [str(victim.relative_to(out))] and reads == [1]


def test_full_check_reads_everything_and_other_options_are_not_trusted(project):
    root, out, reads = project
    assert rebuild(root, out, full_check=True).built == [] and reads == [1]
    assert build(Project(root), out, large_print=True).built and reads == [1, 1]


def test_reaching_a_review_date_means_a_full_check(project):
    root, out, reads = project
    assert rebuild(root, out, today=dt.date(2099, 1, 5)).built == [] and reads == []
    with pytest.raises(RenderError, match="past their review date"):
        rebuild(root, out, today=dt.date(2099, 1, 6))
    assert reads == [1]


def test_a_build_that_fails_is_followed_by_a_full_check(project):
    root, out, reads = project
    same_size_edit(root / WORDING, "Effect starts", "Effect begins")
    assert len(rebuild(root, out, time_limit_seconds=0.001).failed) == 2     # every leaflet stopped
    assert len(rebuild(root, out).built) == 2 and reads == [1, 1]


def test_a_stamp_taken_within_the_racy_window_is_not_trusted(project):
    """A second edit in the file system's clock tick can leave every time as it was: such a file is read."""
    root, out, _ = project
    record = stamps.load(out)
    wording = str(root / WORDING)
    recorded = record.inputs.files[wording]
    wrong = replace(record.inputs, files={**record.inputs.files, wording: replace(recorded, sha256="0" * 64)})
    settled_long_ago = replace(record, inputs=replace(wrong, taken_ns=recorded.ctime_ns + 10 * 10**9))
    assert stamps.unchanged_since(settled_long_ago, Project(root)) is not None   # the stamp is trusted
    just_now = replace(record, inputs=replace(wrong, taken_ns=recorded.ctime_ns + 10**9))
    assert stamps.unchanged_since(just_now, Project(root)) is None                # read, and found different


def test_stamps_are_trusted_whatever_order_the_file_names_sort_in(tmp_path, monkeypatch):
    """'demo/…' sorts after 'demo-2/…' as text but before it as a path: the comparison must not care."""
    root = mini_project(tmp_path / "project")
    clone = root / "leaflets/treatments/demo-2"
    shutil.copytree(root / "leaflets/treatments/demo", clone)
    facts = clone / "treatment.yaml"
    facts.write_text(facts.read_text("utf-8").replace("code: DEMO-", "code: DEMO2-"), "utf-8")
    assert len(rebuild(root, tmp_path / "out").built) == 4
    monkeypatch.setattr(careleaf.content.catalog, "load_catalog", lambda project: pytest.fail("the catalog was read"))
    assert rebuild(root, tmp_path / "out").built == []


def test_stamps_cover_careleafs_own_code_and_theme(tmp_path):
    """An upgrade of careleaf, or an edit of its theme, is never settled by the stamps."""
    files = {Path(path) for path in stamps.input_files(Project(mini_project(tmp_path / "project")))}
    assert THEME / "styles/leaflet.css" in files and THEME / "templates/labels/en.yaml" in files
    assert Path(careleaf.leaflet.html.__file__).resolve() in files


def test_the_version_of_the_files_changes_with_every_save_and_only_then(tmp_path):
    """What the web app's render workers go by (careleaf.build.stamps.files_version): a save that keeps the file's
    size and modification time still counts; an editor's swap file does not."""
    root = mini_project(tmp_path / "project")
    project = Project(root)
    first = stamps.files_version(project)
    assert stamps.files_version(project) == first
    (root / "styles" / ".leaflet.css.swp").write_bytes(b"an editor's swap file")
    (root / WORDING).with_name("en.yaml~").write_bytes(b"an editor's backup")
    assert stamps.files_version(project) == first
    same_size_edit(root / WORDING, "Effect starts", "Effect begins")
    assert stamps.files_version(project) != first
