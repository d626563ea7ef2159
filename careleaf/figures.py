"""Pictures drawn from content: the treatment timeline and the QR code.

Both are vector SVG, embedded as images with a text alternative, so they are
tagged as figures in the PDF and print sharply at any size. No figure of the
timeline is written here: every number comes from the treatment's milestones.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .validate import HOURS_IN, Duration

# The fonts the stylesheet prints labels in, measured to place them (styles/fonts/ in the theme or project).
FONT_FILES = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf")
WIDTH = 480.0          # points; the image is scaled to the text column's width


@dataclass(frozen=True)
class Fonts:
    """The font files of FONT_FILES, in that order, as found in the asset folders."""

    latin: Path
    latin_bold: Path
    arabic: Path
    arabic_bold: Path


@dataclass(frozen=True)
class Mark:
    """One milestone as the picture needs it."""

    label: str
    when: Duration
    when_text: str
    visit: bool
    after_repeat: bool
    date_text: str = ""             # on a patient's own leaflet: the dates, 'Fri 5 – Sat 6 Dec'

    @property
    def lines(self) -> tuple[str, ...]:
        """The label's lines: its name (printed bold), when, and the patient's dates."""
        return tuple(line for line in (self.label, self.when_text, self.date_text) if line)


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# --- timeline ---------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    """A label's place on the picture, as percentages of its width and height."""

    left: float
    top: float
    width: float
    lines: tuple[str, ...]          # the first is the milestone's name, printed bold


@dataclass(frozen=True)
class Timeline:
    """The drawing (lines, bars and markers) and the labels laid over it.

    Labels are HTML text rather than SVG text so that every script is shaped and
    ordered properly (Arabic included) and extracts as real text.
    """

    svg: str
    labels: tuple[Label, ...]


def timeline(marks: list[Mark], day_label: str, colour: str, fonts: Fonts, *, font_size: float,
             rtl: bool) -> Timeline:
    """A timeline on a logarithmic scale, so hours and months are both readable.

    Effects (ranges, drawn as bars) are labelled above the line; the treatment day
    and visits (diamonds) below it; milestones that apply only after repeat
    treatments on a dashed second line at the bottom. Labels take as many rows as
    they need so that none overlaps another or is crossed by a leader line.
    """
    layout = _Layout(font_size, rtl, fonts, lines=max(len(m.lines) for m in marks) if marks else 2)
    day = Mark(day_label, Duration(0, 0, "hours"), "", True, False)
    effects = layout.place([m for m in marks if not m.visit and not m.after_repeat])
    visits = layout.place([day] + [m for m in marks if m.visit and not m.after_repeat])
    repeats = layout.place([m for m in marks if m.after_repeat])
    axis_y = layout.pad + effects.height(layout) + layout.gap
    repeat_y = axis_y + layout.gap + visits.height(layout) + layout.gap
    height = (repeat_y + layout.gap + repeats.height(layout) if repeats.boxes else repeat_y - layout.gap) + layout.pad
    tracks = [(effects, axis_y, True), (visits, axis_y, False), (repeats, repeat_y, False)]
    shapes = [_axis(axis_y, rtl, dashed=False)]
    if repeats.boxes:
        shapes.append(_axis(repeat_y, rtl, dashed=True))
    labels = []
    for placement, y, up in tracks:
        for box in placement.boxes:
            shapes.append(_marker(layout, box.mark, y, "#ffffff" if box.mark.after_repeat else colour))
            top, leader = _label_position(layout, box, y, up=up)
            if leader:
                shapes.append(leader)
            labels.append(Label(100 * box.start / WIDTH, 100 * top / height, 100 * (box.end - box.start) / WIDTH,
                                box.mark.lines))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {WIDTH:.0f} {height:.0f}">\n' + "\n".join(shapes) + "\n</svg>")
    return Timeline(svg, tuple(labels))


def timeline_sentence(marks: list[Mark], intro: str) -> str:
    """The same facts as the picture, as a sentence for screen readers."""
    return intro + " " + " ".join(f"{m.label}: {', '.join(m.lines[1:])}." for m in marks)


class _Layout:
    """Positions on the page: a log scale of hours, and label rows that never collide."""

    def __init__(self, font_size: float, rtl: bool, fonts: Fonts, *, lines: int):
        self.fonts = fonts
        self.font_size = font_size
        self.rtl = rtl                    # time runs from right to left
        self.line = font_size * 1.25
        self.row_height = self.line * lines + font_size * 0.6
        self.pad = font_size * 0.5
        self.gap = font_size * 1.6
        self.left = font_size * 2.5       # room for the treatment-day label under the start
        self.right = 6.0

    def x(self, duration_hours: float) -> float:
        span = math.log1p(HOURS_IN["months"] * 19)   # up to about 19 months
        usable = WIDTH - self.left - self.right
        position = self.left + usable * min(math.log1p(duration_hours) / span, 1.0)
        return WIDTH - position if self.rtl else position

    def place(self, marks: list[Mark]) -> "_Placement":
        placement = _Placement()
        for mark in sorted(marks, key=lambda m: m.when.low_hours):
            low, high = self.x(mark.when.low_hours), self.x(mark.when.high_hours)
            width = max(text_width(line, self.font_size, self.fonts, bold=index == 0)
                        for index, line in enumerate(mark.lines)) + self.font_size
            centre = min(max((low + high) / 2, width / 2), WIDTH - width / 2)
            placement.add(_Box(mark, centre - width / 2, centre + width / 2, (low + high) / 2, 0))
        return placement


@dataclass
class _Box:
    """A label's place: its extent across the page, where its leader meets the line, and its row."""

    mark: Mark
    start: float
    end: float
    anchor: float
    row: int

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2

    def covers(self, x: float) -> bool:
        return self.start - 2 <= x <= self.end + 2


class _Placement:
    """Labels in rows counted outwards from the line; row 0 is nearest."""

    def __init__(self) -> None:
        self.boxes: list[_Box] = []

    def height(self, layout: _Layout) -> float:
        rows = max((b.row for b in self.boxes), default=-1) + 1
        return rows * layout.row_height

    def add(self, box: _Box) -> None:
        rows = max((b.row for b in self.boxes), default=-1) + 2
        free = [r for r in range(rows) if self._fits(box, r)]
        tidy = [r for r in free if self._leaders_clear(box, r)]
        box.row = (tidy or free)[0]
        self.boxes.append(box)

    def _fits(self, box: _Box, row: int) -> bool:
        return all(box.end < b.start - 4 or box.start > b.end + 4 for b in self.boxes if b.row == row)

    def _leaders_clear(self, box: _Box, row: int) -> bool:
        """No leader line crosses another label: ours passes rows nearer the line, theirs pass ours."""
        nearer = any(b.row < row and b.covers(box.anchor) for b in self.boxes)
        farther = any(b.row > row and box.covers(b.anchor) for b in self.boxes)
        return not nearer and not farther


def _axis(y: float, rtl: bool, *, dashed: bool) -> str:
    tip, back = (0, 7) if rtl else (WIDTH, WIDTH - 7)
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<line x1="0" y1="{y:.1f}" x2="{WIDTH:.0f}" y2="{y:.1f}" stroke="#1a1a1a" stroke-width="1.2"{dash}/>'
            f'<path d="M{back:.0f},{y - 4:.1f} L{tip:.0f},{y:.1f} L{back:.0f},{y + 4:.1f}" '
            f'fill="none" stroke="#1a1a1a" stroke-width="1.2"/>')


def _marker(layout: _Layout, mark: Mark, y: float, fill: str) -> str:
    """The treatment day is a dot, a visit a diamond, a range a bar (dashed when after repeats)."""
    low, high = sorted((layout.x(mark.when.low_hours), layout.x(mark.when.high_hours)))
    size = layout.font_size * 0.55
    if mark.when.high == 0:
        return f'<circle cx="{low:.1f}" cy="{y:.1f}" r="{size * 0.85:.1f}" fill="#1a1a1a"/>'
    if mark.visit or not mark.when.is_range:
        points = f"{low:.1f},{y - size:.1f} {low + size:.1f},{y:.1f} {low:.1f},{y + size:.1f} {low - size:.1f},{y:.1f}"
        return f'<polygon points="{points}" fill="#ffffff" stroke="#1a1a1a" stroke-width="1.5"/>'
    dash = ' stroke-dasharray="3 2"' if mark.after_repeat else ""
    return (f'<rect x="{low:.1f}" y="{y - size:.1f}" width="{max(high - low, 3):.1f}" height="{2 * size:.1f}" '
            f'rx="{size / 2:.1f}" fill="{fill}" stroke="#1a1a1a" stroke-width="1"{dash}/>')


def _label_position(layout: _Layout, box: _Box, y: float, *, up: bool) -> tuple[float, str]:
    """Where a label's block starts, and the leader line joining it to its mark."""
    block = layout.line * len(box.mark.lines)
    offset = layout.gap * 0.6 + box.row * layout.row_height
    top = y - offset - block if up else y + offset
    if box.mark.when.high == 0:      # the treatment day's label sits right under its dot
        return top, ""
    start, end = (top + block + 1, y - layout.font_size * 0.6) if up else (y + layout.font_size * 0.6, top - 1)
    return top, (f'<line x1="{box.anchor:.1f}" y1="{start:.1f}" x2="{box.anchor:.1f}" y2="{end:.1f}" '
                 f'stroke="#6b6b6b" stroke-width="0.75"/>')


@lru_cache(maxsize=None)
def _metrics(path: Path) -> tuple[dict[int, str], dict[str, tuple[int, int]], int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, lazy=True)
    return font.getBestCmap(), font["hmtx"].metrics, font["head"].unitsPerEm


def text_width(text: str, size: float, fonts: Fonts, *, bold: bool = False) -> float:
    """The printed width of a line in the leaflet's fonts, so labels can be placed without overlap."""
    latin = _metrics(fonts.latin_bold if bold else fonts.latin)
    arabic = _metrics(fonts.arabic_bold if bold else fonts.arabic)
    total = 0.0
    for char in text:
        for cmap, advances, units in (latin, arabic):
            glyph = cmap.get(ord(char))
            if glyph:
                total += advances[glyph][0] / units
                break
        else:
            total += 0.6
    return total * size


# --- QR code ----------------------------------------------------------------------

def qr_data_uri(url: str) -> str:
    """A vector QR code for a web address (error correction M: survives a smudge or a fold)."""
    import segno

    return segno.make(url, error="m", micro=False).svg_data_uri(scale=4, border=2, dark="#000000", light="#ffffff")
