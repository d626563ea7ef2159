"""The templates' own words ("Side effects", "Page 2 of 3"), one file per language.

They live in ``templates/labels/<lang>.yaml``, in the theme or, replacing the
theme's file, in the project; every language must have every word the templates
print, so no leaflet prints a gap or falls back silently.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import get_args
from pathlib import Path

from careleaf.errors import Problem
from careleaf.content.load import Document
from careleaf.project import Refused, first_existing, read_regular
from careleaf.content.settings import Limits
from careleaf.content.model import FREQUENCIES, KINDS, Product
from careleaf.content.validate import read_file

REFERENCE_LANGUAGE = "en"


# Words the templates ask for by a computed name ('frequency_' ~ frequency, kind ~ '_lede').
COMPUTED = ([f"frequency_{f}" for f in FREQUENCIES] + [f"{k.replace('-', '_')}_lede" for k in KINDS]
            + [f"side_effects_intro_{product}" for product in get_args(Product)])
# Words only a patient's own leaflet (careleaf.handout.personal), its email or the leaflet's web page (out/site/)
# print: part of the theme, not of the approved content of the catalog's leaflets.
NOT_IN_CATALOG = ("personal_", "email_", "site_")
# Words only a treatment given as a course prints (its next session, its result, how many sessions).
COURSE_WORDS = ("course_next_session", "course_result", "course_text", "course_next_text")
# Words only a leaflet with steps before treatment prints.
BEFORE_WORDS = ("before_treatment", "before_window")
_USED = re.compile(r"label(?:\.([a-z_]+)|\[['\"]([a-z_-]+)['\"]\])")


def read_labels(folders: tuple[Path, ...], languages: list[str],
                problems: list[Problem]) -> tuple[dict[str, dict[str, str]], dict[str, Document]]:
    """The template words of every language a brand offers (and English), each from the first of
    ``folders`` that has its file; what is wrong is added to ``problems``."""
    needed = used_by_templates(folders)
    words, documents = {}, {}
    for lang in sorted(set(languages) | {REFERENCE_LANGUAGE}):
        path = first_existing(folders, f"labels/{lang}.yaml")
        if path is None:
            problems.append(Problem(folders[0] / "labels" / f"{lang}.yaml", 1, 1,
                                    f"the template words for '{lang}' are missing (this file)"))
            continue
        value, document, found = read_file(path, TemplateWords)
        missing = sorted(needed - set(value)) if value is not None else []
        if missing:
            found.append(Problem(path, 1, 1, f"these template words are missing: {', '.join(missing)}"))
        problems += found
        if not found:
            words[lang], documents[lang] = value, document
    return words, documents


class TemplateWords:
    """A template words file: 'name: one line of words' and nothing else."""

    @staticmethod
    def validate(document: Document) -> tuple[dict[str, str] | None, list[Problem]]:
        if not isinstance(document.data, dict):
            return None, [document.problem((), "this file should be a list of 'name: words' lines")]
        problems = [document.problem((name,), f"'{name}' should be one line of words")
                    for name, words in document.data.items()
                    if not isinstance(words, str) or not words.strip() or "\n" in words.strip()]
        return document.data, problems


@lru_cache(maxsize=None)
def used_by_templates(folders: tuple[Path, ...]) -> frozenset[str]:
    """Every template word the templates print, so a file lacking one is refused before drawing."""
    found = set(COMPUTED)
    for folder in folders:
        for template in folder.rglob("*.html"):
            try:
                text = read_regular(template, within=(folder,), limit=Limits().asset_bytes).decode("utf-8", "replace")
            except Refused:
                continue     # the template loader refuses it, by name, when a leaflet uses it
            found |= {a or b for a, b in _USED.findall(text)}
    return frozenset(found)


def printed_labels(words: dict[str, str], kind: str, frequencies: set[str], product: str, *,
                   course: bool = False, before: bool = False) -> list[str]:
    """The catalog words a leaflet of ``kind`` prints: all but the computed ones it does not ask for, the
    course's words unless it is one, and the words of a patient's own leaflet."""
    wanted = ({f"frequency_{f}" for f in frequencies} | {f"{kind.replace('-', '_')}_lede"}
              | {f"side_effects_intro_{product}"})
    return [name for name in words
            if not name.startswith(NOT_IN_CATALOG) and (name not in COMPUTED or name in wanted)
            and (course or name not in COURSE_WORDS) and (before or name not in BEFORE_WORDS)]
