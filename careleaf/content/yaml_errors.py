"""Plain words for YAML the parser could not read, at the place the mistake is.

The parser says what it expected ("mapping values are not allowed here"); an
editor needs to hear what to change. Its wording is translated by a table, and
when the parser lost its way the usual slips that cause it (no space after ':',
an apostrophe inside '…', Word's curly quotes and bullets, a '-' without a space)
are recognised from the text itself and reported where they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from careleaf.errors import Problem


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


def explain(path: Path, error: yaml.MarkedYAMLError, lines: list[str]) -> Problem:
    """The parser's error as a plain problem at the place to fix; ``lines`` are the file's."""
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
