"""Marks drawn raised, drawn on the line instead: the same picture, with the raise moved into the glyph.

HarfBuzz places an Arabic mark (a fatha, a tanwin, a shadda) above or below its letter by an offset, which
WeasyPrint draws as a text rise (``Ts``) around that one glyph. Poppler and PDFium take a glyph off the
line's baseline for the start of another word, so "فورًا" was read as two words, "فو" and "ًرا" (Poppler) or
"منتصبًا" as "منتصب" and "ًا" (PDFium).

``lower_raised_glyphs`` gives each font a copy of each glyph it draws raised, moved up or down by the rise
inside the glyph itself (a composite glyph of one component, offset), and draws that copy on the baseline with
no rise: every glyph of the line now sits on one baseline for the readers, and the page looks the same (the
offset is in font units, 1/1000 em: within 0.01 pt at the sizes the leaflets use). The copy maps to the same
characters and has the same width. A mark WeasyPrint also moves sideways by 0.1 em or more (a TJ number before
it, undone after it) has that move put into its copy as well, since Poppler starts another word after such a
gap; and the pieces of the line around a lowered glyph are shown by one TJ, since PDFium reads a mark shown
on its own into another word of the line. Fonts without TrueType outlines and an Identity glyph map are left
as they are.
"""

from __future__ import annotations

import struct
from io import BytesIO

import pikepdf
from pikepdf import Array, Dictionary, Name, Operator

from careleaf.pdf.glyphtext import read_cmap, write_cmap

_SHOWING = ("Tj", "TJ", "'", '"')
FAR = 100    # a move along the line (in 1/1000 em) from which Poppler starts another word


def lower_raised_glyphs(pdf: pikepdf.Pdf) -> int:
    """Draw every glyph shown with a text rise in a font that can take copies on the baseline instead (see
    the notes above); how many glyphs were lowered."""
    fonts: dict = {}      # objgen of a Type0 font -> its _Copies, or None when it cannot take copies
    lowered = 0
    for page in pdf.pages:
        resources = page.obj.get("/Resources", Dictionary()).get("/Font", Dictionary())
        instructions, count = _lowered(pikepdf.parse_content_stream(page), resources, fonts)
        if count:
            page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(instructions))
            lowered += count
    for copies in fonts.values():
        if copies is not None and copies.added:
            copies.write(pdf)
    return lowered


def _lowered(instructions, resources, fonts) -> tuple[list, int]:
    out: list = []
    rise = drawn_rise = 0.0           # the rise the stream sets, and the one in effect as now written
    saved: list[tuple[float, float]] = []
    font, size, count = None, 0.0, 0
    carried = 0.0                     # a move along the line (text space) taken from a lowered glyph's TJ
    joining = False                   # whether the last operation written is a TJ holding a lowered glyph
    for instruction in instructions:
        operator, operands = str(instruction.operator), list(instruction.operands)
        if operator == "q":
            saved.append((rise, drawn_rise))
        elif operator == "Q" and saved:
            rise, drawn_rise = saved.pop()
        elif operator == "Ts":
            rise = float(operands[0])
            continue                  # written where a glyph is shown, as it is then needed
        elif operator == "Tf":
            font, size = resources.get(str(operands[0])), float(operands[1])
        elif operator in ("BT", "ET", "Td", "TD", "Tm", "T*", "'", '"'):
            carried = 0.0             # each of these starts the line afresh
        lowered_here = False
        if operator in _SHOWING:
            if carried and size:
                operator, operands = "TJ", _moved(operator, operands, -carried / size * 1000)
                carried = 0.0
            wanted = rise
            copies = _copies(font, fonts) if rise and size else None    # a font is read only if drawn raised
            if copies is not None:
                operands, moved = _with_copies(operator, operands, copies, rise / size)
                carried, wanted, count, lowered_here = moved * size, 0.0, count + 1, True
            if wanted != drawn_rise:
                out.append(pikepdf.ContentStreamInstruction([wanted], Operator("Ts")))
                drawn_rise = wanted
        if operator == "TJ" and out and str(out[-1].operator) == "TJ" and (joining or lowered_here):
            # One text object with its neighbours, as the line would be without its raised marks: PDFium
            # reads a mark shown on its own into another word of the line.
            operands, lowered_here = [Array([*out.pop().operands[0], *operands[0]])], True
        joining = lowered_here
        out.append(pikepdf.ContentStreamInstruction(operands, Operator(operator)))
    return out, count


def _moved(operator: str, operands: list, adjustment: float) -> list:
    """A showing operator's operands as a TJ's, moved first along the line by ``adjustment`` (a TJ number)."""
    if operator == "TJ":
        return [Array([adjustment, *operands[0]])]
    return [Array([adjustment, operands[-1]])]


def _with_copies(operator: str, operands: list, font: "_Copies", rise: float) -> tuple[list, float]:
    """The operands with each glyph replaced by its copy raised by ``rise`` (in ems); a lone glyph's move
    along the line (the TJ number before it, how WeasyPrint draws a mark's offset) goes into its copy too,
    and is handed back (in ems) to be made before the next glyph instead."""
    def lowered(string, shift: tuple[int, int]):
        data = bytes(string)
        codes = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
        return pikepdf.String(b"".join(font.copy(code, shift).to_bytes(2, "big") for code in codes))

    up = round(rise * font.units)
    items = list(operands[0]) if operator == "TJ" else [operands[-1]]
    if operator == "TJ" and len(items) == 2 and not isinstance(items[0], pikepdf.String) \
            and isinstance(items[1], pikepdf.String) and len(bytes(items[1])) == 2 \
            and abs(float(items[0])) >= FAR:
        move = -float(items[0]) / 1000       # in ems, to the right
        return [Array([lowered(items[1], (round(move * font.units), up))])], move
    if operator == "TJ":
        return [Array([lowered(item, (0, up)) if isinstance(item, pikepdf.String) else item for item in items])], 0.0
    return [*operands[:-1], lowered(operands[-1], (0, up))], 0.0


def _copies(font, fonts: dict):
    if not isinstance(font, Dictionary):
        return None
    key = font.objgen
    if key not in fonts:
        fonts[key] = _Copies.of(font)
    return fonts[key]


class _Copies:
    """A Type0 font's TrueType program, with a copy of each glyph it draws raised, shifted by the rise."""

    def __init__(self, font: Dictionary, descendant: Dictionary, program):
        from fontTools.ttLib import TTFont   # only where a PDF has glyphs drawn raised

        self.font, self.descendant, self.program = font, descendant, program
        self.tt = TTFont(BytesIO(bytes(program.read_bytes())))
        self.units = self.tt["head"].unitsPerEm
        self.order = list(self.tt.getGlyphOrder())
        self.added: dict[tuple, int] = {}     # (glyph, (x, y) shift in font units) -> its copy

    @classmethod
    def of(cls, font: Dictionary) -> "_Copies | None":
        descendants = font.get("/DescendantFonts")
        if font.get("/Subtype") != "/Type0" or not isinstance(descendants, Array) or not len(descendants):
            return None
        descendant = descendants[0]
        program = descendant.get("/FontDescriptor", Dictionary()).get("/FontFile2")
        if descendant.get("/CIDToGIDMap", Name.Identity) != Name.Identity or not isinstance(program, pikepdf.Stream):
            return None
        copies = cls(font, descendant, program)
        return copies if "glyf" in copies.tt else None

    def copy(self, glyph: int, shift: tuple[int, int]) -> int:
        if shift == (0, 0) or glyph >= len(self.order) or not _bounds(self.tt["glyf"].glyphs[self.order[glyph]]):
            return glyph
        return self.added.setdefault((glyph, shift), len(self.order) + len(self.added))

    def write(self, pdf: pikepdf.Pdf) -> None:
        """The font program with the copies added, every other glyph's bytes as they were (recompiling them
        would move their outlines by the difference between their stored and computed bounds)."""
        from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphComponent

        glyf, hmtx = self.tt["glyf"], self.tt["hmtx"]
        order = self.order + [f"raised.{code}" for code in self.added.values()]
        glyphs = dict(glyf.glyphs)
        for (glyph, (right, up)), code in self.added.items():
            name = self.order[glyph]
            component = GlyphComponent()
            component.glyphName, component.x, component.y, component.flags = name, right, up, 0
            copy = Glyph()
            copy.numberOfContours, copy.components = -1, [component]
            x_min, y_min, x_max, y_max = _bounds(glyf.glyphs[name])
            copy.xMin, copy.yMin, copy.xMax, copy.yMax = x_min + right, y_min + up, x_max + right, y_max + up
            glyphs[order[code]] = copy
            hmtx.metrics[order[code]] = (hmtx.metrics[name][0], copy.xMin)
        self.tt.setGlyphOrder(order)
        glyf.glyphs, glyf.glyphOrder = glyphs, order
        for table in ("hdmx", "LTSH", "VDMX", "kern"):
            if table in self.tt:
                del self.tt[table]
        self.tt["post"].formatType = 3.0
        self.tt.recalcBBoxes = self.tt.recalcTimestamp = False    # a rebuild stays byte for byte the same
        output = BytesIO()
        self.tt.save(output)
        self.program.write(output.getvalue())
        self._describe(pdf)

    def _describe(self, pdf: pikepdf.Pdf) -> None:
        """The copies' widths and characters, as their glyphs'."""
        widths = _widths(self.descendant)
        default = int(self.descendant.get("/DW", 1000))
        extra = Array()
        for (glyph, _), code in self.added.items():
            extra.extend([code, Array([widths.get(glyph, default)])])
        self.descendant.W = Array(list(self.descendant.get("/W", Array())) + list(extra))
        if "/CIDSet" in self.descendant.FontDescriptor:
            del self.descendant.FontDescriptor["/CIDSet"]
        mapping = read_cmap(self.font.ToUnicode.read_bytes()) if "/ToUnicode" in self.font else {}
        mapping.update({code: mapping[glyph] for (glyph, _), code in self.added.items() if mapping.get(glyph)})
        if mapping:
            self.font.ToUnicode = pdf.make_stream(write_cmap(mapping))


def _widths(descendant: Dictionary) -> dict[int, float]:
    """{code: width} from a CIDFont's /W array (both of its forms)."""
    found: dict[int, float] = {}
    items = list(descendant.get("/W", Array()))
    index = 0
    while index < len(items):
        first = int(items[index])
        if isinstance(items[index + 1], Array):
            found.update({first + offset: width for offset, width in enumerate(items[index + 1])})
            index += 2
        else:
            found.update({code: items[index + 2] for code in range(first, int(items[index + 1]) + 1)})
            index += 3
    return found


def _bounds(glyph) -> tuple[int, int, int, int] | None:
    """A glyph's stored bounds (xMin, yMin, xMax, yMax), read from its bytes; None for an empty glyph."""
    data = getattr(glyph, "data", None)
    if data:
        return struct.unpack(">4h", data[2:10])
    if getattr(glyph, "numberOfContours", 0):
        return glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax
    return None
