"""Leaflets a clinician would sign: each treatment's own red flags, the right emergency number, figures written
once, urgent side effects sent to the urgent box, and check's warnings for retyped figures and pointers to
boxes a leaflet does not print. Built on the small test catalog (tests/fixtures/mini) with a lip filler added."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from careleaf.build.run import pages
from careleaf.content.catalog import load_catalog
from careleaf.review.check import run as check
from careleaf.errors import InputError
from careleaf.project import Project
from conftest import mini_project, replace_in

FILLER_FACTS = """\
product: device
timeline:
  - id: swelling-settles
    when: 1-2 weeks
side_effects:
  - id: bruising
    frequency: common
    lasts: 3-7 days
  - id: blocked-vessel
    frequency: very-rare
    urgent: true
contraindications:
  - id: pregnancy
    rule: do-not-treat
leaflets:
  - kind: aftercare
    code: LIP-AC
    version: 1
    contents: [what-is-normal, side-effects, urgent-help, timeline, contraindications, contact]
    approved_by: Dr Test Person
    approved_on: 2026-01-05
    review_by: 2099-01-05
"""

FILLER_WORDING = """\
name: Lip filler
leaflets:
  aftercare:
    title: "Lip filler: after"
sections:
  what-is-normal:
    question: What is normal afterwards?
    answer: Swelling settles within {timeline.swelling-settles}. A bruise fades in {side_effects.bruising.lasts}.
timeline:
  swelling-settles: Swelling settles
side_effects:
  bruising:
    effect: A bruise
    what_to_do: It fades by itself.
  blocked-vessel:
    effect: Skin turning white or dusky, with severe pain
contraindications:
  pregnancy: you are pregnant
urgent_help:
  symptoms:
    - Skin turning white, blotchy or dusky
    - Severe or worsening pain
    - Any change in your sight
  action: Call us at once. For any change in your sight, call the emergency number.
  replaces_shared: true
"""


def with_filler(root: Path) -> Path:
    folder = root / "leaflets/treatments/lip-filler"
    folder.mkdir(parents=True)
    (folder / "treatment.yaml").write_text(FILLER_FACTS, "utf-8")
    (folder / "en.yaml").write_text(FILLER_WORDING, "utf-8")
    return root


def html_of(root: Path, name: str) -> str:
    project = Project(root)
    return next(p.html for p in pages(project, load_catalog(project)) if p.job.name == name)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def root(tmp_path) -> Path:
    return with_filler(mini_project(tmp_path / "project"))


def test_a_lip_filler_prints_its_own_red_flags_and_not_the_toxins(root):
    box = text_of(html_of(root, "clinic/en/lip-filler-aftercare").split('class="urgent-help')[1].split("</section>")[0])
    assert "Skin turning white, blotchy or dusky" in box and "Any change in your sight" in box
    assert "Trouble breathing" not in box                     # the shared (toxin) sign, replaced
    assert "call the emergency number" in box and "In an emergency, call 999." in box
    toxin = text_of(html_of(root, "clinic/en/demo-aftercare"))
    assert "Trouble breathing" in toxin and "Skin turning white" not in toxin


def test_a_treatment_can_add_to_the_shared_red_flags(root):
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "replaces_shared: true", "replaces_shared: false")
    box = text_of(html_of(root, "clinic/en/lip-filler-aftercare").split('class="urgent-help')[1].split("</section>")[0])
    assert box.index("Trouble breathing") < box.index("Skin turning white")


def test_an_urgent_side_effect_sends_the_reader_to_the_urgent_box(root):
    html = html_of(root, "clinic/en/lip-filler-aftercare")
    row = text_of(html.split("Skin turning white or dusky, with severe pain")[1].split("</tr>")[0])
    assert 'Get help now: see "Get urgent help"' in row
    assert "This treatment can cause side effects" in text_of(html)            # a device, not "like all medicines"
    assert "Like all medicines" in text_of(html_of(root, "clinic/en/demo-aftercare"))


def test_an_urgent_side_effect_with_its_own_what_to_do_is_refused(root):
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "    effect: Skin turning white or dusky, with severe pain",
               "    effect: Skin turning white or dusky, with severe pain\n    what_to_do: Call us if you are worried.")
    with pytest.raises(InputError, match="this side effect is urgent"):
        load_catalog(Project(root))


def test_a_figure_written_once_changes_everywhere_it_is_printed(root):
    before = text_of(html_of(root, "clinic/en/lip-filler-aftercare"))
    assert "Swelling settles within 1–2 weeks" in before and "A bruise fades in 3–7 days" in before
    replace_in(root / "leaflets/treatments/lip-filler/treatment.yaml", "when: 1-2 weeks", "when: 2-3 weeks")
    after = text_of(html_of(root, "clinic/en/lip-filler-aftercare"))
    assert "Swelling settles within 2–3 weeks" in after and "1–2 weeks" not in after


def test_a_reference_to_a_fact_that_does_not_exist_is_refused_at_its_line(root):
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "{timeline.swelling-settles}", "{timeline.swelling}")
    with pytest.raises(InputError) as refused:
        load_catalog(Project(root))
    assert "lip-filler/en.yaml:8:" in str(refused.value) and "no 'swelling' under timeline" in str(refused.value)


def test_country_words_follow_the_brands_country(root):
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "It fades by itself.", "It fades by itself.")
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "A bruise fades in",
               "For pain, take {country.painkiller}. A bruise fades in")
    assert "take paracetamol" in text_of(html_of(root, "clinic/en/lip-filler-aftercare"))
    brand = root / "leaflets/brands/clinic.yaml"
    brand.write_text(brand.read_text("utf-8").replace("country: GB", "country: US"), "utf-8")
    html = html_of(root, "clinic/en/lip-filler-aftercare")
    assert "take acetaminophen (Tylenol)" in text_of(html) and "In an emergency, call 911." in text_of(html)


def test_a_brand_without_a_country_or_an_emergency_number_is_refused(root):
    brand = root / "leaflets/brands/clinic.yaml"
    brand.write_text(brand.read_text("utf-8").replace("country: GB\n", ""), "utf-8")
    with pytest.raises(InputError, match="right emergency number"):
        load_catalog(Project(root))
    brand.write_text(brand.read_text("utf-8") + "emergency_number: \"112\"\n", "utf-8")
    assert "In an emergency, call 112." in text_of(html_of(root, "clinic/en/demo-aftercare"))


def test_check_flags_a_retyped_figure_and_a_pointer_to_a_missing_box(root):
    replace_in(root / "leaflets/treatments/lip-filler/en.yaml", "Swelling settles within {timeline.swelling-settles}.",
               "Swelling settles within 1-2 weeks. If you are worried, look at the Your aftercare checklist box.")
    findings = {(f.code, f.file.rsplit("/", 2)[-2] + "/" + f.file.rsplit("/", 1)[-1]): f.message
                for f in check(Project(root)).findings}
    retyped = findings[("retyped-figure", "lip-filler/en.yaml")]
    assert "'1-2 weeks'" in retyped and "{timeline.swelling-settles}" in retyped
    assert "Your aftercare checklist" in findings[("missing-box", "lip-filler/en.yaml")]
