"""Mend the tag tree WeasyPrint writes, so that a screen reader reads a leaflet once, whole and in order.

WeasyPrint 70 tags a PDF page by page, which leaves three faults:

* the page-margin boxes (running header, "Page X of Y", the code and version footer) get
  marked content and structure elements that are never linked into the tree: content
  nobody claims, neither read nor marked as decoration;
* an element that crosses a page break becomes one element per page (a list of seven
  items read as a list of four and a list of three);
* what the HTML hides from assistive technology (``aria-hidden="true"``) is tagged and read.

Two steps fix them. While WeasyPrint builds the tree (careleaf.pdf.engine.write_pdf), a
``_Recording`` notes on each structure element the HTML element it comes from (a number
in a private key), whether that element is hidden, and the /Scope of a header cell. Then
``mend()`` rewrites the PDF with pikepdf: margin-box content becomes a pagination artifact,
hidden content an artifact, the pieces of a split element one element, and the ParentTree
is rebuilt from the tree, so every MCID on every page maps to the element holding it. The
private keys go; the output is deterministic, whichever font subsetter WeasyPrint used
(careleaf.pdf.fontstamps).

Only the recording needs WeasyPrint's internals (the engine's notes say which, and why the
rest is mended from the PDF alone); tests/test_engine.py fails loudly if they change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from typing import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name

from careleaf.pdf import engine
from careleaf.pdf.drawing import follow_reading_order
from careleaf.pdf.fontstamps import settle_font_timestamps
from careleaf.pdf.glyphtext import drawn_text, mend_to_unicode
from careleaf.pdf.raised import lower_raised_glyphs
from careleaf.pdf.structure import (content, element_kids, is_element, kids, marked, page_numbers, page_of, role,
                                    top_elements, tree_items, walk)

# The private keys the recording writes and mend() removes.
SOURCE = "CareleafSource"     # the HTML element (and pseudo-element) a structure element comes from, as a number
HIDDEN = "CareleafHidden"     # present when that element is inside aria-hidden="true"
ROW_GROUP = "CareleafRowGroup"  # present on a th scope="rowgroup": the heading of its table body's rows
LANGUAGE = "CareleafLang"     # the language of that element's words (its own or an ancestor's lang attribute)
ALT = "CareleafAlt"           # a link's alternate text: its aria-label, else its words (an image's alt in it)
# LANGUAGE and ALT hold a number in the recording's list of texts: WeasyPrint's writer takes a Python string
# for a PDF token (a name, a keyword), not for a PDF string.

# A table's header and footer rows, which WeasyPrint draws again on each page the table crosses.
_REPEATED_GROUPS = ("/THead", "/TFoot")


def write_pdf(document, *, finish: Callable[[pikepdf.Pdf], None] | None = None, **options) -> bytes:
    """A laid-out WeasyPrint document as PDF bytes, its tag tree mended, and ``finish`` (drawing the DRAFT
    mark, careleaf.pdf.watermark) done on it before it is saved."""
    html_root = engine.html_root(document)
    recording = _Recording(hidden=_hidden_elements(html_root), languages=_languages(html_root))
    raw = engine.write_pdf(document, note=recording.note, note_runs=recording.note_runs, **options)
    # fontTools stamps the subset fonts with the time; HarfBuzz keeps the font files' own dates.
    return mend(raw, finish=finish, settle_fonts=not engine.uses_fast_subsetting(), runs=recording.runs,
                texts=list(recording.texts))


# --- while WeasyPrint builds the tree ---------------------------------------------------

@dataclass
class _Recording:
    hidden: set = field(default_factory=set)       # HTML elements inside aria-hidden="true"
    languages: dict = field(default_factory=dict)  # HTML element -> the language of its words
    numbers: dict = field(default_factory=dict)    # (HTML element, tag) -> its number, in order of first use
    runs: dict = field(default_factory=dict)       # page number -> {MCID: the words it draws}
    texts: dict = field(default_factory=dict)      # a language or a link's words -> its number

    def text_number(self, text: str) -> int:
        return self.texts.setdefault(text, len(self.texts))

    def note_runs(self, page: int, runs: dict) -> None:
        """Keep the words each text run on a page draws, for /ActualText."""
        self.runs[page] = runs

    def note(self, element, source, tag: str) -> None:
        """Mark a structure element, as WeasyPrint makes it, with what the HTML says of its source."""
        element[SOURCE] = self.numbers.setdefault((source, tag), len(self.numbers))
        if source in self.hidden:
            element[HIDDEN] = "true"
        if source in self.languages:
            element[LANGUAGE] = self.text_number(self.languages[source])
        if element.get("S") == "/Link":
            element[ALT] = self.text_number(_link_words(source))
        if element.get("S") == "/TH" and "A" in element:
            # PDF has no scope for a group of rows: a row group's heading is a row header (its cells' /Headers
            # are set in mend(), where the whole table is known).
            scope = source.get("scope")
            element["A"]["Scope"] = "/Row" if scope in ("row", "rowgroup") else "/Column"
            if scope == "rowgroup":
                element[ROW_GROUP] = "true"


def _hidden_elements(root) -> set:
    """The HTML elements inside aria-hidden="true", themselves included."""
    hidden = set()
    for top in root.iter() if root is not None else ():
        if top.get("aria-hidden") == "true":
            hidden.update(top.iter())
    return hidden


def _link_words(source) -> str:
    """What a link says, for its /Alt and its annotation's /Contents."""
    words = source.get("aria-label") or " ".join("".join(source.itertext()).split())
    return words or " ".join(image.get("alt", "") for image in source.iter("img")).strip()


def _languages(root, inherited: str = "") -> dict:
    """Each HTML element's language: its lang attribute, else its nearest ancestor's."""
    found = {}
    stack = [(root, inherited)] if root is not None else []
    while stack:
        element, language = stack.pop()
        language = (element.get("lang") or language).strip()
        if language:
            found[element] = language
        stack.extend((child, language) for child in element)
    return found


# --- afterwards, on the PDF -----------------------------------------------------------

def mend(data: bytes, *, finish: Callable[[pikepdf.Pdf], None] | None = None, settle_fonts: bool = False,
         runs: dict | None = None, texts: list[str] | None = None) -> bytes:
    """A WeasyPrint PDF with its margin boxes and hidden content as artifacts and its split elements whole,
    its glyphs mapped to the text they draw (careleaf.pdf.glyphtext), marks drawn on the line
    (careleaf.pdf.raised) and, given the ``runs`` noted while it
    was written, /ActualText on each element whose glyphs do not read as its words; with ``settle_fonts``,
    its subset fonts' timestamps no longer the time of the build."""
    with pikepdf.open(BytesIO(data)) as pdf:
        root = pdf.Root.get("/StructTreeRoot")
        if root is None and finish is None and not settle_fonts:
            return data
        mend_to_unicode(pdf)
        lower_raised_glyphs(pdf)
        if root is not None:
            _Fix(pdf, runs or {}, texts or []).run(root)
        if settle_fonts:
            settle_font_timestamps(pdf)
        if finish is not None:
            finish(pdf)
        out = BytesIO()
        pdf.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


class _Fix:
    def __init__(self, pdf: pikepdf.Pdf, runs: dict, texts: list[str]):
        self.pdf = pdf
        self.runs = runs
        self.texts = texts
        self.pages = page_numbers(pdf)
        # page number -> {MCID: the artifact's properties (None for a plain /Artifact)}
        self.artifacts: dict[int, dict[int, Dictionary | None]] = {}

    def run(self, root) -> None:
        tops = top_elements(root)
        claimed = self._claimed(tops)
        self._margin_boxes_to_artifacts(root, claimed)
        for top in tops:
            self._drop_hidden(top)
            self._merge_splits(top)
        for table in (element for element in walk(tops) if role(element) == "/Table"):
            _link_row_groups(table)
        self._rewrite_contents()
        _mark_languages(tops, str(self.pdf.Root.get("/Lang", "")), self.texts)
        _describe_links(tops, self.texts)
        self._rebuild_parent_tree(root, tops)
        self._actual_text(tops)
        reading: dict[int, list[int]] = {}
        for page, mcid in (found for top in tops for found in content(top, self.pages)):
            reading.setdefault(page, []).append(mcid)
        follow_reading_order(self.pdf, reading)

    # Margin boxes: marked content the ParentTree maps to elements the tree does not hold.
    def _claimed(self, tops) -> set[tuple[int, int]]:
        return {(page, mcid) for top in tops for page, mcid in content(top, self.pages)}

    def _margin_boxes_to_artifacts(self, root, claimed: set) -> None:
        pagination = Dictionary(Type=Name.Pagination)
        numbers = set(self.pages.values())
        for key, value in tree_items(root.get("/ParentTree")):
            key = int(key)
            if key in numbers and isinstance(value, Array):
                for mcid in range(len(value)):
                    if (key, mcid) not in claimed:
                        self.artifacts.setdefault(key, {})[mcid] = pagination

    # aria-hidden: the element and everything in it goes; its content becomes an artifact.
    def _drop_hidden(self, element) -> None:
        kept = []
        for kid in kids(element):
            if is_element(kid) and f"/{HIDDEN}" in kid:
                for page, mcid in content(kid, self.pages):
                    self.artifacts.setdefault(page, {})[mcid] = None
            else:
                kept.append(kid)
                if is_element(kid):
                    self._drop_hidden(kid)
        element.K = Array(kept)

    # Page breaks: neighbours from the same HTML element are one element.
    def _merge_splits(self, element) -> None:
        merged = []
        for kid in kids(element):
            if merged and _same_source(merged[-1], kid):
                self._absorb(merged[-1], kid)
            else:
                merged.append(kid)
        element.K = Array(merged)
        for kid in merged:
            if is_element(kid):
                self._merge_splits(kid)

    def _absorb(self, first, later) -> None:
        """Move a continuation's content into the element it continues."""
        page = later.get("/Pg")
        held = [_source(kid) for kid in element_kids(first)]
        moved, renamed = [], {}
        for kid in kids(later):
            if is_element(kid) and role(kid) in _REPEATED_GROUPS and _source(kid) in held:
                renamed.update(self._drop_repeat(kid, first))
                continue
            if isinstance(kid, int):   # an MCID on the continuation's page
                kid = kid if _same_page(page, first.get("/Pg")) else Dictionary(Type=Name.MCR, Pg=page, MCID=kid)
            elif is_element(kid):
                kid.P = first
            moved.append(kid)
        footer = [kid for kid in element_kids(first) if role(kid) == "/TFoot"]
        body = [kid for kid in kids(first) if not (is_element(kid) and role(kid) == "/TFoot")]
        first.K = Array(body + moved + footer)   # a table's footer stays last
        if renamed:
            _rename_headers(first, renamed)

    def _drop_repeat(self, repeat, first) -> dict[str, pikepdf.String]:
        """A table's header drawn again on a new page: an artifact, its cells' IDs mapped to the first one's."""
        for page, mcid in content(repeat, self.pages):
            self.artifacts.setdefault(page, {})[mcid] = Dictionary(Type=Name.Pagination)
        original = next(kid for kid in element_kids(first) if _source(kid) == _source(repeat))
        pairs = zip(_cells(repeat), _cells(original))
        return {str(copy.ID): cell.ID for copy, cell in pairs if "/ID" in copy and "/ID" in cell}

    # Content streams: the marked content of artifacts rewritten as such.
    def _rewrite_contents(self) -> None:
        done = set()
        for number, page in enumerate(self.pdf.pages):
            artifacts = self.artifacts.get(number, {})
            if artifacts:
                self._rewrite(page.obj, artifacts, done, is_page=True)

    def _rewrite(self, holder, artifacts: dict, done: set, *, is_page: bool = False) -> None:
        changed = False
        instructions = []
        for instruction in pikepdf.parse_content_stream(holder):
            operator = str(instruction.operator)
            if operator == "BDC" and isinstance(instruction.operands[1], Dictionary):
                mcid = instruction.operands[1].get("/MCID")
                if mcid is not None and int(mcid) in artifacts:
                    instruction = _artifact(artifacts[int(mcid)])
                    changed = True
            elif operator == "Do":
                drawn = holder.get("/Resources", {}).get("/XObject", {}).get(instruction.operands[0])
                if drawn is not None and drawn.get("/Subtype") == "/Form" and drawn.objgen not in done:
                    done.add(drawn.objgen)
                    self._rewrite(drawn, artifacts, done)
            instructions.append(instruction)
        if not changed:
            return
        data = pikepdf.unparse_content_stream(instructions)
        if is_page:
            holder.Contents = self.pdf.make_stream(data)
        else:
            holder.write(data)

    # Shaped runs: an element whose glyphs do not read as its words (right-to-left, ligatures, marks) says them.
    def _actual_text(self, tops) -> None:
        drawn = {number: drawn_text(page) for number, page in enumerate(self.pdf.pages) if self.runs.get(number)}
        for element in walk(tops):
            page = page_of(element, self.pages, None)
            own = [found for kid in kids(element) if (found := marked(kid, self.pages, page)) is not None]
            runs = [self.runs.get(number, {}).get(mcid) for number, mcid in own]
            if not own or None in runs:
                continue
            if any(_words(run) != _words(drawn.get(number, {}).get(mcid, "")) for run, (number, mcid) in zip(runs, own)):
                element.ActualText = pikepdf.String("".join(runs))

    # The ParentTree, rebuilt from the tree as it now is.
    def _rebuild_parent_tree(self, root, tops) -> None:
        nums: dict[int, object] = {}
        by_page: dict[int, dict[int, object]] = {}
        for element in walk(tops):
            page = page_of(element, self.pages, None)
            for kid in kids(element):
                if (found := marked(kid, self.pages, page)) is not None:
                    by_page.setdefault(found[0], {})[found[1]] = element
                elif isinstance(kid, Dictionary) and kid.get("/Type") == "/OBJR" and "/StructParent" in kid.Obj:
                    nums[int(kid.Obj.StructParent)] = element
            _forget_source(element)
        for number, page in enumerate(self.pdf.pages):
            if "/StructParents" in page.obj:
                mcids = by_page.get(number, {})
                size = max(mcids, default=-1) + 1
                nums[int(page.obj.StructParents)] = self.pdf.make_indirect(Array([mcids.get(i) for i in range(size)]))
        flat = Array()
        for key in sorted(nums):
            flat.extend([key, nums[key]])
        root.ParentTree = self.pdf.make_indirect(Dictionary(Nums=flat))
        root.ParentTreeNextKey = max(nums, default=-1) + 1


def _artifact(properties: Dictionary | None) -> pikepdf.ContentStreamInstruction:
    if properties is None:
        return pikepdf.ContentStreamInstruction([Name.Artifact], pikepdf.Operator("BMC"))
    return pikepdf.ContentStreamInstruction([Name.Artifact, properties], pikepdf.Operator("BDC"))


def _cells(group) -> list:
    return [element for element in walk([group]) if role(element) in ("/TH", "/TD")]


def _rename_headers(table, renamed: dict[str, pikepdf.String]) -> None:
    for cell in walk([table]):
        attributes = cell.get("/A")
        if isinstance(attributes, Dictionary) and isinstance(attributes.get("/Headers"), Array):
            attributes.Headers = Array([renamed.get(str(header), header) for header in attributes.Headers])


def _link_row_groups(table) -> None:
    """Each cell of a table body headed by a row group's heading: its column's header and that heading.

    WeasyPrint counts a th scope="rowgroup" as a header of the first column of the whole table, so a
    side effect would be read as 'common' and 'very rare' at once."""
    groups = [kid for kid in element_kids(table) if role(kid) == "/TBody"]
    heads = [kid for kid in element_kids(table) if role(kid) == "/THead"]
    columns = [cell.get("/ID") for cell in _cells(heads[0])] if heads else []
    for group in groups:
        heading = next((cell for cell in _cells(group) if f"/{ROW_GROUP}" in cell), None)
        if heading is None or "/ID" not in heading:
            continue
        for row in (kid for kid in element_kids(group) if role(kid) == "/TR"):
            cells = [cell for cell in element_kids(row) if role(cell) in ("/TH", "/TD")]
            for column, cell in enumerate(cells):
                if role(cell) == "/TD" and isinstance(cell.get("/A"), Dictionary):
                    above = [columns[column]] if column < len(columns) and columns[column] is not None else []
                    cell.A.Headers = Array(above + [heading.ID])


def _mark_languages(tops, document: str, texts: list[str]) -> None:
    """/Lang on each element whose words are in another language than its parent's (the document's at the
    top), so that a screen reader switches voice: an Arabic leaflet's English fallback section."""
    stack = [(top, document) for top in reversed(tops)]
    while stack:
        element, around = stack.pop()
        own = texts[int(element[f"/{LANGUAGE}"])] if f"/{LANGUAGE}" in element else around
        if own.lower() != around.lower():
            element.Lang = pikepdf.String(own)
        stack.extend((kid, own) for kid in reversed(element_kids(element)))


def _describe_links(tops, texts: list[str]) -> None:
    """Each link's words as its element's /Alt and its annotation's /Contents (WeasyPrint gives the
    annotation the bare address), which a screen reader says for the link; an annotation WeasyPrint hangs on
    an element inside the link (a number's bdi, the QR code's picture) moved up to the Link element."""
    for element in (element for element in walk(tops) if role(element) == "/Link"):
        _gather_annotations(element, element)
    for element in (element for element in walk(tops) if role(element) == "/Link" and f"/{ALT}" in element):
        words = pikepdf.String(texts[int(element[f"/{ALT}"])])
        if str(words):
            element.Alt = words
            for kid in kids(element):
                if isinstance(kid, Dictionary) and kid.get("/Type") == "/OBJR":
                    kid.Obj.Contents = words


def _gather_annotations(link, element) -> None:
    for kid in element_kids(element):
        if role(kid) != "/Link":
            annotations = [item for item in kids(kid) if _is_annotation(item)]
            if annotations:
                kid.K = Array([item for item in kids(kid) if not _is_annotation(item)])
                link.K = Array(kids(link) + annotations)
            _gather_annotations(link, kid)


def _is_annotation(kid) -> bool:
    return isinstance(kid, Dictionary) and kid.get("/Type") == "/OBJR"


def _words(text: str) -> str:
    return " ".join(text.split())


def _forget_source(element) -> None:
    for key in (SOURCE, HIDDEN, ROW_GROUP, LANGUAGE, ALT):
        if f"/{key}" in element:
            del element[f"/{key}"]


def _source(element):
    return int(element[f"/{SOURCE}"]) if f"/{SOURCE}" in element else None


def _same_source(first, later) -> bool:
    return (is_element(first) and is_element(later) and _source(first) is not None
            and _source(first) == _source(later) and role(first) == role(later))


def _same_page(one, other) -> bool:
    return one is not None and other is not None and one.objgen == other.objgen
