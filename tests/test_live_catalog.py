"""The one test that reads this repository's own catalog (leaflets/ at the top): whatever catalog the
repository holds, sample or a clinic's own, must pass `check` without errors and build into tagged PDFs.

Every other test uses the fixture projects under tests/fixtures/, so replacing the catalog keeps them green.
"""

from __future__ import annotations

import json

import pypdf
import pytest

from careleaf.build.run import build
from careleaf.content.catalog import load_catalog
from careleaf.review.check import run as run_check
from careleaf.content.schemas import schema_texts
from careleaf.project import Project

from conftest import ROOT, pdf_pages_text

pytestmark = pytest.mark.slow


def test_the_repositorys_catalog_checks_and_builds_into_tagged_pdfs(tmp_path):
    project = Project(ROOT)
    report = run_check(project)
    errors = [str(f) for f in report.findings if f.level == "error"]
    assert not errors, "\n".join(errors)
    summary = build(project, tmp_path / "out", large_print=True, allow_overdue=False)
    assert not summary.failed, summary.failed
    catalog = load_catalog(project)
    expected = {f"{brand}/{lang}/{treatment}-{definition.kind}{size}.pdf"
                for brand, offer in catalog.brands.items() for lang in offer.languages
                for treatment, entry in catalog.treatments.items() for definition in entry.facts.leaflets
                for size in ("", "-large-print")}
    assert set(summary.built) == expected
    for name in sorted(expected):
        root = pypdf.PdfReader(tmp_path / "out" / name).trailer["/Root"]
        assert "/StructTreeRoot" in root and str(root["/Lang"]) == name.split("/")[1], name
    # The leaflet standard, as printed: every leaflet says how to report a side effect in the clinic's country,
    # and every aftercare leaflet at standard print has the urgent box on page 1 and is one sheet (A4 or Letter)
    # at 12pt, with no build note about its length.
    for name in sorted(expected):
        brand = catalog.brands[name.split("/")[0]]
        text = pdf_pages_text(tmp_path / "out" / name)
        scheme = catalog.countries[brand.country].reporting["medicine"].scheme
        assert scheme in " ".join(" ".join(text).split()), name
        if name.endswith("-aftercare.pdf"):
            urgent = catalog.labels[name.split("/")[1]]["urgent_help"]
            assert urgent in text[0], name
            assert len(text) == 2, (name, len(text))
            assert not [note for note in summary.notes if name.removesuffix(".pdf") + ":" in note], summary.notes


def test_the_repositorys_editor_schemas_are_up_to_date():
    """leaflets/schema/*.json, when the catalog keeps them, are what model.py declares (`make schema`)."""
    folder = ROOT / "leaflets" / "schema"
    if not folder.is_dir():
        pytest.skip("this catalog keeps no editor schemas")
    for name, text in schema_texts().items():
        assert json.loads((folder / name).read_text("utf-8")) == json.loads(text), f"run `make schema`: {name}"
