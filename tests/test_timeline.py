"""The timeline picture: nothing drawn on it ever overlaps or leaves it, whatever the milestones, the
column's width or the print size; ranges are bars to scale; the scale says what it is; and in the PDF
the picture stays with its table, which is what a screen reader reads."""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careleaf.leaflet.figures import COLUMN, MARKS, MM, WORDS, Mark, column_width, timeline
from careleaf.pdf.fonts import FONT_FILES, Fonts, text_width
from careleaf.build.run import pages
from careleaf.leaflet.html import format_duration
from careleaf.project import THEME
from careleaf.content.fields import Duration
from conftest import normalise, pdf_pages_text

# The fonts the theme's stylesheet prints the labels in, which place them.
THEME_FONTS = Fonts(*(THEME / "styles" / "fonts" / name for name in FONT_FILES))
LETTER_COLUMN = (215.9 - 2 * 15) * MM          # the widest column a leaflet has: Letter, 15 mm margins
SIZES = (12, 16)                                 # standard and large print (html.LABEL_SIZE)

# Pairs of kinds that are drawn one on the other on purpose: the grid runs beneath the marks, and the
# treatment day's dot, the ticks and the arrowhead sit on the axis.
MEANT_TO_TOUCH = {frozenset({"grid", kind}) for kind in MARKS} | {
    frozenset({"axis", "origin"}), frozenset({"axis", "tick"}), frozenset({"axis", "arrow"})}


def marks_of(*rows: tuple, lang: str = "en") -> list[Mark]:
    return [Mark(label, Duration(low, high, unit), format_duration(Duration(low, high, unit), lang), visit, repeat,
                 date) for label, low, high, unit, visit, repeat, date in rows]


SAMPLE_MARKS = marks_of(("Effect starts", 48, 72, "hours", False, False, ""),
                        ("Full effect", 10, 14, "days", False, False, ""),
                        ("Review visit", 2, 2, "weeks", True, False, ""),
                        ("Effect lasts", 4.5, 6, "months", False, False, ""),
                        ("Effect lasts, after repeat treatments", 8, 10, "months", False, True, ""))


def draw(marks: list[Mark], *, width: float = COLUMN["A4"], font_size: float = 12, rtl: bool = False,
         lang: str = "en"):
    return timeline(marks, "Treatment day" if lang == "en" else "يوم العلاج" if lang == "ar" else "Tedavi günü",
                    "#0b4a66", THEME_FONTS, font_size=font_size, rtl=rtl, width=width,
                    say=lambda d: format_duration(d, lang))


def collisions(drawing) -> list[tuple[str, str]]:
    boxes = drawing.boxes
    return [(a.kind, b.kind) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a.overlaps(b) and frozenset({a.kind, b.kind}) not in MEANT_TO_TOUCH]


def outside(drawing) -> list[str]:
    return [box.kind for box in drawing.boxes
            if box.x0 < -1e-6 or box.y0 < -1e-6 or box.x1 > drawing.width + 1e-6 or box.y1 > drawing.height + 1e-6]


# --- any milestones ------------------------------------------------------------------

WORDS_OF = {
    "en": ["Effect", "starts", "Full", "effect", "Review", "visit", "Swelling", "settles", "after", "repeat",
           "treatments", "Bruising", "fades", "Top-up", "appointment", "Numbness", "wears", "off"],
    "tr": ["Etki", "başlar", "Tam", "etki", "Kontrol", "randevusu", "Şişlik", "geçer", "tekrarlanan",
           "uygulamalarla", "Morarmanın", "kaybolması", "değerlendirmesi", "İğneli", "bölgedeki", "hassasiyet"],
    "ar": ["يبدأ", "التأثير", "الكامل", "زيارة", "المراجعة", "مدة", "بعد", "تكرار", "العلاج", "يختفي", "التورم",
           "الكدمات", "موعد", "المتابعة"],
}
DATES_OF = {"en": ["Thu 3 – Fri 4 Dec", "Wed 16 Dec, 10:30", "April – June 2027", "Tue 15 Dec"],
            "tr": ["3 Ara Per – 4 Ara Cum", "16 Ara Çar, 10:30", "Nisan – Haziran 2027"],
            "ar": ["الخميس 3 – الجمعة 4 ديسمبر", "16 ديسمبر، 10:30"]}
# Up to about two years in each unit, as treatment.yaml may write them.
MOST = {"hours": 48, "days": 60, "weeks": 52, "months": 24}


@st.composite
def milestone(draw_, lang: str, personal: bool) -> Mark:
    unit = draw_(st.sampled_from(sorted(MOST)))
    low = draw_(st.integers(0, MOST[unit] * 2)) / 2
    high = low if draw_(st.booleans()) else draw_(st.integers(int(low * 2), MOST[unit] * 2)) / 2
    words = draw_(st.lists(st.sampled_from(WORDS_OF[lang]), min_size=1, max_size=6))
    date = draw_(st.sampled_from(DATES_OF[lang])) if personal else ""
    when = Duration(low, high, unit)
    return Mark(" ".join(words), when, format_duration(when, lang), draw_(st.booleans()), draw_(st.booleans()),
                date)


@st.composite
def pictures(draw_):
    lang = draw_(st.sampled_from(["en", "tr", "ar"]))
    personal = draw_(st.booleans())
    marks = draw_(st.lists(milestone(lang, personal), min_size=0, max_size=10))
    width = draw_(st.floats(COLUMN["A5"], LETTER_COLUMN))
    return marks, width, draw_(st.sampled_from(SIZES)), lang


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pictures())
def test_nothing_drawn_overlaps_or_leaves_the_picture(picture):
    marks, width, font_size, lang = picture
    drawing = draw(marks, width=width, font_size=font_size, rtl=lang == "ar", lang=lang)
    assert collisions(drawing) == []
    assert outside(drawing) == []
    # Every milestone is drawn, once, with its words: nothing was left out to make room.
    kinds = [box.kind for box in drawing.boxes]
    assert sum(kind in MARKS for kind in kinds) == len(marks)
    assert kinds.count("label") == len(marks)
    # Each label's box holds its lines as the fonts print them, at the print size.
    for label in drawing.labels:
        room = label.width / 100 * width + 1e-6
        for line in label.lines:
            printed = sum(text_width(run.text, font_size, THEME_FONTS, bold=run.style == "name", rtl=lang == "ar")
                          for run in line)
            assert printed <= room, (line, printed, room)


def test_the_labels_are_the_boxes_drawn():
    drawing = draw(SAMPLE_MARKS)
    words = [box for box in drawing.boxes if box.kind in WORDS]
    assert len(words) == len(drawing.labels)
    for box, label in zip(words, drawing.labels):
        assert label.left == pytest.approx(100 * box.x0 / drawing.width)
        assert label.top == pytest.approx(100 * box.y0 / drawing.height)
        assert label.width == pytest.approx(100 * (box.x1 - box.x0) / drawing.width)


# --- what the picture says --------------------------------------------------------------

def test_the_sample_timeline_is_compact_at_a4_and_fits_a5():
    assert draw(SAMPLE_MARKS).height / MM <= 45
    for page_size in ("A4", "Letter", "A5"):
        for size in SIZES:
            drawing = draw(SAMPLE_MARKS, width=column_width(page_size), font_size=size)
            assert collisions(drawing) == [] and outside(drawing) == []


def test_the_scale_is_labelled_with_times_in_the_leaflets_language():
    scale = [" ".join(r.text for line in label.lines for r in line)
             for label in draw(SAMPLE_MARKS, lang="tr").labels if label.kind == "scale-label"]
    assert scale[0] == "Tedavi günü"
    assert {"1 gün", "1 hafta", "6 ay"} <= set(scale)


def test_ranges_are_bars_to_scale_and_single_times_are_marks_of_their_own():
    drawing = draw(marks_of(("Swelling settles", 1, 2, "weeks", False, False, ""),
                            ("Full effect", 2, 2, "weeks", False, False, ""),
                            ("Review visit", 2, 2, "weeks", True, False, ""),
                            ("Effect lasts", 6, 12, "months", False, False, "")))
    kinds = [box.kind for box in drawing.boxes]
    assert (kinds.count("bar"), kinds.count("dot"), kinds.count("diamond")) == (2, 1, 1)
    # On a logarithmic scale "1-2 weeks" and "6-12 months" (each twice its start) are bars of one length,
    # long enough to read as periods.
    weeks, months = sorted((box for box in drawing.boxes if box.kind == "bar"), key=lambda box: box.x0)
    assert weeks.x1 - weeks.x0 == pytest.approx(months.x1 - months.x0, rel=0.02)
    assert weeks.x1 - weeks.x0 > 30


def test_time_runs_right_to_left_in_arabic():
    def day_and_latest(rtl: bool) -> tuple[float, float]:
        drawing = draw(SAMPLE_MARKS, rtl=rtl, lang="ar" if rtl else "en")
        origin = next(box for box in drawing.boxes if box.kind == "origin")
        repeat = max((box for box in drawing.boxes if box.kind in MARKS), key=lambda box: abs(box.x0 - origin.x0))
        return origin.x0, repeat.x0

    day, latest = day_and_latest(False)
    assert day < latest
    day, latest = day_and_latest(True)
    assert day > latest


def test_nothing_sits_under_the_arrowhead_even_for_the_longest_times():
    drawing = draw(marks_of(("After repeats", 24, 24, "months", False, True, ""),
                            ("Lasts", 18, 24, "months", False, False, "")), width=COLUMN["A5"], font_size=16)
    arrow = next(box for box in drawing.boxes if box.kind == "arrow")
    assert all(box.x1 < arrow.x0 for box in drawing.boxes if box.kind in MARKS)


# --- in the leaflet -----------------------------------------------------------------------

ALT = {"en": "Timeline picture; the table below gives the same times.",
       "tr": "Zaman çizelgesi resmi; aynı süreler aşağıdaki tabloda yazılıdır."}


def pages_of_picture_and_table(pdf: Path) -> tuple[int, set[int]]:
    """From the PDF's tags: the page the timeline figure is on, and the pages its table's rows are on."""
    with pikepdf.open(pdf) as document:
        page_number = {page.objgen: number for number, page in enumerate(document.pages, 1)}
        nodes = list(structure(document.Root.StructTreeRoot))
        figure = next(i for i, node in enumerate(nodes)
                      if node.get("/S") == "/Figure" and str(node.get("/Alt", "")) in ALT.values())
        table = next(node for node in nodes[figure:] if node.get("/S") == "/Table")
        rows = [node for node in structure(table) if node.get("/S") == "/TR"]
        return page_number[nodes[figure].Pg.objgen], {page_number[row.Pg.objgen] for row in rows}


def test_picture_and_table_are_on_the_same_page(sample):
    for pdf in sample.pdfs():
        if pdf.name.endswith("-aftercare.pdf"):    # one sheet: the table alone, no picture (test_aftercare_sheet.py)
            with pikepdf.open(pdf) as document:
                alts = {str(node.get("/Alt", "")) for node in structure(document.Root.StructTreeRoot)}
            assert not alts & set(ALT.values()), pdf.name
            continue
        picture, table = pages_of_picture_and_table(pdf)
        assert table == {picture}, pdf.name


def test_the_table_holds_each_milestone_and_the_picture_only_points_to_it(sample):
    pdf = sample.out / "harbour-skin/en/botox-facial-lines-pre-treatment.pdf"
    text = normalise("\n".join(pdf_pages_text(pdf)))
    for row in ("Effect starts 48-72 hours", "Full effect 10-14 days", "Review visit 2 weeks",
                "Effect lasts 4.5-6 months", "Effect lasts, after repeat treatments 8-10 months"):
        assert row in text
    with pikepdf.open(pdf) as document:
        figures = [node for node in structure(document.Root.StructTreeRoot) if node.get("/S") == "/Figure"]
    alts = [str(node.get("/Alt", "")) for node in figures]
    assert ALT["en"] in alts
    assert not any("48" in alt for alt in alts)      # the facts are read once, from the table


def test_the_words_over_the_picture_are_hidden_from_screen_readers(sample):
    page = next(p for p in pages(sample.project, sample.catalog, large_print=False)
                if p.job.name == "harbour-skin/en/botox-facial-lines-pre-treatment")
    labels = re.findall(r'<div class="timeline-label[^"]*"([^>]*)>', page.html)
    assert labels and all('aria-hidden="true"' in attributes for attributes in labels)
    table = page.html[page.html.index('<table class="milestones'):]
    assert table.count('<th scope="row">') == 5


def structure(node, seen=None):
    """Every element of a structure tree, depth first."""
    seen = set() if seen is None else seen
    if not isinstance(node, pikepdf.Dictionary) or node.objgen in seen and node.objgen != (0, 0):
        return
    seen.add(node.objgen)
    yield node
    kids = node.get("/K")
    for kid in (kids if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []):
        yield from structure(kid, seen)

