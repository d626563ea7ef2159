"""How a leaflet sits on paper: how full each page is, and whether it keeps to its page budget.

A clinic prints hundreds of copies, so a leaflet that spills onto a fifth page, or ends on
a page holding only its contact box, wastes paper and reads as careless. The budget is
counted in standard-print pages on A4 or Letter; large print may take twice as many, and
an A5 page holds about half of an A4 one, so A5 counts double too (an aftercare leaflet of
2 A4 pages is one folded A4 sheet, 4 A5 pages, in either form).
"""

from __future__ import annotations

from dataclasses import dataclass

from careleaf.pdf.engine import LaidBox, LaidPage, laid_out

LAST_PAGE_MIN_FILL = 0.25
# What a block carries with it when measured at the top of a page (the margins above and below it there,
# the space for its first line's leading): a block this much smaller than the gap still may not fit.
FIT_SLACK = 0.05


def budget_for(kind: str, *, large_print: bool, page_size: str, budgets: dict[str, int] | None = None) -> int:
    """The most pages a leaflet of this kind should take in this print size and page size.

    ``budgets`` is check.yaml's page_budget (pages at standard print on A4 or Letter); a kind it does not
    name keeps the default.
    """
    from careleaf.content.model import CheckSettings

    pages = {**CheckSettings().page_budget, **(budgets or {})}[kind]
    return pages * (2 if large_print else 1) * (2 if page_size == "A5" else 1)


@dataclass(frozen=True)
class PageFacts:
    """How one leaflet sits on paper: how full each page is (the share of its text area down to its
    last line, 0 to 1), and where it breaks the layout rules (layout_problems)."""

    fills: tuple[float, ...]
    problems: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.fills)


def page_facts(document) -> PageFacts:
    """The page facts of a rendered WeasyPrint document."""
    pages = laid_out(document)
    pieces = [piece for number, page in enumerate(pages, 1) for piece in _pieces(page.boxes, number)]
    fills = tuple(round(_fill(page, [p for p in pieces if p.page == number]), 3)
                  for number, page in enumerate(pages, 1))
    return PageFacts(fills, tuple(layout_problems(pages, pieces, fills)))


def _fill(page: LaidPage, pieces: list[Piece]) -> float:
    """The share of a page's text area down to its lowest line or picture in the normal flow."""
    bottom = max((piece.bottom for piece in pieces), default=page.top)
    return max(0.0, min(1.0, (bottom - page.top) / (page.height or 1)))


def budget_warnings(name: str, kind: str, facts: PageFacts, *, large_print: bool, page_size: str,
                    budgets: dict[str, int] | None = None) -> list[str]:
    """What the person running the build should know about a leaflet's length and layout, in plain words."""
    warnings = [f"{name}: {problem}" for problem in facts.problems]
    budget = budget_for(kind, large_print=large_print, page_size=page_size, budgets=budgets)
    if facts.count > budget:
        article = "an" if kind[:1] in "aeiou" else "a"
        warnings.append(f"{name}: {facts.count} pages, more than the {budget} {article} {kind} leaflet should take "
                        f"(check.yaml: page_budget)")
    if facts.count > 1 and facts.fills[-1] < LAST_PAGE_MIN_FILL:
        warnings.append(f"{name}: the last page is only {facts.fills[-1]:.0%} full; shorten the leaflet "
                        f"or move a box so that it ends on a fuller page")
    return warnings


# --- layout rules a printed leaflet keeps ---------------------------------------------------

HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


@dataclass(frozen=True)
class Piece:
    """One printed line or picture: where it is, and the HTML elements it sits in (outermost first)."""

    page: int
    top: float
    bottom: float
    elements: tuple
    kept: tuple[float, float] | None = None   # the top and bottom edges (margins included) of the outermost
                                              # box it is in that may not break inside (break-inside: avoid)

    def inside(self, tag: str, class_name: str | None = None) -> bool:
        return any(element.tag == tag and (class_name is None or class_name in (element.get("class") or "").split())
                   for element in self.elements)


def layout_problems(pages: list[LaidPage], pieces: list[Piece], fills: tuple[float, ...]) -> list[str]:
    """Where a rendered leaflet breaks the print rules: a heading ending a page, the timeline picture
    apart from its table, a page left less than half full when what follows would have fitted, or a last page
    holding nothing but the contact box."""
    return (_headings_ending_pages(pieces) + _picture_apart_from_table(pieces)
            + _half_empty_pages(pages, pieces, fills) + _only_the_contact_box(pieces))


def _pieces(boxes: tuple[LaidBox, ...], number: int, elements: tuple = (), kept: tuple[float, float] | None = None):
    """The lines and pictures of a page's boxes in the normal flow, in order."""
    for box in boxes:
        element = box.element
        inner = elements + ((element,) if element is not None and (not elements or elements[-1] is not element)
                            else ())
        box_kept = (box.top, box.bottom) if box.kept_together and kept is None else kept
        if box.leaf:
            yield Piece(number, box.top, box.bottom, inner, box_kept)
        else:
            yield from _pieces(box.boxes, number, inner, box_kept)


def _last_on_each_page(pieces: list[Piece]) -> list[Piece]:
    last: dict[int, Piece] = {}
    for piece in pieces:
        last[piece.page] = piece
    return [last[page] for page in sorted(last)][:-1]


def _headings_ending_pages(pieces: list[Piece]) -> list[str]:
    return [f"page {piece.page} ends with a heading" for piece in _last_on_each_page(pieces)
            if _is_heading(piece)]


def _picture_apart_from_table(pieces: list[Piece]) -> list[str]:
    picture = {piece.page for piece in pieces if piece.inside("figure", "timeline-picture")}
    table = {piece.page for piece in pieces if piece.inside("table", "milestones")}
    # A table too long to finish on the picture's page may run on; it must at least start there.
    if picture and table and not picture & table:
        return [f"the timeline picture (page {min(picture)}) and its table (page {min(table)}) are on different pages"]
    return []


def _only_the_contact_box(pieces: list[Piece]) -> list[str]:
    """A last page with the contact box alone on it: a sheet of paper for a phone number, however full it is."""
    last = max((piece.page for piece in pieces), default=1)
    on_last = [piece for piece in pieces if piece.page == last]
    if last > 1 and on_last and all(piece.inside("section", "contact") for piece in on_last):
        return [f"page {last}, the last, holds only the contact box; shorten the leaflet, or list 'contact' "
                "earlier among its contents so that it shares a page"]
    return []


def _half_empty_pages(pages: list[LaidPage], pieces: list[Piece], fills: tuple[float, ...]) -> list[str]:
    problems = []
    for page_number, (page, fill) in enumerate(zip(pages[:-1], fills), 1):
        following = [piece for piece in pieces if piece.page == page_number + 1]
        if fill >= 0.5 or not following:
            continue
        needed = _unbreakable_height(following)
        if needed < (1 - fill - FIT_SLACK) * page.height:
            problems.append(f"page {page_number} is only {fill:.0%} full, though what starts page "
                            f"{page_number + 1} would have fitted")
    return problems


def _unbreakable_height(following: list[Piece]) -> float:
    """The height of the first thing on a page that may not be split: a kept-together box or one line,
    with the headings above it (a heading is never left at the foot of a page)."""
    index = 0
    while index + 1 < len(following) and _is_heading(following[index]):
        index += 1
    first = following[index]
    top = min(following[0].top, first.kept[0]) if first.kept else following[0].top
    if first.kept:
        return first.kept[1] - top
    # A paragraph starts a page with at least two lines (the stylesheet's orphans).
    second = following[index + 1] if index + 1 < len(following) else None
    same_paragraph = second is not None and second.elements[-1:] == first.elements[-1:]
    return (second.bottom if same_paragraph else first.bottom) - top


def _is_heading(piece: Piece) -> bool:
    return any(piece.inside(tag) for tag in HEADINGS) or piece.inside("tr", "group")
