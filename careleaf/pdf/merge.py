"""Merge tagged PDFs into one print-ready PDF that is still tagged.

A day's personalised leaflets are printed as one file. Appending pages alone
would keep what they show but drop what a screen reader reads: the structure
tree (headings, lists, tables, links, alternative text) and the language of
each leaflet. So each input's structure tree is carried over too, under one new
/Document element, with the keys that tie pages to the tree renumbered so that
no two inputs share one.

How the copying works: qpdf keeps, per source PDF, a map from the source's
objects to their copies. Pages are copied first; the structure tree copied
afterwards from the same open source therefore points (/Pg, /Obj, /Stm) at the
pages and annotations already copied rather than at new duplicates. The sources
stay open until the result is written, because qpdf reads copied streams lazily.
"""

from __future__ import annotations

import io
from contextlib import ExitStack
from typing import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from careleaf.pdf.structure import as_list, first_visit, top_elements, tree_items, walk

__all__ = ["merge_tagged"]


def merge_tagged(documents: list[bytes], *, title: str, lang: str) -> bytes:
    """One PDF holding every document's pages in order, with each document's tags (structure tree) kept."""
    if not documents:
        raise ValueError("there are no PDFs to merge: the list of documents is empty")
    out = pikepdf.new()
    document = out.make_indirect(Dictionary(Type=Name.StructElem, S=Name.Document, K=Array()))
    merged = _Merged()
    with ExitStack() as sources:
        for number, data in enumerate(documents, start=1):
            src = sources.enter_context(pikepdf.open(io.BytesIO(data)))
            _append(out, src, number, document, merged)
        _finish_structure(out, document, merged)
        _finish_catalog(out, merged.outline_entries, lang)
        _write_metadata(out, title, merged.ua_parts)
        buffer = io.BytesIO()
        # deterministic_id: the file identifier is a hash of the content, so the same inputs give the same bytes.
        out.save(buffer, deterministic_id=True, min_version=merged.version)
    return buffer.getvalue()


class _Merged:
    """What the inputs contribute to the result's structure tree, catalog and metadata, gathered in order."""

    def __init__(self) -> None:
        self.parent_tree: dict[int, pikepdf.Object] = {}
        self.next_key = 0  # the first ParentTree key the next input may use
        self.role_map: dict[str, pikepdf.Object] = {}
        self.class_map: dict[str, pikepdf.Object] = {}
        self.ids: dict[bytes, Dictionary] = {}
        self.outline_entries: list[Dictionary] = []
        self.ua_parts: list[str | None] = []
        self.version = "1.3"


# --- one input ----------------------------------------------------------------------------------

def _append(out: pikepdf.Pdf, src: pikepdf.Pdf, number: int, document: Dictionary, merged: _Merged) -> None:
    """Copy one input's pages, then its structure tree, into ``out``."""
    tree = src.Root.get("/StructTreeRoot")
    if not isinstance(tree, Dictionary):
        raise ValueError(f"document {number} is not a tagged PDF: it has no structure tree")
    # Named destinations live in the source's catalog, which is not copied: make them explicit first,
    # while the page objects they name are still the source's own, so they are copied with the pages.
    _make_destinations_explicit(src)
    first = len(out.pages)
    out.pages.extend(src.pages)
    pages = [out.pages[i].obj for i in range(first, len(out.pages))]

    # This input's ParentTree keys move up past those of the inputs before it.
    offset = merged.next_key
    used = _shift_struct_parents(pages, offset)
    tree = out.copy_foreign(tree)  # after the pages, so its /Pg and /Obj point at the copies
    merged.next_key = offset + max(used, _key_span(tree))
    for key, value in tree_items(tree.get("/ParentTree"), "/Nums"):
        merged.parent_tree[int(key) + offset] = value

    _adopt_top_elements(tree, src.Root.get("/Lang"), document)
    _merge_map(merged.role_map, tree.get("/RoleMap"), "RoleMap")
    _merge_map(merged.class_map, tree.get("/ClassMap"), "ClassMap")
    _make_ids_unique(tree, number, merged.ids)

    merged.outline_entries.append(_outline_entry(out, src, pages[0] if pages else None, number))
    merged.ua_parts.append(_ua_part(src))
    merged.version = max(merged.version, src.pdf_version, key=_version_key)


def _shift_struct_parents(pages: list[Dictionary], offset: int) -> int:
    """Add ``offset`` to every ParentTree key the copied pages hold; return one past the largest key seen.

    Keys are on pages (/StructParents), on annotations (/StructParent) and on form XObjects, which
    may be nested and shared between pages: each object is shifted once.
    """
    seen: set[tuple[int, int]] = set()
    end = 0
    for holder in _key_holders(pages):
        if not first_visit(holder, seen):
            continue
        for key in ("/StructParents", "/StructParent"):
            if key in holder:
                end = max(end, int(holder[key]) + 1)
                holder[key] = int(holder[key]) + offset
    return end


def _key_holders(pages: list[Dictionary]) -> Iterator[Dictionary]:
    """The pages, their annotations and the form XObjects their resources reach (depth first)."""
    visited: set[tuple[int, int]] = set()
    for page in pages:
        yield page
        for annot in as_list(page.get("/Annots")):
            if isinstance(annot, Dictionary):
                yield annot
        yield from _form_xobjects(page.get("/Resources"), visited)


def _form_xobjects(resources, visited: set[tuple[int, int]]) -> Iterator[pikepdf.Object]:
    if not isinstance(resources, Dictionary) or not isinstance(resources.get("/XObject"), Dictionary):
        return
    for xobject in resources.XObject.values():
        if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != Name.Form:
            continue
        if xobject.objgen in visited:  # shared, or a loop of forms drawing each other
            continue
        visited.add(xobject.objgen)
        yield xobject
        yield from _form_xobjects(xobject.get("/Resources"), visited)


def _key_span(tree: Dictionary) -> int:
    """One past the largest ParentTree key the input uses or reserves, so the next input starts above it."""
    keys = [int(key) for key, _ in tree_items(tree.get("/ParentTree"), "/Nums")]
    next_key = tree.get("/ParentTreeNextKey")
    return max([key + 1 for key in keys] + [int(next_key) if next_key is not None else 0])


def _adopt_top_elements(tree: Dictionary, lang, document: Dictionary) -> None:
    """Make the input's top-level elements children of the merged /Document, in the input's language.

    The input's language was on its catalog, which is not copied; set on its top-level elements it
    still applies to everything below them (an element's own /Lang wins). An input's own /Document
    element becomes a /Part: one document holds them all, and a /Document is only allowed at the root.
    """
    for element in top_elements(tree):   # anything else under the root is nothing a reader could reach
        element.P = document
        if element.S == Name.Document:
            element.S = Name.Part
        if lang is not None and "/Lang" not in element:
            element.Lang = String(bytes(lang))
        document.K.append(element)


def _merge_map(merged: dict[str, pikepdf.Object], source, what: str) -> None:
    """Add an input's RoleMap or ClassMap entries; the same name meaning two things cannot be merged."""
    if not isinstance(source, Dictionary):
        return
    for name, value in source.items():
        if name in merged and merged[name] != value:
            raise ValueError(f"the documents' {what}s disagree on {name}, so their tags cannot be merged")
        merged.setdefault(name, value)


def _make_ids_unique(tree: Dictionary, number: int, ids: dict[bytes, Dictionary]) -> None:
    """Prefix the input's element IDs with its number, as IDs may repeat across inputs.

    Table cells name their header cells by ID (/Headers), so those references are renamed too.
    """
    prefix = b"%d-" % number
    renamed: set[tuple[int, int]] = set()  # attribute objects may be shared between cells
    for element in walk(top_elements(tree)):
        if isinstance(element.get("/ID"), String):
            element.ID = String(prefix + bytes(element.ID))
            ids[bytes(element.ID)] = element
        attributes = element.get("/A")
        if attributes is None or not first_visit(attributes, renamed):
            continue
        for attribute in as_list(attributes):
            if isinstance(attribute, Dictionary) and isinstance(attribute.get("/Headers"), Array) \
                    and first_visit(attribute, renamed):
                attribute.Headers = Array([String(prefix + bytes(h)) if isinstance(h, String) else h
                                           for h in attribute.Headers])


def _make_destinations_explicit(src: pikepdf.Pdf) -> None:
    """Replace named destinations in the source's links and bookmarks by the page positions they name."""
    named = _named_destinations(src)
    if not named:
        return
    holders = [annot for page in src.pages for annot in as_list(page.obj.get("/Annots"))
               if isinstance(annot, Dictionary)]
    outlines = src.Root.get("/Outlines")
    if isinstance(outlines, Dictionary):
        holders += list(_outline_items(outlines.get("/First")))
    for holder in holders:
        action = holder.get("/A")
        if isinstance(action, Dictionary) and action.get("/S") == Name.GoTo:
            holder, key = action, "/D"
        else:
            key = "/Dest"
        target = named.get(_destination_name(holder.get(key)))
        if target is not None:
            holder[key] = target


def _named_destinations(src: pikepdf.Pdf) -> dict[bytes, pikepdf.Object]:
    """Every named destination of the source, by name: the PDF 1.2 name tree and the PDF 1.1 /Dests dict."""
    named: dict[bytes, pikepdf.Object] = {}
    names = src.Root.get("/Names")
    if isinstance(names, Dictionary):
        for key, value in tree_items(names.get("/Dests"), "/Names"):
            named[bytes(key)] = value
    old = src.Root.get("/Dests")
    if isinstance(old, Dictionary):
        for key, value in old.items():
            named[key[1:].encode()] = value
    # A named destination may be a dictionary whose /D is the destination itself.
    return {key: value.get("/D") if isinstance(value, Dictionary) else value for key, value in named.items()}


def _destination_name(destination) -> bytes | None:
    if isinstance(destination, String):
        return bytes(destination)
    if isinstance(destination, Name):
        return str(destination)[1:].encode()
    return None


def _outline_entry(out: pikepdf.Pdf, src: pikepdf.Pdf, first_page, number: int) -> Dictionary:
    """A bookmark for the input, going to its first page, holding the input's own bookmarks."""
    label = str(src.docinfo.get("/Title", "")).strip() or f"Document {number}"
    entry = out.make_indirect(Dictionary(Title=String(label)))
    if first_page is not None:
        entry.Dest = Array([first_page, Name.Fit])
    outlines = src.Root.get("/Outlines")
    if isinstance(outlines, Dictionary) and isinstance(outlines.get("/First"), Dictionary):
        copied = out.copy_foreign(outlines)
        entry.First, entry.Last = copied.First, copied.Last
        entry.Count = _adopt_children(entry, copied.First)
    return entry


def _ua_part(src: pikepdf.Pdf) -> str | None:
    """The PDF/UA part the input declares in its XMP metadata, if any."""
    if "/Metadata" not in src.Root:
        return None
    part = src.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False).get("pdfuaid:part")
    return str(part).strip() if part else None


# --- the result ---------------------------------------------------------------------------------

def _finish_structure(out: pikepdf.Pdf, document: Dictionary, merged: _Merged) -> None:
    """The result's structure tree: one /Document over all inputs and a flat ParentTree."""
    nums = Array()
    for key in sorted(merged.parent_tree):
        nums.append(key)
        nums.append(merged.parent_tree[key])
    root = out.make_indirect(Dictionary(
        Type=Name.StructTreeRoot,
        K=Array([document]),
        ParentTree=out.make_indirect(Dictionary(Nums=nums)),
        ParentTreeNextKey=merged.next_key,
    ))
    document.P = root
    if merged.role_map:
        root.RoleMap = Dictionary(merged.role_map)
    if merged.class_map:
        root.ClassMap = Dictionary(merged.class_map)
    if merged.ids:
        # A name tree's keys must be sorted; one flat leaf is enough for the few IDs a leaflet has.
        root.IDTree = Dictionary(Names=Array([item for key in sorted(merged.ids)
                                              for item in (String(key), merged.ids[key])]))
    out.Root.StructTreeRoot = root


def _finish_catalog(out: pikepdf.Pdf, entries: list[Dictionary], lang: str) -> None:
    out.Root.Lang = String(lang)
    out.Root.MarkInfo = Dictionary(Marked=True)
    # PDF/UA: a reader's title bar shows the document's title, not its file name.
    out.Root.ViewerPreferences = Dictionary(DisplayDocTitle=True)
    outlines = out.make_indirect(Dictionary(Type=Name.Outlines))
    _link_siblings(outlines, entries)
    outlines.Count = sum(1 + max(int(entry.get("/Count", 0)), 0) for entry in entries)
    out.Root.Outlines = outlines


def _write_metadata(out: pikepdf.Pdf, title: str, ua_parts: list[str | None]) -> None:
    """The merged title in XMP and the Info dictionary; nothing else from the inputs.

    PDF/UA identification is kept only when every input declared the same part: a result made
    partly of unchecked documents must not claim conformance.
    """
    # set_pikepdf_as_editor=False: no producer and no modification date, which would change every run.
    with out.open_metadata(set_pikepdf_as_editor=False, update_docinfo=True) as meta:
        meta["dc:title"] = title
        if ua_parts[0] is not None and len(set(ua_parts)) == 1:
            meta["pdfuaid:part"] = ua_parts[0]


# --- outlines -----------------------------------------------------------------------------------

def _adopt_children(parent: Dictionary, first) -> int:
    """Point the chain of bookmarks starting at ``first`` to ``parent``; return how many are visible when open."""
    visible = 0
    for item in _chain(first):
        item.Parent = parent
        visible += 1 + max(int(item.get("/Count", 0)), 0)
    return visible


def _link_siblings(parent: Dictionary, items: list[Dictionary]) -> None:
    for i, item in enumerate(items):
        item.Parent = parent
        if i:
            item.Prev = items[i - 1]
        if i + 1 < len(items):
            item.Next = items[i + 1]
    if items:
        parent.First, parent.Last = items[0], items[-1]


def _outline_items(first) -> Iterator[Dictionary]:
    """Every bookmark from ``first`` down, depth first."""
    for item in _chain(first):
        yield item
        yield from _outline_items(item.get("/First"))


def _chain(first) -> Iterator[Dictionary]:
    """``first`` and its /Next siblings, stopping at a loop."""
    seen: set[tuple[int, int]] = set()
    item = first
    while isinstance(item, Dictionary) and first_visit(item, seen):
        yield item
        item = item.get("/Next")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
