"""The leaflet standard (check.yaml's topics): what every leaflet must cover, and `check` naming what is missing.

Checked on a new clinic's project as `careleaf new` writes it (it covers every topic), and on a treatment
added to it the way the editors' guide says; then on the words the standard makes every leaflet print: how
to report a side effect, the age limit, when the urgent line is answered, the product label's figures.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from careleaf.content.catalog import load_catalog
from careleaf.content.model import STANDARD_TOPICS
from careleaf.content.starter import new_project
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.leaflet.html import render_leaflet
from careleaf.project import Project
from careleaf.review import check

from conftest import replace_in

TREATMENT = "leaflets/treatments/example-treatment"
FACTS = f"{TREATMENT}/treatment.yaml"
WORDING = f"{TREATMENT}/en.yaml"
TODAY = dt.date(2026, 12, 3)


@pytest.fixture
def started(tmp_path, monkeypatch) -> Path:
    """A new clinic's project, as `careleaf new` writes it; messages name its files from its folder."""
    root = tmp_path / "clinic"
    new_project(root)
    monkeypatch.chdir(root)
    return root


def errors(root: Path) -> list[str]:
    return [f"{f.file}:{f.line}: {f.message}" for f in check.run(Project(root), TODAY).findings if f.level == "error"]


def test_a_new_project_covers_every_topic_of_the_standard(started):
    assert errors(started) == []


# How each topic of the pre-treatment leaflet is taken away. A topic a section covers goes with its 'covers:'
# or its place in the contents; one a built-in block covers goes with the block. The build itself refuses a
# leaflet without side effects, a timeline or who should not have it, naming that block.
REMOVE = {
    "what-it-is": (WORDING, "    covers: [what-it-is]\n", ""),
    "appointment": (FACTS, "      - at-the-appointment\n", ""),
    "alternatives": (FACTS, "      - other-choices\n", ""),
    "danger-signs": (FACTS, "      - urgent-help\n      - shared/questions\n", "      - shared/questions\n"),
    "sources-and-review": (FACTS, "      - about-this-leaflet\n    # A leaflet", "    # A leaflet"),
    "feedback": (FACTS, "      - about-this-leaflet\n    # A leaflet", "    # A leaflet"),
    "side-effects": (FACTS, "      - timeline\n      - side-effects\n", "      - timeline\n"),
    "reporting": (FACTS, "      - timeline\n      - side-effects\n", "      - timeline\n"),
    "benefits": (FACTS, "      - before-treatment\n      - timeline\n", "      - before-treatment\n"),
    "who-should-not": (FACTS, "      - other-choices\n      - contraindications\n", "      - other-choices\n"),
}
REFUSED_BY_THE_BUILD = {"side-effects": "side effects", "reporting": "side effects", "benefits": "timeline",
                        "who-should-not": "contraindications"}


def test_every_topic_the_pre_treatment_leaflet_needs_has_a_way_to_be_removed():
    assert {t for t, topic in STANDARD_TOPICS.items() if "pre-treatment" in topic.leaflets} == set(REMOVE)


@pytest.mark.parametrize("topic", sorted(REMOVE))
def test_removing_a_required_topic_fails_check_naming_topic_and_leaflet(started, topic):
    file, old, new = REMOVE[topic]
    replace_in(started / file, old, new)
    found = errors(started)
    assert found, topic
    if topic in REFUSED_BY_THE_BUILD:
        assert any(f"EX-PT does not cover {REFUSED_BY_THE_BUILD[topic]}" in e for e in found), found
    else:
        expected = (f"{FACTS}:{_contents_line(started)}: EX-PT (example-treatment pre-treatment) does not cover "
                    f"the topic '{topic}' ({STANDARD_TOPICS[topic].title}), which the leaflet standard in "
                    f"check.yaml asks of every pre-treatment leaflet: " + _how(topic))
        assert expected in found, found
        assert all("EX-PT" in e for e in found), found


def _contents_line(root: Path) -> int:
    lines = (root / FACTS).read_text("utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.strip() == "contents:") + 1


def _how(topic: str) -> str:
    block = {"danger-signs": "urgent-help", "sources-and-review": "about-this-leaflet",
             "feedback": "about-this-leaflet"}.get(topic)
    return (f"add '{block}' to its contents" if block else
            f"list a section that covers it in its contents, and mark that section 'covers: [{topic}]' in the "
            "wording file")


NEW_FACTS = """\
timeline:
  - id: effect-lasts
    when: 2-3 weeks
side_effects:
  - id: redness
    frequency: common
contraindications:
  - id: pregnancy
    rule: do-not-treat
leaflets:
  - kind: pre-treatment
    code: PEEL-PT
    version: 1
    contents:
      - what-is-a-peel
      - contraindications
      - timeline
      - side-effects
      - contact
  - kind: aftercare
    code: PEEL-AC
    version: 1
    contents:
      - side-effects
      - urgent-help
      - timeline
      - contact
"""
NEW_WORDING = """\
name: Chemical peel
leaflets:
  pre-treatment:
    title: "Chemical peel: before your treatment"
  aftercare:
    title: "Chemical peel: after your treatment"
sections:
  what-is-a-peel:
    question: What is a chemical peel?
    answer: A liquid put on the skin takes off its top layer, so new skin grows.
timeline:
  effect-lasts: Your skin looks fresher
side_effects:
  redness:
    effect: Red skin
    what_to_do: It goes by itself.
contraindications:
  pregnancy: you are pregnant
"""


def test_a_new_treatment_is_told_which_topics_it_lacks_and_passes_once_it_covers_them(started):
    """Written as docs/editors/add-treatment.md says, in a project `careleaf new` started."""
    folder = started / "leaflets/treatments/chemical-peel"
    folder.mkdir()
    (folder / "treatment.yaml").write_text(NEW_FACTS, "utf-8")
    (folder / "en.yaml").write_text(NEW_WORDING, "utf-8")
    missing = {(e.split("(chemical-peel ")[1].split(")")[0], e.split("the topic '")[1].split("'")[0])
               for e in errors(started)}
    assert missing == {("pre-treatment", t) for t in ("what-it-is", "appointment", "alternatives", "danger-signs",
                                                      "sources-and-review", "feedback")} | \
        {("aftercare", t) for t in ("sources-and-review", "feedback")}

    replace_in(folder / "en.yaml", "    question: What is a chemical peel?\n",
               "    question: What is a chemical peel?\n    covers: [what-it-is]\n")
    replace_in(folder / "en.yaml", "timeline:\n", """\
  at-the-appointment:
    question: What happens at the appointment?
    covers: [appointment]
    answer: It takes about half an hour. It stings for a few minutes. You can go back to work the next day.
  other-choices:
    question: What other choices do I have?
    covers: [alternatives]
    answer: You can choose no treatment, creams, or laser treatment. Ask us about each.
timeline:
""")
    replace_in(folder / "treatment.yaml", "      - what-is-a-peel\n",
               "      - what-is-a-peel\n      - at-the-appointment\n      - other-choices\n")
    replace_in(folder / "treatment.yaml", "      - side-effects\n      - contact\n",
               "      - side-effects\n      - urgent-help\n      - contact\n      - about-this-leaflet\n")
    replace_in(folder / "treatment.yaml", "      - timeline\n      - contact\n",
               "      - timeline\n      - contact\n      - about-this-leaflet\n")
    assert errors(started) == []


def test_a_section_covering_a_topic_the_standard_lacks_is_warned_with_a_suggestion(started):
    replace_in(started / WORDING, "    covers: [alternatives]\n", "    covers: [alternative]\n")
    report = check.run(Project(started), TODAY)
    assert [(f.file, f.line, f.level, f.message) for f in report.findings if f.code == "unknown-topic"] == [
        (WORDING, _line_of(started / WORDING, "covers: [alternative]"), "warning",
         "'alternative' is not a topic of the leaflet standard (check.yaml); did you mean 'alternatives'?")]
    assert any("does not cover the topic 'alternatives'" in e for e in errors(started))


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1) if text in line)


def test_a_project_writes_its_own_standard_in_check_yaml(started):
    (started / "leaflets/check.yaml").write_text(
        "topics:\n  cost:\n    title: what it costs\n    leaflets: [pre-treatment]\n", "utf-8")
    assert [e.split(": ", 1)[1] for e in errors(started)] == [
        "EX-PT (example-treatment pre-treatment) does not cover the topic 'cost' (what it costs), which the "
        "leaflet standard in check.yaml asks of every pre-treatment leaflet: list a section that covers it in its "
        "contents, and mark that section 'covers: [cost]' in the wording file"]


# --- what the standard makes every leaflet print --------------------------------------------

def _html(root: Path) -> dict[str, str]:
    project = Project(root)
    catalog = load_catalog(project)
    return {job.name: render_leaflet(project, assemble(catalog, job, TODAY)) for job in jobs(catalog)}


def test_every_leaflet_prints_the_reporting_scheme_the_full_list_and_the_urgent_lines_hours(started):
    for name, html in _html(started).items():
        assert "MHRA Yellow Card" in html and "yellowcard.mhra.gov.uk" in html, name
        assert "This is not a complete list." in html, name
        assert "About this leaflet" in html, name
        if "aftercare" in name or "pre-treatment" in name:
            assert "This line is answered Monday to Friday, 09:00–18:00." in html, name
            assert 'Outside these hours, call <span class="nowrap">NHS 111</span>.' in html, name


def test_the_urgent_lines_hours_are_written_as_the_clinics_country_writes_times(started):
    brand = started / "leaflets/brands/my-clinic.yaml"
    text = brand.read_text("utf-8").replace('country: "GB"', 'country: "US"')
    brand.write_text(text.replace('time_zone: "Europe/London"', 'time_zone: "America/New_York"'), "utf-8")
    html = _html(started)["my-clinic/en/example-treatment-aftercare"]
    assert "This line is answered Monday to Friday, 9:00\u202fAM–6:00\u202fPM." in html


def test_the_age_limit_of_the_clinics_country_heads_who_should_not_have_it(started):
    html = _html(started)["my-clinic/en/example-treatment-pre-treatment"]
    assert "<li>you are under 18</li>" in html


def test_an_american_clinic_without_an_out_of_hours_number_is_warned(started):
    brand = started / "leaflets/brands/my-clinic.yaml"
    replace_in(brand, 'country: "GB"', 'country: "US"')
    findings = check.run(Project(started), TODAY).findings
    assert [f.message for f in findings if f.code == "out-of-hours"] == [
        "my-clinic: outside the urgent line's hours a patient is offered only the emergency number: add "
        "'out_of_hours_phone:' (an on-call doctor or nurse)"]
    replace_in(brand, 'country: "US"', 'country: "US"\nout_of_hours_phone: (802) 555-0199')
    html = _html(started)["my-clinic/en/example-treatment-aftercare"]
    assert 'Outside these hours, call <span class="nowrap">(802) 555-0199</span>.' in html
    assert "FDA MedWatch" in html and "1-800-FDA-1088" in html


def test_a_brand_that_does_not_say_when_its_urgent_line_is_answered_is_warned(started):
    brand = started / "leaflets/brands/my-clinic.yaml"
    text = brand.read_text("utf-8")
    brand.write_text(re.sub(r"\nurgent_hours:\n(  .*\n)+", "\n", text), "utf-8")
    codes = [f.code for f in check.run(Project(started), TODAY).findings]
    assert codes.count("urgent-hours") == 1


def test_a_clinic_figure_that_differs_from_the_label_is_printed_beside_it_and_listed_for_the_clinician(started):
    replace_in(started / FACTS, "  - id: effect-lasts\n    when: 3-4 months\n",
               "  - id: effect-lasts\n    when: 3-4 months\n    product_label: 2-3 months\n"
               "    label_source: Product SmPC 5.1\n")
    notes = [f for f in check.run(Project(started), TODAY).findings if f.code == "label-differs"]
    assert [(f.file, f.level, f.message) for f in notes] == [
        (FACTS, "info", "example-treatment: 'effect-lasts' is 3-4 months in the clinic's figures and 2-3 months on "
                        "the product label (Product SmPC 5.1); the leaflets print both: confirm before approving")]
    html = _html(started)["my-clinic/en/example-treatment-aftercare"]
    assert "figure; the product leaflet says" in html and "2–3 months" in html
