"""Audit a tagged PDF the way a screen reader meets it: ``careleaf audit PDF_OR_FOLDER...``.

A screen reader reads a PDF's tag tree, not its pages: what is not in the tree is not
read, and what is in it is read in the tree's order. This module walks the tree and what
each page draws, and names in plain words what a reader would miss, hear twice or hear
out of order. It needs nothing but pikepdf, so a clinic can run it on any PDF.

The problems it counts:

untagged content
    text, a picture or a drawn shape outside both tagged marked content (``BDC`` with an
    ``/MCID``) and an ``/Artifact``: nobody told the reader whether to read it. Counted in
    runs: drawing between two marked-content boundaries is one run.
unclaimed content
    marked content whose MCID no element of the tag tree claims: it is never read.
table without header cells
    a Table with no TH inside it (nested tables aside).
figure without alt text
    a Figure with no /Alt.
heading level
    a heading more than one level below the one before it (H1 then H3; the first heading
    counts as coming after a level 0), and a second H1 (reported once, however many follow).
split element
    At the break between page n and page n+1, take the content read last on page n and
    the content read first on page n+1 (in the tree's order) and the chains of elements
    holding each. Where the chains part they reach two different elements under one
    parent. The break splits an element when those two are grouping elements of the same
    type (Part, Art, Sect, Div, BlockQuote, L, Table, THead, TBody, TFoot) and the second
    does not start with a heading of its own: one section, list or table is read as two.
    Two paragraphs or list items in a row are normal, so a paragraph or a list item broken
    by the page is not found here.
watermark text
    a watermark phrase (by default careleaf's DRAFT and REVIEW OVERDUE marks in every
    language it ships) in the text that copying or pdftotext takes from the pages: found
    anywhere outside tagged content, or in tagged content more than once (a draft says
    so once, at the top of page 1; a mark read on every page is a watermark).
unicode mapping, language, link without alternate text, drawing order
    what viewers copy and read aloud, in which voice, and links: careleaf.pdf.auditreading.
"""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import pikepdf
from pikepdf import Name

from careleaf.pdf import auditreading
from careleaf.pdf.booklet import BOOKLET_SUFFIX
from careleaf.project import TEMPLATES, THEME
from careleaf.pdf.structure import element_kids, is_element, kids, marked, page_numbers, page_of, role, top_elements

KINDS = ("untagged content", "unclaimed content", "table without header cells", "figure without alt text",
         "heading level", "split element", "watermark text", *auditreading.KINDS)

HEADINGS = {f"/H{level}": level for level in range(1, 7)}
GROUPING = {"/Part", "/Art", "/Sect", "/Div", "/BlockQuote", "/L", "/Table", "/THead", "/TBody", "/TFoot"}

_TEXT_OPERATORS = {"Tj", "TJ", "'", '"'}
_PAINT_OPERATORS = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "sh", "INLINE IMAGE"}


@dataclass(frozen=True)
class Problem:
    kind: str
    page: int | None   # counted from 1; None for the whole document
    detail: str
    count: int = 1

    def __str__(self) -> str:
        return f"page {self.page}: {self.detail}" if self.page else self.detail


@dataclass(frozen=True)
class Report:
    name: str
    problems: tuple[Problem, ...]

    def counts(self) -> dict[str, int]:
        found = Counter()
        for problem in self.problems:
            found[problem.kind] += problem.count
        return {kind: found[kind] for kind in KINDS}

    def __str__(self) -> str:
        counts = ", ".join(f"{kind} {count}" for kind, count in self.counts().items())
        lines = [f"{self.name}: {'OK' if not self.problems else f'{len(self.problems)} problem(s)'} ({counts})"]
        return "\n".join(lines + [f"  {problem}" for problem in self.problems])


def audit(source: Path | bytes, *, name: str = "", watermarks: Sequence[str] | None = None) -> Report:
    """What a screen reader would miss, hear twice or hear out of order in one PDF."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    phrases = default_watermarks() if watermarks is None else tuple(watermarks)
    with pikepdf.open(BytesIO(data)) as pdf:
        tree = _Tree(pdf)
        drawn = _Drawing(pdf, tree.claimed())
        problems = [*drawn.problems, *_tables(tree), *_figures(tree), *_headings(tree), *_splits(tree, len(pdf.pages)),
                    *_watermarks(drawn, phrases), *auditreading.problems(pdf, Problem)]
    return Report(name or str(source if not isinstance(source, bytes) else "PDF"), tuple(problems))


def audit_paths(paths: Iterable[Path], *, watermarks: Sequence[str] | None = None) -> list[Report]:
    """A report for every PDF named, or found in a named folder (and its folders), in name order.

    Booklets found in a folder (<leaflet>-booklet.pdf, careleaf/booklet.py) are left out: they are print
    impositions, untagged on purpose, beside the accessible leaflet they are made from."""
    files = []
    for path in paths:
        files += sorted(f for f in path.rglob("*.pdf") if not f.name.endswith(BOOKLET_SUFFIX)) if path.is_dir() \
            else [path]
    return [audit(file, name=str(file), watermarks=watermarks) for file in files]


def default_watermarks() -> tuple[str, ...]:
    """careleaf's draft and review-overdue marks, in every language its theme has words for."""
    import yaml

    phrases = []
    for labels in sorted((THEME / TEMPLATES / "labels").glob("*.yaml")):
        words = yaml.safe_load(labels.read_text(encoding="utf-8")) or {}
        phrases += [words[key] for key in ("draft", "review_overdue") if isinstance(words.get(key), str)]
    return tuple(phrases)


# --- the tag tree -------------------------------------------------------------------

@dataclass(frozen=True)
class _Item:
    """One piece of marked content the tree claims, with the elements holding it from the top down."""

    page: int   # counted from 0
    mcid: int
    chain: tuple


class _Tree:
    """The structure elements in reading order, and the marked content each one holds."""

    def __init__(self, pdf: pikepdf.Pdf):
        self._pages = page_numbers(pdf)
        self.chains: list[tuple] = []     # every element, as the chain of elements from the top down to it
        self.items: list[_Item] = []
        for top in top_elements(pdf.Root.get("/StructTreeRoot")):
            self._walk(top, (), None)

    def claimed(self) -> set[tuple[int, int]]:
        return {(item.page, item.mcid) for item in self.items}

    def _walk(self, element, chain: tuple, page: int | None) -> None:
        chain = chain + (element,)
        page = page_of(element, self._pages, page)
        self.chains.append(chain)
        for kid in kids(element):
            if is_element(kid):
                self._walk(kid, chain, page)
            elif (found := marked(kid, self._pages, page)) is not None:
                self.items.append(_Item(*found, chain))


def _descendants(element) -> Iterator:
    for kid in element_kids(element):
        yield kid
        if role(kid) != "/Table":
            yield from _descendants(kid)


def _tables(tree: _Tree) -> list[Problem]:
    tables = [chain[-1] for chain in tree.chains if role(chain[-1]) == "/Table"]
    headless = sum(1 for table in tables if not any(role(cell) == "/TH" for cell in _descendants(table)))
    return [Problem("table without header cells", None, f"{headless} table(s) without header cells (TH): "
                    "a reader cannot say which column a value is in", headless)] if headless else []


def _figures(tree: _Tree) -> list[Problem]:
    figures = [chain[-1] for chain in tree.chains if role(chain[-1]) == "/Figure"]
    mute = sum(1 for figure in figures if not str(figure.get("/Alt", "")).strip())
    return [Problem("figure without alt text", None, f"{mute} figure(s) without alt text", mute)] if mute else []


def _headings(tree: _Tree) -> list[Problem]:
    problems, before, firsts = [], 0, 0
    for chain in tree.chains:
        level = HEADINGS.get(role(chain[-1]))
        if level is None:
            continue
        if level > before + 1:
            problems.append(Problem("heading level", None, f"an H{level} follows "
                                    f"{f'an H{before}' if before else 'no heading'}: a level is skipped"))
        firsts += level == 1
        if level == 1 and firsts == 2:
            problems.append(Problem("heading level", None, "more than one H1"))
        before = level
    return problems


def _splits(tree: _Tree, page_count: int) -> list[Problem]:
    pages = _pages_held(tree)
    problems = []
    for page in range(1, page_count):
        last = next((item for item in reversed(tree.items) if item.page == page - 1), None)
        split = _split_at(last.chain, page, pages) if last else []
        if split:
            problems.append(Problem("split element", page + 1, f"{', '.join(split)} from page {page} "
                                    f"go{'es' if len(split) == 1 else ''} on as another element: read as two"))
    return problems


def _split_at(chain: tuple, page: int, pages: dict) -> list[str]:
    """The types of the elements that hold the last content before a page break and go on after it as others.

    Goes down the chain: a split element's continuation holds the continuations of its split
    children, so each pair found is looked into for the next.
    """
    split, after = [], None
    for depth in range(1, len(chain)):
        before = chain[depth]
        if after is None:   # at the top: the next element of the same type under the same parent
            after = _next_of_type(chain[depth - 1], before, page, pages)
        else:               # inside a pair: the continuation's first element
            after = next(iter(element_kids(after)), None)
        if after is None or role(after) != role(before) or _opens_with_heading(after):
            break
        if pages.get(after.objgen, [None])[0] != page:
            break
        if role(before) in GROUPING:
            split.append(role(before)[1:])
    return split


def _next_of_type(parent, element, page: int, pages: dict):
    """The next sibling of an element's type; elements between them may hold content of the new page only
    (a mark drawn at the top of every page), no other."""
    siblings = element_kids(parent)
    at = next(index for index, kid in enumerate(siblings) if kid.objgen == element.objgen)
    for sibling in siblings[at + 1:]:
        if role(sibling) == role(element):
            return sibling
        if any(number != page for number in pages.get(sibling.objgen, [])):
            return None
    return None


def _pages_held(tree: _Tree) -> dict[tuple, list[int]]:
    """The pages of each element's content, in reading order (by the element's object number)."""
    held: dict[tuple, list[int]] = {}
    for item in tree.items:
        for element in item.chain:
            held.setdefault(element.objgen, []).append(item.page)
    return held


def _opens_with_heading(element) -> bool:
    """Whether an element is a heading or starts with one of its own (its first child)."""
    first = next(iter(element_kids(element)), None)
    return any(role(held) in HEADINGS or role(held) == "/H" for held in (element, first) if held is not None)


# --- what the pages draw --------------------------------------------------------------

@dataclass
class _Marked:
    """One open marked-content sequence: tagged (with an MCID), an artifact, or neither."""

    mcid: int | None = None
    artifact: bool = False


@dataclass
class _Drawing:
    """Walks every page's content (and the forms it draws) for what is drawn outside the tree."""

    pdf: pikepdf.Pdf
    claimed: set
    problems: list[Problem] = field(default_factory=list)
    tagged_text: list[str] = field(default_factory=list)      # per page
    other_text: list[str] = field(default_factory=list)       # per page: artifacts and untagged

    def __post_init__(self):
        self._fonts: dict = {}
        for number, page in enumerate(self.pdf.pages):
            self._page = number
            self._untagged_runs, self._unclaimed = 0, set()
            self._in_run = False
            self._tagged, self._other = [], []
            self._walk(page.obj, page.obj.get("/Resources", pikepdf.Dictionary()), [], depth=0)
            self._report_page(number + 1)
            self.tagged_text.append(" ".join(self._tagged))
            self.other_text.append(" ".join(self._other))

    def _report_page(self, page: int) -> None:
        if self._untagged_runs:
            self.problems.append(Problem("untagged content", page, f"{self._untagged_runs} run(s) of content "
                                         "neither tagged nor marked as an artifact", self._untagged_runs))
        if self._unclaimed:
            self.problems.append(Problem("unclaimed content", page, f"{len(self._unclaimed)} run(s) of marked "
                                         "content that no element of the tag tree claims (never read)",
                                         len(self._unclaimed)))

    def _walk(self, holder, resources, stack: list[_Marked], depth: int) -> None:
        font = None
        for instruction in pikepdf.parse_content_stream(holder):
            operator = str(instruction.operator)
            operands = instruction.operands if hasattr(instruction, "operands") else []
            if operator in ("BMC", "BDC"):
                stack.append(self._opened(operator, operands, resources))
                self._in_run = False
            elif operator == "EMC":
                if stack:
                    stack.pop()
                self._in_run = False
            elif operator == "Tf":
                font = resources.get("/Font", {}).get(operands[0])
            elif operator == "Do":
                drawn = resources.get("/XObject", {}).get(operands[0])
                if drawn is not None and drawn.get("/Subtype") == "/Form" and depth < 20:
                    self._walk(drawn, drawn.get("/Resources", resources), stack, depth + 1)
                elif drawn is not None:
                    self._drawn(stack)
            elif operator in _PAINT_OPERATORS:
                self._drawn(stack)
            elif operator in _TEXT_OPERATORS:
                tagged = self._drawn(stack)
                (self._tagged if tagged else self._other).append(self._decode(font, operands))

    def _opened(self, operator: str, operands, resources) -> _Marked:
        if operands[0] == Name.Artifact:
            return _Marked(artifact=True)
        if operator == "BDC":
            properties = operands[1]
            if isinstance(properties, Name):
                properties = resources.get("/Properties", {}).get(properties, pikepdf.Dictionary())
            if "/MCID" in properties:
                return _Marked(mcid=int(properties.MCID))
        return _Marked()

    def _drawn(self, stack: list[_Marked]) -> bool:
        """Note one drawing operation; whether it is tagged content (rather than an artifact or neither)."""
        cover = next((marked for marked in reversed(stack) if marked.artifact or marked.mcid is not None), None)
        if cover is None:
            if not self._in_run:
                self._untagged_runs += 1
            self._in_run = True
            return False
        if cover.artifact:
            return False
        if (self._page, cover.mcid) not in self.claimed:
            self._unclaimed.add(cover.mcid)
        return True

    def _decode(self, font, operands) -> str:
        if font is None:
            return ""
        key = font.objgen if font.is_indirect else id(font)
        if key not in self._fonts:
            self._fonts[key] = _unicode_map(font)
        width, mapping = self._fonts[key]
        strings = [part for operand in operands
                   for part in (operand if isinstance(operand, pikepdf.Array) else [operand])
                   if isinstance(part, pikepdf.String)]
        text = []
        for string in strings:
            raw = bytes(string)
            for start in range(0, len(raw) - width + 1, width):
                code = int.from_bytes(raw[start:start + width], "big")
                text.append(mapping.get(code, chr(code) if width == 1 else ""))
        return "".join(text)


_HEX = r"<([0-9a-fA-F]*)>"


def _unicode_map(font) -> tuple[int, dict[int, str]]:
    """How to read a font's codes as text: the code width in bytes and its ToUnicode table (bfchar, bfrange)."""
    cmap = font.get("/ToUnicode")
    if not isinstance(cmap, pikepdf.Stream):
        return 1, {}
    data = cmap.read_bytes().decode("latin-1")
    space = re.search(r"begincodespacerange\s*" + _HEX, data)
    width = max(1, len(space.group(1)) // 2) if space else 1
    mapping: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for code, text in re.findall(_HEX + r"\s*" + _HEX, block):
            mapping[int(code, 16)] = _utf16(text)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, target in re.findall(_HEX + r"\s*" + _HEX + r"\s*(<[0-9a-fA-F]*>|\[[^\]]*\])", block):
            low, high = int(low, 16), int(high, 16)
            if target.startswith("["):
                for offset, text in enumerate(re.findall(_HEX, target)):
                    mapping[low + offset] = _utf16(text)
            else:
                first = _utf16(target[1:-1])
                for offset in range(high - low + 1):
                    mapping[low + offset] = first[:-1] + chr(ord(first[-1]) + offset) if first else ""
    return width, mapping


def _utf16(hex_text: str) -> str:
    return bytes.fromhex(hex_text).decode("utf-16-be", errors="replace")


def _watermarks(drawn: _Drawing, phrases: Sequence[str]) -> list[Problem]:
    problems = []
    for phrase in phrases:
        forms = _forms(phrase)
        read = 0
        for number, (tagged, other) in enumerate(zip(drawn.tagged_text, drawn.other_text), start=1):
            if any(form in _comparable(other) for form in forms):
                problems.append(Problem("watermark text", number, f"the mark '{phrase}' is drawn as text that "
                                        "copying and pdftotext take with the page"))
            read += sum(_comparable(tagged).count(form) for form in forms)
        if read > 1:
            problems.append(Problem("watermark text", None, f"the mark '{phrase}' is read {read} times, not once",
                                    read - 1))
    return problems


def _forms(phrase: str) -> set[str]:
    """How a phrase may come out of a page's text: as written, and for right-to-left words, in the order
    the glyphs are drawn (left to right)."""
    written = _comparable(phrase)
    if not written:
        return set()
    right_to_left = any("\u0590" <= char <= "\u08ff" for char in phrase)
    return {written, _comparable(phrase[::-1])} if right_to_left else {written}


def _comparable(text: str) -> str:
    """Text squeezed, with lam-alef read one way: drawn as one glyph, it comes out in either order."""
    return _squeezed(text).replace("\u0644\u0627", "\u0627\u0644")


_DASHES = re.compile("[\u002d\u2010-\u2015\u2212]")


def _squeezed(text: str) -> str:
    """Text without white space, in one case, every dash the same: a mark drawn in pieces still matches."""
    return re.sub(r"\s+", "", _DASHES.sub("-", text)).casefold()

