"""The templates' own words ("Side effects", "Page 2 of 3"), one file per language.

They live in ``templates/labels/<lang>.yaml``; every language must have every
word the English file has, so no leaflet prints a gap or falls back silently.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import InputError, Problem
from .load import LoadError, load

REFERENCE_LANGUAGE = "en"


@lru_cache(maxsize=None)
def labels(templates: Path, lang: str) -> dict[str, str]:
    """The template's own words ("Side effects", "Page 2 of 3") in one language."""
    path = templates / "labels" / f"{lang}.yaml"
    try:
        data = load(path).data
    except LoadError as error:
        raise InputError([error.problem]) from None
    return data


def check_labels(templates: Path, languages: list[str]) -> None:
    """Every language a brand offers has all the template words. Raises InputError."""
    reference = labels(templates, REFERENCE_LANGUAGE)
    problems = []
    for lang in languages:
        path = templates / "labels" / f"{lang}.yaml"
        if not path.is_file():
            problems.append(Problem(path, 1, 1, f"the template words for '{lang}' are missing (this file)"))
            continue
        missing = sorted(set(reference) - set(labels(templates, lang)))
        if missing:
            problems.append(Problem(path, 1, 1, f"these template words are missing: {', '.join(missing)}"))
    if problems:
        raise InputError(problems)
