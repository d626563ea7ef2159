"""Aftercare on one sheet, measured on what is printed: pages counted and page 1 read in the rendered PDFs.

A new clinic's project (`careleaf new`) on A4 and on Letter, its aftercare leaflet standard print and a
patient's own copy; the timeline's scale drawn for a treatment whose effect runs past a year. (The one test
of the live catalog, test_live_catalog.py, measures the sample's aftercare leaflets the same way.)
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from careleaf.content.catalog import load_catalog
from careleaf.content.fields import Duration
from careleaf.content.starter import new_project
from careleaf.handout.choice import Choice
from careleaf.handout.handouts import handout
from careleaf.leaflet.figures import COLUMN
from careleaf.pdf.render import render
from careleaf.build.run import pages
from careleaf.project import Project

from conftest import edit, pdf_pages_text
from test_timeline import draw, marks_of

PATIENT = {"name": "Ann Example", "treated": "2026-12-03 14:30", "areas": "Forehead", "product": "Example 50",
           "batch": "C1234AB", "units": "20", "practitioner": "Dr Jane Smith"}
NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.timezone.utc)


def started(root: Path, page_size: str) -> Path:
    new_project(root)
    edit(root / "leaflets/brands/my-clinic.yaml", r"(?m)^page_size: .*$", f"page_size: {page_size}")
    return root


@pytest.fixture(scope="module", params=["A4", "Letter"])
def aftercare(request, tmp_path_factory) -> tuple[Path, Path]:
    """The new project's aftercare leaflet at standard print, and a patient's own copy, as PDFs."""
    root = started(tmp_path_factory.mktemp(request.param), request.param)
    project = Project(root)
    page = next(p for p in pages(project, load_catalog(project), large_print=False) if p.job.kind == "aftercare")
    leaflet = root / "aftercare.pdf"
    leaflet.write_bytes(render(page.html, project.asset_folders, source=page.job.name).pdf)
    personal = root / "personal.pdf"
    made = handout(project, Choice("my-clinic", "example-treatment", "aftercare", "en"), patient=PATIENT,
                   allow_draft=True, now=NOW)
    personal.write_bytes(made.pdf)
    return leaflet, personal


def test_aftercare_is_one_sheet_with_get_urgent_help_on_page_1(aftercare):
    leaflet, _ = aftercare
    text = pdf_pages_text(leaflet)
    assert len(text) <= 2
    assert "Get urgent help" in text[0] and "Call us now on" in text[0]


def test_numbers_and_the_reporting_address_never_break(aftercare):
    for pdf in aftercare:
        lines = "\n".join(pdf_pages_text(pdf)).splitlines()
        assert not [line for line in lines if re.search(r"NHS$", line.strip())], pdf.name
        assert any("https://yellowcard.mhra.gov.uk/" in line for line in lines), pdf.name
        assert not [line for line in lines if line.strip().endswith("https://")], pdf.name


def test_a_personal_copy_gives_the_treatment_date_with_its_year_and_never_ends_on_the_contact_box_alone(aftercare):
    _, personal = aftercare
    text = pdf_pages_text(personal)
    assert "Your treatment: Thursday, 3 December 2026" in text[0]
    assert "Date of treatment" in text[0] and "3 December 2026" in text[0]
    last = text[-1]
    if "Contact us" in last:
        before = last.split("Contact us")[0]
        assert re.search(r"[a-z]{3,}", before.split("\n", 1)[-1]), "the last page holds only the contact box"
    assert "wears off around" in "\n".join(text)


def test_the_timeline_ticks_1_day_1_week_1_month_6_months_1_year_and_nothing_past_the_last():
    marks = marks_of(("Effect starts", 48, 72, "hours", False, False, ""),
                     ("Effect lasts", 10, 12, "months", False, False, ""),
                     ("Effect lasts, after repeat treatments", 16, 18, "months", False, True, ""))
    for size in (12, 16):
        for width in (COLUMN["A4"], COLUMN["A5"]):
            drawing = draw(marks, width=width, font_size=size)
            words = {" ".join(run.text for line in label.lines for run in line)
                     for label in drawing.labels if label.kind == "scale-label"}
            assert {"1 day", "1 week", "1 month", "6 months", "12 months"} <= words, (size, width, words)
            ticks = [box.x1 for box in drawing.boxes if box.kind == "tick"]
            marked = [box.x1 for box in drawing.boxes if box.kind in ("bar", "diamond", "dot")]
            assert max(marked) <= max(ticks) + 1, (size, width)


def test_the_scale_reaches_a_tick_past_the_last_milestone():
    drawing = draw(marks_of(("Effect lasts", 4.5, 6, "months", False, False, "")))
    ticks = [box.x1 for box in drawing.boxes if box.kind == "tick"]
    bars = [box.x1 for box in drawing.boxes if box.kind == "bar"]
    assert max(bars) <= max(ticks) + 1
    assert Duration(6, 6, "months").high_hours > 0
