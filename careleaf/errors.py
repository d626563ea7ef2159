"""The two ways a build can go wrong, and how a problem is located.

Content editors read these messages, so every problem names a file, a line and a
column, and says what to do in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, at a place an editor can find."""

    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        # One problem, one line: a line break or control character quoted from the file is shown escaped.
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.message)
        return f"{display_path(self.path)}:{self.line}:{self.column}: {message}"


class InputError(Exception):
    """The content, brands or settings are invalid; nothing was rendered."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class RenderError(Exception):
    """A valid leaflet could not be turned into a PDF."""


class HandoutError(ValueError):
    """A patient's leaflet cannot be made: a choice or field is wrong, or the leaflet is not approved for patients.

    Each problem names a field or a leaflet, never what was typed into a field: these
    messages reach terminals, logs and screens, and patient fields are health data.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RevisionError(Exception):
    """git could not give the content at the revision asked for."""


def display_path(path: Path) -> str:
    """A path relative to the working folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
