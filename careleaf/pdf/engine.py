"""careleaf's one door to WeasyPrint: the only module that reaches past its public API.

careleaf lays out and writes every leaflet through the functions here, and no other module names a
private part of WeasyPrint (tests/test_engine.py checks both that, and that each part listed below still
does what careleaf expects of it). WeasyPrint is imported inside the functions, so that importing this
module costs nothing to a command that renders nothing.

The public API careleaf uses: ``HTML(...).render()``, ``CSS``, ``FontConfiguration``
(weasyprint.text.fonts), ``URLFetcher`` and ``URLFetcherResponse`` (weasyprint.urls), and a document's
``pages``, ``metadata`` and ``write_pdf``.

What careleaf relies on beyond it (WeasyPrint 70)
-------------------------------------------------
1. The tag-tree builder ``weasyprint.pdf.tags._build_box_tree(box, parent, pdf, page_number, nums,
   annotations, tags)``: a generator yielding the structure elements (``pydyf.Dictionary``) made for a
   box, which reaches the box's children by calling itself through its module's global name. While
   careleaf writes a PDF (``write_pdf`` with a ``note``, and only then) that name is bound to a wrapper
   that hands each structure element, once, with the HTML element of the innermost box that made it, to
   careleaf.pdf.tagging; tagging writes private keys into the dictionary before pydyf writes it out. So
   tagging learns which pieces on two pages are one element split by the page break, which elements are
   inside ``aria-hidden="true"``, and a header cell's ``scope``. None of that is in the PDF: it cannot be
   repaired afterwards. The same wrapper, called for a page box, reads the builder's ``tags`` argument
   (the page's marked content: each box with its ``{'tag', 'mcid'}``) before the builder consumes it, and
   hands tagging each text box's ``text`` by MCID (``note_runs``): the words
   in logical order, which the glyphs WeasyPrint draws (visual order, shaped, with ToUnicode entries that
   WeasyPrint issue 2841 leaves empty or in the wrong order) do not give back. Classes ``PageBox`` and
   ``TextBox`` of weasyprint.formatting_structure.boxes.
2. ``Page._page_box``, the laid-out page. Its first child's ``element`` is the HTML root (``html_root``:
   tagging reads which elements are aria-hidden from it). For how full each page is and where the layout
   breaks the print rules (careleaf.pdf.pages, through ``laid_out``): the boxes' ``children``,
   ``element``, ``element_tag``, ``style['position']``, ``style['break_inside']``, ``position_y`` and
   ``margin_height()``; the page box's ``content_box_y()`` and ``height``; the classes ``MarginBox``,
   ``LineBox`` and ``ParentBox`` of weasyprint.formatting_structure.boxes.
3. The font subsetter WeasyPrint picks: HarfBuzz's when ``weasyprint.pdf.fonts.harfbuzz_subset`` (the
   library as weasyprint.text.ffi loaded it, None when it is missing) is there and
   ``weasyprint.text.ffi.harfbuzz.hb_version_atleast(4, 1, 0)`` holds, else fontTools. The build reports
   it (``uses_fast_subsetting``), tagging settles the fontTools path's timestamps (below) only on that
   path, and tests force the fontTools path (``subsetting_with_fonttools``).

Repaired from the PDF after writing, with pikepdf alone
-------------------------------------------------------
What the PDF itself holds enough of is mended there, not by reaching into WeasyPrint:

* The page-margin boxes (running header, "Page X of Y"): WeasyPrint makes structure elements for their
  content and links none into the tree. Their MCIDs are those the ParentTree lists and no element of
  the tree holds; careleaf.pdf.tagging marks them as pagination artifacts and rebuilds the ParentTree.
* The subset fonts' timestamps: on the fontTools path each subset font's ``head.modified`` is the time
  of the build (or SOURCE_DATE_EPOCH), so two builds of the same leaflet differ. careleaf.pdf.fontstamps
  sets it back to the font's ``head.created`` in the embedded font programs. Setting SOURCE_DATE_EPOCH
  for the render instead would change the environment of the whole process (another thread may be
  rendering, a child process would inherit it), and patching fontTools or WeasyPrint's use of it would be
  one more private part to rely on.

What WeasyPrint would need to offer for the ``weasyprint>=70,<71`` pin to go
---------------------------------------------------------------------------
* A supported way to see each structure element as it is made, with the box or HTML element it stands
  for (a callback option of ``write_pdf``, or a stable identifier of the source element written into the
  PDF, such as /ID or /T); better still, the tree written the way careleaf mends it: one element for an
  element split by a page break, margin boxes and aria-hidden content as artifacts, a th's scope as
  /Scope (rowgroup included).
* The laid-out pages as public API: a page's content area, and its boxes with their HTML element,
  position, margin height and computed style, documented as stable.
* A public way to tell (and choose) the font subsetter, and fontTools subsetting that does not stamp the
  time (``TTFont(recalcTimestamp=False)``).
With those this module keeps only public calls, and the pin can become ``weasyprint>=70``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Iterator

# note(structure element, HTML element, its tag): called once per structure element while careleaf writes.
Note = Callable[[dict, object, str], None]
# note_runs(page number, {MCID: words}): called once per page while careleaf writes, with the words each text
# run draws, as the HTML has them (logical order).
NoteRuns = Callable[[int, dict], None]

# The tag-tree builder's parameters, as the wrapper expects to find them.
BUILDER_PARAMETERS = ("box", "parent", "pdf", "page_number", "nums", "annotations", "tags")

# Every name of WeasyPrint's modules this module reaches for beyond the public API (see the notes above);
# tests/test_engine.py checks that each is still there. Page._page_box, set on each page, is checked on a
# laid-out document (missing_internals).
INTERNALS = {
    "weasyprint.pdf.tags": ("_build_box_tree",),
    "weasyprint.pdf.fonts": ("harfbuzz_subset",),
    "weasyprint.text.ffi": ("harfbuzz",),
    "weasyprint.formatting_structure.boxes": ("MarginBox", "LineBox", "ParentBox", "PageBox", "TextBox"),
}

# Boxes taken out of the normal flow, which neither fill a page nor break it.
_OUT_OF_FLOW = ("absolute", "fixed")
_KEPT_TOGETHER = ("avoid", "avoid-page")


# --- public API, in one place ---------------------------------------------------------------

def font_configuration():
    """A new WeasyPrint font configuration (the fonts @font-face rules load)."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def stylesheet(url: str, fonts, fetcher):
    """A parsed stylesheet, its fonts loaded into ``fonts`` and its files read through ``fetcher``."""
    from weasyprint import CSS

    return CSS(url=url, font_config=fonts, url_fetcher=fetcher)


def fetcher_classes() -> tuple[type, type]:
    """WeasyPrint's URL fetcher class, for careleaf's own to extend, and the response a fetch returns."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    return URLFetcher, URLFetcherResponse


def lay_out(html: str, *, base_url: str, fetcher, stylesheets: list, fonts, **options):
    """A leaflet's HTML laid out into pages (a WeasyPrint document), ready to be read and written."""
    from weasyprint import HTML

    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        stylesheets=stylesheets, font_config=fonts, **options)


# --- writing, with the tag tree noted -------------------------------------------------------

def write_pdf(document, *, note: Note | None = None, note_runs: NoteRuns | None = None, **options) -> bytes:
    """A laid-out document as PDF bytes; with ``note``, called once for each structure element WeasyPrint
    makes, with the HTML element it comes from, before the element is written (see the notes, 1); with
    ``note_runs``, once for each page with the words of each text run on it (the notes, 1)."""
    if note is None:
        return document.write_pdf(**options)
    token = _writing.set(_Writing(note, note_runs))
    try:
        with _HOOK.active():
            return document.write_pdf(**options)
    finally:
        _writing.reset(token)


@dataclass
class _Writing:
    note: Note
    note_runs: NoteRuns | None = None
    noted: set = field(default_factory=set)   # id() of the structure elements already noted (alive till written)


# The write under way in this thread (or task): the wrapper serves it, and passes through any other write.
_writing: ContextVar[_Writing | None] = ContextVar("careleaf_writing", default=None)


class _BuilderHook:
    """WeasyPrint's tag-tree builder wrapped while at least one careleaf write is under way, in any thread.

    The builder is a module global, so the wrapper is seen by every WeasyPrint write of the process while
    it is in place; it notes only for a write that set ``_writing``, and the last careleaf write to end
    puts the original back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._original = None

    @contextmanager
    def active(self) -> Iterator[None]:
        from weasyprint.pdf import tags

        with self._lock:
            if self._users == 0:
                self._original = _checked(tags._build_box_tree)
                tags._build_box_tree = _noting(self._original)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    tags._build_box_tree = self._original
                    self._original = None


_HOOK = _BuilderHook()


def builder_wrapped() -> bool:
    """Whether WeasyPrint's tag-tree builder is careleaf's wrapper at this moment (only while writing)."""
    from weasyprint.pdf import tags

    return getattr(tags._build_box_tree, "careleaf", False)


def _checked(builder):
    if tuple(inspect.signature(builder).parameters) != BUILDER_PARAMETERS:
        raise RuntimeError("weasyprint.pdf.tags._build_box_tree changed; careleaf's tagging needs WeasyPrint 70")
    return builder


def _noting(original):
    @functools.wraps(original)
    def build_box_tree(box, *arguments):
        writing = _writing.get()
        if writing is not None and writing.note_runs is not None and isinstance(box, _box_classes().PageBox):
            # The page's marked content, before the builder takes it: its text boxes hold the words in
            # logical order, which the PDF's glyphs (drawn in visual order, shaped) cannot give back.
            _, _, page_number, _, _, tags = arguments
            writing.note_runs(page_number, _runs(tags))
        for element in original(box, *arguments):
            writing = _writing.get()
            # The innermost box that yields an element made it; an element is yielded again by the page's,
            # html's and body's levels, which make none of their own.
            if writing is not None and box.element is not None and id(element) not in writing.noted:
                writing.noted.add(id(element))
                writing.note(element, box.element, box.element_tag)
            yield element

    build_box_tree.careleaf = True
    return build_box_tree


def _runs(tags: dict) -> dict:
    text_box = _box_classes().TextBox
    return {kid["mcid"]: box.text for box, kid in tags.items() if isinstance(box, text_box)}


# --- the laid-out pages ---------------------------------------------------------------------

@dataclass(frozen=True)
class LaidPage:
    """One laid-out page, in CSS pixels down from its top edge: its content area and the boxes in it."""

    top: float
    height: float
    boxes: tuple[LaidBox, ...]


class LaidBox:
    """One box of a laid-out page in the normal flow, as careleaf.pdf.pages measures it."""

    __slots__ = ("_box",)

    def __init__(self, box) -> None:
        self._box = box

    @property
    def element(self):
        """The HTML element the box is drawn for; None for a box no element stands behind."""
        box = self._box
        return box.element if box.element is not None and box.element_tag else None

    @property
    def top(self) -> float:
        return self._box.position_y

    @property
    def bottom(self) -> float:
        """The bottom of its margin box."""
        return self._box.position_y + self._box.margin_height()

    @property
    def kept_together(self) -> bool:
        """Whether it may not be broken across pages (break-inside: avoid)."""
        return self._box.style["break_inside"] in _KEPT_TOGETHER

    @property
    def leaf(self) -> bool:
        """A line, a picture or an empty box: what is measured as one piece."""
        boxes = _box_classes()
        box = self._box
        return isinstance(box, boxes.LineBox) or not isinstance(box, boxes.ParentBox) or not box.children

    @property
    def boxes(self) -> tuple[LaidBox, ...]:
        """The boxes inside it in the normal flow (none for a leaf)."""
        return () if self.leaf else _in_flow(self._box.children)


def laid_out(document) -> list[LaidPage]:
    """The pages of a laid-out document, with the boxes in the normal flow of each."""
    return [LaidPage(page._page_box.content_box_y(), page._page_box.height, _in_flow(page._page_box.children))
            for page in document.pages]


def html_root(document):
    """The HTML root element of a laid-out document (None when it has no page)."""
    return document.pages[0]._page_box.children[0].element if document.pages else None


def _in_flow(boxes) -> tuple[LaidBox, ...]:
    margin = _box_classes().MarginBox
    return tuple(LaidBox(box) for box in boxes
                 if not isinstance(box, margin) and box.style["position"] not in _OUT_OF_FLOW)


@functools.lru_cache(maxsize=None)
def _box_classes():
    from weasyprint.formatting_structure import boxes

    return boxes


# --- fonts --------------------------------------------------------------------------------

def uses_fast_subsetting() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (else with fontTools, slower, stamping the time)."""
    from weasyprint.pdf import fonts
    from weasyprint.text.ffi import harfbuzz

    return bool(fonts.harfbuzz_subset) and bool(harfbuzz.hb_version_atleast(4, 1, 0))


@contextmanager
def subsetting_with_fonttools() -> Iterator[None]:
    """WeasyPrint subsetting fonts with fontTools inside this block, as where HarfBuzz's subsetter is missing.

    For tests and measurements only: while it lasts it changes WeasyPrint for the whole process."""
    from weasyprint.pdf import fonts

    saved = fonts.harfbuzz_subset
    fonts.harfbuzz_subset = None
    try:
        yield
    finally:
        fonts.harfbuzz_subset = saved


# --- checks ---------------------------------------------------------------------------------

def missing_internals(document=None) -> list[str]:
    """What of WeasyPrint's internals careleaf relies on is not there as expected (empty when all is);
    with a laid-out ``document``, its pages are looked at too."""
    import importlib

    missing = [f"{module}.{name}" for module, names in INTERNALS.items()
               for name in names if not hasattr(importlib.import_module(module), name)]
    if not missing:
        builder = inspect.unwrap(importlib.import_module("weasyprint.pdf.tags")._build_box_tree)
        if tuple(inspect.signature(builder).parameters) != BUILDER_PARAMETERS:
            missing.append(f"_build_box_tree{BUILDER_PARAMETERS}")
        if "_build_box_tree" not in builder.__code__.co_names:
            missing.append("_build_box_tree calling itself by its global name")
        if not hasattr(importlib.import_module("weasyprint.text.ffi").harfbuzz, "hb_version_atleast"):
            missing.append("weasyprint.text.ffi.harfbuzz.hb_version_atleast")
    for page in document.pages if document is not None else ():
        box = getattr(page, "_page_box", None)
        if box is None or not all(hasattr(box, name) for name in ("children", "content_box_y", "height")):
            missing.append("Page._page_box (children, content_box_y, height)")
            break
    return missing
