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
  ':', an apostrophe inside '…', Word's curly quotes and bullets) are named.

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

from careleaf.errors import Problem, display_path

MAX_FILE_BYTES = 1_000_000
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


def load(path: Path) -> Document:
    """Read and parse one YAML file. Raises LoadError with a plain message."""
    raw = _read_bytes(path)
    text = _decode(path, raw)
    _refuse_control_characters(path, text)
    _refuse_tabs(path, text)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise LoadError(_explain_yaml_error(path, error, text.splitlines())) from None
    except yaml.YAMLError as error:  # the checks above should leave none of these; never show a traceback
        raise LoadError(Problem(path, 1, 1, f"this file cannot be read as YAML ({error})")) from None
    finally:
        loader.dispose()
    if node is None:
        raise LoadError(Problem(path, 1, 1, "this file is empty; it needs at least one 'key: value' line"))
    document = Document(path, None)
    document.data = _to_python(document, node, ())
    return document


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(Problem(path, 1, 1, f"this file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}. "
                                                "Split it, or check that nothing was pasted in by mistake"))
        return path.read_bytes()
    except OSError as error:
        raise LoadError(Problem(path, 1, 1, f"cannot read this file: {error.strerror}")) from None


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


# PyYAML's wording, and what an editor should be told instead.
_YAML_ERRORS = [
    ("anchors and aliases", "'&' and '*' have a special meaning in YAML and are not supported here. "
                            "If they are part of your text, put the whole text in quotes"),
    ("while scanning an alias", "'&' and '*' have a special meaning in YAML and are not supported here. "
                                "If they are part of your text, put the whole text in quotes"),
    ("while scanning an anchor", "'&' and '*' have a special meaning in YAML and are not supported here. "
                                 "If they are part of your text, put the whole text in quotes"),
    ("tags are not supported", "a value cannot start with '!'; put the whole text in quotes"),
    ("comment after a value", "the text stops here, because a '#' after a space starts a note that is "
                              "not printed. Put the whole text in double quotes, or move the note to a line "
                              "of its own"),
    ("comment where a value belongs", "this value is empty, because a '#' after a space starts a note that is "
                                      "not printed. If the '#' is part of the value, put the whole value in "
                                      "double quotes, for example \"#0b5563\""),
    ("nested too deeply", "this is nested too deeply to be leaflet content"),
    ("mapping values are not allowed", "there is a ':' followed by a space inside unquoted text. "
                                       "Put the whole text in double quotes, or write it on the next lines after '|'"),
    ("found duplicate anchor", "'&' is used twice; put text containing '&' in quotes"),
    ("while scanning a quoted scalar", "a quote opened here is never closed. Add the closing quote"),
    ("while scanning a double-quoted", "a quote opened here is never closed. Add the closing quote"),
    ("while scanning a single-quoted", "a quote opened here is never closed. Add the closing quote"),
    ("expected <block end>, but found ':'", "this line starts with ':' but has no name before it; "
                                            "write it as 'name: text'"),
    ("expected <block end>, but found '-'", "a list item '-' is indented differently from the items above it. "
                                            "Line it up with them"),
    ("expected <block end>", "this line is indented differently from the lines above it. "
                             "Line it up with the key it belongs to"),
    ("could not find expected ':'", "this line should be 'key: value' but has no ':' (or a quote above is not closed)"),
    ("did not find expected key", "this line is indented differently from the lines above it, "
                                  "or a list item is mixed into a set of keys"),
    ("did not find expected '-' indicator", "a list item here is not lined up with the items above it"),
    ("found character '\\t'", "there is a tab here; YAML needs spaces. Replace the tab with a space"),
    ("found character '@'", "a value cannot start with '@'; put the text in quotes"),
    ("found character '`'", "a value cannot start with '`'; put the text in quotes"),
    ("found character '%'", "a value cannot start with '%'; put the text in quotes"),
    ("found undefined tag handle", "a value cannot start with '!'; put the text in quotes"),
    ("found unknown escape character", "a backslash '\\' inside double quotes starts an escape; "
                                       "write '\\\\' or use single quotes"),
    ("found unexpected end of stream", "the file ends in the middle of a value; a quote or bracket is not closed"),
    ("expected ',' or ']'", "a list in square brackets [ ] is not closed, or its items are not separated by commas"),
    ("expected ',' or '}'", "a set of keys in braces { } is not closed, or its keys are not separated by commas"),
    ("expected a single document", "this file holds more than one document ('---'); keep one per file"),
    ("sequence entries are not allowed", "a list item '-' cannot follow a key on the same line; "
                                         "put it on the next line, indented"),
]


_REPORT_WHERE_IT_STARTED = ("quoted scalar", "simple key", "flow", "an alias", "an anchor")


def _explain_yaml_error(path: Path, error: yaml.MarkedYAMLError, lines: list[str]) -> Problem:
    mark = error.problem_mark or error.context_mark
    said = f"{error.context or ''} {error.problem or ''}"
    # A quote or bracket that never closes is best reported where it opened, and
    # text that never reaches its ':' where that text started.
    if error.context_mark is not None and any(p in said for p in _REPORT_WHERE_IT_STARTED):
        mark = error.context_mark
    line, column = (mark.line, mark.column) if mark else (0, 0)
    for hint in _HINTS if any(p in said for p in _PARSER_LOST) else ():
        found = hint(lines, line, column, said)
        if found:
            line, column, message = found
            return Problem(path, line + 1, column + 1, message)
    for pattern, plain in _YAML_ERRORS:
        if pattern in said:
            message = plain
            break
    else:
        message = f"this is not valid YAML ({(error.problem or error.context or 'unreadable').strip()})"
    return Problem(path, line + 1, column + 1, message)


# --- hints: the usual slips behind a parser error, recognised from the text itself ---
# Each takes the file's lines and the (0-based) place the parser stopped, and
# returns a better place and message, or None.

# The parser's ways of saying "the structure stopped making sense here", which
# is when a slip further up is worth looking for.
_PARSER_LOST = ("mapping values are not allowed", "expected <block end>", "could not find expected ':'",
                "did not find expected")
_KEY_WITHOUT_SPACE = re.compile(r"^\s*(?:-\s+)*([A-Za-z_][\w-]*):(?=[^\s:/])")
_BARE_KEY_BEFORE = re.compile(r"^\s*(?:-\s+)*[A-Za-z_][\w-]*$")
_CURLY_QUOTES = "\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb"


def _line(lines: list[str], index: int) -> str:
    return lines[index] if 0 <= index < len(lines) else ""


def _line_above(lines: list[str], index: int) -> int:
    """The nearest line above that is not blank or a comment (-1 when there is none)."""
    index -= 1
    while index >= 0 and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        index -= 1
    return index


def _no_space_after_colon(lines, line, column, said):
    """'question:What is it?' reads as one word, and the file stops making sense below it."""
    for index in (line, _line_above(lines, line)):
        found = _KEY_WITHOUT_SPACE.match(_line(lines, index))
        if found:
            return index, found.end(1) + 1, f"put a space after the ':' of '{found.group(1)}'"
    return None


def _quote_closed_early(lines, line, column, said):
    """'It's' inside '…', or "…" inside "…": the quote closes early and text follows it."""
    text = _line(lines, line)
    quote = text[column - 1] if 0 < column <= len(text) else ""
    if not quote or quote not in "'\"" or text[:column].count(quote) < 2:
        return None
    if quote == "'":
        advice = "To write an apostrophe inside '…', type it twice (''), or put the whole text in double quotes"
    else:
        advice = "To write \" inside \"…\", type \\\", or put the whole text in single quotes"
    following = text[column:column + 12].rstrip()
    return line, column - 1, f"this {quote} ends the quoted text, but more text follows it ({following}…). {advice}"


def _quote_left_open(lines, line, column, said):
    """A quote left open runs on to the next quote, lines below: report where it opened."""
    text = _line(lines, line)
    quote = text[column - 1] if 0 < column <= len(text) else ""
    if not quote or quote not in "'\"" or text[:column].count(quote) != 1:
        return None
    for index in range(line - 1, -1, -1):
        opened = re.match(rf"^\s*(?:-\s+|[\w-]+:\s+){quote}", _line(lines, index))
        if opened and _line(lines, index).count(quote) % 2 == 1:
            return index, opened.end() - 1, "a quote opened here is never closed. Add the closing quote"
    return None


def _curly_quotes(lines, line, column, said):
    """Word's “…” look like quotes but are just letters to YAML."""
    text = _line(lines, line)
    found = re.search(rf":\s+([{_CURLY_QUOTES}])", text)
    if not found or "mapping values" not in said:
        return None
    return line, found.start(1), (f"there is a ':' inside this text, and curly quotes {found.group(1)} "
                                  "(from Word) do not count as quotes here. Put the whole text in straight "
                                  "double quotes \"…\"")


def _list_dash_without_space(lines, line, column, said):
    """'-item' is not a list item; '– item' or '• item' (from Word) are not either."""
    for index in (line, _line_above(lines, line)):
        text = _line(lines, index).lstrip()
        if re.match(r"-[^\s-]", text):
            return index, len(_line(lines, index)) - len(text), "put a space after the '-' that starts a list item"
        if text[:1] and text[0] in "\u2013\u2014\u2022\u00b7":
            return (index, len(_line(lines, index)) - len(text),
                    f"a list item starts with a plain '-' and a space, not '{text[0]}'")
    return None


def _block_text_not_indented(lines, line, column, said):
    """The text under 'answer: |' must be indented further than 'answer'."""
    above = _line_above(lines, line)
    if "simple key" not in said or not re.search(r":\s*[|>][-+]?\s*$", _line(lines, above)):
        return None
    key = _line(lines, above).split(":")[0].strip()
    return line, column, f"the text under '{key}: |' must be indented further than '{key}'"


def _key_read_as_text(lines, line, column, said):
    """'key:' at the start of a line the parser took as the text above continuing."""
    if "mapping values" not in said or not _BARE_KEY_BEFORE.match(_line(lines, line)[:column]):
        return None
    return line, column, ("this line is indented more than the one above it, so it reads as part of that "
                          "text. Line it up with the key it belongs to")


_HINTS = [_no_space_after_colon, _quote_closed_early, _quote_left_open, _curly_quotes,
          _list_dash_without_space, _block_text_not_indented, _key_read_as_text]


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
