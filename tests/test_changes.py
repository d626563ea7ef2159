"""`generate.py changes REV`: what changed since a git revision, what it reaches, which versions to raise.

Each test makes its own git repository in tmp_path from a copy of the sample catalog.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from careleaf.errors import RevisionError
from careleaf.project import Project
from careleaf.review.changes import compare, word_diff

from conftest import copy_project, replace_in, run_cli

# The tests' own identity, and none of the machine's git settings (hooks, signing).
GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
FACIAL = "leaflets/treatments/botox-facial-lines"
SWELL_OLD = "This lasts a short time. It usually goes within 24-48 hours."
SWELL_NEW = "This lasts a little while. It usually goes within 24-48 hours."


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    root = copy_project(tmp_path / "project")
    git(root, "init", "-q")
    commit(root, "leaflets as printed")
    monkeypatch.chdir(root)  # files are named relative to the working folder
    return root


def pdfs(kind: str, langs: tuple[str, ...]) -> list[str]:
    return sorted(f"out/{brand}/{lang}/botox-facial-lines-{kind}{size}.pdf"
                  for brand in ("harbour-skin", "maple-aesthetics") for lang in langs for size in ("", "-large-print"))


def test_an_edited_answer_is_named_with_the_leaflets_it_reaches(repo):
    replace_in(repo / FACIAL / "en.yaml", SWELL_OLD, SWELL_NEW)
    commit(repo, "plainer wording")
    result = run_cli("changes", "HEAD~1", "--json", cwd=repo)
    assert result.returncode == 1, result.stderr  # the leaflet kept its version number
    data = json.loads(result.stdout)
    [change, stale] = data["changes"]
    assert change["file"] == f"{FACIAL}/en.yaml" and change["item"] == "sections/will-my-face-swell"
    assert change["status"] == "changed" and change["line"] == 34
    [answer] = change["fields"]
    assert answer["field"] == "answer"
    assert answer["diff"] == "…\nYou may have a little redness and swelling where the needle went in. " \
                             "This lasts a [-short time-]{+little while+}. It usually goes within 24-48 hours."
    assert change["leaflets"] == [{"code": "BTX-FL-PT", "kind": "pre-treatment", "languages": ["en"]}]
    # The Turkish answer was translated from the old English: it falls out of date, and its PDFs say so.
    assert (stale["file"], stale["item"], stale["status"], stale["fields"]) == \
        (f"{FACIAL}/tr.yaml", "sections/will-my-face-swell", "awaiting translation review", [])
    assert stale["leaflets"] == [{"code": "BTX-FL-PT", "kind": "pre-treatment", "languages": ["tr"]}]
    [leaflet] = data["leaflets"]
    assert leaflet["code"] == "BTX-FL-PT" and leaflet["needs_version_bump"] is True
    assert (leaflet["version"], leaflet["version_then"]) == (1, 1)
    assert sorted(leaflet["pdfs"]) == pdfs("pre-treatment", ("en", "tr"))


def test_the_sheet_flags_a_missing_version_bump(repo):
    replace_in(repo / FACIAL / "en.yaml", SWELL_OLD, SWELL_NEW)
    commit(repo, "plainer wording")
    result = run_cli("changes", "HEAD~1", cwd=repo)
    assert result.returncode == 1
    text = result.stdout
    assert f"{FACIAL}/en.yaml:34: sections/will-my-face-swell (changed)" in text
    assert "This lasts a [-short time-]{+little while+}." in text
    assert "reaches: BTX-FL-PT pre-treatment (en)" in text
    assert (f"BTX-FL-PT (botox-facial-lines pre-treatment): version 1, was 1: NEEDS A VERSION BUMP - raise "
            f"'version' at {FACIAL}/treatment.yaml:78") in text
    assert "out/harbour-skin/en/botox-facial-lines-pre-treatment-large-print.pdf" in text
    assert text.rstrip().splitlines()[-3].endswith("1 leaflet needs a version bump: BTX-FL-PT.")


def test_a_raised_version_is_not_flagged(repo):
    replace_in(repo / FACIAL / "en.yaml", SWELL_OLD, SWELL_NEW)
    replace_in(repo / FACIAL / "treatment.yaml", "    code: BTX-FL-PT\n    version: 1\n",
               "    code: BTX-FL-PT\n    version: 2\n")
    commit(repo, "plainer wording, version 2")
    result = run_cli("changes", "HEAD~1", "--json", cwd=repo)
    assert result.returncode == 0, result.stdout
    [leaflet] = json.loads(result.stdout)["leaflets"]
    assert (leaflet["code"], leaflet["version"], leaflet["version_then"], leaflet["needs_version_bump"]) == \
        ("BTX-FL-PT", 2, 1, False)
    assert "version 2, was 1" in run_cli("changes", "HEAD~1", cwd=repo).stdout


def test_uncommitted_edits_count_and_a_changed_figure_reaches_every_language(repo):
    replace_in(repo / FACIAL / "treatment.yaml", "when: 48-72 hours", "when: 48-96 hours")
    result = compare(Project(repo), "HEAD")
    [change] = result.changes
    assert (change.item, change.fields[0].field, change.fields[0].diff) == \
        ("timeline/effect-starts", "when", "48-[-72-]{+96+} hours")
    assert change.leaflets == [{"code": "BTX-FL-AC", "kind": "aftercare", "languages": ["en", "tr"]},
                               {"code": "BTX-FL-PT", "kind": "pre-treatment", "languages": ["en", "tr"]}]
    assert [r.code for r in result.needs_bump] == ["BTX-FL-AC", "BTX-FL-PT"]
    assert sorted(next(r for r in result.leaflets if r.code == "BTX-FL-AC").pdfs) == pdfs("aftercare", ("en", "tr"))


def test_a_translation_edit_reaches_that_language_only(repo):
    replace_in(repo / FACIAL / "tr.yaml", "Bu kısa sürer. Genellikle 24–48 saat içinde geçer.",
               "Bu kısa bir süre sürer. Genellikle 24–48 saat içinde geçer.")
    [change] = compare(Project(repo), "HEAD").changes
    assert change.file == f"{FACIAL}/tr.yaml"
    assert change.leaflets == [{"code": "BTX-FL-PT", "kind": "pre-treatment", "languages": ["tr"]}]


def test_a_new_section_and_its_place_in_a_leaflet(repo):
    for lang, question in (("en", "Can I wear make-up?"), ("tr", "Makyaj yapabilir miyim?")):
        replace_in(repo / FACIAL / f"{lang}.yaml", "\nsections:\n",
                   f"\nsections:\n  make-up:\n    question: {question}\n    answer: Wait 4 hours.\n\n")
    replace_in(repo / FACIAL / "treatment.yaml", "      - what-is-normal-afterwards\n",
               "      - what-is-normal-afterwards\n      - make-up\n")
    result = compare(Project(repo), "HEAD")
    assert [(c.file, c.item, c.status) for c in result.changes] == [
        (f"{FACIAL}/en.yaml", "sections/make-up", "added"),
        (f"{FACIAL}/tr.yaml", "sections/make-up", "added"),
        # written without recording the English it was translated from, so not yet reviewed against it
        (f"{FACIAL}/tr.yaml", "sections/make-up", "awaiting translation review"),
        (f"{FACIAL}/treatment.yaml", "leaflets/aftercare", "changed"),
    ]
    contents = result.changes[3].fields[0]
    assert (contents.field, contents.diff) == ("contents", "- what-is-normal-afterwards\n{+- make-up+}\n- aftercare-checklist\n…")
    assert [r.code for r in result.leaflets] == ["BTX-FL-AC"]


def test_approval_alone_is_not_a_wording_change(repo):
    replace_in(repo / FACIAL / "treatment.yaml", "    code: BTX-FL-PT\n    version: 1\n",
               "    code: BTX-FL-PT\n    version: 1\n    approved_by: Dr A Clinician\n    approved_on: 2026-02-01\n")
    result = run_cli("changes", "HEAD", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("No wording or facts changed since HEAD")


def test_an_unknown_revision_or_no_repository_is_a_plain_message(repo, tmp_path):
    result = run_cli("changes", "no-such-tag", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.strip() == ("Error: git does not know the revision 'no-such-tag'; give a commit, tag or "
                                     "branch, for example HEAD~1 (see 'git log --oneline')")
    plain = copy_project(tmp_path / "not-a-repository")
    result = run_cli("changes", "HEAD~1", cwd=plain)
    assert result.returncode == 2 and "is not in a git repository" in result.stderr
    with pytest.raises(RevisionError, match="is not a revision"):
        compare(Project(repo), "--output=/tmp/x")


@pytest.mark.parametrize("old, new, diff", [
    ("a b c d", "a x y d", "a [-b c-]{+x y+} d"),
    ("one two", "one two three", "one two{+ three+}"),
    ("Call us.", "Call us now.", "Call us{+ now+}."),
    ("first\n\nsecond\n\nthird", "first\n\nsecond!\n\nthird", "…\nsecond{+!+}\n…"),
    ("- a\n- b\n- c", "- a\n- b\n- x\n- c", "…\n{+- x+}\n…"),
    ("- a\n- b\n- c", "- a\n- c", "…\n[-- b-]\n…"),
])
def test_word_diff(old, new, diff):
    assert word_diff(old, new) == diff
