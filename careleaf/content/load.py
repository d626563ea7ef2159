"""Stage 1: read a YAML file into plain data, remembering where every value stood.

The people who edit these files are not programmers, so the reader is strict in
the ways that protect them:

* every scalar stays a string (``no``, ``on``, ``10:30`` and ``012`` are never
  turned into booleans or numbers here; the schema decides what a field means);
* a key written twice is an error naming both lines;
* anchors and aliases (``&x`` / ``*x``) are refused, which also rules out
  "billion laughs" documents;
* a '#' after a value, which YAML reads as the start of a comment, is refused:
  it would silently cut ``Is it #1?`` to ``Is it`` or empty ``primary: #0b5563``;
* a '!' at the start of a value (a YAML tag) is refused, as it would silently
  drop the word it is attached to;
* tabs, invisible control characters, files that are not UTF-8, empty files,
  very large or very deeply nested files get a plain message instead of a
  parser's jargon, and the usual slips behind a parser error (no space after
  ':', an apostrophe inside '…', Word's curly quotes and bullets) are named
  (``yaml_errors.py``).

Word-processor habits that are harmless are accepted: a byte-order mark,
Windows line endings, and non-breaking spaces where YAML expects a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from careleaf.content import yaml_errors
from careleaf.errors import Problem, display_path
from careleaf.project import Refused, own_folders, read_regular

MAX_FILE_BYTES = 1_000_000               # the default of careleaf.yaml's limits.wording_bytes
LIMIT_SETTING = "limits.wording_bytes"
MAX_DEPTH = 12

KeyPath = tuple  # ("sections", "what-is-it", "answer") or ("timeline", 0, "id")


@dataclass
class Document:
    """A YAML file's data, with the line and column of every value and key."""

    path: Path
    data: Any
    value_at: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    key_at: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def problem(self, where: KeyPath, message: str, *, at_key: bool = False) -> Problem:
        """A problem located at a value (or its key), falling back to the nearest parent."""
        return self.origin(()).problem(message, *where, at_key=at_key)

    def origin(self, where: KeyPath) -> Origin:
        """Where the value at ``where`` was written; it shares this file's table of positions."""
        return Origin(self.path, tuple(where), self.value_at, self.key_at)


@dataclass(frozen=True)
class Origin:
    """Where a loaded value was written: its file, its key path, and the positions of its parts.

    Every model object read from a file carries one (see ``validate.origin``), so
    code that reports on an object finds its line without rebuilding key paths.
    """

    path: Path
    where: KeyPath
    value_at: dict[KeyPath, tuple[int, int]] = field(repr=False, compare=False)
    key_at: dict[KeyPath, tuple[int, int]] = field(repr=False, compare=False)

    def problem(self, message: str, *part: Any, at_key: bool = False) -> Problem:
        """A problem at a part of this value (or its key), falling back to the nearest parent."""
        table = self.key_at if at_key else self.value_at
        probe = self.where + part
        while probe and probe not in table and probe not in self.value_at:
            probe = probe[:-1]
        line, column = table.get(probe) or self.value_at.get(probe, (1, 1))
        return Problem(self.path, line, column, message)

    def line(self, *part: Any, at_key: bool = False) -> int:
        return self.problem("", *part, at_key=at_key).line

    def place(self, *part: Any, at_key: bool = False) -> str:
        """'path:line', as editors' tools and the sign-off sheet show it."""
        found = self.problem("", *part, at_key=at_key)
        return f"{display_path(found.path)}:{found.line}"


class LoadError(Exception):
    """A file could not be read as YAML; carries one located problem."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load(path: Path, *, limit: int = MAX_FILE_BYTES) -> Document:
    """Read and parse one YAML file of the project's own (or careleaf's theme), of at most ``limit`` bytes.
    Raises LoadError with a plain message."""
    raw = _read_bytes(path, limit)
    text = _decode(path, raw)
    _refuse_control_characters(path, text)
    _refuse_tabs(path, text)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise LoadError(yaml_errors.explain(path, error, text.splitlines())) from None
    except yaml.YAMLError as error:  # the checks above should leave none of these; never show a traceback
        raise LoadError(Problem(path, 1, 1, f"this file cannot be read as YAML ({error})")) from None
    finally:
        loader.dispose()
    if node is None:
        raise LoadError(Problem(path, 1, 1, "this file is empty; it needs at least one 'key: value' line"))
    document = Document(path, None)
    document.data = _to_python(document, node, ())
    return document


def _read_bytes(path: Path, limit: int) -> bytes:
    try:
        return read_regular(path, within=own_folders(path), limit=limit, setting=LIMIT_SETTING)
    except Refused as refused:
        raise LoadError(Problem(path, 1, 1, refused.reason)) from None


def _decode(path: Path, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(Problem(path, line, column,
                                f"this file is not saved as UTF-8 text (byte 0x{raw[error.start]:02x} here). "
                                "Save it again choosing the encoding 'UTF-8'")) from None
    text = text.removeprefix("\ufeff")
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise LoadError(Problem(path, 1, 1, "this file is empty; it needs at least one 'key: value' line"))
    return _normalise_word_spaces(text)


# Indentation, list dashes and the space after a key's ':' at the start of a line.
# A non-breaking space anywhere else is wording ("10\u00a0mg", "Note:\u00a0call us")
# and is kept: turning it into a space could even make a ':' inside text look like a key.
_NBSP_IN_STRUCTURE = re.compile(r"^(?:[ \u00a0]*-(?=[ \u00a0]))*[ \u00a0]*(?:[A-Za-z0-9_-]+:[ \u00a0])?",
                                re.MULTILINE)


def _normalise_word_spaces(text: str) -> str:
    """Non-breaking spaces pasted from Word where YAML needs a plain space."""
    return _NBSP_IN_STRUCTURE.sub(lambda m: m.group(0).replace("\u00a0", " "), text)


# What the YAML reader refuses (YAML 1.1 "printable" characters), found here so
# the editor is told where it is rather than being shown a parser exception.
_CONTROL = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL_NAMES = {"\x0b": "a line break from Word (Shift+Enter)", "\x0c": "a page break",
                  "\x00": "an empty (NUL) character"}


def _refuse_control_characters(path: Path, text: str) -> None:
    found = _CONTROL.search(text)
    if found:
        line, column = _position(text, found.start())
        what = _CONTROL_NAMES.get(found.group(), f"an invisible control character (U+{ord(found.group()):04X})")
        raise LoadError(Problem(path, line, column,
                                f"there is {what} here, which cannot be printed. Delete it; if it came with "
                                "text copied from another program, retype that part"))


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character, counting lines as YAML does."""
    before = text[:index]
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return len(re.findall(r"\r\n|\r|\n", before)) + 1, index - line_start + 1


def _refuse_tabs(path: Path, text: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent]:
            column = line.index("\t") + 1
            raise LoadError(Problem(path, number, column,
                                    "this line is indented with a tab; YAML needs spaces. Replace the tab with spaces"))


class _StrictLoader(yaml.SafeLoader):
    """A composer that refuses what would surprise an editor; construction is done by us."""

    def __init__(self, text: str):
        super().__init__(text)
        self.lines = text.splitlines()
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(problem="anchors and aliases are not supported",
                                       problem_mark=event.start_mark)
        if getattr(event, "tag", None):
            raise yaml.MarkedYAMLError(problem="tags are not supported", problem_mark=event.start_mark)
        if isinstance(event, ScalarEvent) and event.style is None:
            self._refuse_comment_after(event)
        # Checked while composing, so even '[[[[…' thousands deep stops here, at its place.
        # A key sits at its mapping's depth: only values and list items go deeper.
        is_key = isinstance(parent, MappingNode) and index is None
        if self.depth > MAX_DEPTH and not is_key:
            raise yaml.MarkedYAMLError(problem="nested too deeply", problem_mark=event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _refuse_comment_after(self, event: ScalarEvent) -> None:
        """Unquoted text followed by ' #' on its line: YAML drops the rest as a comment."""
        end = event.end_mark
        rest = self.lines[end.line][end.column:] if end.line < len(self.lines) else ""
        if re.match(r"[ \t]+#", rest):
            problem = "comment after a value" if event.value else "comment where a value belongs"
            mark = _ColumnMark(end.line, end.column + rest.index("#"))
            raise yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


@dataclass
class _ColumnMark:
    """A place in the file, for problems found by us rather than by the parser."""

    line: int
    column: int


def _to_python(doc: Document, node: Node, where: KeyPath) -> Any:
    doc.value_at[where] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        return [_to_python(doc, item, where + (i,)) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        return _mapping(doc, node, where)
    raise LoadError(doc.problem(where, "this value cannot be read"))  # pragma: no cover - composer makes only these


def _scalar(node: ScalarNode) -> str | None:
    """Plain empty, '~' and 'null' mean "no value"; everything else stays text."""
    if node.style is None and node.value in ("", "~", "null", "Null", "NULL"):
        return None
    return node.value


def _mapping(doc: Document, node: MappingNode, where: KeyPath) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.value in ("", None):
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            raise LoadError(Problem(doc.path, line, column, "a key must be a single word or phrase"))
        key = key_node.value
        child = where + (key,)
        if key in result:
            first_line = doc.key_at[child][0]
            raise LoadError(Problem(doc.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                    f"'{key}' appears twice in the same place (lines {first_line} and "
                                    f"{key_node.start_mark.line + 1}); keep one of them"))
        doc.key_at[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        result[key] = _to_python(doc, value_node, child)
    return result
