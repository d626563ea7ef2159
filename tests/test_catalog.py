"""Cross-checks between content files, on the small catalog in tests/fixtures/mini.

Every message is asserted word for word, with the file, line and column an
editor would be sent to. The fixture's line numbers are part of these tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from careleaf.project import Project
from careleaf.content.catalog import contrast, load_catalog
from careleaf.errors import InputError

from conftest import SAMPLE, mini_project, replace_in

FACTS = "leaflets/treatments/demo/treatment.yaml"
WORDING = "leaflets/treatments/demo/en.yaml"
BRAND = "leaflets/brands/clinic.yaml"
SHARED = "leaflets/shared/en.yaml"


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A fresh copy of the small catalog; messages name its files relative to it."""
    root = mini_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


def problems() -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(Project(Path(".")))
    return [str(p) for p in caught.value.problems]


def test_fixture_and_sample_catalogs_are_valid(root):
    catalog = load_catalog(Project(Path(".")))
    assert list(catalog.treatments) == ["demo"]
    assert list(catalog.brands) == ["clinic"]
    sample = load_catalog(Project(SAMPLE))
    assert sample.treatments and sample.brands


# --- what every leaflet must cover ---------------------------------------------------

def test_leaflet_without_contraindications(root):
    replace_in(root / FACTS, "      - what-is-it\n      - contraindications\n", "      - what-is-it\n")
    assert problems() == [
        f"{FACTS}:24:5: the pre-treatment leaflet DEMO-PT does not cover contraindications: "
        "add 'contraindications' to its contents"]


def test_aftercare_without_urgent_help(root):
    replace_in(root / FACTS, "      - urgent-help\n", "")
    assert problems() == [
        f"{FACTS}:37:5: the aftercare leaflet DEMO-AC does not cover urgent help: add 'urgent-help' to its contents"]


def test_every_missing_topic_is_reported(root):
    replace_in(root / FACTS, "      - side-effects\n      - urgent-help\n      - timeline\n", "")
    assert problems() == [
        f"{FACTS}:37:5: the aftercare leaflet DEMO-AC does not cover side effects: add 'side-effects' to its contents",
        f"{FACTS}:37:5: the aftercare leaflet DEMO-AC does not cover timeline: add 'timeline' to its contents",
        f"{FACTS}:37:5: the aftercare leaflet DEMO-AC does not cover urgent help: add 'urgent-help' to its contents",
    ]


def test_section_listed_twice(root):
    replace_in(root / FACTS, "      - what-is-it\n", "      - what-is-it\n      - what-is-it\n")
    assert problems() == [f"{FACTS}:26:9: 'what-is-it' is listed twice in DEMO-PT (pre-treatment)"]


def test_review_visit_needs_a_visit_on_the_timeline(root):
    replace_in(root / FACTS, "    visit: true\n", "")
    assert problems() == [
        f"{FACTS}:42:9: DEMO-AC (aftercare) lists 'review-visit', but this treatment has no timeline milestone "
        "with visit: true, nor a course"]


def test_urgent_help_needs_its_shared_wording(root):
    replace_in(root / SHARED, "urgent_help:\n  symptoms:\n    - Trouble breathing\n  action: Call us straight away.\n", "")
    assert problems() == [f"{FACTS}:41:9: DEMO-AC (aftercare): 'urgent-help' is listed, but neither shared/en.yaml nor "
                          "demo/en.yaml has "
                          "'urgent_help' wording with an action"]


# --- references between files -----------------------------------------------------------

def test_unknown_section_suggests_the_closest(root):
    replace_in(root / FACTS, "      - what-is-it\n", "      - what-is-itt\n")
    assert problems() == [f"{FACTS}:25:9: DEMO-PT (pre-treatment): there is no section 'what-is-itt' in demo/en.yaml; "
                          "did you mean 'what-is-it'?"]


def test_unknown_section_without_a_close_one(root):
    replace_in(root / FACTS, "      - what-is-it\n", "      - pricing\n")
    assert problems() == [f"{FACTS}:25:9: DEMO-PT (pre-treatment): there is no section 'pricing' in demo/en.yaml"]


def test_unknown_shared_section_suggests_the_closest(root):
    replace_in(root / FACTS, "      - shared/questions\n", "      - shared/question\n")
    assert problems() == [
        f"{FACTS}:29:9: DEMO-PT (pre-treatment): there is no shared section 'question' in shared/en.yaml; "
        "did you mean 'questions'?"]


def test_section_named_like_a_built_in_block(root):
    replace_in(root / WORDING, "  what-is-normal:\n", "  timeline:\n    question: Q\n    answer: A\n  what-is-normal:\n")
    assert problems() == [f"{WORDING}:12:3: 'timeline' is the name of a built-in block; give this section another name"]


# --- names and codes ---------------------------------------------------------------------

def test_duplicate_ids(root):
    replace_in(root / FACTS, "  - id: bruising\n", "  - id: redness\n")
    assert problems() == [
        f"{WORDING}:22:3: 'bruising' is not in demo/treatment.yaml under 'side_effects'",
        f"{FACTS}:12:9: 'redness' is used twice in 'side_effects' (items 1 and 2); names must be unique",
    ]


def test_duplicate_leaflet_codes_across_treatments(root):
    shutil.copytree(root / "leaflets/treatments/demo", root / "leaflets/treatments/demo-two")
    assert problems() == [
        "leaflets/treatments/demo-two/treatment.yaml:22:11: the code DEMO-PT is already used by demo pre-treatment; "
        "every leaflet needs its own code",
        "leaflets/treatments/demo-two/treatment.yaml:35:11: the code DEMO-AC is already used by demo aftercare; "
        "every leaflet needs its own code",
    ]


def test_duplicate_leaflet_code_within_a_treatment(root):
    replace_in(root / FACTS, "    code: DEMO-AC\n", "    code: DEMO-PT\n")
    assert problems() == [
        f"{FACTS}:35:11: the code DEMO-PT is already used by demo pre-treatment; every leaflet needs its own code"]


def test_missing_wording_for_a_side_effect(root):
    replace_in(root / WORDING, "  bruising:\n    effect: A bruise\n    what_to_do: Wait.\n", "")
    assert problems() == [
        f"{WORDING}:18:1: 'side_effects' has no wording for 'bruising' (it is listed in demo/treatment.yaml)"]


def test_wording_for_an_id_that_does_not_exist(root):
    replace_in(root / WORDING, "  pregnancy: you are pregnant\n",
               "  pregnancy: you are pregnant\n  pregnant: you are pregnant\n")
    assert problems() == [
        f"{WORDING}:27:3: 'pregnant' is not in demo/treatment.yaml under 'contraindications'; "
        "did you mean 'pregnancy'?"]


def test_missing_title_for_a_leaflet(root):
    replace_in(root / WORDING, '  aftercare:\n    title: "Demo treatment: after"\n', "")
    assert problems() == [
        f"{WORDING}:3:1: 'leaflets' has no wording for 'aftercare' (it is listed in demo/treatment.yaml)"]


def test_language_a_brand_needs_is_missing(root):
    replace_in(root / BRAND, "languages: [en]", "languages: [en, tr]")
    assert problems() == [
        f"{BRAND}:14:17: this clinic hands out leaflets in 'tr', but there is no wording in that language "
        "(leaflets/shared/tr.yaml, leaflets/treatments/demo/tr.yaml missing)"]


# --- brands ----------------------------------------------------------------------------

def test_brand_logo_missing(root):
    (root / "styles/brands/clinic/logo.svg").unlink()
    assert problems() == [f"{BRAND}:3:7: the logo file styles/brands/clinic/logo.svg does not exist"]


def test_brand_colour_too_light(root):
    replace_in(root / BRAND, 'primary: "#0b4a66"', 'primary: "#7fb3c8"')
    assert problems() == [
        f"{BRAND}:5:12: the colour #7fb3c8 is too light to read on white paper; "
        "choose a darker one (contrast of 4.5:1 or more)"]


def test_brand_tint_too_dark(root):
    replace_in(root / BRAND, 'tint: "#eef6f9"', 'tint: "#5a6a70"')
    assert problems() == [
        f"{BRAND}:6:9: the colour #5a6a70 is too dark behind black text; "
        "choose a lighter one (contrast of 7:1 or more)"]


@pytest.mark.parametrize("primary, accepted", [("#767676", True), ("#777777", False)])
def test_brand_colour_contrast_threshold_is_wcag_aa(root, primary, accepted):
    """#767676 is the lightest grey that passes WCAG AA (4.54:1) on white; #777777 (4.48:1) fails."""
    replace_in(root / BRAND, 'primary: "#0b4a66"', f'primary: "{primary}"')
    if accepted:
        load_catalog(Project(Path(".")))
    else:
        assert len(problems()) == 1


def test_contrast_ratio_of_black_and_white_is_21():
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#ffffff", "#ffffff"), 2) == 1.0


def test_no_brands(root):
    (root / BRAND).unlink()
    assert problems() == ["leaflets/brands:1:1: there are no brands: add at least one brands/<name>.yaml"]


def test_no_treatments(root):
    shutil.rmtree(root / "leaflets/treatments/demo")
    assert problems() == ["leaflets/treatments:1:1: there are no treatments to build"]


# --- everything at once -----------------------------------------------------------------

def test_problems_in_two_files_are_reported_together(root):
    replace_in(root / WORDING, "name: Demo treatment\n", "name: Demo treatment\nname: Again\n")
    replace_in(root / FACTS, "    frequency: common\n", "    frequency: comon\n")
    replace_in(root / BRAND, "page_size: A4\n", "page_size: A3\n")
    with pytest.raises(InputError) as caught:
        load_catalog(Project(Path(".")))
    expected = [
        f"{BRAND}:13:12: 'page_size' should be one of 'A4', 'Letter', 'A5', not 'A3'",
        f"{WORDING}:3:1: 'name' appears twice in the same place (lines 2 and 3); keep one of them",
        f"{FACTS}:10:16: 'frequency' should be one of 'very-common', 'common', 'uncommon', 'rare', 'very-rare', "
        "'not-known', not 'comon'; did you mean 'common'?",
    ]
    assert [str(p) for p in caught.value.problems] == expected
    assert str(caught.value) == "\n".join(expected)


def test_a_booklet_needs_a5_pages(root):
    (root / BRAND).write_text((root / BRAND).read_text("utf-8") + "booklet: true\n", "utf-8")
    [problem] = problems()
    assert problem.startswith(f"{BRAND}:") and "a booklet is made of A5 pages: set 'page_size: A5'" in problem
    replace_in(root / BRAND, "page_size: A4", "page_size: A5")
    assert load_catalog(Project(Path("."))).brands["clinic"].booklet

