"""The blocks patients take in at a glance: timeline picture, side effects by frequency,
who should not be treated, urgent help, checklist, review visit, contact and QR code."""

from __future__ import annotations

import base64
import dataclasses
import re
import typing

import pytest

from careleaf.build.run import pages
from careleaf.content import model
from careleaf.content.facts import COMPONENTS, FACT_GROUPS, URGENT_HELP
from careleaf.content.load import load
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.leaflet.figures import Mark, timeline
from careleaf.pdf.fonts import FONT_FILES, Fonts
from careleaf.project import THEME
from careleaf.content.fields import Duration
from conftest import copy_project, normalise, pdf_pages_text, replace_in

AFTERCARE = "harbour-skin/en/botox-facial-lines-aftercare"
PRE_TREATMENT = "harbour-skin/en/botox-facial-lines-pre-treatment"     # draws the timeline; aftercare tables it


def drawn(project: Project) -> dict[str, str]:
    """Every leaflet's HTML, by name, without rendering PDFs."""
    return {p.job.name: p.html for p in pages(project, load_catalog(project))}


@pytest.fixture(scope="module")
def sample_html(tmp_path_factory) -> dict[str, str]:
    return drawn(Project(copy_project(tmp_path_factory.mktemp("components"))))


def timeline_svg(html: str) -> str:
    encoded = re.search(r'<figure class="timeline-picture[^>]*>\s*<div[^>]*>\s*<img src="data:image/svg\+xml;base64,'
                        r'([^"]+)" alt="([^"]+)"', html)
    assert encoded, "no timeline picture"
    return base64.b64decode(encoded.group(1)).decode("utf-8")


def timeline_alt(html: str) -> str:
    return re.search(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', html).group(1)


def milestone_rows(html: str) -> list[tuple[str, str]]:
    """The timeline table's rows as (milestone, when), the facts a screen reader hears once."""
    table = re.search(r'<table class="milestones[^"]*">.*?</table>', html, re.S).group(0)
    return [(name, re.sub(r"<[^>]+>", "", when)) for name, when in
            re.findall(r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>', table, re.S)]


# --- timeline ---------------------------------------------------------------------

def test_timeline_is_an_svg_figure_announced_once_with_its_table(sample_html):
    html = sample_html[PRE_TREATMENT]
    assert timeline_svg(html).startswith("<svg ")
    assert timeline_alt(html) == "Timeline picture; the table below gives the same times."
    assert milestone_rows(html) == [("Effect starts", "48–72 hours"), ("Full effect", "10–14 days"),
                                    ("Review visit", "2 weeks"), ("Effect lasts", "4.5–6 months"),
                                    ("Effect lasts, after repeat treatments", "8–10 months")]
    labels = re.findall(r'<div class="timeline-label[^"]*"[^>]*>', html)
    assert labels and all('aria-hidden="true"' in label for label in labels)


def test_underarm_timeline_shows_its_own_figures(sample_html):
    rows = dict(milestone_rows(sample_html["maple-aesthetics/en/botox-underarm-sweating-aftercare"]))
    whens = set(rows.values())
    assert "10–12 months" in whens and "16–18 months" in whens and "4.5–6 months" not in whens


def test_changing_a_number_in_yaml_changes_the_picture(tmp_path, sample_html):
    root = copy_project(tmp_path)
    replace_in(root / "leaflets/treatments/botox-facial-lines/treatment.yaml", "when: 48-72 hours",
               "when: 36-60 hours")
    drawn_now = drawn(Project(root))
    assert ("Effect starts", "36–60 hours") in milestone_rows(drawn_now[AFTERCARE])
    html = drawn_now[PRE_TREATMENT]
    assert ">36–60 hours<" in html                                  # the label over the picture
    assert timeline_svg(html) != timeline_svg(sample_html[PRE_TREATMENT])   # the bar moved


# The fonts the theme's stylesheet prints the timeline's labels in, which place them.
THEME_FONTS = Fonts(*(THEME / "styles" / "fonts" / name for name in FONT_FILES))


def _boxes(labels, width=100.0):
    return [(label.left, label.left + label.width, label.top) for label in labels]


def test_labels_never_overlap_even_when_milestones_crowd_together():
    hours = lambda low, high: Duration(low, high, "hours")  # noqa: E731 - a local shorthand
    marks = [Mark(f"Milestone number {i}", hours(10 + i, 12 + i), f"{10 + i}–{12 + i} hours", False, False)
             for i in range(6)]
    marks.append(Mark("A visit", hours(13, 13), "13 hours", True, False))
    drawing = timeline(marks, "Treatment day", "#0b4a66", THEME_FONTS, font_size=12, rtl=False)
    assert len(drawing.labels) == 8      # six effects, one visit, the treatment day
    rows: dict[float, list[tuple[float, float]]] = {}
    for start, end, top in _boxes(drawing.labels):
        rows.setdefault(round(top, 3), []).append((start, end))
        assert 0 <= start and end <= 100.01
    for spans in rows.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans


def test_ranges_are_bars_and_visits_are_diamonds():
    marks = [Mark("Effect starts", Duration(48, 72, "hours"), "48–72 hours", False, False),
             Mark("Review visit", Duration(2, 2, "weeks"), "2 weeks", True, False),
             Mark("After repeats", Duration(8, 10, "months"), "8–10 months", False, True)]
    svg = timeline(marks, "Treatment day", "#0b4a66", THEME_FONTS, font_size=12, rtl=False).svg
    assert svg.count("<rect ") == 2            # the two ranges
    assert svg.count("<polygon ") == 1         # the visit
    assert svg.count("<circle ") == 1          # the treatment day
    assert 'stroke-dasharray="3 2"' in svg     # the repeat range is drawn differently, readable in greyscale


# --- side effects, contraindications, urgent help, checklist ----------------------

def test_side_effects_use_the_ema_frequency_wording(sample, tmp_path):
    text = normalise("".join(pdf_pages_text(sample.out / "harbour-skin/en/botox-facial-lines-aftercare.pdf")))
    assert "We do not know how often these happen" in text     # plain words, not the regulator's phrase
    root = copy_project(tmp_path)
    replace_in(root / "leaflets/treatments/botox-facial-lines/treatment.yaml",
               "  - id: headache\n    frequency: not-known", "  - id: headache\n    frequency: common")
    html = drawn(Project(root))[AFTERCARE]
    common = html.index("Common: may affect up to 1 in 10 people")
    assert common < html.index("A headache") < html.index("We do not know how often")   # most common first


def test_contraindications_are_two_groups(sample_html):
    html = sample_html[AFTERCARE]
    do_not, tell_us = html.index("Do not have this treatment if:"), html.index("Tell us before your treatment if:")
    assert do_not < html.index("you are pregnant") < tell_us < html.index("you take medicines or supplements")


def test_urgent_help_box_prints_the_emergency_number_of_the_clinics_country_in_every_language(sample):
    numbers = {"harbour-skin": ("999", "NHS 111"), "maple-aesthetics": ("911", None)}
    for brand, (emergency, advice) in numbers.items():
        for lang, said in (("en", f"In an emergency, call {emergency}."),
                           ("tr", f"Acil bir durumda {emergency} numaralı acil çağrı hattını arayın.")):
            text = normalise("".join(pdf_pages_text(sample.out / brand / lang / "botox-facial-lines-aftercare.pdf")))
            assert said in text, (brand, lang)
            assert (advice in text) if advice else "111" not in text
            other = "911" if emergency == "999" else "999"
            assert f" {other}." not in text and "112" not in text.replace("0112", "")


def test_urgent_help_box_has_the_red_flags_and_the_brands_urgent_number(sample):
    for brand, number in (("harbour-skin", "020 7946 0999"), ("maple-aesthetics", "(802) 555-0187")):
        text = normalise("".join(pdf_pages_text(sample.out / brand / "en/botox-facial-lines-aftercare.pdf")))
        assert "Get urgent help" in text
        assert "Trouble swallowing, speaking or breathing" in text
        assert f"Call us now on {number}" in text


def test_urgent_help_box_never_splits_across_pages(sample):
    for pdf in sorted(sample.out.glob("*/*/*-aftercare.pdf")):
        holding = [page for page in pdf_pages_text(pdf) if "Trouble swallowing, speaking or breathing" in page
                   or "Yutma, konuşma ya da nefes almada güçlük" in page]
        assert len(holding) == 1, pdf
        assert "Call us now on" in holding[0] or "hemen arayın" in holding[0], pdf


def test_checklist_has_a_tick_box_per_step_grouped_by_window(sample_html):
    html = sample_html[AFTERCARE]
    section = html[html.index('<section class="checklist">'):]
    section = section[: section.index("</section>")]
    assert [m for m in re.findall(r"<h3>(.*?)</h3>", section)] == [
        "In the first 4 hours", "In the first 24 hours", "In the first 2 weeks"]
    assert section.count("<li>") == 5 and 'class="ticks"' in section


def test_review_visit_and_contact_come_from_the_brand(sample_html):
    html = sample_html["maple-aesthetics/en/botox-facial-lines-aftercare"]
    assert "Come back to see us about 2 weeks after your treatment" in html
    assert "(802) 555-0142" in html and "220 Sugarhouse Lane, Suite 3" in html


def test_qr_code_only_where_the_brand_has_leaflet_pages(sample_html):
    harbour = sample_html[AFTERCARE]
    assert 'alt="Scan for this leaflet online: https://harbourskin.example/leaflets/BTX-FL-AC?lang=en"' in harbour
    svg = re.search(r'<figure class="qr">\s*<a href="https://harbourskin.example/leaflets/BTX-FL-AC\?lang=en">'
                    r'<img src="data:image/svg\+xml', harbour)
    assert svg, "the QR code is not a vector image linking to the leaflet online"
    assert '<figure class="qr">' not in sample_html["maple-aesthetics/en/botox-facial-lines-aftercare"]


def test_large_print_is_the_same_content(sample_html):
    standard = sample_html[AFTERCARE]
    large = sample_html[AFTERCARE + "-large-print"]
    assert 'class="large-print' in large
    side_effects = re.compile(r'<section class="side-effects">.*?</section>', re.S)
    # The timeline picture is large print's only addition: standard-print aftercare is one sheet and tables it.
    picture = re.compile(r'\s*<figure class="timeline-picture">.*?</figure>', re.S)
    assert picture.search(large) and not picture.search(standard)
    strip = lambda html: re.sub(r'style="[^"]*"|src="[^"]*"|class="[^"]*-print[^"]*"', "",  # noqa: E731
                                side_effects.sub("", picture.sub("", html)))
    assert strip(standard) == strip(large)
    # Side effects are a table in standard print and a stacked list in large print, with the same words.
    words = lambda html: re.sub(r"<[^>]+>", " ", html).split()  # noqa: E731
    table_cells = re.findall(r'<td>(.*?)</td>|<th colspan="2" scope="rowgroup">(.*?)</th>',
                             side_effects.search(standard).group(0), re.S)
    table_cells = [cell or group for cell, group in table_cells]
    stacked = " ".join(words(side_effects.search(large).group(0)))
    assert table_cells
    for cell in table_cells:
        assert " ".join(words(cell)) in stacked


def names(cls: type) -> set[str]:
    return {spec.name for spec in dataclasses.fields(cls)}


def test_every_built_in_block_has_its_template_heading_and_keys():
    """The one table of built-in blocks (careleaf.content.facts) agrees with the theme's templates and words,
    and with the schema whose keys it names."""
    words = load(THEME / "templates/labels/en.yaml").data
    for component in COMPONENTS:
        template = (THEME / "templates" / component.template).read_text("utf-8")
        assert f"label.{component.heading}" in template and component.heading in words, component.name
    for group in FACT_GROUPS:
        for cls in (model.Treatment, model.TreatmentWording, model.Fingerprints):
            assert group.key in names(cls), (group.key, cls)
        fact = typing.get_args(typing.get_type_hints(model.Treatment)[group.key])[0]
        if group.figure:     # the field a reference prints: a Duration, or an optional one
            figure = typing.get_type_hints(fact)[group.figure]
            assert Duration in (typing.get_args(figure) or (figure,)), group.key
    for cls in (model.TreatmentWording, model.SharedWording, model.Fingerprints):
        assert URGENT_HELP.key in names(cls)
