"""`check`'s safety rules, each shown by breaking a copy of the sample on purpose: the finding is an error that
names the file and the line to fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from careleaf.content.catalog import load_catalog
from careleaf.leaflet.assemble import Job, assemble
from careleaf.project import Project
from careleaf.review import check
from careleaf.review.findings import Finding
from conftest import approved_project, copy_project, replace_in, run_cli

FACIAL = "leaflets/treatments/botox-facial-lines"
TODAY = dt.date(2026, 6, 1)
OWN_BOX = """urgent_help:
  symptoms:
    - Your eyelid droops so far that you cannot see
  action: Call us at once.
"""


@pytest.fixture
def root(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def errors(root: Path, code: str) -> list[Finding]:
    found = [f for f in check.run(Project(root), TODAY).findings if f.code == code]
    assert all(f.level == "error" for f in found)
    return found


def line_of(path: Path, text: str) -> int:
    """The line of a file on which ``text`` (the first time) stands."""
    return next(number for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1) if text in line)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8").rstrip("\n") + "\n" + text, "utf-8")


def test_own_urgent_help_in_one_language_only_is_an_error_at_the_file_missing_it(root):
    append(root / FACIAL / "en.yaml", OWN_BOX)
    [finding] = errors(root, "urgent-help-missing")
    assert finding.file.endswith(f"{FACIAL}/tr.yaml") and finding.line == line_of(root / FACIAL / "tr.yaml", "name:")
    assert "in en.yaml but not in tr.yaml" in finding.message
    append(root / FACIAL / "tr.yaml", OWN_BOX.replace("Call us at once.", "Hemen bizi arayın."))
    assert errors(root, "urgent-help-missing") == []


def test_replaces_shared_without_an_action_is_an_error_at_that_line(root):
    for lang in ("en", "tr"):
        append(root / FACIAL / f"{lang}.yaml", OWN_BOX.replace("  action: Call us at once.\n", "  replaces_shared: true\n"))
    found = errors(root, "replaces-without-action")
    assert sorted((Path(f.file).name, f.line) for f in found) == \
        [(f"{lang}.yaml", line_of(root / FACIAL / f"{lang}.yaml", "replaces_shared: true")) for lang in ("en", "tr")]
    assert "needs this treatment's own 'action:'" in found[0].message


def test_braces_that_would_print_literally_are_an_error_anywhere(root):
    path = root / FACIAL / "en.yaml"
    replace_in(path, "    what_to_do: This does not last and fades by itself.",
               "    what_to_do: Take {country.painkiller} if it hurts. This does not last and fades by itself.")
    [finding] = errors(root, "printed-braces")
    assert finding.file.endswith(f"{FACIAL}/en.yaml") and finding.line == line_of(path, "{country.painkiller}")
    assert "{country.painkiller} would print as it is" in finding.message


@pytest.mark.parametrize(("typed", "code"), [("Call 020 7946 0000 if it has not gone.", "typed-phone"),
                                             ("Call 999 if it has not gone.", "typed-emergency-number"),
                                             ("Report it to the MHRA if it has not gone.", "typed-regulator")])
def test_numbers_and_regulators_typed_into_wording_are_an_error(root, typed, code):
    path = root / FACIAL / "en.yaml"
    replace_in(path, "    what_to_do: This does not last and fades by itself. Call us if you are worried.",
               f"    what_to_do: This does not last and fades by itself. {typed}")
    [finding] = errors(root, code)
    assert finding.file.endswith(f"{FACIAL}/en.yaml") and finding.line == line_of(path, typed)


def test_a_ce_mark_on_a_us_clinics_leaflet_is_an_error(root):
    path = root / FACIAL / "en.yaml"
    replace_in(path, "    what_to_do: This does not last and fades by itself. Call us if you are worried.",
               "    what_to_do: This does not last and fades by itself. Our products carry a CE mark.")
    [finding] = errors(root, "wrong-country-mark")
    assert finding.file.endswith(f"{FACIAL}/en.yaml") and finding.line == line_of(path, "CE mark")
    assert "printed for clinics in US" in finding.message
    result = run_cli("check", cwd=root)
    assert result.returncode == 1 and f"en.yaml:{finding.line}: error: 'CE mark'" in result.stdout


def test_a_replaced_shared_box_no_longer_counts_towards_approval(tmp_path):
    root = approved_project(tmp_path / "project", languages="en")
    replace_in(root / "leaflets/shared/en.yaml", "urgent_help:\n", "urgent_help:\n  needs_approval: true\n")
    job = Job("harbour-skin", "en", "botox-facial-lines", "aftercare")
    assert assemble(load_catalog(Project(root)), job, TODAY).draft, "the shared box is printed and awaits approval"
    append(root / FACIAL / "en.yaml", OWN_BOX + "  replaces_shared: true\n")
    leaflet = assemble(load_catalog(Project(root)), job, TODAY)
    assert not leaflet.needs_approval, "the shared box it replaces is not printed, so it does not count"
    assert leaflet.urgent_help.action == "Call us at once."
    assert not any(key.file == "leaflets/shared/en.yaml" and key.group == "urgent_help" for key in leaflet.printed)
