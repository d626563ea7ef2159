"""The mark across every page of a leaflet that must not reach patients: DRAFT, or REVIEW OVERDUE.

The template names the mark in the document's head (``<meta name="careleaf-mark">``, MARK_META);
the renderer takes it from there (it never reaches the PDF's metadata) and, while the PDF's tag tree
is mended, draws it once as a form XObject that every page places first, under its content, as an
artifact. So a screen reader never reads it; its words are glyph outlines, not text, so copying a
paragraph (or pdftotext) never picks up its letters; and it is drawn once per file, not parsed again
for every page. Boxes with a background (the urgent-help box) cover it. The leaflet says it is a
draft once, in real text, at the top of page 1 (templates/base.html).

The words are shaped with HarfBuzz (Arabic joins and runs right to left), each run in the font the
stylesheet prints it in, and scaled to fit the page's diagonal in any language and page size.
"""

from __future__ import annotations

import math
import unicodedata
from careleaf.pdf.fonts import Fonts, font_runs, shaper

MARK_META = "careleaf-mark"   # <meta name=…> that asks for a mark; its content is the mark's words
LARGEST_LETTERS_PT = 45.0     # larger reads as a shout and hides more of the page
DIAGONAL_SHARE = 0.78         # the share of the page's diagonal the words may take, clear of the corners
COLOUR = (0.667, 0.0, 0.0)    # #aa0000
OPACITY = 0.16                # faint enough to read the text under it, plain enough to notice
CAP_HEIGHT = 0.72             # of the em: the letters' height, which LARGEST_LETTERS_PT limits
CENTRE = 0.36                 # of the em above the baseline: the words' middle, placed on the page's centre


def stamp(pdf, words: str, fonts: Fonts) -> None:
    """Draw the mark on every page of a pikepdf PDF: one form XObject per page size, placed first."""
    import pikepdf

    path, advance, units = outline(words, fonts, _right_to_left(words))
    names: dict[tuple, str] = {}
    for page in pdf.pages:
        box = tuple(float(value) for value in page.mediabox)
        if box not in names:
            names[box] = f"/CareleafMark{len(names)}"
            form = pdf.make_stream(path, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                                   BBox=[-units, -units, advance + units, 2 * units],
                                   Matrix=_placement(box, advance, units),
                                   Resources=pikepdf.Dictionary(ExtGState=pikepdf.Dictionary(
                                       Faint=pikepdf.Dictionary(Type=pikepdf.Name.ExtGState, ca=OPACITY))))
        # Pages may share one resource dictionary: a fixed name per page size keeps the output the same
        # from run to run.
        if "/Resources" not in page.obj:
            page.obj.Resources = pikepdf.Dictionary()
        if "/XObject" not in page.obj.Resources:
            page.obj.Resources.XObject = pikepdf.Dictionary()
        if names[box] not in page.obj.Resources.XObject:
            page.obj.Resources.XObject[names[box]] = form
        page.contents_add(pdf.make_stream(f"/Artifact BMC q {names[box]} Do Q EMC\n".encode()), prepend=True)


def _placement(box: tuple, advance: float, units: int) -> list[float]:
    """Font units to page points: the words' middle on the page's centre, rising along its diagonal."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    scale = min(DIAGONAL_SHARE * math.hypot(width, height) / advance, LARGEST_LETTERS_PT / (CAP_HEIGHT * units))
    angle = math.atan2(height, width)
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    shift_x, shift_y = -advance / 2, -CENTRE * units
    return [round(value, 5) for value in (a, b, -b, a, x0 + width / 2 + a * shift_x - b * shift_y,
                                          y0 + height / 2 + b * shift_x + a * shift_y)]


def _right_to_left(words: str) -> bool:
    """Whether the words' first strong letter is right to left (Arabic, Hebrew)."""
    for char in words:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return kind != "L"
    return False


def outline(words: str, fonts: Fonts, rtl: bool) -> tuple[bytes, float, int]:
    """The words in bold, shaped, filled as one PDF path in font units; their advance width; the units per em.

    A right-to-left line lays its runs out from the right."""
    import uharfbuzz as hb
    from fontTools.pens.transformPen import TransformPen

    runs = font_runs(words, fonts, bold=True, rtl=rtl)
    pen = _PathPen()
    x = 0.0
    units = shaper(runs[0][0])[1] if runs else 1000
    for path, chars in reversed(runs) if rtl else runs:
        font, run_units = shaper(path)
        size = units / run_units          # a font with other units per em is drawn at the same size
        buffer = hb.Buffer()
        buffer.add_str(chars)
        buffer.guess_segment_properties()   # script, language and direction from the words themselves
        hb.shape(font, buffer, {})
        for info, position in zip(buffer.glyph_infos, buffer.glyph_positions):
            if info.codepoint == 0:
                raise ValueError(f"the mark's font has no glyph for part of {chars!r}")
            placed = TransformPen(pen, (size, 0, 0, size, x + position.x_offset * size, position.y_offset * size))
            font.draw_glyph_with_pen(info.codepoint, placed)
            x += position.x_advance * size
    red, green, blue = COLOUR
    return f"/Faint gs {red} {green} {blue} rg\n".encode() + pen.data() + b"f\n", x, units


class _PathPen:
    """A fontTools pen that writes PDF path operators (quadratic curves as cubic ones)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.current = (0.0, 0.0)

    def moveTo(self, point) -> None:
        self._op("m", point)

    def lineTo(self, point) -> None:
        self._op("l", point)

    def curveTo(self, *points) -> None:
        self._op("c", *points)

    def qCurveTo(self, *points) -> None:
        from fontTools.pens.basePen import decomposeQuadraticSegment

        if points[-1] is None:   # a closed contour of off-curve points only: not in these fonts
            raise ValueError("an outline the mark cannot draw")
        for control, end in decomposeQuadraticSegment(points):
            (x0, y0), (qx, qy), (x3, y3) = self.current, control, end
            self._op("c", (x0 + 2 / 3 * (qx - x0), y0 + 2 / 3 * (qy - y0)),
                     (x3 + 2 / 3 * (qx - x3), y3 + 2 / 3 * (qy - y3)), end)

    def closePath(self) -> None:
        self.parts.append("h")

    endPath = closePath

    def addComponent(self, glyph, transformation) -> None:   # HarfBuzz draws components as outlines
        raise ValueError("an outline the mark cannot draw")

    def _op(self, operator: str, *points) -> None:
        self.parts.append(" ".join(f"{x:.0f} {y:.0f}" for x, y in points) + f" {operator}")
        self.current = points[-1]

    def data(self) -> bytes:
        return "\n".join(self.parts).encode("ascii") + b"\n"
