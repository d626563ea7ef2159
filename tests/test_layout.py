"""How leaflets sit on paper: the layout rules, the page budget, A5, the DRAFT mark and one table grid.

Checked on what is printed: the laid-out pages (careleaf.pdf.pages reads WeasyPrint's boxes), the PDF's text
as a reader copies it, and the pages as pictures (pypdfium2), for the fixture catalogs in every print
size and page size a brand may choose.
"""

from __future__ import annotations

import re
import subprocess
from io import BytesIO
from pathlib import Path

import pytest

from careleaf.build.run import build, pages
from careleaf.content.catalog import load_catalog
from careleaf.pdf.pages import PageFacts, budget_for, budget_warnings
from careleaf.pdf.render import render
from careleaf.project import Project

from conftest import arabic_project, copy_project, edit, mini_project, small_project

MM = 72 / 25.4
PAGE_POINTS = {"A4": (595, 842), "Letter": (612, 792), "A5": (420, 595)}


def _rendered(root: Path, *, large_print: bool = True) -> dict[str, object]:
    project = Project(root)
    return {page.job.name: render(page.html, project.asset_folders, large_print=page.job.large_print,
                                  source=page.job.name)
            for page in pages(project, load_catalog(project), large_print=large_print)}


def _a5(root: Path) -> Path:
    for brand in (root / "leaflets/brands").glob("*.yaml"):
        edit(brand, r"(?m)^page_size: .*$", "page_size: A5")
    return root


@pytest.fixture(scope="module")
def sample_rendered(tmp_path_factory):
    """The sample fixture at its brands' A4 and Letter, standard and large print."""
    return _rendered(copy_project(tmp_path_factory.mktemp("layout")))


@pytest.fixture(scope="module")
def arabic_rendered(tmp_path_factory):
    """One clinic and treatment of the sample fixture in English and Arabic, standard and large print."""
    return _rendered(arabic_project(tmp_path_factory.mktemp("arabic")))


@pytest.fixture(scope="module")
def a5_rendered(tmp_path_factory):
    """One clinic and treatment of the sample fixture on A5, in English and Turkish, standard and large print."""
    return _rendered(_a5(small_project(tmp_path_factory.mktemp("a5"), languages="en, tr")))


# --- the rules every printed leaflet keeps --------------------------------------------------------

def test_no_heading_ends_a_page_and_the_timeline_picture_stays_with_its_table(sample_rendered, a5_rendered):
    for name, rendered in {**sample_rendered, **a5_rendered}.items():
        wrong = [p for p in rendered.facts.problems if "heading" in p or "timeline picture" in p]
        assert not wrong, f"{name}: {wrong}"


def test_no_page_but_the_last_is_left_under_half_full_when_what_follows_would_fit(sample_rendered, a5_rendered):
    for name, rendered in {**sample_rendered, **a5_rendered}.items():
        wrong = [p for p in rendered.facts.problems if "full" in p]
        assert not wrong, f"{name}: {wrong} (fills {rendered.facts.fills})"


def test_the_rules_catch_a_heading_at_the_foot_of_a_page(tmp_path):
    """The rule itself: a stylesheet that lets a heading end a page is reported."""
    root = mini_project(tmp_path / "project")
    (root / "styles").mkdir(exist_ok=True)
    (root / "styles/leaflet.css").write_text(
        (Path(__file__).parents[1] / "careleaf/theme/styles/leaflet.css").read_text("utf-8")
        .replace("break-after: avoid;", "break-after: auto;")
        + "\nh2 { margin-top: 0; } .qa h2 { break-before: page; break-after: page; }\n", "utf-8")
    problems = [p for rendered in _rendered(root, large_print=False).values() for p in rendered.facts.problems]
    assert any("ends with a heading" in p for p in problems)


# --- page budget ----------------------------------------------------------------------------------

def test_budget_doubles_for_large_print_and_for_a5():
    assert budget_for("aftercare", large_print=False, page_size="A4") == 2
    assert budget_for("pre-treatment", large_print=False, page_size="Letter") == 6
    assert budget_for("aftercare", large_print=True, page_size="A4") == 4
    assert budget_for("aftercare", large_print=False, page_size="A5") == 4
    assert budget_for("aftercare", large_print=False, page_size="A4", budgets={"aftercare": 3}) == 3
    assert budget_for("pre-treatment", large_print=False, page_size="A4", budgets={"aftercare": 3}) == 6


def test_warnings_name_the_leaflet_its_pages_and_an_almost_empty_last_page():
    facts = PageFacts((0.9, 0.8, 0.1))
    warnings = budget_warnings("clinic/en/demo-aftercare", "aftercare", facts, large_print=False, page_size="A4")
    assert any("demo-aftercare: 3 pages, more than the 2" in w for w in warnings)
    assert any("last page is only 10% full" in w for w in warnings)
    assert budget_warnings("x", "aftercare", PageFacts((0.9, 0.5)), large_print=False, page_size="A4") == []


def test_the_build_warns_when_a_leaflet_is_over_its_budget(tmp_path):
    root = mini_project(tmp_path / "project")
    (root / "leaflets/check.yaml").write_text("page_budget:\n  aftercare: 1\n  pre-treatment: 1\n", "utf-8")
    summary = build(Project(root), tmp_path / "out", large_print=False)
    assert not summary.failed
    over = [note for note in summary.notes if "more than the 1" in note]
    assert over, summary.notes
    assert all("check.yaml" in note for note in over)


# --- A5 -------------------------------------------------------------------------------------------

def test_an_a5_brand_prints_a5_pages(a5_rendered, tmp_path):
    import pikepdf

    for name, rendered in a5_rendered.items():
        with pikepdf.open(BytesIO(rendered.pdf)) as pdf:
            for page in pdf.pages:
                box = [float(v) for v in page.mediabox]
                assert (round(box[2]), round(box[3])) == PAGE_POINTS["A5"], name


# --- one grid for every side-effect group ---------------------------------------------------------

def test_side_effect_groups_share_one_table_grid_and_large_print_stacks_them(tmp_path):
    project = Project(copy_project(tmp_path / "project"))
    catalog = load_catalog(project)
    for page in pages(project, catalog):
        if "side-effects" not in page.html:
            continue
        section = re.search(r'<section class="side-effects">.*?</section>', page.html, re.S).group(0)
        groups = len(page.leaflet.side_effects)
        if page.job.large_print:
            assert "<table" not in section, page.job.name
            assert section.count('<ul class="effects-stacked">') == groups
        else:
            assert section.count("<table") == 1, page.job.name
            assert section.count('<tr class="group">') == groups


# --- the DRAFT mark -------------------------------------------------------------------------------

def _text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_a_draft_says_so_once_in_its_text_and_the_mark_leaves_no_letters(sample_rendered):
    drafts = {name: r for name, r in sample_rendered.items()}
    assert drafts
    for name, rendered in drafts.items():
        text = _text(rendered.pdf)
        words = "DRAFT – not approved for patient use" if "/en/" in name else "TASLAK – hastalara verilmek"
        assert text.count(words) == 1, name
        lone_letters = [line for line in text.splitlines() if re.fullmatch(r"\s*\w\s*", line)]
        assert not lone_letters, f"{name}: {lone_letters[:5]}"


def _page_image(pdf: bytes, index: int = 0):
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    return document[index % len(document)].render(scale=1).to_pil().convert("RGB")


# The mark's colour where it lies on white paper (careleaf/watermark.py: #aa0000 at 16% opacity): a pale
# pink no brand colour or text colour comes near.
MARK_ON_WHITE = (241, 214, 214)


def _reddish(pixel) -> bool:
    return all(abs(value - mark) <= 6 for value, mark in zip(pixel, MARK_ON_WHITE))


def test_the_mark_fits_the_page_in_every_language_and_size(sample_rendered, a5_rendered, arabic_rendered):
    for name, rendered in {**sample_rendered, **a5_rendered, **arabic_rendered}.items():
        image = _page_image(rendered.pdf, 0)
        width, height = image.size
        red = [(x, y) for x in range(0, width, 2) for y in range(0, height, 2) if _reddish(image.getpixel((x, y)))]
        assert len(red) > 100, f"{name}: no mark"   # where boxes with a background do not cover it
        margin = 8 * MM
        assert all(margin < x < width - margin and margin < y < height - margin for x, y in red), name


@pytest.mark.parametrize("lang", ["en", "tr", "ar"])
def test_every_letter_of_the_marks_has_a_glyph(lang):
    """Each mark is drawn from the fonts the theme prints its language in: no missing-glyph boxes."""
    import yaml

    from careleaf.pdf.fonts import FONT_FILES, Fonts
    from careleaf.project import THEME
    from careleaf.pdf.watermark import outline

    words = yaml.safe_load((THEME / f"templates/labels/{lang}.yaml").read_text("utf-8"))
    fonts = Fonts(*(THEME / "styles/fonts" / name for name in FONT_FILES))
    for label in ("draft", "review_overdue"):
        path, advance, _ = outline(words[label], fonts, rtl=lang == "ar")   # raises on a missing glyph
        assert advance > 0 and path.count(b" c\n") + path.count(b" l\n") > 50


def test_the_mark_never_covers_the_urgent_numbers(sample_rendered):
    """The urgent line and the emergency number stay clear wherever the mark crosses the page."""
    urgent = {"0999", "0187", "999", "112", "911", "111"}   # the sample brands' urgent lines, emergency numbers
    for name, rendered in sample_rendered.items():
        boxes = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=rendered.pdf, capture_output=True,
                               check=True).stdout.decode()
        for page_index, page in enumerate(boxes.split("<page ")[1:]):
            words = [match for match in re.finditer(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)</word>', page)
                if urgent & set(re.findall(r"\d{3,}", match.group(5)))]
            image = _page_image(rendered.pdf, page_index) if words else None
            for match in words:
                x0, y0, x1, y1 = (int(float(v)) for v in match.groups()[:4])
                pixels = [image.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1)]
                assert not any(_reddish(p) for p in pixels), f"{name} page {page_index + 1}: {match.group(5)}"


# --- the booklet a brand on A5 may ask for --------------------------------------------------------

def test_a_brand_on_a5_with_booklet_gets_one_beside_each_leaflet_and_loses_it_when_it_stops(tmp_path):
    import pikepdf

    root = _a5(mini_project(tmp_path / "project"))
    brand = root / "leaflets/brands/clinic.yaml"
    brand.write_text(brand.read_text("utf-8") + "booklet: true\n", "utf-8")
    out = tmp_path / "out"
    assert not build(Project(root), out, large_print=False).failed
    printed = [p for p in out.rglob("*.pdf") if "site" not in p.relative_to(out).parts]    # not the web pages' copies
    leaflets = sorted(p for p in printed if not p.name.endswith("-booklet.pdf"))
    booklets = sorted(p for p in printed if p.name.endswith("-booklet.pdf"))
    assert leaflets and [b.name for b in booklets] == [p.stem + "-booklet.pdf" for p in leaflets]
    for booklet in booklets:
        with pikepdf.open(booklet) as pdf:
            box = [float(v) for v in pdf.pages[0].mediabox]
            assert (round(box[2]), round(box[3])) == (842, 595)     # A4 landscape: two A5 pages side by side
    from careleaf.pdf.audit import audit_paths

    audited = audit_paths([out])      # the folder's booklets are print files, untagged on purpose: left out
    audited_leaflets = [Path(r.name) for r in audited if "site" not in Path(r.name).relative_to(out).parts]
    assert audited_leaflets == leaflets and not any(r.problems for r in audited)    # the web pages' copies too

    brand.write_text(brand.read_text("utf-8").replace("booklet: true\n", ""), "utf-8")
    assert not build(Project(root), out, large_print=False).failed
    assert not list(out.rglob("*-booklet.pdf"))


def test_the_mark_is_drawn_once_per_file_as_an_artifact_and_its_request_stays_out_of_the_metadata(sample_rendered):
    import pikepdf

    from careleaf.pdf.watermark import MARK_META

    name, rendered = next((n, r) for n, r in sample_rendered.items() if "/en/" in n)
    with pikepdf.open(BytesIO(rendered.pdf)) as pdf:
        assert len(pdf.pages) > 1
        marks = {pdf.pages[0].obj.Resources.XObject[key].objgen for key in pdf.pages[0].obj.Resources.XObject
                 if str(key).startswith("/CareleafMark")}
        assert len(marks) == 1, name
        for page in pdf.pages:
            first = next(iter(pikepdf.parse_content_stream(page)))
            assert str(first.operator) == "BMC" and first.operands[0] == "/Artifact"   # drawn first, not read
        assert MARK_META not in str(pdf.docinfo).lower()
        assert MARK_META.encode() not in pdf.Root.Metadata.read_bytes()
