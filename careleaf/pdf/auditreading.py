"""What ``careleaf audit`` checks beyond the tag tree's shape: what a viewer copies and reads aloud, in which
voice, and whether a link says where it goes (careleaf.pdf.audit reports these with the rest).

unicode mapping
    a drawn glyph whose font maps it to no text (an empty ToUnicode entry, a code the map lacks, or a
    composite font with no map at all): copying, search and read-aloud lose or garble the word.
language
    a tagged part of four words or more written in another script than the language it is read in (its
    own /Lang, else its parent's, else the document's), with no /Lang of its own: a screen reader reads
    English with an Arabic voice. Told by script, so English inside a Turkish leaflet is not found.
link without alternate text
    a link annotation without /Contents, or not held by a Link element of the tag tree that has an /Alt.
raised mark
    a combining mark (an Arabic fatha, tanwin or shadda) drawn with a text rise: Poppler and PDFium take a
    glyph off the line for the start of another word, so the word it sits on is copied and read as two.
drawing order
    tagged content drawn in another order than the tags read it: copy, search highlighting, reflow and
    read-aloud in viewers follow the drawing (counted as the fewest pieces that would have to move).
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pikepdf
from pikepdf import Dictionary

from careleaf.pdf.drawing import out_of_order
from careleaf.pdf.glyphtext import drawn_text, read_cmap
from careleaf.pdf.structure import content, is_element, kids, marked, page_numbers, page_of, top_elements, tree_items

KINDS = ("unicode mapping", "language", "link without alternate text", "raised mark", "drawing order")

# The script each language is written in, where it is not Latin; languages written in several are left out.
SCRIPTS = {"ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "ps": "ARABIC", "he": "HEBREW", "yi": "HEBREW",
           "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC", "mk": "CYRILLIC", "be": "CYRILLIC",
           "el": "GREEK", "hi": "DEVANAGARI", "bn": "BENGALI", "th": "THAI", "ka": "GEORGIAN", "hy": "ARMENIAN"}
_UNKNOWN_SCRIPT = ("zh", "ja", "ko", "sr")
_PART_WORDS = 4
_SHOWING = ("Tj", "TJ", "'", '"')


def problems(pdf: pikepdf.Pdf, problem) -> list:
    """Every problem of the kinds above in an open PDF; ``problem(kind, page, detail, count)`` makes each."""
    root = pdf.Root.get("/StructTreeRoot")
    found = _unicode(pdf, problem) + _links(pdf, root, problem) + _raised(pdf, problem)
    if root is not None:
        found += _languages(pdf, root, problem) + _drawing_order(pdf, root, problem)
    return found


# --- unicode mapping ----------------------------------------------------------------------------

def _unicode(pdf: pikepdf.Pdf, problem) -> list:
    found = []
    for number, page in enumerate(pdf.pages, start=1):
        unmapped = Counter()
        fonts = page.obj.get("/Resources", Dictionary()).get("/Font", Dictionary())
        maps, current = {}, None
        for instruction in pikepdf.parse_content_stream(page):
            operator, operands = str(instruction.operator), instruction.operands
            if operator == "Tf":
                name = str(operands[0])
                current = maps.setdefault(name, _codes(fonts.get(name)))
            elif operator in _SHOWING and current is not None:
                width, mapping = current
                for data in _strings(operands):
                    codes = [int.from_bytes(data[i:i + width], "big") for i in range(0, len(data), width)]
                    unmapped.update(code for code in codes if mapping is not None and not mapping.get(code))
        if unmapped:
            count = sum(unmapped.values())
            found.append(problem("unicode mapping", number, f"{count} glyph(s) ({len(unmapped)} kind(s)) map to no "
                                 "text: copying and read-aloud lose them", count))
    return found


def _codes(font) -> tuple[int, dict | None]:
    """A font's code width and ToUnicode map; None for a simple font without one (read by its encoding)."""
    if not isinstance(font, Dictionary):
        return 1, None
    width = 2 if font.get("/Subtype") == "/Type0" else 1
    if isinstance(font.get("/ToUnicode"), pikepdf.Stream):
        return width, read_cmap(font.ToUnicode.read_bytes())
    return width, {} if width == 2 or font.get("/Subtype") == "/Type3" else None


def _strings(operands) -> list[bytes]:
    return [bytes(item) for operand in operands for item in (operand if isinstance(operand, pikepdf.Array) else [operand])
            if isinstance(item, pikepdf.String)]


# --- raised marks -------------------------------------------------------------------------------

def _raised(pdf: pikepdf.Pdf, problem) -> list:
    found = []
    for number, page in enumerate(pdf.pages, start=1):
        fonts = page.obj.get("/Resources", Dictionary()).get("/Font", Dictionary())
        maps, current, rise, saved, raised = {}, None, 0.0, [], 0
        for instruction in pikepdf.parse_content_stream(page):
            operator, operands = str(instruction.operator), instruction.operands
            if operator == "q":
                saved.append(rise)
            elif operator == "Q" and saved:
                rise = saved.pop()
            elif operator == "Ts":
                rise = float(operands[0])
            elif operator == "Tf":
                name = str(operands[0])
                current = maps.setdefault(name, _codes(fonts.get(name)))
            elif operator in _SHOWING and rise and current is not None and current[1]:
                width, mapping = current
                raised += sum(1 for data in _strings(operands) for i in range(0, len(data), width)
                              if _is_mark(mapping.get(int.from_bytes(data[i:i + width], "big"), "")))
        if raised:
            found.append(problem("raised mark", number, f"{raised} mark(s) drawn off the line (text rise): "
                                 "Poppler and PDFium read the word each sits on as two", raised))
    return found


def _is_mark(text: str) -> bool:
    return bool(text) and all(unicodedata.category(char) == "Mn" for char in text)


# --- language -----------------------------------------------------------------------------------

def _languages(pdf: pikepdf.Pdf, root, problem) -> list:
    numbers = page_numbers(pdf)
    drawn = {number: drawn_text(page) for number, page in enumerate(pdf.pages)}
    mute = 0
    stack = [(top, str(pdf.Root.get("/Lang", ""))) for top in top_elements(root)]
    while stack:
        element, language = stack.pop()
        own = "/Lang" in element
        language = str(element.get("/Lang", language))
        page = page_of(element, numbers, None)
        held = [found for kid in kids(element) if (found := marked(kid, numbers, page)) is not None]
        text = str(element.get("/ActualText", "")) or " ".join(drawn.get(p, {}).get(m, "") for p, m in held)
        if held and not own and _foreign(text, language):
            mute += 1
        stack.extend((kid, language) for kid in kids(element) if is_element(kid))
    return [problem("language", None, f"{mute} part(s) written in another script than the language they are "
                    "read in, with no /Lang: read in the wrong voice", mute)] if mute else []


def _foreign(text: str, language: str) -> bool:
    code = language.lower().split("-")[0]
    if not code or code in _UNKNOWN_SCRIPT or len(text.split()) < _PART_WORDS:
        return False
    scripts = Counter(unicodedata.name(char, "?").split()[0] for char in text if char.isalpha())
    if not scripts:
        return False
    script, count = scripts.most_common(1)[0]
    return count >= 0.9 * sum(scripts.values()) and script != SCRIPTS.get(code, "LATIN")


# --- links --------------------------------------------------------------------------------------

def _links(pdf: pikepdf.Pdf, root, problem) -> list:
    parents = {int(key): value for key, value in tree_items(root.get("/ParentTree"))} if root is not None else {}
    found = []
    for number, page in enumerate(pdf.pages, start=1):
        links = [annotation for annotation in page.obj.get("/Annots", [])
                 if isinstance(annotation, Dictionary) and annotation.get("/Subtype") == "/Link"]
        mute = 0
        for annotation in links:
            holder = parents.get(int(annotation.StructParent)) if "/StructParent" in annotation else None
            said = str(annotation.get("/Contents", "")).strip()
            tagged = isinstance(holder, Dictionary) and holder.get("/S") == "/Link" and str(holder.get("/Alt", "")).strip()
            mute += not (said and tagged)
        if mute:
            found.append(problem("link without alternate text", number, f"{mute} link(s) without alternate text "
                                 "(/Contents, and /Alt on a Link element holding it)", mute))
    return found


# --- drawing order ------------------------------------------------------------------------------

def _drawing_order(pdf: pikepdf.Pdf, root, problem) -> list:
    numbers = page_numbers(pdf)
    read: dict[int, list[int]] = {}
    for top in top_elements(root):
        for page, mcid in content(top, numbers):
            read.setdefault(page, []).append(mcid)
    found = []
    for number, page in enumerate(pdf.pages):
        drawn = [int(instruction.operands[1].MCID) for instruction in pikepdf.parse_content_stream(page)
                 if str(instruction.operator) == "BDC" and isinstance(instruction.operands[1], Dictionary)
                 and "/MCID" in instruction.operands[1]]
        late = out_of_order(drawn, read.get(number, []))
        if late:
            found.append(problem("drawing order", number + 1, f"{len(late)} piece(s) of tagged content drawn out "
                                 "of reading order: copied and read aloud out of order", len(late)))
    return found
