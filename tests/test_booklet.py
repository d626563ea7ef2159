"""The A4 booklet of an A5 leaflet: sheets a clinic prints on both sides, folds and staples.

The booklets are made from real A5 leaflets: the mini fixture built with its brand's
page_size set to A5, and one answer made long so that some leaflets take several sheets.
How many pages each leaflet takes is left to the layout; the tests read each leaflet's
count and check the booklet against it.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from careleaf.pdf.booklet import IMPOSITION_NOTE, booklet_sides, impose_booklet
from careleaf.build.run import build
from careleaf.errors import RenderError
from careleaf.project import Project
from conftest import edit, mini_project, normalise, qpdf_check, replace_in, run_cli, wait_until

A4_LANDSCAPE = (841.89, 595.28)  # points
HALF = A4_LANDSCAPE[0] / 2


@pytest.fixture(scope="module")
def a5_leaflets(tmp_path_factory) -> dict[int, Path]:
    """The mini catalog's leaflets built at A5, by page count."""
    root = mini_project(tmp_path_factory.mktemp("a5"))
    edit(root / "leaflets/brands/clinic.yaml", r"(?m)^page_size:.*$", "page_size: A5")
    paragraph = ("The demo treatment is given in a short visit. We talk it through with you first, then a "
                 "nurse gives it and checks on you before you go home. Ask us anything you want to know.")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "answer: It is a demo.",
               "answer: |\n" + "\n\n".join(f"      {paragraph}" for _ in range(30)))
    out = root / "out"
    summary = build(Project(root), out)
    assert not summary.failed, summary.failed
    by_count = {}
    for pdf in sorted(out.rglob("*.pdf")):
        with pikepdf.open(pdf) as opened:
            by_count.setdefault(len(opened.pages), pdf)
    return by_count


@pytest.fixture(scope="module")
def booklets(a5_leaflets, tmp_path_factory) -> dict[int, Path]:
    """Each A5 leaflet's booklet, by the leaflet's page count."""
    folder = tmp_path_factory.mktemp("booklets")
    made = {}
    for count, leaflet in a5_leaflets.items():
        made[count] = folder / f"{count}-pages-booklet.pdf"
        made[count].write_bytes(impose_booklet(leaflet.read_bytes()))
    return made


def longest(by_count: dict[int, Path]) -> Path:
    """The file with the most pages: the one that exercises the most sheets."""
    return by_count[max(by_count)]


# --- reading a booklet ------------------------------------------------------------------------

def half_text(pdf: Path, side: int, half: str) -> str:
    """The text poppler finds in the left or right half of one side (numbered from 1), in drawing order."""
    x = 0 if half == "left" else round(HALF)
    result = subprocess.run(["pdftotext", "-raw", "-f", str(side), "-l", str(side), "-x", str(x), "-y", "0",
                             "-W", str(round(HALF)), "-H", str(round(A4_LANDSCAPE[1])), "-enc", "UTF-8",
                             str(pdf), "-"], capture_output=True, text=True, check=True)
    return normalise(result.stdout.replace("\f", ""))


def page_number(text: str) -> int | None:
    """The A5 page number printed in a half's footer ("Page 3 of 5"), None for a half with no text."""
    if not text:
        return None
    found = re.findall(r"Page (\d+) of (\d+)", text)
    assert len(found) == 1, f"expected one footer in this half, found {found}: {text[:200]}"
    return int(found[0][0])


def sides_shown(pdf: Path) -> list[tuple[int | None, int | None]]:
    """(left, right) A5 page number of each printed side, read off the sheets."""
    with pikepdf.open(pdf) as opened:
        count = len(opened.pages)
    return [(page_number(half_text(pdf, side, "left")), page_number(half_text(pdf, side, "right")))
            for side in range(1, count + 1)]


def folded_reading_order(sides: list[tuple[int | None, int | None]]) -> list[int | None]:
    """The pages in the order a reader meets them once the stacked sheets are folded.

    Going in, each sheet gives its front's right half, then (turned over) its back's left half;
    past the middle, coming out, each sheet from the innermost gives its back's right half, then its
    front's left half.
    """
    fronts, backs = sides[0::2], sides[1::2]
    going_in = [page for front, back in zip(fronts, backs) for page in (front[1], back[0])]
    coming_out = [page for front, back in reversed(list(zip(fronts, backs))) for page in (back[1], front[0])]
    return going_in + coming_out


def halves_are_white(pdf: Path, side: int) -> tuple[bool, bool]:
    """Whether the left and right halves of one side render with no ink at all."""
    result = subprocess.run(["pdftoppm", "-f", str(side), "-l", str(side), "-r", "20", "-gray", str(pdf)],
                            capture_output=True, check=True)
    image = Image.open(io.BytesIO(result.stdout))
    width, height = image.size
    left = image.crop((0, 0, width // 2, height))
    right = image.crop((width // 2, 0, width, height))
    return left.getextrema()[0] == 255, right.getextrema()[0] == 255


# --- the order of the pages -------------------------------------------------------------------

@pytest.mark.parametrize("count, expected", [
    (1, [(None, 1), (None, None)]),
    (4, [(4, 1), (2, 3)]),
    (8, [(8, 1), (2, 7), (6, 3), (4, 5)]),
    (5, [(None, 1), (2, None), (None, 3), (4, 5)]),
    (10, [(None, 1), (2, None), (10, 3), (4, 9), (8, 5), (6, 7)]),
])
def test_booklet_order_is_saddle_stitch_order(count, expected):
    assert booklet_sides(count) == expected


def test_the_leaflets_need_blank_pages_and_several_sheets(a5_leaflets):
    # Otherwise the tests below would not reach padding or the nesting of sheets.
    assert any(count % 4 for count in a5_leaflets), sorted(a5_leaflets)
    assert any(count > 8 for count in a5_leaflets), sorted(a5_leaflets)


def test_sheets_carry_the_pages_in_booklet_order(booklets):
    for count, booklet in booklets.items():
        assert sides_shown(booklet) == booklet_sides(count), f"{count}-page leaflet"


def test_folded_sheets_read_from_first_page_to_last(booklets):
    for count, booklet in booklets.items():
        padded = -(-count // 4) * 4
        expected = list(range(1, count + 1)) + [None] * (padded - count)
        assert folded_reading_order(sides_shown(booklet)) == expected, f"{count}-page leaflet"


# --- the sheets -------------------------------------------------------------------------------

def test_two_sides_per_sheet_of_four_pages(booklets):
    for count, booklet in booklets.items():
        with pikepdf.open(booklet) as opened:
            assert len(opened.pages) == -(-count // 4) * 2, f"{count}-page leaflet"


def test_every_side_is_a4_landscape_and_upright(booklets):
    for booklet in booklets.values():
        with pikepdf.open(booklet) as opened:
            for page in opened.pages:
                assert [round(float(v), 2) for v in page.mediabox] == [0, 0, *A4_LANDSCAPE]
                assert int(page.obj.get("/Rotate", 0)) == 0


def test_blank_pages_are_blank_and_printed_pages_are_not(booklets):
    for count, booklet in booklets.items():
        for side, halves in enumerate(sides_shown(booklet), start=1):
            white = halves_are_white(booklet, side)
            assert white == (halves[0] is None, halves[1] is None), f"{count}-page leaflet, side {side}"


def test_qpdf_finds_no_fault(booklets):
    for booklet in booklets.values():
        result = qpdf_check(booklet)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors found" in result.stdout


def test_same_leaflet_gives_the_same_bytes(a5_leaflets):
    leaflet = longest(a5_leaflets).read_bytes()
    first = impose_booklet(leaflet)
    second = int(time.time())   # a file identifier made from the clock would change with the second
    wait_until(lambda: int(time.time()) > second, 3, "the clock's next second", interval=0.05)
    assert impose_booklet(leaflet) == first


# --- what the file says it is ------------------------------------------------------------------

def test_keeps_title_language_and_metadata_but_claims_no_accessibility(a5_leaflets, booklets):
    with pikepdf.open(longest(a5_leaflets)) as leaflet, pikepdf.open(longest(booklets)) as booklet:
        for key in ("/Title", "/Author", "/Keywords", "/Creator"):
            assert booklet.docinfo[key] == leaflet.docinfo[key], key
        assert booklet.Root.Lang == leaflet.Root.Lang
        assert booklet.Root.ViewerPreferences.DisplayDocTitle is True
        # Untagged, so no PDF/UA claim, and the document information points to the accessible leaflet.
        assert "/StructTreeRoot" not in booklet.Root and "/MarkInfo" not in booklet.Root
        meta = booklet.open_metadata()
        assert "pdfuaid:part" not in meta and "pdfuaid:part" in leaflet.open_metadata()
        subject = str(booklet.docinfo.Subject)
        assert subject.startswith(IMPOSITION_NOTE) and str(leaflet.docinfo.Subject) in subject
        assert meta["dc:title"] == str(leaflet.docinfo.Title)
        assert meta["dc:description"] == subject


# --- refusals --------------------------------------------------------------------------------

def test_an_a4_leaflet_is_refused_in_plain_words(mini):
    a4_leaflet = mini.pdfs()[0]
    with pytest.raises(RenderError) as refused:
        impose_booklet(a4_leaflet.read_bytes())
    assert str(refused.value) == (
        "page 1 of this PDF is 210 × 297 mm; a booklet is made from A5 portrait pages (148 × 210 mm): "
        "build the leaflet with the brand's page_size: A5 and make the booklet from that PDF")


def test_a_booklet_cannot_be_imposed_again(booklets):
    with pytest.raises(RenderError, match="page 1 of this PDF is 297 × 210 mm"):
        impose_booklet(longest(booklets).read_bytes())


def test_a_file_that_is_not_a_pdf_is_refused():
    with pytest.raises(RenderError, match="^this file is not a PDF that can be read"):
        impose_booklet(b"Dear patient, this is a letter, not a PDF.")


# --- the command -----------------------------------------------------------------------------

def test_command_writes_the_same_booklet_every_time(a5_leaflets, tmp_path):
    leaflet = tmp_path / "demo.pdf"
    leaflet.write_bytes(longest(a5_leaflets).read_bytes())
    first = run_cli("booklet", "demo.pdf", "--out", "first.pdf", cwd=tmp_path)
    second = run_cli("booklet", "demo.pdf", cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.startswith("wrote first.pdf")
    assert (tmp_path / "first.pdf").read_bytes() == (tmp_path / "demo-booklet.pdf").read_bytes()
    assert (tmp_path / "first.pdf").read_bytes() == impose_booklet(leaflet.read_bytes())


def test_command_refuses_an_a4_leaflet_and_writes_nothing(mini, tmp_path):
    leaflet = tmp_path / "a4.pdf"
    leaflet.write_bytes(mini.pdfs()[0].read_bytes())
    result = run_cli("booklet", "a4.pdf", "--out", "booklet.pdf", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: a4.pdf: page 1 of this PDF is 210 × 297 mm; a booklet is made from A5")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "booklet.pdf").exists()


def test_command_will_not_overwrite_the_leaflet(a5_leaflets, tmp_path):
    leaflet = tmp_path / "demo.pdf"
    leaflet.write_bytes(longest(a5_leaflets).read_bytes())
    result = run_cli("booklet", "demo.pdf", "--out", "./demo.pdf", cwd=tmp_path)
    assert result.returncode == 2
    assert "would replace the leaflet" in result.stderr
    assert leaflet.read_bytes() == longest(a5_leaflets).read_bytes()


def test_the_booklet_holds_no_marked_content_and_no_tags(a5_leaflets, booklets):
    """An untagged print file: the leaflet's marked content goes with its tags, and the file says what it is."""
    with pikepdf.open(longest(a5_leaflets)) as leaflet:
        assert "/StructTreeRoot" in leaflet.Root   # the leaflet it comes from is tagged
    for booklet in booklets.values():
        with pikepdf.open(booklet) as opened:
            assert "/StructTreeRoot" not in opened.Root and "/MarkInfo" not in opened.Root
            streams = [obj for obj in opened.objects if isinstance(obj, pikepdf.Stream)
                       and (obj.get("/Subtype") == "/Form" or obj.objgen in
                            {page.obj.Contents.objgen for page in opened.pages})]
            marking = [str(instruction.operator) for stream in streams
                       for instruction in pikepdf.parse_content_stream(stream)
                       if str(instruction.operator) in ("BDC", "BMC", "EMC", "MP", "DP")]
            assert streams and not marking, f"{booklet.name}: {len(marking)} marked-content operators"
            assert not any("/StructParent" in obj or "/StructParents" in obj for obj in streams)
            assert IMPOSITION_NOTE in str(opened.docinfo.Subject)
