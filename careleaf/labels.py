"""The templates' own words ("Side effects", "Page 2 of 3"), one file per language.

They live in ``templates/labels/<lang>.yaml``; every language must have every
word the English file has, so no leaflet prints a gap or falls back silently.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .errors import InputError, Problem
from .load import Document, LoadError, load
from .model import FREQUENCIES, KINDS

REFERENCE_LANGUAGE = "en"


# Words the templates ask for by a computed name ('frequency_' ~ frequency, kind ~ '_lede').
_COMPUTED = [f"frequency_{f}" for f in FREQUENCIES] + [f"{k.replace('-', '_')}_lede" for k in KINDS]
_USED = re.compile(r"label(?:\.([a-z_]+)|\[['\"]([a-z_-]+)['\"]\])")


@lru_cache(maxsize=None)
def labels(templates: Path, lang: str) -> dict[str, str]:
    """The template's own words ("Side effects", "Page 2 of 3") in one language. Raises InputError."""
    path = templates / "labels" / f"{lang}.yaml"
    try:
        document = load(path)
    except LoadError as error:
        raise InputError([error.problem]) from None
    problems = _shape_problems(document)
    if problems:
        raise InputError(problems)
    return document.data


def _shape_problems(document: Document) -> list[Problem]:
    """A labels file is 'name: one line of text' and nothing else."""
    if not isinstance(document.data, dict):
        return [document.problem((), "this file should be a list of 'name: words' lines")]
    problems = []
    for name, words in document.data.items():
        if not isinstance(words, str) or not words.strip() or "\n" in words.strip():
            problems.append(document.problem((name,), f"'{name}' should be one line of words"))
    return problems


@lru_cache(maxsize=None)
def used_by_templates(templates: Path) -> frozenset[str]:
    """Every template word the templates print, so a file lacking one is refused before drawing."""
    found = set(_COMPUTED)
    for template in templates.rglob("*.html"):
        found |= {a or b for a, b in _USED.findall(template.read_text("utf-8"))}
    return frozenset(found)


def check_labels(templates: Path, languages: list[str]) -> None:
    """Every language a brand offers has all the words the templates print. Raises InputError."""
    needed = used_by_templates(templates)
    problems = []
    for lang in sorted(set(languages) | {REFERENCE_LANGUAGE}):
        path = templates / "labels" / f"{lang}.yaml"
        if not path.is_file():
            problems.append(Problem(path, 1, 1, f"the template words for '{lang}' are missing (this file)"))
            continue
        try:
            missing = sorted(needed - set(labels(templates, lang)))
        except InputError as error:
            problems += error.problems
            continue
        if missing:
            problems.append(Problem(path, 1, 1, f"these template words are missing: {', '.join(missing)}"))
    if problems:
        raise InputError(problems)
