"""Drawing order that follows reading order: each page's tagged content drawn in the order the tags read it.

A screen reader follows the tag tree, but a viewer's copy, search highlighting, reflow and read-aloud follow
the order in which a page draws its text. WeasyPrint draws in CSS painting order: a list's bullets (its
outside markers are positioned boxes) and a positioned block (the timeline's picture) after the rest of the
page's flow, so "• Stay upright" is copied as "Stay upright" ... "•" and the timeline's picture comes after
the table below it.

``follow_reading_order`` moves each piece of marked content drawn out of place to just before the piece it is
read before (the fewest moves: the pieces already in order stay). A moved piece keeps exactly how it was
drawn: it is wrapped in its own graphics state with the clips, transformation, fill colour and
graphics-state parameters it had where it was, so the page looks the same (the tests compare the pixels). A
piece is moved only to a place with no clip, and only when it leaves neither a clip nor an unbalanced
graphics state behind it; otherwise it stays, and ``careleaf audit`` reports the difference.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

import pikepdf
from pikepdf import Dictionary, Matrix, Operator

_FILL = ("cs", "sc", "scn", "g", "rg", "k")
_CLIP = ("W", "W*")
_PATH = ("m", "l", "c", "v", "y", "h", "re")
_PAINT = ("S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n")


@dataclass(frozen=True)
class _State:
    ctm: Matrix = field(default_factory=Matrix)
    colour: tuple = ()        # the fill colour space and colour operations in effect
    parameters: tuple = ()    # the gs operations in effect
    clips: tuple = ()         # the clips in effect: (the transformation then, the path and W n)

    @property
    def clipped(self) -> bool:
        return bool(self.clips)


@dataclass
class _Piece:
    mcid: int
    start: int
    end: int          # index of its EMC
    state: _State
    movable: bool


def follow_reading_order(pdf: pikepdf.Pdf, reading: dict[int, list[int]]) -> int:
    """Redraw each page's marked content in the order of ``reading`` ({page number: MCIDs in reading order});
    how many pieces were moved."""
    moved = 0
    for number, page in enumerate(pdf.pages):
        order = reading.get(number)
        if order:
            moved += _reorder_page(pdf, page, order)
    return moved


def out_of_order(drawn: list[int], read: list[int]) -> list[int]:
    """The MCIDs of ``read`` (reading order) that are not drawn in order: the fewest that would have to move."""
    rank = {mcid: index for index, mcid in enumerate(drawn)}
    sequence = [mcid for mcid in read if mcid in rank]
    return [sequence[index] for index in _outside_longest_run([rank[mcid] for mcid in sequence])]


def _outside_longest_run(values: list[int]) -> list[int]:
    """Indexes of values not in one longest increasing subsequence."""
    tails, tail_index, previous = [], [], [-1] * len(values)
    for index, value in enumerate(values):
        at = bisect.bisect_left(tails, value)
        if at:
            previous[index] = tail_index[at - 1]
        if at == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[at], tail_index[at] = value, index
    kept, index = set(), tail_index[-1] if tail_index else -1
    while index != -1:
        kept.add(index)
        index = previous[index]
    return [index for index in range(len(values)) if index not in kept]


def _reorder_page(pdf: pikepdf.Pdf, page: pikepdf.Page, order: list[int]) -> int:
    instructions = list(pikepdf.parse_content_stream(page))
    pieces, states = _pieces(instructions)
    drawn = [piece.mcid for piece in sorted(pieces.values(), key=lambda piece: piece.start)]
    late = set(out_of_order(drawn, order))
    if not late:
        return 0
    staying = [mcid for mcid in order if mcid in pieces and mcid not in late]
    inserts: dict[int, list] = {}
    moving = set()
    for at, mcid in enumerate(order):
        piece = pieces.get(mcid)
        if mcid not in late or piece is None or not piece.movable:
            continue
        target = _place(order, at, staying, pieces)
        if target is None or states[target].clipped:
            continue
        inserts.setdefault(target, []).append(_wrapped(instructions, piece, states[target]))
        moving.add(mcid)
    if not moving:
        return 0
    skipped = {index for mcid in moving for index in range(pieces[mcid].start, pieces[mcid].end + 1)}
    out = []
    for index, instruction in enumerate(instructions + [None]):
        for block in inserts.get(index, []):
            out += block
        if instruction is not None and index not in skipped:
            out.append(instruction)
    page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(out))
    return len(moving)


def _place(order: list[int], at: int, staying: list[int], pieces: dict) -> int | None:
    """Where a late piece goes: before the next piece read after it that stays, else after the last before it."""
    after = next((mcid for mcid in order[at + 1:] if mcid in staying), None)
    if after is not None:
        return pieces[after].start
    before = next((mcid for mcid in reversed(order[:at]) if mcid in staying), None)
    return pieces[before].end + 1 if before is not None else None


def _wrapped(instructions: list, piece: _Piece, there: _State) -> list:
    """A piece's instructions in a graphics state of its own, as it was drawn where it came from."""
    here = piece.state
    block, ctm = [_op("q")], there.ctm
    for clip_ctm, path in here.clips:
        block += [_cm(clip_ctm @ ctm.inverse()), *path]
        ctm = clip_ctm
    block += [_cm(here.ctm @ ctm.inverse()), *here.colour, *here.parameters]
    return block + [*instructions[piece.start:piece.end + 1], _op("Q")]


def _cm(matrix: Matrix) -> pikepdf.ContentStreamInstruction:
    return pikepdf.ContentStreamInstruction(list(matrix.shorthand), Operator("cm"))


def _op(name: str) -> pikepdf.ContentStreamInstruction:
    return pikepdf.ContentStreamInstruction([], Operator(name))


def _pieces(instructions: list) -> tuple[dict[int, _Piece], list[_State]]:
    """Each top-level piece of tagged marked content (by MCID), and the graphics state before each instruction."""
    stack, state, states = [], _State(), []
    pieces: dict[int, _Piece] = {}
    open_piece, depth, balance, clips, path = None, 0, 0, False, []
    for index, instruction in enumerate(instructions):
        states.append(state)
        operator, operands = str(instruction.operator), instruction.operands
        if operator == "q":
            stack.append(state)
            balance += 1
        elif operator == "Q" and stack:
            state = stack.pop()
            balance -= 1
        elif operator == "cm":
            state = replace(state, ctm=Matrix(*[float(value) for value in operands]) @ state.ctm)
        elif operator in _FILL:
            # sc and scn set a colour in the colour space cs chose; the others set both at once.
            space = tuple(op for op in state.colour if str(op.operator) == "cs") if operator in ("sc", "scn") else ()
            state = replace(state, colour=space + (instruction,))
        elif operator == "gs":
            state = replace(state, parameters=state.parameters + (instruction,))
        elif operator in _PATH:
            path.append(instruction)
        elif operator in _CLIP:
            state = replace(state, clips=state.clips + ((state.ctm, (*path, instruction, _op("n"))),))
            clips = clips or balance == 0     # a clip the piece leaves in force after it (not inside its own q Q)
        elif operator in _PAINT:
            path = []
        if operator in ("BDC", "BMC"):
            if depth == 0 and operator == "BDC" and isinstance(operands[1], Dictionary) and "/MCID" in operands[1]:
                open_piece, balance, clips = (int(operands[1].MCID), index, states[index]), 0, False
            depth += 1
        elif operator == "EMC" and depth:
            depth -= 1
            if depth == 0 and open_piece is not None:
                mcid, start, before = open_piece
                pieces[mcid] = _Piece(mcid, start, index, before, balance == 0 and not clips)
                open_piece = None
    states.append(state)   # after the last instruction
    return pieces, states
