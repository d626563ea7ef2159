"""A finding of `check`: one thing worth a look, at the line it concerns.

Shared by check's own findings (files, review dates, drafts, translations) and its
wording findings (``wording.py``: long sentences, hard words, readability).
"""

from __future__ import annotations

from dataclasses import dataclass

from careleaf.content.load import Document, KeyPath
from careleaf.errors import Problem, display_path

LEVELS = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing worth a look, at the line it concerns."""

    file: str
    line: int
    level: str      # one of LEVELS
    code: str       # a stable name for the kind of finding, for scripts
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.level}: {self.message}"

    def sort_key(self) -> tuple:
        return self.file, self.line, LEVELS.index(self.level), self.code, self.message


def finding_at(doc: Document, where: KeyPath, level: str, code: str, message: str, *,
               at_key: bool = False) -> Finding:
    """A finding at a value of a file (or its key)."""
    place = doc.problem(where, message, at_key=at_key)
    return Finding(display_path(place.path), place.line, level, code, message)


def finding_for(problem: Problem, level: str, code: str, message: str) -> Finding:
    """A finding at the place a problem (or an item, or a model object's origin) points to."""
    return Finding(display_path(problem.path), problem.line, level, code, message)
