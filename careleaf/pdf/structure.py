"""The tag tree of a PDF, read with pikepdf: the few helpers the audit, the repair and the merge all walk it with.

A tagged PDF's structure tree is a tree of structure elements (/StructElem, with a type /S such as /P or
/Table) under the catalog's /StructTreeRoot. An element's /K holds its kids in reading order: other
elements, marked content on a page (an MCID, a plain integer, on the element's page /Pg; or an /MCR
dictionary naming its own page) and annotations (/OBJR). The ParentTree maps the other way, from a page's
MCIDs (and an annotation's key) back to the elements holding them.

These helpers read what any PDF holds, so they guard against loops and shared objects (a merged or
hand-made PDF may have either).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name


def as_list(value) -> list:
    """A PDF value that may be one item or an array of them, as a list."""
    if value is None:
        return []
    if isinstance(value, Array):
        return list(value)
    return [value]


def kids(holder) -> list:
    """An element's /K as a list, whichever of its allowed forms it takes."""
    return as_list(holder.get("/K"))


def is_element(kid) -> bool:
    """Whether a kid is a structure element (not an MCID, an /MCR or an /OBJR)."""
    return isinstance(kid, Dictionary) and "/S" in kid and kid.get("/Type", Name.StructElem) == "/StructElem"


def role(element) -> str:
    """A structure element's type, '/P' or '/Table'."""
    return str(element.get("/S", ""))


def element_kids(element) -> list:
    """The kids of an element that are elements themselves."""
    return [kid for kid in kids(element) if is_element(kid)]


def top_elements(root) -> list:
    """The elements directly under a /StructTreeRoot (None or a missing root has none)."""
    return [] if root is None else element_kids(root)


def walk(elements: Iterable) -> Iterator:
    """Every element from ``elements`` down, each before its kids, in reading order; each once."""
    seen: set[tuple[int, int]] = set()
    stack = list(reversed(list(elements)))
    while stack:
        element = stack.pop()
        if not is_element(element) or not first_visit(element, seen):
            continue
        yield element
        stack.extend(reversed(element_kids(element)))


def page_numbers(pdf: pikepdf.Pdf) -> dict[tuple[int, int], int]:
    """Each page object's number (counted from 0), by the page's object identity."""
    return {page.obj.objgen: number for number, page in enumerate(pdf.pages)}


def page_of(holder, pages: dict[tuple[int, int], int], inherited: int | None) -> int | None:
    """The page an element or an /MCR is on: its own /Pg, else the one it inherits from its parent."""
    page = holder.get("/Pg")
    return inherited if page is None else pages.get(page.objgen, inherited)


def marked(kid, pages: dict[tuple[int, int], int], page: int | None) -> tuple[int | None, int] | None:
    """The (page, MCID) of a kid that is marked content (an MCID on ``page``, the element's, or an /MCR);
    None for an element or an annotation. The page is None when nothing names one."""
    if isinstance(kid, int):
        return page, kid
    if isinstance(kid, Dictionary) and kid.get("/Type") == "/MCR":
        return page_of(kid, pages, page), int(kid.MCID)
    return None


def content(element, pages: dict[tuple[int, int], int], inherited: int | None = None) -> Iterator[tuple]:
    """Every (page, MCID) an element holds, itself or through its descendants, in reading order."""
    page = page_of(element, pages, inherited)
    for kid in kids(element):
        if is_element(kid):
            yield from content(kid, pages, page)
        elif (found := marked(kid, pages, page)) is not None:
            yield found


def tree_items(node, kind: str = "/Nums") -> Iterator[tuple[pikepdf.Object, pikepdf.Object]]:
    """The (key, value) pairs of a number tree (kind "/Nums") or name tree ("/Names"), nested /Kids flattened."""
    seen: set[tuple[int, int]] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if not isinstance(node, Dictionary) or not first_visit(node, seen):
            continue
        pairs = as_list(node.get(kind))
        for i in range(0, len(pairs) - 1, 2):
            yield pairs[i], pairs[i + 1]
        stack.extend(reversed(as_list(node.get("/Kids"))))


def first_visit(obj: pikepdf.Object, seen: set[tuple[int, int]]) -> bool:
    """False when an indirect object was met before (shared or in a loop); direct objects are always new."""
    if not obj.is_indirect:
        return True
    if obj.objgen in seen:
        return False
    seen.add(obj.objgen)
    return True
