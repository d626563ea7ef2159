"""One record of what a leaflet prints (Leaflet.printed), read by the build's fingerprint, the DRAFT
mark, the translation note and `changes`, so none of them can drift from what is printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from careleaf.leaflet.assemble import assemble, jobs
from careleaf.build.run import build, pages
from careleaf.content.catalog import load_catalog
from careleaf.review.changes import compare
from careleaf.content.items import Key, canonical
from careleaf.project import Project

from conftest import copy_project, files_state, mini_project, own_labels, replace_in

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
TODAY = __import__("datetime").date(2026, 6, 1)


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """The sample project, with its own template words, committed as the PDFs in use were built from it."""
    root = own_labels(copy_project(tmp_path / "project"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "as printed")
    monkeypatch.chdir(root)
    return root


def reached(result) -> dict[str, list[str]]:
    return {change.item: sorted(f"{leaflet['code']} {','.join(leaflet['languages'])}" for leaflet in change.leaflets)
            for change in result.changes}


def test_a_leaflet_records_exactly_the_items_it_prints(sample):
    catalog = sample.catalog
    job = next(j for j in jobs(catalog, large_print=False)
               if (j.brand, j.lang, j.treatment, j.kind) == ("harbour-skin", "en", "botox-facial-lines", "pre-treatment"))
    printed = assemble(catalog, job, TODAY).printed
    wording = "leaflets/treatments/botox-facial-lines/en.yaml"
    assert Key(wording, "sections", "will-my-face-swell") in printed
    assert Key("leaflets/brands/harbour-skin.yaml", "phone") in printed
    assert Key("templates/labels/en.yaml", "side_effects") in printed
    # Not printed: the aftercare-only blocks, the other brand, the other language, the other kind's title.
    assert not any(key.group == "aftercare_checklist" for key in printed)
    assert not any(key.file.endswith(("maple-aesthetics.yaml", "tr.yaml")) for key in printed)
    assert Key(wording, "leaflets", "aftercare") not in printed
    # Only the frequency words of groups it shows.
    frequencies = {k.group for k in printed if k.group.startswith("frequency_")}
    shown = {f"frequency_{group}" for group, _ in assemble(catalog, job, TODAY).side_effects}
    assert frequencies == shown


def test_a_changed_urgent_number_reaches_that_brands_leaflets_that_print_it(repo):
    replace_in(repo / "leaflets/brands/maple-aesthetics.yaml", "urgent_phone: ", "urgent_phone: 1 ")
    result = compare(Project(repo), "HEAD", today=TODAY)
    [change] = result.changes
    assert (change.file, change.item, change.status) == ("leaflets/brands/maple-aesthetics.yaml", "urgent_phone",
                                                         "changed")
    assert change.fields[0].diff.startswith("{+1 +}")
    # Every leaflet prints it in its contact box or urgent-help box, in every language the brand offers.
    assert reached(result) == {"urgent_phone": ["BTX-FL-AC en,tr", "BTX-FL-PT en,tr", "BTX-UA-AC en,tr",
                                                "BTX-UA-PT en,tr"]}
    assert all("maple-aesthetics" in pdf for leaflet in result.leaflets for pdf in leaflet.pdfs)


def test_a_changed_frequency_word_reaches_the_leaflets_that_show_that_group(repo):
    replace_in(repo / "templates/labels/en.yaml", "We do not know how often these happen", "How often: not known")
    result = compare(Project(repo), "HEAD", today=TODAY)
    [change] = result.changes
    assert (change.file, change.item) == ("templates/labels/en.yaml", "frequency_not-known")
    catalog = load_catalog(Project(repo))
    showing = sorted({f"{catalog.treatments[j.treatment].leaflet(j.kind).code} en"
                      for j in jobs(catalog) if j.lang == "en"
                      and any(group == "not-known" for group, _ in assemble(catalog, j, TODAY).side_effects)})
    assert showing and reached(result) == {"frequency_not-known": showing}
    assert [r.code for r in result.needs_bump] == [code.split()[0] for code in showing]


def test_a_translation_falling_stale_is_on_the_sheet_without_asking_for_a_new_version(repo):
    shared = repo / "leaflets/shared/en.yaml"
    text = shared.read_text("utf-8")
    start = text.index("urgent_help:")
    action = text.index("  action:", start)
    shared.write_text(text[:action] + text[action:].replace("  action: ", "  action: Please, ", 1), "utf-8")
    result = compare(Project(repo), "HEAD", today=TODAY)
    stale = [c for c in result.changes if c.status == "awaiting translation review"]
    assert [(c.file, c.item) for c in stale] == [("leaflets/shared/tr.yaml", "urgent_help/box")]
    assert {leaflet["languages"] == ["tr"] for leaflet in stale[0].leaflets} == {True}
    # Every leaflet prints the urgent-help box (pre-treatment leaflets too, so that consent is informed).
    assert sorted(leaflet["code"] for leaflet in stale[0].leaflets) == ["BTX-FL-AC", "BTX-FL-PT", "BTX-UA-AC",
                                                                          "BTX-UA-PT"]
    # The English change asks for new versions; the Turkish PDFs are reached for their review note.
    assert all(r.needs_bump for r in result.leaflets)
    assert any("/tr/" in pdf for r in result.leaflets for pdf in r.pdfs)


def test_adding_a_brand_rebuilds_only_that_brands_pdfs(tmp_path):
    root = mini_project(tmp_path / "project")
    out = tmp_path / "out"
    first = build(Project(root), out, large_print=False)
    assert len(first.built) == 2
    before = {name: state for name, state in files_state(out).items() if name.startswith("clinic/")}
    shutil.copy(root / "leaflets/brands/clinic.yaml", root / "leaflets/brands/second-clinic.yaml")
    replace_in(root / "leaflets/brands/second-clinic.yaml", "name: Test Clinic", "name: Second Clinic")
    shutil.copytree(root / "styles/brands/clinic", root / "styles/brands/second-clinic")
    second = build(Project(root), out, large_print=False)
    assert second.built == ["second-clinic/en/demo-aftercare.pdf", "second-clinic/en/demo-pre-treatment.pdf"]
    assert {name: state for name, state in files_state(out).items() if name.startswith("clinic/")} == before


def test_a_new_logo_rebuilds_only_its_brands_pdfs(tmp_path):
    root = copy_project(tmp_path / "project")
    project = Project(root)
    catalog = load_catalog(project)
    old = {p.job.output: p.fingerprint for p in pages(project, catalog, large_print=False, today=TODAY)}
    logo = root / "styles/brands/maple-aesthetics/logo.svg"
    logo.write_text(logo.read_text("utf-8").replace("</svg>", "<!-- new -->\n</svg>"), "utf-8")
    new = {p.job.output: p.fingerprint for p in pages(project, load_catalog(project), large_print=False, today=TODAY)}
    changed = sorted(str(output) for output in old if old[output] != new[output])
    assert changed and all(name.startswith("maple-aesthetics/") for name in changed)
    assert len(changed) == len([o for o in old if str(o).startswith("maple-aesthetics/")])


def test_fingerprints_are_canonical_json_not_python_reprs(sample):
    assert canonical({"b": [1, 2.5], "a": "İ"}) == '{"a":"İ","b":[1,2.5]}'.encode("utf-8")
    project = sample.project
    once = [p.fingerprint for p in pages(project, load_catalog(project), large_print=False, today=TODAY)]
    again = [p.fingerprint for p in pages(project, load_catalog(project), large_print=False, today=TODAY)]
    assert once == again and len(set(once)) == len(once)
    manifest = json.loads((sample.out / ".careleaf-manifest.json").read_text("utf-8"))
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in manifest.values())


def test_wording_marked_for_approval_makes_a_draft_only_where_it_is_printed(tmp_path):
    root = mini_project(tmp_path / "project")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: Some redness.\n",
               "    answer: Some redness.\n    needs_approval: true\n")
    catalog = load_catalog(Project(root))
    drafts = {j.kind: assemble(catalog, j, TODAY).draft for j in jobs(catalog, large_print=False)}
    assert drafts == {"aftercare": True, "pre-treatment": False}   # only the aftercare leaflet prints that answer
