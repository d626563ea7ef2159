"""The leaflet's fonts, found in the asset folders and measured with HarfBuzz as Pango shapes them.

The timeline places its words with these measures, and the DRAFT mark is drawn from these glyph outlines,
so both agree with what WeasyPrint prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import uharfbuzz as hb

from careleaf.content.settings import Limits
from careleaf.project import first_existing, read_own

# The fonts the stylesheet prints labels in, measured to place them (styles/fonts/ in the theme or project).
FONT_FILES = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf")


@dataclass(frozen=True)
class Fonts:
    """The font files of FONT_FILES, in that order, as found in the asset folders."""

    latin: Path
    latin_bold: Path
    arabic: Path
    arabic_bold: Path


@lru_cache(maxsize=None)
def fonts_in(folders: tuple[Path, ...]) -> Fonts:
    """The fonts of FONT_FILES, each from the first asset folder that has it (the project's, then the theme's)."""
    return Fonts(*(first_existing(folders, f"fonts/{name}") for name in FONT_FILES))


@lru_cache(maxsize=None)
def shaper(path: Path):
    """A HarfBuzz font for a font file, and its units per em."""
    # Read as any project file is: a font that links out of the project, or is a pipe or a device, is refused.
    face = hb.Face(hb.Blob(read_own(path, limit=Limits().asset_bytes, setting="limits.asset_bytes")))
    return hb.Font(face), face.upem


# Pango may round and place glyphs a little differently: words are taken this much wider.
MEASURE_MARGIN = 1.03


@lru_cache(maxsize=4096)
def text_width(text: str, size: float, fonts: Fonts, *, bold: bool = False, rtl: bool = False) -> float:
    """The printed width of a line in the leaflet's fonts, so words can be placed without overlap.

    Each character comes from the first font that has it, in the stylesheet's order (Arabic first in a
    right-to-left leaflet); spaces and marks stay in the font of the run they are in, as Pango does.
    Each run is shaped by HarfBuzz, so kerning and Arabic joining count.
    """
    runs = font_runs(text, fonts, bold=bold, rtl=rtl)
    return sum(_shaped_width(path, chars) for path, chars in runs) * size * MEASURE_MARGIN


def font_runs(text: str, fonts: Fonts, *, bold: bool = False, rtl: bool = False) -> list[tuple[Path, str]]:
    """The text cut into runs, each in the first font that has its characters, in the stylesheet's order
    (Arabic first in a right-to-left leaflet); spaces and marks stay in the font of the run they are in."""
    latin = fonts.latin_bold if bold else fonts.latin
    arabic = fonts.arabic_bold if bold else fonts.arabic
    order = (arabic, latin) if rtl else (latin, arabic)
    runs: list[tuple[Path, str]] = []
    for char in text:
        has = [path for path in order if shaper(path)[0].get_nominal_glyph(ord(char)) is not None]
        keep = runs and (runs[-1][0] in has) and (char.isspace() or len(has) == len(order))
        path = runs[-1][0] if keep else (has or order)[0]
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + char)
        else:
            runs.append((path, char))
    return runs


def _shaped_width(path: Path, text: str) -> float:
    """A run's advance in ems."""
    font, units = shaper(path)
    buffer = hb.Buffer()
    buffer.add_str(text)
    buffer.guess_segment_properties()
    hb.shape(font, buffer, {})
    return sum(position.x_advance for position in buffer.glyph_positions) / units
