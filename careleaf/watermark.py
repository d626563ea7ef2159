"""The mark across every page of a leaflet that must not reach patients: DRAFT, or REVIEW OVERDUE.

The mark is drawn as the page's background, which WeasyPrint paints as a pagination
artifact, so a screen reader never reads it; and its words are drawn as glyph outlines,
not text, so copying a paragraph (or pdftotext) never picks up its letters. The leaflet
says it is a draft once, in real text, at the top of page 1 (templates/base.html).

The words are shaped with HarfBuzz in the leaflet's language (Arabic joins and runs right
to left), measured, and scaled to fit the page's diagonal in any language.
"""

from __future__ import annotations

import math
from functools import lru_cache

from .figures import Fonts, data_uri, font_runs, shaper

# Page sizes in millimetres, for the brand's page_size.
PAGE_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4), "A5": (148.0, 210.0)}
LARGEST_LETTERS_MM = 16.0     # about 45 pt: larger reads as a shout and hides more of the page
DIAGONAL_SHARE = 0.78         # the share of the page's diagonal the words may take, clear of the corners
COLOUR = "#aa0000"
OPACITY = 0.16                # faint enough to read the text under it, plain enough to notice


def mark_uri(words: str, fonts: Fonts, page_size: str, *, rtl: bool = False) -> str:
    """The mark for one page size as an SVG data: URL, for an @page background."""
    return data_uri(mark_svg(words, fonts, page_size, rtl=rtl))


@lru_cache(maxsize=64)
def mark_svg(words: str, fonts: Fonts, page_size: str, *, rtl: bool = False) -> str:
    width, height = PAGE_MM[page_size]
    outline, advance, units = _outline(words, fonts, rtl)
    diagonal = math.hypot(width, height)
    scale = min(DIAGONAL_SHARE * diagonal / advance, LARGEST_LETTERS_MM / (0.72 * units))
    angle = -math.degrees(math.atan2(height, width))
    # The glyphs' y axis points up, the page's down: flip, then centre the words on the page.
    place = (f"translate({width / 2:.2f} {height / 2:.2f}) rotate({angle:.2f}) "
             f"scale({scale:.5f} {-scale:.5f}) translate({-advance / 2:.1f} {-0.36 * units:.1f})")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
            f'viewBox="0 0 {width} {height}"><path transform="{place}" fill="{COLOUR}" '
            f'fill-opacity="{OPACITY}" d="{outline}"/></svg>')


def _outline(words: str, fonts: Fonts, rtl: bool) -> tuple[str, float, int]:
    """The words in bold, shaped, as one SVG path in font units; their advance width; the units per em.

    Each run comes from the font the stylesheet would print it in (the en dash of an Arabic mark is in
    Noto Sans); a right-to-left line lays its runs out from the right."""
    import uharfbuzz as hb
    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.pens.transformPen import TransformPen

    runs = font_runs(words, fonts, bold=True, rtl=rtl)
    pen = SVGPathPen(None, ntos=lambda n: f"{n:.0f}")
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
    return pen.getCommands(), x, units
