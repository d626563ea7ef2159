"""The PDFs of the sample catalog: valid, tagged, described, with fonts embedded,
every source figure present, and content that stays text.

The sample catalog is built once per session (see conftest.py); these tests only
read its output, except the security and large-print tests, which use the small
catalog in tests/fixtures/mini.
"""

from __future__ import annotations

import collections
import functools
import re
import subprocess
from pathlib import Path

import pypdf
import pytest
import yaml
from babel.numbers import format_decimal

from careleaf.build.run import pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.pdf.render import render_pdf

from conftest import mini_project, normalise, pdf_pages_text, qpdf_check, replace_in, run_cli

# The figures in the clinic's FAQ, which every treatment's leaflets must print.
FAQ_FIGURES = {
    "botox-facial-lines": ["48-72 hours", "10-14 days", "4.5-6 months", "8-10 months", "24-48 hours"],
    "botox-underarm-sweating": ["48-72 hours", "10-14 days", "10-12 months", "16-18 months", "24-48 hours"],
}
PAGE_SIZES = {"A4": (595, 842), "Letter": (612, 792)}


def leaflets(built):
    """(pdf path, brand id, brand, lang, treatment id, definition, wording) for every standard leaflet."""
    catalog = built.catalog
    for brand_id, brand in sorted(catalog.brands.items()):
        for lang in brand.languages:
            for treatment_id, entry in sorted(catalog.treatments.items()):
                for definition in entry.facts.leaflets:
                    path = built.out / brand_id / lang / f"{treatment_id}-{definition.kind}.pdf"
                    yield path, brand_id, brand, lang, treatment_id, definition, entry.wording[lang]


@functools.lru_cache(maxsize=None)
def reader(path: Path) -> pypdf.PdfReader:
    return pypdf.PdfReader(path)


# --- files -------------------------------------------------------------------------

def test_every_standard_leaflet_is_built_where_expected(sample):
    expected = sorted(path for path, *_ in leaflets(sample))
    assert len(expected) >= 8
    assert sample.pdfs() == expected
    assert all(p.read_bytes().startswith(b"%PDF-") for p in expected)


def test_sample_catalog_covers_both_brands_and_treatments(sample):
    assert {"harbour-skin", "maple-aesthetics"} <= set(sample.catalog.brands)
    assert set(FAQ_FIGURES) <= set(sample.catalog.treatments)


def test_qpdf_finds_no_structural_errors(sample):
    failures = {}
    for path in sample.pdfs():
        result = qpdf_check(path)
        if result.returncode != 0 or "No syntax or stream encoding errors found" not in result.stdout:
            failures[path.name] = result.stdout + result.stderr
    assert not failures


# --- content ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def text_of(path: Path) -> str:
    return normalise(" ".join(pdf_pages_text(path)))


def squeezed(text: str) -> str:
    """Text without any white space: rotated text (the DRAFT mark) comes out with spaces inside words."""
    return re.sub(r"\s+", "", text)


def label(built, lang: str, name: str) -> str:
    """A template word as the project's labels file gives it: its own, or else careleaf's theme's."""
    path = built.project.template_file(f"labels/{lang}.yaml")
    assert path is not None, f"no template words for '{lang}'"
    return yaml.safe_load(path.read_text("utf-8"))[name]


def facts(built, treatment: str) -> dict:
    return yaml.safe_load((built.root / "leaflets/treatments" / treatment / "treatment.yaml").read_text("utf-8"))


def numbers(figure: str, lang: str) -> str:
    """The numbers of '4.5-6 months' as a reader of ``lang`` writes them: '4.5-6', or '4,5-6' in Turkish."""
    values = re.findall(r"\d+(?:\.\d+)?", figure)
    return "-".join(format_decimal(float(v) if "." in v else int(v), locale=lang) for v in values)


@pytest.mark.parametrize("treatment", sorted(FAQ_FIGURES))
def test_every_faq_figure_is_printed(sample, treatment):
    for brand_id in sample.catalog.brands:
        text = " ".join(text_of(p) for p in sorted((sample.out / brand_id / "en").glob(f"{treatment}-*.pdf")))
        missing = [figure for figure in FAQ_FIGURES[treatment] if normalise(figure) not in text]
        assert not missing, f"{brand_id}/en/{treatment} leaflets do not print {missing}"


@pytest.mark.parametrize("treatment", sorted(FAQ_FIGURES))
def test_every_faq_figure_is_printed_in_every_language(sample, treatment):
    for brand_id, brand in sample.catalog.brands.items():
        for lang in brand.languages:
            folder = sample.out / brand_id / lang
            text = " ".join(text_of(p) for p in sorted(folder.glob(f"{treatment}-*.pdf")))
            missing = [numbers(f, lang) for f in FAQ_FIGURES[treatment] if numbers(f, lang) not in text]
            assert not missing, f"{brand_id}/{lang}/{treatment} leaflets do not print {missing}"


def test_every_figure_in_the_facts_is_printed(sample):
    """Each time on the timeline and side-effect list, as treatment.yaml gives it, in every leaflet."""
    for path, brand_id, brand, lang, treatment_id, definition, wording in leaflets(sample):
        given = facts(sample, treatment_id)
        figures = [m["when"] for m in given["timeline"]] + [s["lasts"] for s in given["side_effects"] if s.get("lasts")]
        assert figures
        text = text_of(path)
        if lang == "en":
            missing = [f for f in figures if normalise(f) not in text]
        else:
            missing = [numbers(f, lang) for f in figures if numbers(f, lang) not in text]
        assert not missing, f"{path.relative_to(sample.out)} does not print {missing}"


def test_aftercare_prints_each_checklist_window(sample):
    for path, brand_id, brand, lang, treatment_id, definition, wording in leaflets(sample):
        if definition.kind != "aftercare":
            continue
        text = text_of(path)
        for item in facts(sample, treatment_id)["aftercare_checklist"]:
            expected = normalise(item["within"]) if lang == "en" else numbers(item["within"], lang)
            assert expected in text, (path.relative_to(sample.out), item)


def test_clinic_contact_details_are_printed(sample):
    for path, brand_id, brand, *_ in leaflets(sample):
        text = text_of(path)
        for detail in (brand.name, brand.phone, brand.urgent_phone):
            assert normalise(detail) in text, (path.relative_to(sample.out), detail)


def test_footer_has_code_and_page_of_pages_on_every_page(sample):
    for path, brand_id, brand, lang, treatment_id, definition, wording in leaflets(sample):
        texts = pdf_pages_text(path)
        count = len(reader(path).pages)
        assert len(texts) == count
        for number, text in enumerate(texts, start=1):
            footer = label(sample, lang, "page_of").replace("{page}", str(number)).replace("{pages}", str(count))
            assert definition.code in text, (path.relative_to(sample.out), number)
            assert normalise(footer) in normalise(text), (path.relative_to(sample.out), number, footer)


# --- accessibility and metadata ----------------------------------------------------------

def structure_types(pdf: pypdf.PdfReader) -> collections.Counter:
    counts: collections.Counter = collections.Counter()

    def walk(element):
        element = element.get_object()
        if isinstance(element, pypdf.generic.ArrayObject):
            for child in element:
                walk(child)
        elif isinstance(element, pypdf.generic.DictionaryObject):
            if "/S" in element:
                counts[str(element["/S"])] += 1
            if "/K" in element:
                walk(element["/K"])

    walk(pdf.trailer["/Root"]["/StructTreeRoot"]["/K"])
    return counts


def marked(path: Path) -> bool:
    """/MarkInfo << /Marked true >>: the PDF says it is tagged (a pypdf BooleanObject is always truthy)."""
    return reader(path).trailer["/Root"]["/MarkInfo"]["/Marked"].value is True


def test_tagged_with_a_structure_tree(sample):
    for path, *_ in leaflets(sample):
        assert marked(path), path.name
        assert "/StructTreeRoot" in reader(path).trailer["/Root"], path.name
        types = structure_types(reader(path))
        assert types["/Document"] == 1, path.name
        assert types["/H1"] == 1, path.name      # the leaflet title, once
        assert types["/H2"] >= 3, path.name      # a heading per section
        assert types["/Table"] >= 1 and types["/TH"] >= 1, path.name   # timeline / side effects as real tables
        assert types["/L"] >= 1 and types["/LI"] >= 1, path.name


def test_language_is_set_to_the_leaflet_language(sample):
    for path, brand_id, brand, lang, *_ in leaflets(sample):
        assert reader(path).trailer["/Root"]["/Lang"] == lang


def test_document_properties(sample):
    for path, brand_id, brand, lang, treatment_id, definition, wording in leaflets(sample):
        pdf = reader(path)
        info = pdf.metadata
        assert info.title == wording.leaflets[definition.kind].title
        assert info.author == brand.name
        assert info.subject and wording.name in info.subject
        # PDF/UA: viewers show the title, not the file name, and the file says it conforms.
        assert pdf.trailer["/Root"]["/ViewerPreferences"]["/DisplayDocTitle"]
        xmp = pdf.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
        assert 'pdfuaid:part="1"' in xmp or "<pdfuaid:part>1</pdfuaid:part>" in xmp


def test_every_font_is_embedded(sample):
    for path in sample.pdfs():
        lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
        header, rule, *fonts = lines
        emb = header.index("emb")
        assert fonts, path.name
        assert all(line[emb:emb + 3] == "yes" for line in fonts), (path.name, fonts)


def test_page_size_follows_the_brand(sample):
    seen = set()
    for path, brand_id, brand, *_ in leaflets(sample):
        for page in reader(path).pages:
            assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == PAGE_SIZES[brand.page_size]
        seen.add(brand.page_size)
    assert seen == {"A4", "Letter"}


def test_draft_mark_is_printed_exactly_on_the_leaflets_the_build_lists_as_drafts(sample):
    assert sample.summary.drafts
    for path, brand_id, brand, lang, treatment_id, definition, wording in leaflets(sample):
        draft = squeezed(normalise(label(sample, lang, "draft")))
        marked = draft in squeezed(text_of(path))
        assert marked == (definition.code in sample.summary.drafts), path.relative_to(sample.out)


# --- large print ----------------------------------------------------------------------------

def body_font_size(path: Path) -> float:
    """The font size most of the text is set in, in points."""
    sizes: collections.Counter = collections.Counter()

    def visit(text, cm, tm, font, size):
        if text.strip():
            scale = (tm[2] ** 2 + tm[3] ** 2) ** 0.5 * (cm[2] ** 2 + cm[3] ** 2) ** 0.5
            sizes[round(size * scale, 1)] += len(text.strip())

    for page in reader(path).pages:
        page.extract_text(visitor_text=visit)
    return sizes.most_common(1)[0][0]


def test_clear_print_and_large_print_body_sizes(mini):
    folder = mini.out / "clinic" / "en"
    for kind in ("pre-treatment", "aftercare"):
        standard, large = folder / f"demo-{kind}.pdf", folder / f"demo-{kind}-large-print.pdf"
        assert body_font_size(standard) >= 12
        assert body_font_size(large) >= 16
        assert text_of(large).count("48-72 hours") >= 1
        assert marked(large)


def test_approved_leaflet_has_no_draft_mark(mini):
    draft = squeezed(normalise(label(mini, "en", "draft")))
    for path in mini.pdfs():
        assert draft not in squeezed(text_of(path)), path.name


# --- content is text, never markup or template code --------------------------------------------

HOSTILE = "Watch <script>alert(1)</script> and {{ 7*7 }} and <b>not bold</b> but **really bold** here."


def test_content_cannot_inject_html_or_template_code(tmp_path):
    root = mini_project(tmp_path / "project")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.\n", f"    answer: \"{HOSTILE}\"\n")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    question: What is it?\n",
               "    question: \"What is <i>it</i> {{ 6*7 }}?\"\n")
    project = Project(root)
    page = next(p for p in pages(project, load_catalog(project), large_print=False) if p.job.kind == "pre-treatment")

    assert "<script>" not in page.html and "<b>" not in page.html and "<i>" not in page.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page.html
    assert "{{ 7*7 }}" in page.html and "and 49 and" not in page.html
    assert "<strong>really bold</strong>" in page.html
    assert re.search(r"<h2>What is &lt;i&gt;it&lt;/i&gt; \{\{ 6\*7 \}\}\?</h2>", page.html)

    pdf = tmp_path / "hostile.pdf"
    pdf.write_bytes(render_pdf(page.html, project.asset_folders, source=page.job.name))
    text = text_of(pdf)
    assert normalise("Watch <script>alert(1)</script> and {{ 7*7 }} and <b>not bold</b> but really bold here.") in text
    assert "What is <i>it</i> {{ 6*7 }}?" in text
    assert "**" not in text


# --- determinism ----------------------------------------------------------------------------

def test_rebuilding_gives_byte_identical_pdfs(sample, tmp_path):
    """A second build, in another process with another hash seed, forced, into a fresh folder."""
    again = tmp_path / "again"
    result = run_cli("--project", str(sample.root), "build", "--out", str(again), "--force", "--no-large-print",
                     "--quiet", cwd=tmp_path, env={"PYTHONHASHSEED": "12345"})
    assert result.returncode == 0, result.stderr
    first = {p.relative_to(sample.out): p.read_bytes() for p in sample.pdfs()}
    second = {p.relative_to(again): p.read_bytes() for p in sorted(again.rglob("*.pdf"))}
    assert second.keys() == first.keys()
    differing = sorted(str(name) for name in first if first[name] != second[name])
    assert not differing
