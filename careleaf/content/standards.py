"""check.yaml: the targets a leaflet is checked against (readability, plain words, page budget).

Read by `check` and by the build (the page budget); its defaults apply when a project has no such file.
"""

from __future__ import annotations

from pathlib import Path

from careleaf.content import model
from careleaf.content.load import Document
from careleaf.content.validate import read_file
from careleaf.errors import Problem

SETTINGS_FILE = "check.yaml"


def load_check_settings(content: Path) -> tuple[model.CheckSettings, list[Problem]]:
    """The targets in ``check.yaml``, or the defaults when there is no such file."""
    path = content / SETTINGS_FILE
    if not path.is_file():
        return model.CheckSettings(), []
    settings, doc, problems = read_file(path, model.CheckSettings)
    if settings is not None:  # repeated words are looked for once everything else reads
        problems += _repeated_words(doc, settings)
    return (settings if settings is not None and not problems else model.CheckSettings()), problems


def _repeated_words(doc: Document, settings: model.CheckSettings) -> list[Problem]:
    """A hard word listed twice, perhaps with two different plain words: which one is meant?"""
    problems = []
    for lang in ("en", "tr"):
        seen: dict[str, int] = {}
        for index, entry in enumerate(getattr(settings, lang).jargon):
            word = entry.word.lower()
            if word in seen:
                problems.append(doc.problem((lang, "jargon", index, "word"), f"'{entry.word}' is listed twice "
                                            f"(items {seen[word] + 1} and {index + 1}); keep one"))
            seen.setdefault(word, index)
    return problems
