"""Golden HTML: every sample leaflet's HTML, compared with the reviewed copy in tests/golden/.

A difference means a template, a label or the wording changed what a leaflet
says or how it is marked up. If that change is intended, refresh the copies with

    make golden        # = CARELEAF_REFRESH_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and review the diff of tests/golden/ with the change (see tests/golden/README.md).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from careleaf.build.run import pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog

from conftest import SAMPLE

GOLDEN = Path(__file__).resolve().parent / "golden"
REFRESH = os.environ.get("CARELEAF_REFRESH_GOLDEN") == "1"


# Review dates are judged against "today"; pin it so that the golden files do not change with the calendar.
PINNED_TODAY = "2026-06-01"


@pytest.fixture(scope="module")
def drawn() -> dict[Path, str]:
    """golden file path (<brand>/<lang>/<name>.html) → the HTML the project draws now."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CARELEAF_TODAY", PINNED_TODAY)
        project = Project(SAMPLE)
        return {page.job.output.with_suffix(".html"): page.html for page in pages(project, load_catalog(project))}


def golden_files() -> set[Path]:
    return {p.relative_to(GOLDEN) for p in GOLDEN.rglob("*.html")}


def test_html_matches_golden_files(drawn):
    if REFRESH:
        for name, html in drawn.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(html, encoding="utf-8")
    differences = []
    for name, html in sorted(drawn.items()):
        path = GOLDEN / name
        if not path.is_file():
            differences.append(f"{name}: no golden file")
            continue
        expected = path.read_text(encoding="utf-8")
        if html != expected:
            diff = difflib.unified_diff(expected.splitlines(keepends=True), html.splitlines(keepends=True),
                                        f"golden/{name}", "drawn now", n=2)
            differences.append("".join(list(diff)[:40]))
    assert not differences, ("the HTML differs from tests/golden/ (run `make golden` if the change is intended):\n"
                             + "\n".join(differences))


def test_no_golden_file_without_a_leaflet(drawn):
    if REFRESH:
        for name in golden_files() - set(drawn):
            (GOLDEN / name).unlink()
    assert sorted(golden_files() - set(drawn)) == []


def test_every_sample_leaflet_has_a_golden_file(drawn):
    assert len(drawn) >= 16
    assert set(drawn) <= golden_files()
