"""Mend the tag tree WeasyPrint writes, so that a screen reader reads a leaflet once, whole and in order.

WeasyPrint 70 tags a PDF page by page (weasyprint/pdf/tags.py), which leaves three faults:

* the page-margin boxes (running header, "Page X of Y", the code and version footer) get
  marked content and structure elements that are never linked into the tree: content
  nobody claims, neither read nor marked as decoration;
* an element that crosses a page break becomes one element per page (a list of seven
  items read as a list of four and a list of three);
* what the HTML hides from assistive technology (``aria-hidden="true"``) is tagged and read.

Two steps fix them. While WeasyPrint builds the tree, ``recording()`` notes on each
structure element the HTML element it comes from (a number in a private key), whether
that element is hidden, and the /Scope of a header cell. Then ``mend()`` rewrites the
PDF with pikepdf: margin-box content becomes a pagination artifact, hidden content an
artifact, the pieces of a split element one element, and the ParentTree is rebuilt from
the tree, so every MCID on every page maps to the element holding it. The private keys
go; the output is deterministic.

The recording wraps WeasyPrint's private ``_build_box_tree``, so careleaf pins
``weasyprint>=70,<71``; tests/test_audit.py fails loudly if that function changes.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from io import BytesIO
from typing import Callable, Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name

from careleaf.pdf.audit import is_element, kids, role

# The private keys recording() writes and mend() removes.
SOURCE = "CareleafSource"     # the HTML element (and pseudo-element) a structure element comes from, as a number
HIDDEN = "CareleafHidden"     # present when that element is inside aria-hidden="true"
ROW_GROUP = "CareleafRowGroup"  # present on a th scope="rowgroup": the heading of its table body's rows

# WeasyPrint's tree builder, as recording() expects to find it.
BUILDER_PARAMETERS = ("box", "parent", "pdf", "page_number", "nums", "annotations", "tags")

# A table's header and footer rows, which WeasyPrint draws again on each page the table crosses.
_REPEATED_GROUPS = ("/THead", "/TFoot")


def write_pdf(document, *, finish: Callable[[pikepdf.Pdf], None] | None = None, **options) -> bytes:
    """A laid-out WeasyPrint document as PDF bytes, its tag tree mended, and ``finish`` (drawing the DRAFT
    mark, careleaf.pdf.watermark) done on it before it is saved."""
    with recording(document):
        raw = document.write_pdf(**options)
    return mend(raw, finish=finish)


# --- while WeasyPrint builds the tree ---------------------------------------------------

@dataclass
class _Recording:
    hidden: set = field(default_factory=set)       # HTML elements inside aria-hidden="true"
    numbers: dict = field(default_factory=dict)    # (HTML element, tag) -> its number, in order of first use


_recording: ContextVar[_Recording | None] = ContextVar("careleaf_tag_recording", default=None)


@contextmanager
def recording(document) -> Iterator[None]:
    """Note each structure element's source while ``document.write_pdf`` runs in this context."""
    _install()
    root = document.pages[0]._page_box.children[0].element if document.pages else None
    hidden = set()
    if root is not None:
        for top in root.iter():
            if top.get("aria-hidden") == "true":
                hidden.update(top.iter())
    token = _recording.set(_Recording(hidden=hidden))
    try:
        yield
    finally:
        _recording.reset(token)


def _install() -> None:
    """Wrap WeasyPrint's tree builder once; it calls itself by its module name, so every level is wrapped."""
    from weasyprint.pdf import tags

    if getattr(tags._build_box_tree, "careleaf", False):
        return
    original = tags._build_box_tree
    if tuple(inspect.signature(original).parameters) != BUILDER_PARAMETERS:
        raise RuntimeError("weasyprint.pdf.tags._build_box_tree changed; careleaf's tagging needs WeasyPrint 70")

    def build_box_tree(box, *arguments):
        for element in original(box, *arguments):
            state = _recording.get()
            if state is not None and SOURCE not in element:   # the innermost box that yields it made it
                _note(element, getattr(box, "_box", box), state)
            yield element

    build_box_tree.careleaf = True
    tags._build_box_tree = build_box_tree


def _note(element, box, state: _Recording) -> None:
    if box.element is None:
        return
    key = (box.element, box.element_tag)
    element[SOURCE] = state.numbers.setdefault(key, len(state.numbers))
    if box.element in state.hidden:
        element[HIDDEN] = "true"
    if element.get("S") == "/TH" and "A" in element:
        # PDF has no scope for a group of rows: a row group's heading is a row header (its cells' /Headers
        # are set in mend(), where the whole table is known).
        scope = box.element.get("scope")
        element["A"]["Scope"] = "/Row" if scope in ("row", "rowgroup") else "/Column"
        if scope == "rowgroup":
            element[ROW_GROUP] = "true"


# --- afterwards, on the PDF -----------------------------------------------------------

def mend(data: bytes, *, finish: Callable[[pikepdf.Pdf], None] | None = None) -> bytes:
    """A WeasyPrint PDF with its margin boxes and hidden content as artifacts and its split elements whole."""
    with pikepdf.open(BytesIO(data)) as pdf:
        root = pdf.Root.get("/StructTreeRoot")
        if root is None and finish is None:
            return data
        if root is not None:
            _Fix(pdf).run(root)
        if finish is not None:
            finish(pdf)
        out = BytesIO()
        pdf.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


class _Fix:
    def __init__(self, pdf: pikepdf.Pdf):
        self.pdf = pdf
        self.pages = {page.obj.objgen: number for number, page in enumerate(pdf.pages)}
        # page number -> {MCID: the artifact's properties (None for a plain /Artifact)}
        self.artifacts: dict[int, dict[int, Dictionary | None]] = {}

    def run(self, root) -> None:
        tops = [kid for kid in kids(root) if is_element(kid)]
        claimed = self._claimed(tops)
        self._margin_boxes_to_artifacts(root, claimed)
        for top in tops:
            self._drop_hidden(top)
            self._merge_splits(top)
        for table in (element for element in _walk(tops) if role(element) == "/Table"):
            _link_row_groups(table)
        self._rewrite_contents()
        self._rebuild_parent_tree(root, tops)

    # Margin boxes: marked content the ParentTree maps to elements the tree does not hold.
    def _claimed(self, tops) -> set[tuple[int, int]]:
        return {(page, mcid) for top in tops for page, mcid in self._content(top)}

    def _margin_boxes_to_artifacts(self, root, claimed: set) -> None:
        pagination = Dictionary(Type=Name.Pagination)
        for key, value in _number_tree_items(root.get("/ParentTree")):
            if key in self.pages.values() and isinstance(value, Array):
                for mcid in range(len(value)):
                    if (key, mcid) not in claimed:
                        self.artifacts.setdefault(key, {})[mcid] = pagination

    # aria-hidden: the element and everything in it goes; its content becomes an artifact.
    def _drop_hidden(self, element) -> None:
        kept = []
        for kid in kids(element):
            if is_element(kid) and f"/{HIDDEN}" in kid:
                for page, mcid in self._content(kid):
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
        held = [_source(kid) for kid in kids(first) if is_element(kid)]
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
        footer = [kid for kid in kids(first) if is_element(kid) and role(kid) == "/TFoot"]
        body = [kid for kid in kids(first) if not (is_element(kid) and role(kid) == "/TFoot")]
        first.K = Array(body + moved + footer)   # a table's footer stays last
        if renamed:
            _rename_headers(first, renamed)

    def _drop_repeat(self, repeat, first) -> dict[str, pikepdf.String]:
        """A table's header drawn again on a new page: an artifact, its cells' IDs mapped to the first one's."""
        for page, mcid in self._content(repeat):
            self.artifacts.setdefault(page, {})[mcid] = Dictionary(Type=Name.Pagination)
        original = next(kid for kid in kids(first) if is_element(kid) and _source(kid) == _source(repeat))
        pairs = zip(_cells(repeat), _cells(original))
        return {str(copy.ID): cell.ID for copy, cell in pairs if "/ID" in copy and "/ID" in cell}

    def _content(self, element, page: int | None = None) -> Iterator[tuple[int, int]]:
        """Every (page, MCID) an element holds, itself or through its descendants."""
        page = self._page_of(element, page)
        for kid in kids(element):
            if isinstance(kid, int) and page is not None:
                yield page, kid
            elif is_element(kid):
                yield from self._content(kid, page)
            elif isinstance(kid, Dictionary) and kid.get("/Type") == "/MCR":
                yield self._page_of(kid, page), int(kid.MCID)

    def _page_of(self, holder, inherited: int | None) -> int | None:
        page = holder.get("/Pg")
        return inherited if page is None else self.pages.get(page.objgen, inherited)

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

    # The ParentTree, rebuilt from the tree as it now is.
    def _rebuild_parent_tree(self, root, tops) -> None:
        nums: dict[int, object] = {}
        by_page: dict[int, dict[int, object]] = {}
        for element in _walk(tops):
            page = self._page_of(element, None)
            for kid in kids(element):
                if isinstance(kid, int) and page is not None:
                    by_page.setdefault(page, {})[kid] = element
                elif isinstance(kid, Dictionary) and kid.get("/Type") == "/MCR":
                    by_page.setdefault(self._page_of(kid, page), {})[int(kid.MCID)] = element
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


def _walk(elements) -> Iterator:
    for element in elements:
        yield element
        yield from _walk([kid for kid in kids(element) if is_element(kid)])


def _artifact(properties: Dictionary | None) -> pikepdf.ContentStreamInstruction:
    if properties is None:
        return pikepdf.ContentStreamInstruction([Name.Artifact], pikepdf.Operator("BMC"))
    return pikepdf.ContentStreamInstruction([Name.Artifact, properties], pikepdf.Operator("BDC"))


def _cells(group) -> list:
    return [element for element in _walk([group]) if role(element) in ("/TH", "/TD")]


def _rename_headers(table, renamed: dict[str, pikepdf.String]) -> None:
    for cell in _walk([table]):
        attributes = cell.get("/A")
        if isinstance(attributes, Dictionary) and isinstance(attributes.get("/Headers"), Array):
            attributes.Headers = Array([renamed.get(str(header), header) for header in attributes.Headers])


def _link_row_groups(table) -> None:
    """Each cell of a table body headed by a row group's heading: its column's header and that heading.

    WeasyPrint counts a th scope="rowgroup" as a header of the first column of the whole table, so a
    side effect would be read as 'common' and 'very rare' at once."""
    groups = [kid for kid in kids(table) if is_element(kid) and role(kid) == "/TBody"]
    heads = [kid for kid in kids(table) if is_element(kid) and role(kid) == "/THead"]
    columns = [cell.get("/ID") for cell in _cells(heads[0])] if heads else []
    for group in groups:
        heading = next((cell for cell in _cells(group) if f"/{ROW_GROUP}" in cell), None)
        if heading is None or "/ID" not in heading:
            continue
        for row in (kid for kid in kids(group) if is_element(kid) and role(kid) == "/TR"):
            cells = [cell for cell in kids(row) if is_element(cell) and role(cell) in ("/TH", "/TD")]
            for column, cell in enumerate(cells):
                if role(cell) == "/TD" and isinstance(cell.get("/A"), Dictionary):
                    above = [columns[column]] if column < len(columns) and columns[column] is not None else []
                    cell.A.Headers = Array(above + [heading.ID])


def _forget_source(element) -> None:
    for key in (SOURCE, HIDDEN, ROW_GROUP):
        if f"/{key}" in element:
            del element[f"/{key}"]


def _number_tree_items(tree) -> Iterator[tuple[int, object]]:
    if tree is None:
        return
    nums = tree.get("/Nums")
    if nums is not None:
        for index in range(0, len(nums) - 1, 2):
            yield int(nums[index]), nums[index + 1]
    for kid in tree.get("/Kids", []):
        yield from _number_tree_items(kid)


def _source(element):
    return int(element[f"/{SOURCE}"]) if f"/{SOURCE}" in element else None


def _same_source(first, later) -> bool:
    return (is_element(first) and is_element(later) and _source(first) is not None
            and _source(first) == _source(later) and role(first) == role(later))


def _same_page(one, other) -> bool:
    return one is not None and other is not None and one.objgen == other.objgen
