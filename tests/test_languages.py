"""Leaflets in the patient's language: Turkish catalog, right-to-left Arabic,
localised numbers, dates and labels, fallback sections and stale translations."""

from __future__ import annotations

import re

import datetime as dt
import subprocess
from pathlib import Path

import pikepdf
import pypdf
import pytest

from careleaf.build.run import build, pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.errors import InputError
from careleaf.pdf.glyphtext import drawn_text
from careleaf.pdf.structure import element_kids, kids, marked, page_numbers, page_of, top_elements, walk
from careleaf.content.items import Key
from careleaf.content.translation import mark_reviewed
from conftest import FIXTURES, approved_project, arabic_project, copy_project, normalise, pdf_pages_text, replace_in, run_cli

TREATMENTS = ("botox-facial-lines", "botox-underarm-sweating")
KINDS = ("pre-treatment", "aftercare")
ARABIC = FIXTURES / "arabic"


def pdf_text(path: Path) -> str:
    return normalise("\n".join(pdf_pages_text(path)))


def html_of(project: Project, name: str, today: dt.date | None = None) -> str:
    """One leaflet's HTML, drawn without rendering a PDF."""
    found = [p for p in pages(project, load_catalog(project), today=today) if p.job.name == name]
    assert found, f"no leaflet {name}"
    return found[0].html


# --- Turkish ---------------------------------------------------------------------

@pytest.mark.parametrize("brand", ["harbour-skin", "maple-aesthetics"])
@pytest.mark.parametrize("treatment", TREATMENTS)
@pytest.mark.parametrize("kind", KINDS)
def test_turkish_pdfs_exist_with_turkish_labels_and_language(sample, brand, treatment, kind):
    pdf = sample.out / brand / "tr" / f"{treatment}-{kind}.pdf"
    text = pdf_text(pdf)
    pages_count = len(pdf_pages_text(pdf))
    assert f"Sayfa 1 / {pages_count}" in text
    assert "Olası yan etkiler" in text
    assert "Bu tedavi kimlere uygulanmaz" in text
    assert str(pypdf.PdfReader(pdf).trailer["/Root"]["/Lang"]) == "tr"


def test_turkish_text_keeps_dotted_and_dotless_i(sample):
    text = pdf_text(sample.out / "harbour-skin" / "tr" / "botox-facial-lines-aftercare.pdf")
    assert "İlk 4 saat içinde" in text          # dotted capital İ from the checklist heading
    # Dotless ı survives into the PDF's text: from the template words and from the wording.
    assert "Olası yan etkiler" in text and "Ne yapmalısınız" in text
    assert "kızarıklık" in text
    assert "Ilk" not in text and "Olasi " not in text and "yapmalisiniz" not in text and "kizariklik" not in text


def test_turkish_figures_use_a_decimal_comma(sample):
    text = pdf_text(sample.out / "harbour-skin" / "tr" / "botox-facial-lines-aftercare.pdf")
    assert "4,5-6 ay" in text                   # Babel's Turkish number format, in the timeline table
    assert "4.5-6 ay" not in text
    english = pdf_text(sample.out / "harbour-skin" / "en" / "botox-facial-lines-aftercare.pdf")
    assert "4.5-6 months" in english


def printed(html: str) -> str:
    """The HTML with the footer's CSS string read as it prints: escapes decoded, no-break spaces as spaces."""
    return re.sub(r"\\([0-9a-f]{6}) ", lambda m: chr(int(m[1], 16)), html).replace("\u00a0", " ")


def test_footer_dates_are_written_in_the_leaflets_language(tmp_path):
    project = Project(approved_project(tmp_path))          # approved on 5 January 2026, review by 5 January 2099
    today = dt.date(2026, 6, 1)
    assert "5 Ocak 2026" in printed(html_of(project, "harbour-skin/tr/botox-facial-lines-aftercare", today))
    assert "5 Ocak 2099" in printed(html_of(project, "harbour-skin/tr/botox-facial-lines-aftercare", today))
    assert "5 January 2026" in printed(html_of(project, "harbour-skin/en/botox-facial-lines-aftercare", today))


def test_a_footer_prints_an_approval_date_only_while_the_approval_covers_the_wording(tmp_path):
    root = approved_project(tmp_path)
    replace_in(root / "leaflets/treatments/botox-facial-lines/tr.yaml", "**24–48 saat**", "**bir ay**")
    project, today = Project(root), dt.date(2026, 6, 1)
    turkish = printed(html_of(project, "harbour-skin/tr/botox-facial-lines-aftercare", today))
    assert "onay bekliyor" in turkish and "onay tarihi" not in turkish     # "awaiting approval", not "approved"
    assert "yeniden onay bekliyor" in turkish                              # the DRAFT notice says why
    english = printed(html_of(project, "harbour-skin/en/botox-facial-lines-aftercare", today))
    assert "approved 5 January 2026" in english and "awaiting approval" not in english
    draft = printed(html_of(Project(copy_project(tmp_path / "sample")), "harbour-skin/en/botox-facial-lines-aftercare",
                            today))
    assert "awaiting approval" in draft and "approved " not in draft.split("@bottom-left")[1].split(";")[0]


def test_no_label_is_left_in_english_in_a_turkish_leaflet(sample):
    english = {"Side effects", "Possible side effects", "Page 1 of", "What to expect", "Contact us",
               "Get urgent help", "Your aftercare checklist", "version"}
    text = pdf_text(sample.out / "maple-aesthetics" / "tr" / "botox-underarm-sweating-aftercare.pdf")
    assert not {word for word in english if word in text}


# --- never mixing languages silently --------------------------------------------

def test_a_section_missing_in_a_language_is_an_error_naming_file_and_section(tmp_path):
    root = copy_project(tmp_path)
    wording = root / "leaflets/treatments/botox-facial-lines/tr.yaml"
    lines = wording.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("  if-i-stop:\n")
    end = next(i for i in range(start + 1, len(lines))
               if lines[i].strip() and not lines[i].startswith("    "))   # the next section or top-level key
    wording.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_catalog(Project(root))
    messages = [str(p) for p in caught.value.problems]
    assert any("'if-i-stop'" in m and "botox-facial-lines/tr.yaml" in m for m in messages), messages


def test_a_brand_may_fill_gaps_from_an_explicit_fallback_language(tmp_path):
    root = arabic_project(tmp_path)
    html = html_of(Project(root), "harbour-skin/ar/botox-facial-lines-aftercare")
    # 'how-long-does-it-last' has no Arabic wording: it is printed in English, and says so.
    assert '<section class="qa" lang="en" dir="ltr">' in html
    assert "How long will the effect last?" in html
    assert "طُبع باللغة الإنجليزية" in html
    # Sections the Arabic file has are printed in Arabic.
    assert "ما الطبيعي بعد العلاج؟" in html


# --- stale translations ------------------------------------------------------------

def test_changing_one_english_answer_flags_exactly_the_turkish_section_made_from_it(tmp_path):
    root = copy_project(tmp_path)
    project = Project(root)
    assert load_catalog(project).stale == frozenset()
    replace_in(root / "leaflets/treatments/botox-facial-lines/en.yaml",
               "It usually goes within **24-48 hours**.", "It usually goes within **24-48 hours**, often sooner.")
    catalog = load_catalog(project)
    changed = Key("leaflets/treatments/botox-facial-lines/tr.yaml", "sections", "what-is-normal-afterwards")
    assert catalog.stale == {changed}       # nothing of the other treatment, of English, or of shared wording
    drawn = {p.job.name: p for p in pages(project, catalog)}
    # The aftercare leaflet prints that section and carries the note; the pre-treatment one does not.
    assert drawn["harbour-skin/tr/botox-facial-lines-aftercare"].leaflet.stale == [changed]
    assert "translation-review" in drawn["harbour-skin/tr/botox-facial-lines-aftercare"].html
    assert "translation-review" not in drawn["harbour-skin/tr/botox-facial-lines-pre-treatment"].html
    assert "translation-review" not in drawn["harbour-skin/en/botox-facial-lines-aftercare"].html
    assert not any(p.leaflet.stale for name, p in drawn.items() if "botox-underarm-sweating" in name)
    listed = run_cli("translations", cwd=root)
    assert listed.returncode == 0
    assert "botox-facial-lines/tr.yaml: 1 item(s) older than the English: sections/what-is-normal-afterwards" \
        in listed.stdout


def test_marking_a_translation_reviewed_clears_the_flag(tmp_path):
    root = copy_project(tmp_path)
    replace_in(root / "leaflets/shared/en.yaml", "Botulinum toxin is a medicine.",
               "Botulinum toxin is a medicine, made with great care.")
    assert load_catalog(Project(root)).stale == {Key("leaflets/shared/tr.yaml", "sections", "what-is-botulinum-toxin")}
    reviewed = run_cli("translations", "--reviewed", "leaflets/shared/tr.yaml", cwd=root)
    assert reviewed.returncode == 0, reviewed.stderr
    assert load_catalog(Project(root)).stale == frozenset()


def test_fingerprints_ignore_the_approval_flag(tmp_path):
    root = copy_project(tmp_path)
    replace_in(root / "leaflets/shared/en.yaml",
               "question: What should I bring to my appointment?\n    needs_approval: true\n",
               "question: What should I bring to my appointment?\n    needs_approval: false\n")
    # A clinician approving the English does not make the Turkish out of date: the words did not change.
    assert load_catalog(Project(root)).stale == frozenset()


# --- right to left -----------------------------------------------------------------

@pytest.fixture(scope="module")
def arabic(tmp_path_factory) -> tuple[Path, Path]:
    root = arabic_project(tmp_path_factory.mktemp("arabic"))
    out = root / "out"
    summary = build(Project(root), out, large_print=False, write_html=True)
    assert not summary.failed, summary.failed
    return root, out


def test_arabic_leaflet_is_right_to_left_with_its_language(arabic):
    _, out = arabic
    html = (out / "harbour-skin/ar/botox-facial-lines-aftercare.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl"' in html
    reader = pypdf.PdfReader(out / "harbour-skin/ar/botox-facial-lines-aftercare.pdf")
    assert str(reader.trailer["/Root"]["/Lang"]) == "ar"


def test_arabic_text_is_tagged_in_reading_order_with_joined_letters(arabic):
    """What a screen reader reads (the tags' /ActualText): whole phrases in logical order, the lam-alef of
    "العلاج" included. What the viewers extract is read in tests/test_readers.py (Poppler, pdf.js, PDFium)."""
    _, out = arabic
    with pikepdf.open(out / "harbour-skin/ar/botox-facial-lines-aftercare.pdf") as pdf:
        said = {str(element.ActualText) for element in walk(top_elements(pdf.Root.StructTreeRoot))
                if "/ActualText" in element}
    assert "توكسين البوتولينوم لخطوط الوجه: بعد العلاج" in said
    assert "الآثار الجانبية المحتملة" in said
    assert "ما الطبيعي بعد العلاج؟" in said


def test_arabic_glyphs_come_from_the_bundled_arabic_font(arabic):
    _, out = arabic
    reader = pypdf.PdfReader(out / "harbour-skin/ar/botox-facial-lines-aftercare.pdf")
    fonts = {str(font.get_object()["/BaseFont"]).split("+", 1)[-1]
             for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert "Leaflet-Arabic" in fonts, fonts


def test_arabic_timeline_is_mirrored(arabic):
    root, _ = arabic
    project = Project(root)
    # The pre-treatment leaflet: standard-print aftercare gives the timeline as a table only.
    arabic_html = html_of(project, "harbour-skin/ar/botox-facial-lines-pre-treatment")
    english_html = html_of(project, "harbour-skin/en/botox-facial-lines-pre-treatment")

    def day_label_left(html: str, label: str) -> float:
        before = html[: html.index(label)]
        return float(before[before.rindex("left: ") + 6:].split("%", 1)[0])

    # The treatment day sits at the start of the line: the left in English, the right in Arabic.
    assert day_label_left(english_html, "Treatment day") < 20
    assert day_label_left(arabic_html, "يوم العلاج") > 60


def test_reviewing_the_arabic_fixture_clears_its_note(tmp_path):
    root = arabic_project(tmp_path)
    project = Project(root)
    catalog = load_catalog(project)
    files = {"leaflets/treatments/botox-facial-lines/ar.yaml", "leaflets/shared/ar.yaml"}
    assert {key.file for key in catalog.stale} == files      # the fixture records no fingerprints
    mark_reviewed(root / "leaflets/treatments/botox-facial-lines/ar.yaml",
                  catalog.treatments["botox-facial-lines"].wording["en"])
    mark_reviewed(root / "leaflets/shared/ar.yaml", catalog.shared["en"][0])
    assert load_catalog(project).stale == frozenset()


def test_numbers_and_addresses_keep_their_order_in_right_to_left_text(arabic):
    """Isolated left to right: a patient reading the Arabic leaflet dials the right number."""
    _, out = arabic
    pdf = out / "harbour-skin/ar/botox-facial-lines-aftercare.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, text=True).stdout
    assert "020 7946 0321" in text and "0321 7946 020" not in text
    assert "020 7946 0999" in text
    assert "https://harbourskin.example/" in text and "/https://" not in text
    assert "14 Quayside Walk" in text


def _languages_and_words(path: Path) -> list[tuple[str, str]]:
    """(the language a screen reader speaks it in, the words it draws) for each element holding text."""
    with pikepdf.open(path) as pdf:
        numbers = page_numbers(pdf)
        drawn = {number: drawn_text(page) for number, page in enumerate(pdf.pages)}
        found = []
        stack = [(top, str(pdf.Root.Lang)) for top in top_elements(pdf.Root.StructTreeRoot)]
        while stack:
            element, language = stack.pop()
            language = str(element.get("/Lang", language))
            page = page_of(element, numbers, None)
            own = [marked(kid, numbers, page) for kid in kids(element)]
            text = "".join(drawn.get(number, {}).get(mcid, "") for number, mcid in filter(None, own))
            text = str(element.get("/ActualText", text))   # right-to-left runs are drawn in visual order
            if text.strip():
                found.append((language, text))
            stack.extend((kid, language) for kid in element_kids(element))
    return found


def test_english_fallback_sections_are_tagged_english_in_an_arabic_leaflet(arabic):
    _, out = arabic
    spoken = _languages_and_words(out / "harbour-skin/ar/botox-facial-lines-aftercare.pdf")
    english = [language for language, text in spoken if "How long will the effect last?" in text]
    arabic_words = [language for language, text in spoken if "ساعة" in text]
    assert english and set(english) == {"en"}, english
    assert arabic_words and set(arabic_words) == {"ar"}
    latin_only = {language for language, text in spoken if text.isascii() and any(c.isalpha() for c in text)}
    assert "en" in latin_only


def test_only_parts_in_another_language_carry_lang(arabic):
    _, out = arabic
    with pikepdf.open(out / "harbour-skin/en/botox-facial-lines-aftercare.pdf") as pdf:
        assert not [element for element in walk(top_elements(pdf.Root.StructTreeRoot)) if "/Lang" in element]
