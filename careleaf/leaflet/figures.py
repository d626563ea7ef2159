"""The treatment timeline, drawn from content (its SVG shapes and the QR code are in leaflet/svg.py).

It is vector SVG, embedded as an image with a text alternative, so it is
tagged as a figure in the PDF and print sharply at any size. No figure of the
timeline is written here: every number comes from the treatment's milestones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from careleaf.content.fields import HOURS_IN, Duration
from careleaf.leaflet.svg import Box, shape_svg
from careleaf.pdf.fonts import Fonts, text_width

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


# --- timeline ---------------------------------------------------------------------
#
# The picture is a time chart. A horizontal axis runs from the treatment day on a
# logarithmic scale of hours, so that "4 hours" and "6 months" are both readable, with
# labelled ticks (1 day, 1 week, 1 month…) saying what the scale is. Each milestone is
# drawn above the axis as a bar from the start to the end of its range, or as a marker
# for a single time (a diamond for a visit), with its words beside it on the same line.
# Milestones are laid out in rows: two share a row only when they are well apart, so
# nothing ever overlaps and no leader line is needed; the picture grows a row instead.
#
# Everything is placed in points at the size it prints, in the text column's real width,
# with the label words measured in the leaflet's own fonts (shaped by HarfBuzz, as the
# renderer shapes them). The layout returns every box it drew, so the tests can check them.

MM = 72 / 25.4
# The narrowest text column each page size gets, in points. The picture is laid out for it and
# printed across the whole column: a wider column scales it up, which only opens the space between
# things, while a narrower one would make words collide. The page margins must leave at least this.
COLUMN = {"A4": 176 * MM, "Letter": 176 * MM, "A5": 116 * MM}

# The scale's labelled ticks: these always, where the scale reaches them (a second line of words takes
# any that would crowd another), and the first tick at or past the last milestone, so nothing is drawn
# beyond the last tick; then the others, most useful first, where their words have room.
REQUIRED_TICKS = (Duration(1, 1, "days"), Duration(1, 1, "weeks"), Duration(1, 1, "months"),
                  Duration(6, 6, "months"), Duration(12, 12, "months"))
SCALE_TICKS = REQUIRED_TICKS + (Duration(3, 3, "months"), Duration(4, 4, "hours"), Duration(24, 24, "months"),
                                Duration(1, 1, "hours"), Duration(2, 2, "weeks"), Duration(36, 36, "months"),
                                Duration(60, 60, "months"))

# The timeline's label size in points, standard and large print; styles/*.css print the labels at the same
# size. The scale's times are chosen for the large one, so both sizes show the same times.
LABEL_SIZE = {False: 12, True: 16}
LARGE_PRINT_LABEL = LABEL_SIZE[True]

# Kinds of box. Words: 'label' (a milestone's), 'scale-label' (the treatment day's and the ticks').
# Marks: 'bar' (a range), 'diamond' (a visit), 'dot' (a single time). The axis: 'axis', 'arrow',
# 'origin' (the treatment day's dot), 'tick'; and 'grid', faint lines up from the ticks.
WORDS = frozenset({"label", "scale-label"})
MARKS = frozenset({"bar", "diamond", "dot"})


@dataclass(frozen=True)
class Run:
    """Words in one style: 'name' (bold), 'when', 'date' (a patient's own dates) or 'scale'."""

    text: str
    style: str
    # On a line that goes on with the previous line's words (wrapped): what joins them, '' inside a word.
    join: str | None = None


Line = tuple[Run, ...]


@dataclass(frozen=True)
class Label:
    """Words laid over the picture: their box as percentages of its width and height, and their lines."""

    left: float
    top: float
    width: float
    lines: tuple[Line, ...]
    align: str                      # CSS text-align: 'start', 'end' or 'center'
    kind: str                       # 'label' or 'scale-label'

    @property
    def parts(self) -> tuple[tuple[Run, bool], ...]:
        """The words as the template prints them: each part whole, and whether it starts a line.

        A part the layout wrapped is printed whole, in a box as wide as its longest line, and the
        stylesheet wraps it again: each line fits, so it wraps where the layout did or later. The
        markup is then the same whatever the width and print size; only the places differ.
        """
        parts: list[tuple[Run, bool]] = []
        for number, line in enumerate(self.lines):
            for index, run in enumerate(line):
                if run.join is not None and index == 0 and parts:
                    previous, starts = parts[-1]
                    parts[-1] = (Run(previous.text + run.join + run.text, previous.style), starts)
                else:
                    parts.append((run, index == 0 and number > 0))
        return tuple(parts)


@dataclass(frozen=True)
class Timeline:
    """The drawing (axis, bars and markers) and the words laid over it; ``boxes`` is everything drawn.

    Words are HTML text rather than SVG text so that every script is shaped and
    ordered properly (Arabic included).
    """

    svg: str
    labels: tuple[Label, ...]
    boxes: tuple[Box, ...]
    width: float
    height: float


def column_width(page_size: str) -> float:
    """The width, in points, to lay the picture out for on a page of this size."""
    return COLUMN[page_size]


def timeline(marks: list[Mark], day_label: str, colour: str, fonts: Fonts, *, font_size: float, rtl: bool,
             width: float = COLUMN["A5"], say: Callable[[Duration], str] | None = None) -> Timeline:
    """The timeline of ``marks`` for a text column ``width`` points wide, its words at ``font_size``.

    ``say`` writes a tick's time in the leaflet's language ('1 week', '1 hafta'); without it the
    scale has no ticks. ``rtl``: time runs from right to left, as the leaflet's text does.
    """
    size = _Sizes(font_size, width, _scale_end(marks))
    measure = _Measure(fonts, font_size, rtl)
    rows = _rows([_Item(mark, size, measure) for mark in sorted(marks, key=lambda m: (m.when.low_hours,
                                                                                       m.when.high_hours))])
    drawn = _Drawing(size)
    axis_y = drawn.milestones(rows)
    drawn.axis(axis_y)
    drawn.scale(axis_y, _scale_words(day_label, say, size, measure))
    drawn.grid(axis_y)
    return drawn.picture(colour, rtl)


class _Sizes:
    """The picture's measurements in points, all in proportion to the label font size."""

    def __init__(self, font_size: float, width: float, end_hours: float):
        f = font_size
        self.font_size, self.width, self.end_hours = f, width, end_hours
        self.line = f * 1.25            # the stylesheet's line-height for the labels
        self.pad = f * 0.15             # between anything and the picture's edge
        self.gap = f * 0.4              # between a mark and its words
        self.apart = f * 1.5            # between two milestones sharing a row
        self.row_gap = f * 0.3
        self.bar = f * 0.55             # a bar's height
        self.shortest_bar = f * 1.1     # so that a short range still reads as a bar, not a dot
        self.diamond = f * 0.85
        self.dot = f * 0.6
        self.arrow = f * 0.6
        self.tick = f * 0.5
        self.origin = self.pad + self.diamond / 2 + 0.75    # a visit on the treatment day fits its diamond
        self.end = width - self.pad - self.arrow - f * 0.3    # the last time on the scale

    def x(self, hours: float) -> float:
        """Where a time after treatment sits on the scale."""
        share = math.log1p(hours) / math.log1p(self.end_hours)
        return self.origin + (self.end - self.origin) * min(share, 1.0)


def _scale_end(marks: list[Mark]) -> float:
    """The time, in hours, at the end of the scale: a little after the last milestone, so none ends at the arrow,
    and past the first tick at or after it, so no mark runs beyond the last tick."""
    latest = max((m.when.high_hours for m in marks), default=HOURS_IN["weeks"])
    closing = min((t.high_hours for t in SCALE_TICKS if t.high_hours >= latest), default=latest)
    return max(latest * 1.25, closing * 1.1, 6.0)


def _closing_tick(end_hours: float) -> Duration | None:
    """The last tick the scale reaches: shown always, so the scale says how far it runs."""
    return max((t for t in SCALE_TICKS if t.high_hours <= end_hours), key=lambda t: t.high_hours, default=None)


class _Measure:
    """Printed widths of words in the leaflet's fonts, shaped as the renderer shapes them."""

    def __init__(self, fonts: Fonts, size: float, rtl: bool):
        self.fonts, self.size, self.rtl = fonts, size, rtl

    def run(self, run: Run) -> float:
        return text_width(run.text, self.size, self.fonts, bold=run.style == "name", rtl=self.rtl)

    def line(self, line: Line) -> float:
        space = text_width(" ", self.size, self.fonts, rtl=self.rtl)
        return sum(self.run(run) for run in line) + space * (len(line) - 1)

    def block(self, lines: tuple[Line, ...]) -> float:
        return max(self.line(line) for line in lines)

    def wrapped(self, run: Run, room: float) -> list[Line]:
        """A run broken into lines no wider than ``room``, between words (inside a word only if it alone is wider)."""
        lines: list[Run] = []
        for word in run.text.split():
            if lines and self.run(Run(f"{lines[-1].text} {word}", run.style)) <= room:
                lines[-1] = Run(f"{lines[-1].text} {word}", run.style, lines[-1].join)
            else:
                pieces = self._broken(word, run.style, room)
                lines += [Run(piece, run.style, None if not lines else " " if i == 0 else "")
                          for i, piece in enumerate(pieces)]
        return [(line,) for line in lines]

    def _broken(self, word: str, style: str, room: float) -> list[str]:
        pieces = [""]
        for char in word:
            if pieces[-1] and self.run(Run(pieces[-1] + char, style)) > room:
                pieces.append("")
            pieces[-1] += char
        return pieces


@dataclass
class _Choice:
    """One way to print a milestone's words: their lines, and their extent across the picture."""

    lines: tuple[Line, ...]
    start: float
    end: float
    align: str
    above: bool = False             # on lines of their own over the mark, when neither side has room

    @property
    def height(self) -> int:
        """Lines of the row it takes: its own, and the mark's under them when above."""
        return len(self.lines) + self.above


class _Item:
    """A milestone, its mark's extent across the picture, and the ways its words may sit beside it."""

    def __init__(self, mark: Mark, size: _Sizes, measure: _Measure):
        self.mark, self.size = mark, size
        self.start, self.end = _mark_extent(mark, size)
        self.choices = list(self._choices(measure))

    def _choices(self, measure: _Measure):
        """On one line, then one part a line, then wrapped: after the mark (later in time), else before it;
        when even a word has no room beside the mark (a bar across the picture), over it."""
        parts = [Run(self.mark.label, "name")] + [Run(text, style) for text, style in
                                                  ((self.mark.when_text, "when"), (self.mark.date_text, "date")) if text]
        found = False
        for lines in ((tuple(parts),), tuple((part,) for part in parts)):
            for choice in (self._after(lines, measure.block(lines)), self._before(lines, measure.block(lines))):
                if choice:
                    found = True
                    yield choice
        if found:
            return
        after, before = self.room_after(), self.room_before()
        room = max(after, before)
        longest_word = max(measure.run(Run(word, part.style)) for part in parts for word in part.text.split())
        if longest_word <= room:
            lines = tuple(line for part in parts for line in measure.wrapped(part, room))
            place = self._after if after >= before else self._before
            yield place(lines, measure.block(lines))
        else:
            yield self._above(parts, measure)

    def room_after(self) -> float:
        return self.size.width - self.size.pad - self.end - self.size.gap

    def room_before(self) -> float:
        return self.start - self.size.gap - self.size.pad

    def _after(self, lines: tuple[Line, ...], width: float) -> _Choice | None:
        start = self.end + self.size.gap
        return _Choice(lines, start, start + width, "start") if width <= self.room_after() else None

    def _before(self, lines: tuple[Line, ...], width: float) -> _Choice | None:
        end = self.start - self.size.gap
        return _Choice(lines, end - width, end, "end") if width <= self.room_before() else None

    def _above(self, parts: list[Run], measure: _Measure) -> _Choice:
        """The words over the mark, from where it starts, wrapped to the picture's width if need be."""
        size = self.size
        room = size.width - 2 * size.pad
        lines = tuple(line for part in parts for line in measure.wrapped(part, room))
        width = min(measure.block(lines), room)
        start = min(max(self.start, size.pad), size.width - size.pad - width)
        return _Choice(lines, start, start + width, "start", above=True)


def _mark_extent(mark: Mark, size: _Sizes) -> tuple[float, float]:
    """From where to where a milestone's mark reaches across the picture, strokes included."""
    low, high = size.x(mark.when.low_hours), size.x(mark.when.high_hours)
    if mark.when.is_range:
        half = max((high - low) / 2, size.shortest_bar / 2)
        centre = min(max((low + high) / 2, size.pad + half), size.width - size.pad - half)
        return centre - half - 0.75, centre + half + 0.75
    half = (size.diamond if mark.visit else size.dot) / 2 + 0.75
    return low - half, low + half


@dataclass
class _Row:
    """Milestones printed side by side, well apart, at the same height."""

    placed: list[tuple[_Item, _Choice]]

    @property
    def lines(self) -> int:
        return max(choice.height for _, choice in self.placed)

    def has_room(self, item: _Item, choice: _Choice, apart: float) -> bool:
        return all(_apart(item, choice, other, words, apart) or _apart(other, words, item, choice, apart)
                   for other, words in self.placed)


def _apart(left: _Item, left_words: _Choice, right: _Item, right_words: _Choice, apart: float) -> bool:
    """Whether ``left`` ends well before ``right`` starts; twice as far when the words of both face each other,
    so that neither's words read as the other's."""
    end = max(left.end, left_words.end)
    start = min(right.start, right_words.start)
    facing = left_words.align == "start" and right_words.align == "end"
    return start - end >= apart * (2 if facing else 1)


def _rows(items: list[_Item]) -> list[_Row]:
    """The lowest of the layouts that prefer words after marks, before marks, or on the roomier side."""
    layouts = [_packed(items, prefer) for prefer in ("start", "end", "roomy")]
    return min(layouts, key=lambda rows: sum(row.lines for row in rows) * 100 + len(rows))


def _packed(items: list[_Item], prefer: str) -> list[_Row]:
    """Milestones into rows, each where it adds the least height (a new row only when none has room)."""
    rows: list[_Row] = []
    for item in items:
        choices = sorted(item.choices, key=lambda c: (c.height, c.align != _preferred(item, prefer)))
        options = [(max(c.height - row.lines, 0), index, rank, c)
                   for index, row in enumerate(rows) for rank, c in enumerate(choices)
                   if row.has_room(item, c, item.size.apart)]
        options.append((choices[0].height + 1, len(rows), 0, choices[0]))
        _, index, _, choice = min(options, key=lambda option: option[:3])
        if index == len(rows):
            rows.append(_Row([]))
        rows[index].placed.append((item, choice))
    return rows


def _preferred(item: _Item, prefer: str) -> str:
    if prefer != "roomy":
        return prefer
    return "start" if item.room_after() >= item.room_before() else "end"


@dataclass(frozen=True)
class _ScaleWord:
    """Words under the axis: the treatment day at its start, or a tick's time at the tick."""

    x: float
    run: Run
    start: float
    width: float
    row: int = 0          # 1 to 3: on a line below, where its words would crowd another tick's


def _scale_words(day_label: str, say: Callable[[Duration], str] | None, size: _Sizes,
                 measure: _Measure) -> list[_ScaleWord]:
    """The treatment day's words, then each required tick's (on a line below where the first has no room),
    then each other tick whose words have room beside those already placed.

    Room is judged as if the words were large print's, so both print sizes of a leaflet show the same
    times; words with room at that size have room at a smaller one, about the same places.
    """
    required = {t for t in REQUIRED_TICKS + (_closing_tick(size.end_hours),) if t is not None}
    wanted = [(size.origin, Run(day_label, "scale"), True)]
    if say:
        ticks = sorted((t for t in SCALE_TICKS if t.high_hours <= size.end_hours), key=lambda t: t not in required)
        wanted += [(size.x(t.high_hours), Run(say(t), "scale"), t in required) for t in ticks]
    judged = max(LARGE_PRINT_LABEL / size.font_size, 1.0)
    placed: list[tuple[_ScaleWord, float, float]] = []        # a word, and its extent at the judged size
    for x, run, needed in wanted:
        width = measure.run(run)
        start, end = _centred(x, width * judged, size)
        for row in (range(4) if needed else (0,)):
            if all(other.row != row or start >= other_end + size.apart * judged
                   or end + size.apart * judged <= other_start for other, other_start, other_end in placed):
                placed.append((_ScaleWord(x, run, _centred(x, width, size)[0], width, row), start, end))
                break
    return [word for word, _, _ in placed]


def _centred(x: float, width: float, size: _Sizes) -> tuple[float, float]:
    """From where to where words ``width`` wide centred on ``x`` reach, moved in to stay on the picture."""
    start = min(max(x - width / 2, size.pad), size.width - size.pad - width)
    return start, start + width


def _mark_shape(item: _Item, middle: float) -> tuple[Box, dict[str, Any]]:
    """A milestone's mark: a bar for a range, a diamond for a visit, a dot for a single time."""
    mark, size = item.mark, item.size
    kind = "bar" if mark.when.is_range else "diamond" if mark.visit else "dot"
    half = {"bar": size.bar, "diamond": size.diamond, "dot": size.dot}[kind] / 2 + 0.75
    return Box(kind, item.start, middle - half, item.end, middle + half), {"visit": mark.visit,
                                                                             "repeat": mark.after_repeat}


class _Drawing:
    """The boxes of the picture, top to bottom, and the SVG and labels made from them."""

    def __init__(self, size: _Sizes):
        self.size = size
        self.shapes: list[tuple[Box, dict[str, Any]]] = []       # a box and what its mark stands for
        self.words: list[tuple[Box, tuple[Line, ...], str]] = []  # a box, its lines and their alignment
        self.ticks: list[float] = []
        self.height = 0.0

    def milestones(self, rows: list[_Row]) -> float:
        """Each row's marks and words; returns where the axis goes, below them."""
        size, y = self.size, self.size.pad
        for row in rows:
            for item, choice in row.placed:
                # a mark sits level with its words' first line, or on the line under them
                middle = y + size.line * (len(choice.lines) if choice.above else 0) + size.line / 2
                self.shapes.append(_mark_shape(item, middle))
                self.words.append((Box("label", choice.start, y, choice.end, y + size.line * len(choice.lines)),
                                   choice.lines, choice.align))
            y += size.line * row.lines + size.row_gap
        return y + size.arrow / 2

    def axis(self, y: float) -> None:
        size = self.size
        tip = size.width - size.pad
        self.shapes.append((Box("axis", size.origin, y - 0.6, tip - size.arrow / 2, y + 0.6), {}))
        self.shapes.append((Box("arrow", tip - size.arrow, y - size.arrow / 2, tip, y + size.arrow / 2), {}))
        self.shapes.append((Box("origin", size.origin - size.dot / 2, y - size.dot / 2,
                                size.origin + size.dot / 2, y + size.dot / 2), {}))

    def scale(self, y: float, words: list[_ScaleWord]) -> None:
        size = self.size
        top = y + size.tick / 2 + size.font_size * 0.1
        for word in words:
            if word.x != size.origin:
                self.ticks.append(word.x)
                self.shapes.append((Box("tick", word.x - 0.5, y - size.tick / 2, word.x + 0.5, y + size.tick / 2), {}))
            line_top = top + word.row * size.line
            self.words.append((Box("scale-label", word.start, line_top, word.start + word.width, line_top + size.line),
                               ((word.run,),), "center"))
        self.height = top + size.line * (1 + max((word.row for word in words), default=0)) + size.pad

    def grid(self, axis_y: float) -> None:
        """Faint lines up from each tick, to read a time across the rows, broken where words are."""
        size = self.size
        bottom = axis_y - size.tick / 2 - 1
        for x in self.ticks:
            gaps = sorted((b.y0 - 1, b.y1 + 1) for b, _, _ in self.words
                          if b.kind == "label" and b.x0 - 2 <= x <= b.x1 + 2)
            y = size.pad
            for top, end in gaps + [(bottom, bottom)]:
                if top - y > 3:
                    self.shapes.insert(0, (Box("grid", x - 0.4, y, x + 0.4, top), {}))   # under the marks
                y = max(y, end)

    def picture(self, colour: str, rtl: bool) -> Timeline:
        width, height = self.size.width, self.height
        place = (lambda box: box.mirrored(width)) if rtl else (lambda box: box)
        shapes = [(place(box), meaning) for box, meaning in self.shapes]
        words = [(place(box), lines, align) for box, lines, align in self.words]
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.2f}" height="{height:.2f}" '
               f'viewBox="0 0 {width:.2f} {height:.2f}">\n'
               + "\n".join(shape_svg(box, meaning, colour, rtl) for box, meaning in shapes) + "\n</svg>")
        labels = tuple(Label(100 * box.x0 / width, 100 * box.y0 / height, 100 * (box.x1 - box.x0) / width,
                             lines, align, box.kind) for box, lines, align in words)
        return Timeline(svg, labels, tuple(box for box, _ in shapes) + tuple(box for box, _, _ in words),
                        width, height)
