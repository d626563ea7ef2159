"""What the glyphs of a PDF say as text: the fonts' ToUnicode maps, read, mended and written, and the text each
piece of marked content draws.

A PDF viewer copies, searches and reads aloud the text it finds by looking each drawn glyph up in its font's
ToUnicode map, in the order the glyphs are drawn. WeasyPrint draws a line as it looks (visual order: an
Arabic word right to left) and maps each glyph to the text of its cluster the first time it meets it
(WeasyPrint issue 2841), which leaves two faults that Poppler, pdf.js and PDFium all trip on:

* a glyph first met as the second glyph of a cluster (lam-alef under a tanwin mark, a letter under a shadda)
  maps to nothing, and its cluster-mate to the whole cluster, wherever either is drawn later: "حاملًا"
  reads as "حامًلا" or loses its lam-alef;
* a glyph that stands for several characters in right-to-left text (the lam-alef ligature) maps to them in
  logical order, and each of the three viewers turns the line's characters round to logical order one by
  one, so "لا" comes out "ال" (العلاج as العالج, إلى as إىل).

``mend_to_unicode`` gives each such glyph the characters it draws, taken from the embedded font's own
character map (compatibility forms such as U+FEFC folded to the letters they stand for), and writes a
right-to-left glyph's characters in the order the viewers expect of drawn text (visual, as the glyphs
themselves are). The words in logical order go into the tag tree as /ActualText (careleaf.pdf.tagging),
which is what assistive technology reads; measured, the three viewers turn an /ActualText given in the
content stream round a second time, so it is not put there.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from io import BytesIO
from typing import Iterator

import pikepdf
from pikepdf import Dictionary, Name

_ENTRY = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")
_RANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")
_SECTIONS = re.compile(rb"begin(bfchar|bfrange)(.*?)end\1", re.S)
_RIGHT_TO_LEFT = ("R", "AL")
_SHOWING = ("Tj", "TJ", "'", '"')


# --- ToUnicode maps -------------------------------------------------------------------------

def read_cmap(data: bytes) -> dict[int, str]:
    """A ToUnicode CMap as {code: text} (its bfchar and bfrange entries)."""
    mapping: dict[int, str] = {}
    for kind, body in _SECTIONS.findall(data):
        if kind == b"bfchar":
            for code, text in _ENTRY.findall(body):
                mapping[int(code, 16)] = _utf16(text)
        else:
            for first, last, text in _RANGE.findall(body):
                start = _utf16(text)
                for offset, code in enumerate(range(int(first, 16), int(last, 16) + 1)):
                    mapping[code] = start[:-1] + chr(ord(start[-1]) + offset) if start else ""
    return mapping


def write_cmap(mapping: dict[int, str], width: int = 2) -> bytes:
    """A ToUnicode CMap for codes of ``width`` bytes, one bfchar entry per code."""
    digits = 2 * width
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def", b"1 begincodespacerange",
             b"<" + b"0" * digits + b"> <" + b"F" * digits + b">", b"endcodespacerange"]
    items = sorted(mapping.items())
    for start in range(0, len(items), 100):
        batch = items[start:start + 100]
        lines.append(f"{len(batch)} beginbfchar".encode())
        lines += [f"<{code:0{digits}X}> <{text.encode('utf-16-be').hex().upper()}>".encode() for code, text in batch]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines)


def _utf16(hexdigits: bytes) -> str:
    return bytes.fromhex(hexdigits.decode()).decode("utf-16-be", "replace") if hexdigits else ""


def right_to_left(text: str) -> bool:
    """Whether a text holds a right-to-left letter (Arabic, Hebrew…)."""
    return any(unicodedata.bidirectional(char) in _RIGHT_TO_LEFT for char in text)


def composite_fonts(pdf: pikepdf.Pdf) -> Iterator[Dictionary]:
    """Every Type0 font of a PDF with a ToUnicode map, each once."""
    for obj in pdf.objects:
        if (isinstance(obj, Dictionary) and obj.get("/Type") == "/Font" and obj.get("/Subtype") == "/Type0"
                and isinstance(obj.get("/ToUnicode"), pikepdf.Stream)):
            yield obj


def mend_to_unicode(pdf: pikepdf.Pdf) -> None:
    """Each composite font's ToUnicode map with no glyph mapped to nothing or to its cluster-mates' text,
    and right-to-left glyphs of several characters in drawn order (see the notes above)."""
    for font in composite_fonts(pdf):
        mapping = read_cmap(font.ToUnicode.read_bytes())
        drawn = _font_characters(font)
        mended = {code: _mended(text, drawn.get(code, "")) for code, text in mapping.items()}
        if mended != mapping:
            font.ToUnicode = pdf.make_stream(write_cmap(mended))


def _mended(text: str, drawn: str) -> str:
    if drawn and (not text or (len(text) > len(drawn) and drawn in text)):
        text = drawn     # mapped to nothing, or to its whole cluster while its cluster-mate draws the rest
    if len(text) > 1 and right_to_left(text):
        text = text[::-1]
    return text


def _font_characters(font: Dictionary) -> dict[int, str]:
    """{glyph: the characters it draws} from the embedded TrueType font's own character map (Identity
    encoding: a code is a glyph number); empty when there is none to read."""
    descendants = font.get("/DescendantFonts")
    descendant = descendants[0] if isinstance(descendants, pikepdf.Array) and len(descendants) else None
    if descendant is None or descendant.get("/CIDToGIDMap", Name.Identity) != Name.Identity:
        return {}
    program = descendant.get("/FontDescriptor", Dictionary()).get("/FontFile2")
    return _glyph_characters(bytes(program.read_bytes())) if isinstance(program, pikepdf.Stream) else {}


@lru_cache(maxsize=32)
def _glyph_characters(program: bytes) -> dict[int, str]:
    from fontTools.ttLib import TTFont   # only where a PDF is mended

    font = TTFont(BytesIO(program), lazy=True)
    glyphs = {name: number for number, name in enumerate(font.getGlyphOrder())}
    found: dict[int, str] = {}
    for codepoint, name in sorted((font.getBestCmap() or {}).items()):
        text = unicodedata.normalize("NFKC", chr(codepoint)).strip()
        glyph = glyphs.get(name)
        # A letter's own code point wins over its compatibility forms (U+0644 over U+FEDD).
        if glyph is not None and text and (glyph not in found or text == chr(codepoint)):
            found[glyph] = text
    return found


# --- what marked content draws ----------------------------------------------------------------

def drawn_text(page: pikepdf.Page) -> dict[int, str]:
    """{MCID: the text its glyphs map to, in drawn order} for a page's marked content."""
    maps: dict[str, tuple[dict[int, str], int]] = {}
    fonts = page.obj.get("/Resources", Dictionary()).get("/Font", Dictionary())
    texts: dict[int, list[str]] = {}
    stack: list[int | None] = []
    current: tuple[dict[int, str], int] = ({}, 1)
    for instruction in pikepdf.parse_content_stream(page):
        operator, operands = str(instruction.operator), instruction.operands
        if operator in ("BDC", "BMC"):
            properties = operands[1] if operator == "BDC" else None
            mcid = properties.get("/MCID") if isinstance(properties, Dictionary) else None
            stack.append(int(mcid) if mcid is not None else (stack[-1] if stack else None))
        elif operator == "EMC" and stack:
            stack.pop()
        elif operator == "Tf":
            name = str(operands[0])
            if name not in maps:
                maps[name] = _code_map(fonts.get(name))
            current = maps[name]
        elif operator in _SHOWING and stack and stack[-1] is not None:
            texts.setdefault(stack[-1], []).append(_decode(operands, *current))
    return {mcid: "".join(pieces) for mcid, pieces in texts.items()}


def _code_map(font) -> tuple[dict[int, str], int]:
    if not isinstance(font, Dictionary) or not isinstance(font.get("/ToUnicode"), pikepdf.Stream):
        return {}, 1
    return read_cmap(font.ToUnicode.read_bytes()), 2 if font.get("/Subtype") == "/Type0" else 1


def _decode(operands, mapping: dict[int, str], width: int) -> str:
    strings = [item for operand in operands for item in (operand if isinstance(operand, pikepdf.Array) else [operand])
               if isinstance(item, pikepdf.String)]
    out = []
    for string in strings:
        data = bytes(string)
        out += [mapping.get(int.from_bytes(data[i:i + width], "big"), "") for i in range(0, len(data), width)]
    return "".join(out)
