"""Impose an A5 leaflet as an A4 booklet: its pages two to a landscape sheet, in the order that folds.

Clinics that fold their own leaflets print the booklet on both sides of A4 with "flip on short
edge", stack the sheets as printed, fold them in half and, if there is more than one sheet,
staple along the fold (saddle stitch). For n pages, padded with blank pages at the end to a
multiple of 4, sheet 1 carries [n, 1] on its front and [2, n-1] on its back, sheet 2 [n-2, 3]
and [4, n-3], and so on. Every side is drawn upright: turning a landscape sheet over its short
edge (left to right, like a page of a book) brings the back upright, so the printer rotates
nothing and page 1 backs onto page 2.

Each A5 page becomes a form XObject (the page's own content stream and resources, unchanged)
drawn at full size, its inner edge on the fold. A5 (148 mm) is half a millimetre narrower than
half of A4 (148.5 mm), so the spare half millimetre is at the outer edges, where it does not
show after folding.

The booklet is not tagged, and does not claim PDF/UA. Keeping the tags would take little code
(each marked-content reference rewritten to name its form XObject, the ParentTree entries moved
onto the forms), but the result would not serve anyone who needs them: the sheets put pages out
of reading order on purpose (the first side holds the last page and the first), so assistive
technology that goes page by page would read n, 1, 2, n-1, ...; and nothing here could check the
result against PDF/UA. The accessible file is the A5 leaflet the booklet is made from, built
beside it from the same wording; the booklet's document information says so. Its title,
language, author, keywords and the rest of its metadata are the leaflet's. The leaflet's marked
content (its tags' references into the pages, and its artifacts) is stripped from the pages drawn
here: with no tag tree to point into, it would be marked content no element claims, which checkers
and assistive technology report as a fault.
"""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
from pikepdf import Dictionary, String

from careleaf.errors import RenderError

__all__ = ["impose_booklet", "booklet_sides", "booklet_path", "BOOKLET_SUFFIX", "IMPOSITION_NOTE"]

BOOKLET_SUFFIX = "-booklet.pdf"   # a leaflet's booklet is written beside it as <leaflet>-booklet.pdf

POINTS_PER_MM = 72 / 25.4
A5_PORTRAIT = (148 * POINTS_PER_MM, 210 * POINTS_PER_MM)
A4_LANDSCAPE = (297 * POINTS_PER_MM, 210 * POINTS_PER_MM)
# WeasyPrint writes A5 as 419.527559 x 595.275591: rounding, and a hand-made PDF, may differ a little.
SIZE_TOLERANCE = 1.0  # points, about a third of a millimetre

_PDFUA_NAMESPACE = "{http://www.aiim.org/pdfua/ns/id/}"  # keys are listed as {namespace}name

IMPOSITION_NOTE = ("Print imposition of the accessible A5 leaflet of the same title: its pages two to an A4 "
                   "sheet in booklet order, to print on both sides (flip on short edge) and fold. This file is "
                   "not tagged for screen readers; give the A5 leaflet to anyone reading on screen.")


def booklet_path(leaflet: Path) -> Path:
    """Where a leaflet's booklet goes: beside it, as <leaflet>-booklet.pdf."""
    return leaflet.with_name(leaflet.stem + BOOKLET_SUFFIX)


def impose_booklet(a5_pdf: bytes) -> bytes:
    """The A5 leaflet's pages imposed on A4 landscape sheets in booklet order; the same bytes for the same input.

    Raises RenderError, in plain words, for a file that is not a PDF or whose pages are not all A5 portrait.
    """
    with _open(a5_pdf) as leaflet:
        forms = [_page_as_form(page, number) for number, page in enumerate(leaflet.pages, start=1)]
        if not forms:
            raise RenderError("this PDF has no pages, so there is no booklet to make")
        booklet = pikepdf.new()
        copies = [booklet.copy_foreign(form) for form in forms]
        for left, right in booklet_sides(len(copies)):
            _add_side(booklet, [(number, copies[number - 1]) if number else None for number in (left, right)])
        _carry_document(booklet, leaflet)
        buffer = io.BytesIO()
        # deterministic_id: the file identifier is a hash of the content, so the same input gives the same bytes.
        booklet.save(buffer, deterministic_id=True, min_version=leaflet.pdf_version)
    return buffer.getvalue()


def booklet_sides(page_count: int) -> list[tuple[int | None, int | None]]:
    """The (left, right) page numbers of each printed side in order, front then back of each sheet; None is blank.

    Pages are numbered from 1; the count is padded with blank pages to a multiple of 4, since every
    folded sheet carries four pages.
    """
    padded = -(-page_count // 4) * 4

    def page(number: int) -> int | None:
        return number if number <= page_count else None

    sides: list[tuple[int | None, int | None]] = []
    for sheet in range(padded // 4):
        first, last = 2 * sheet + 1, padded - 2 * sheet  # the outermost pages this sheet holds
        sides.append((page(last), page(first)))            # front: the fold between them
        sides.append((page(first + 1), page(last - 1)))    # back: the first page's reverse on the left
    return sides


# --- reading the leaflet ------------------------------------------------------------------------

def _open(data: bytes) -> pikepdf.Pdf:
    try:
        return pikepdf.open(io.BytesIO(data))
    except pikepdf.PdfError as error:
        raise RenderError(f"this file is not a PDF that can be read, so no booklet was made ({error})") from None


def _page_as_form(page: pikepdf.Page, number: int) -> pikepdf.Object:
    """The page as a form XObject, after checking it is A5 portrait as it is shown (its rotation included)."""
    form = page.as_form_xobject(handle_transformations=True)
    _strip_marked_content(form, set())
    width, height = _shown_size(form)
    if not _is_a5_portrait(width, height):
        raise RenderError(
            f"page {number} of this PDF is {width / POINTS_PER_MM:.0f} × {height / POINTS_PER_MM:.0f} mm; "
            "a booklet is made from A5 portrait pages (148 × 210 mm): build the leaflet with the brand's "
            "page_size: A5 and make the booklet from that PDF")
    return form


# Operators that mark content (for tags and artifacts); the booklet has no tags for them to serve.
_MARKING = ("BDC", "BMC", "EMC", "MP", "DP")


def _strip_marked_content(form: pikepdf.Object, done: set) -> None:
    """A form's content, and that of the forms it draws, without marked content (drawing unchanged)."""
    if form.objgen != (0, 0):
        if form.objgen in done:
            return
        done.add(form.objgen)
    instructions = pikepdf.parse_content_stream(form)
    kept = [instruction for instruction in instructions if str(instruction.operator) not in _MARKING]
    if len(kept) != len(instructions):
        form.write(pikepdf.unparse_content_stream(kept))
    for key in ("/StructParent", "/StructParents"):
        if key in form:
            del form[key]
    for drawn in form.get("/Resources", Dictionary()).get("/XObject", Dictionary()).values():
        if drawn.get("/Subtype") == "/Form":
            _strip_marked_content(drawn, done)


def _is_a5_portrait(width: float, height: float) -> bool:
    return abs(width - A5_PORTRAIT[0]) <= SIZE_TOLERANCE and abs(height - A5_PORTRAIT[1]) <= SIZE_TOLERANCE


def _shown_box(form: pikepdf.Object) -> tuple[float, float, float, float]:
    """The form's bounding box as drawn (its /Matrix applied): left, bottom, right, top."""
    x0, y0, x1, y1 = (float(v) for v in form.BBox)
    matrix = pikepdf.Matrix(form.Matrix) if "/Matrix" in form else pikepdf.Matrix()
    corners = [matrix.transform((x, y)) for x in (x0, x1) for y in (y0, y1)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _shown_size(form: pikepdf.Object) -> tuple[float, float]:
    left, bottom, right, top = _shown_box(form)
    return right - left, top - bottom


# --- writing the booklet ------------------------------------------------------------------------

def _add_side(booklet: pikepdf.Pdf, halves: list[tuple[int, pikepdf.Object] | None]) -> None:
    """One A4 landscape side: the left and right A5 pages (None leaves that half blank) meeting at the fold."""
    sheet_width, sheet_height = A4_LANDSCAPE
    side = booklet.add_blank_page(page_size=(sheet_width, sheet_height))
    xobjects, drawing = Dictionary(), []
    fold = sheet_width / 2
    for is_left, half in zip((True, False), halves):
        if half is None:
            continue
        number, form = half
        left, bottom, right, top = _shown_box(form)
        # The inner edge on the fold; centred from top to bottom.
        x = fold - (right - left) if is_left else fold
        y = (sheet_height - (top - bottom)) / 2
        name = f"/Page{number}"
        xobjects[name] = form
        drawing.append(f"q 1 0 0 1 {x - left:.4f} {y - bottom:.4f} cm {name} Do Q")
    side.obj.Resources = Dictionary(XObject=xobjects)
    side.obj.Contents = booklet.make_stream("\n".join(drawing).encode("ascii"))


def _carry_document(booklet: pikepdf.Pdf, leaflet: pikepdf.Pdf) -> None:
    """The leaflet's title, language and metadata, less its PDF/UA claim, and the note saying what this file is."""
    if "/Lang" in leaflet.Root:
        booklet.Root.Lang = String(bytes(leaflet.Root.Lang))
    # The title bar shows the leaflet's title rather than the file name, as it does for the leaflet.
    booklet.Root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    booklet.docinfo = booklet.make_indirect(_copied_info(booklet, leaflet))
    subject = str(booklet.docinfo.get("/Subject", "")).strip()
    booklet.docinfo.Subject = String(f"{IMPOSITION_NOTE} {subject}".strip())
    if "/Metadata" in leaflet.Root:
        booklet.Root.Metadata = booklet.copy_foreign(leaflet.Root.Metadata)
    _write_metadata(booklet, str(booklet.docinfo.Subject))


def _copied_info(booklet: pikepdf.Pdf, leaflet: pikepdf.Pdf) -> Dictionary:
    """The leaflet's document information (title, author, subject...), as objects of the booklet."""
    info = leaflet.trailer.get("/Info")
    if not isinstance(info, Dictionary):
        return Dictionary()
    return Dictionary({key: booklet.copy_foreign(value) if value.is_indirect else value
                       for key, value in info.items()})


def _write_metadata(booklet: pikepdf.Pdf, subject: str) -> None:
    """The leaflet's XMP, without its PDF/UA identification (an untagged file must not claim it), with the note."""
    # set_pikepdf_as_editor=False: no producer and no modification date, which would change every run.
    with booklet.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        for key in [key for key in meta if key.startswith(_PDFUA_NAMESPACE)]:  # the part, and any amendment
            del meta[key]
        meta["dc:description"] = subject
