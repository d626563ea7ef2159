"""Stage 1: read a YAML file into plain data, remembering where every value stood.

The people who edit these files are not programmers, so the reader is strict in
the ways that protect them:

* every scalar stays a string (``no``, ``on``, ``10:30`` and ``012`` are never
  turned into booleans or numbers here; the schema decides what a field means);
* a key written twice is an error naming both lines;
* anchors and aliases (``&x`` / ``*x``) are refused, which also rules out
  "billion laughs" documents;
* tabs, files that are not UTF-8, empty files, very large or very deeply nested
  files get a plain message instead of a parser's jargon.

Word-processor habits that are harmless are accepted: a byte-order mark,
Windows line endings, and non-breaking spaces where YAML expects a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem

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
        table = self.key_at if at_key else self.value_at
        probe = tuple(where)
        while probe and probe not in table and probe not in self.value_at:
            probe = probe[:-1]
        line, column = table.get(probe) or self.value_at.get(probe, (1, 1))
        return Problem(self.path, line, column, message)


class LoadError(Exception):
    """A file could not be read as YAML; carries one located problem."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def load(path: Path) -> Document:
    """Read and parse one YAML file. Raises LoadError with a plain message."""
    raw = _read_bytes(path)
    text = _decode(path, raw)
    _refuse_tabs(path, text)
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        raise LoadError(_explain_yaml_error(path, error)) from None
    except RecursionError:
        raise LoadError(Problem(path, 1, 1, "this file is nested too deeply to be leaflet content")) from None
    if node is None:
        raise LoadError(Problem(path, 1, 1, "this file is empty; it needs at least one 'key: value' line"))
    document = Document(path, None)
    document.data = _to_python(document, node, (), depth=0)
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
    if not text.strip() or all(not l.strip() or l.lstrip().startswith("#") for l in text.splitlines()):
        raise LoadError(Problem(path, 1, 1, "this file is empty; it needs at least one 'key: value' line"))
    return _normalise_word_spaces(text)


_NBSP_IN_STRUCTURE = re.compile(r"^[ \u00a0]+|(?<=:)\u00a0|(?<=^-)\u00a0|(?<= -)\u00a0", re.MULTILINE)


def _normalise_word_spaces(text: str) -> str:
    """Non-breaking spaces pasted from Word where YAML needs a plain space."""
    return _NBSP_IN_STRUCTURE.sub(lambda m: m.group(0).replace("\u00a0", " "), text)


def _refuse_tabs(path: Path, text: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent]:
            column = line.index("\t") + 1
            raise LoadError(Problem(path, number, column,
                                    "this line is indented with a tab; YAML needs spaces. Replace the tab with spaces"))


class _StrictLoader(yaml.SafeLoader):
    """A composer that refuses anchors and aliases; construction is done by us."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(problem="anchors and aliases are not supported",
                                       problem_mark=event.start_mark)
        return super().compose_node(parent, index)


# PyYAML's wording, and what an editor should be told instead.
_YAML_ERRORS = [
    ("anchors and aliases", "'&' and '*' have a special meaning in YAML and are not supported here. "
                            "If they are part of your text, put the whole text in quotes"),
    ("mapping values are not allowed", "there is a ':' followed by a space inside unquoted text. "
                                       "Put the whole text in double quotes, or write it on the next lines after '|'"),
    ("found duplicate anchor", "'&' is used twice; put text containing '&' in quotes"),
    ("while scanning a quoted scalar", "a quote opened here is never closed. Add the closing quote"),
    ("while scanning a double-quoted", "a quote opened here is never closed. Add the closing quote"),
    ("while scanning a single-quoted", "a quote opened here is never closed. Add the closing quote"),
    ("expected <block end>, but found '-'", "a list item '-' is indented differently from the items above it. "
                                            "Line it up with them"),
    ("expected <block end>", "this line is indented differently from the lines above it. "
                             "Line it up with the key it belongs to"),
    ("could not find expected ':'", "this line should be 'key: value' but has no ':' (or a quote above is not closed)"),
    ("did not find expected key", "this line is indented differently from the lines above it, "
                                  "or a list item is mixed into a set of keys"),
    ("did not find expected '-' indicator", "a list item here is not lined up with the items above it"),
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
    ("block sequence entries are not allowed", "a list item '-' cannot follow a key on the same line; "
                                               "put it on the next line, indented"),
]


def _explain_yaml_error(path: Path, error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    said = f"{error.context or ''} {error.problem or ''}"
    for pattern, plain in _YAML_ERRORS:
        if pattern in said:
            message = plain
            break
    else:
        message = f"this is not valid YAML ({(error.problem or error.context or 'unreadable').strip()})"
    # A quote that never closes is best reported where it opened.
    if "quoted scalar" in said and error.context_mark is not None:
        mark = error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(path, line, column, message)


def _to_python(doc: Document, node: Node, where: KeyPath, depth: int) -> Any:
    doc.value_at[where] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if depth > MAX_DEPTH:
        raise LoadError(doc.problem(where, "this is nested too deeply to be leaflet content"))
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        return [_to_python(doc, item, where + (i,), depth + 1) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        return _mapping(doc, node, where, depth)
    raise LoadError(doc.problem(where, "this value cannot be read"))  # pragma: no cover - composer makes only these


def _scalar(node: ScalarNode) -> str | None:
    """Plain empty, '~' and 'null' mean "no value"; everything else stays text."""
    if node.style is None and node.value in ("", "~", "null", "Null", "NULL"):
        return None
    return node.value


def _mapping(doc: Document, node: MappingNode, where: KeyPath, depth: int) -> dict[str, Any]:
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
        result[key] = _to_python(doc, value_node, child, depth + 1)
    return result
