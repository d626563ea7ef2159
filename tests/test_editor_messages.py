"""Messages an editor meets, each from a bad input: they say what is wrong, where, and what to write instead.

(An urgent-help box written under 'sections:' is a bad-input case: tests/bad-input/wording/.)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from careleaf.content.catalog import load_catalog
from careleaf.handout.choice import Choice
from careleaf.handout.handouts import HandoutError, personalise
from careleaf.pdf.pages import PageFacts, budget_warnings
from careleaf.project import Project
from careleaf.review import check

from conftest import copy_project, replace_in

FACIAL = "leaflets/treatments/botox-facial-lines"
TODAY = dt.date(2026, 3, 1)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project)
    return project


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1) if text in line)


def test_a_retyped_figure_is_reported_once_at_its_own_line_with_the_reference_its_sentence_names(root):
    wording = root / FACIAL / "en.yaml"
    replace_in(wording, "You may have some redness and swelling where the needle went in. This is short-lived. It "
               "usually goes within **24-48 hours**.",
               "Redness usually goes within 24-48 hours.\n\n      Swelling also goes within 24–48 hours.")
    answer = _line_of(wording, "what-is-normal-afterwards:") + 2
    found = [f for f in check.run(Project(root), TODAY).findings
             if f.code == "retyped-figure" and f.file.endswith("en.yaml") and answer <= f.line <= answer + 3]
    assert [(f.line, f.message) for f in found] == [
        (_line_of(wording, "Redness usually goes within"),
         "'24-48 hours' is a figure held in treatment.yaml; write {side_effects.redness.lasts} so that it is "
         "written once and changes with the data"),
        (_line_of(wording, "Swelling also goes within"),
         "'24–48 hours' is a figure held in treatment.yaml; write {side_effects.swelling.lasts} so that it is "
         "written once and changes with the data")]


def test_a_draft_note_names_the_items_that_await_a_clinician(root):
    notes = [f.message for f in check.run(Project(root), TODAY).findings
             if f.code == "draft" and f.message.startswith("BTX-FL-AC")]
    assert len(notes) == 1
    facts = root / FACIAL / "treatment.yaml"
    review = _line_of(facts, "- id: review")
    assert "marked needs_approval: true (leaflets/shared/en.yaml:" in notes[0]
    assert f", leaflets/treatments/botox-facial-lines/treatment.yaml:{review} timeline/review," in notes[0]


def test_the_page_budget_note_says_an_aftercare_leaflet():
    [note] = budget_warnings("clinic/en/x-aftercare", "aftercare", PageFacts((1.0, 1.0, 0.9)), large_print=False,
                             page_size="A4")
    assert "more than the 2 an aftercare leaflet should take" in note


def test_a_clinic_without_a_time_zone_is_offered_its_own_countrys_as_the_example(root):
    brand = root / "leaflets/brands/harbour-skin.yaml"
    replace_in(brand, "time_zone: Europe/London\n", "")
    replace_in(brand, "country: GB", "country: TR")
    catalog = load_catalog(Project(root))
    with pytest.raises(HandoutError) as refused:
        personalise(catalog, Choice("harbour-skin", "botox-facial-lines", "aftercare", "en"),
                    {"treated": "2026-03-01 10:00"}, allow_draft=True,
                    now=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc))
    assert "for example 'time_zone: Europe/Istanbul'" in str(refused.value)
