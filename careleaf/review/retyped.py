"""Figures held as data in treatment.yaml but typed out in an answer (`careleaf check`'s 'retyped-figure'):
changing the data would leave the old figure printed, so the editor is shown the reference to write instead."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from careleaf.content.catalog import Catalog
from careleaf.content.facts import WITH_FIGURES
from careleaf.errors import display_path
from careleaf.review.findings import Finding

# A figure typed in wording: '4.5-6 months', '24–48 saat', '2 weeks'. It starts only where a number starts and
# its digit runs never give digits back (possessive), so a run of 20,000 digits is read once, not 20,000 times.
_FIGURE = re.compile(r"(?<!\d)(\d++(?:[.,]\d++)?+)(?:\s*+(?:-|–|—|to)\s*+(\d++(?:[.,]\d++)?+))?+\s*+"
                     r"(hours?|days?|weeks?|months?|saat|gün|hafta|ay)\b", re.IGNORECASE)
_UNITS = {"hour": "hours", "day": "days", "week": "weeks", "month": "months",
          "saat": "hours", "gün": "days", "hafta": "weeks", "ay": "months"}


def retyped_figures(catalog: Catalog) -> list[Finding]:
    """Figures held as data (a milestone, a side effect's duration, an aftercare or before-treatment window)
    typed out in an answer instead of referred to, so that changing the data would leave the old figure printed.

    A figure is the held one only when its sentence speaks of the same fact (shares a word with the fact's
    name or wording): "stop retinoids 5 days before" is not the aftercare checklist's 5-day no-picking window,
    and suggesting that reference would print a wrong fact. Where several facts hold the figure, the one the
    sentence speaks of most is meant (its name first, then its wording: "Redness usually goes within 24-48 hours"
    is the redness, not the swelling, that lasts as long); where none leads, nothing is suggested."""
    found = []
    for entry in catalog.treatments.values():
        for lang, wording in entry.wording.items():
            held: dict[tuple, list[tuple[str, set[str], set[str]]]] = {}
            for group in WITH_FIGURES.values():
                for fact in getattr(entry.facts, group.key):
                    value = getattr(fact, group.figure)
                    if value is not None:
                        name = _words(fact.id.replace("-", " "))
                        words = name | _words(_said(getattr(wording, group.key).get(fact.id)))
                        held.setdefault((value.low, value.high, value.unit), []).append(
                            (group.reference(fact.id), name, words))
            texts = [(("sections", name, "answer"), s.answer) for name, s in wording.sections.items()]
            texts += [(("leaflets", kind, "intro"), w.intro) for kind, w in wording.leaflets.items() if w.intro]
            for where, text in texts:
                for match in _FIGURE.finditer(text):
                    low = float(match[1].replace(",", "."))
                    high = float((match[2] or match[1]).replace(",", "."))
                    unit = _UNITS.get(match[3].lower().rstrip("s"), _UNITS.get(match[3].lower()))
                    sentence = _words(_sentence_around(text, match.start()))
                    same = _meant(held.get((low, high, unit), []), sentence)
                    if same:
                        doc = entry.wording_docs[lang]
                        found.append(Finding(display_path(doc.path), _line_in(doc, where, text, match.start()),
                                             "warning", "retyped-figure",
                                             f"'{match[0]}' is a figure held in treatment.yaml; write {same} "
                                             "so that it is written once and changes with the data"))
    return sorted(set(found), key=Finding.sort_key)


def _meant(facts: list[tuple[str, set[str], set[str]]], sentence: set[str]) -> str | None:
    """The reference of the one fact the sentence speaks of most, or None when it speaks of none or of two
    as much (a fact sharing no word with the sentence is never suggested, whatever its figure)."""
    ranked = sorted(((len(name & sentence), len(words & sentence)), reference)
                    for reference, name, words in facts if words & sentence)
    if not ranked or (len(ranked) > 1 and ranked[-1][0] == ranked[-2][0]):
        return None
    return ranked[-1][1]


def _line_in(doc, where, text: str, at: int) -> int:
    """The line of the file a character of a value is on: a block answer ('answer: |') starts on the next line."""
    line = doc.problem(where, "").line
    try:
        first = doc.path.read_text("utf-8").splitlines()[line - 1].rstrip()
    except (OSError, IndexError, UnicodeDecodeError):
        return line
    block = re.search(r"[|>][+-]?\d*$", first) is not None
    return line + block + (text.count("\n", 0, at) if block else 0)


# Words too common to say two sentences speak of the same fact.
_COMMON = {"your", "you", "this", "that", "with", "after", "before", "from", "have", "will", "treatment", "about",
           "days", "weeks", "hours", "months", "saat", "hafta", "sonra", "önce", "tedavi", "tedaviden", "sonraki"}


def _words(text: str) -> set[str]:
    """The text's words of four letters or more, each cut to its first five (a rough stem: retinoid, retinoids)."""
    return {word[:5] for word in re.findall(r"\w{4,}", text.casefold()) if word not in _COMMON and not word.isdigit()}


def _said(value: Any) -> str:
    """A fact's wording as one text (a side effect's wording has two parts)."""
    if value is None or isinstance(value, str):
        return value or ""
    return " ".join(str(part) for part in dataclasses.asdict(value).values() if isinstance(part, str))


def _sentence_around(text: str, at: int) -> str:
    start = max(text.rfind(mark, 0, at) for mark in ".!?\n")
    ends = [i for i in (text.find(mark, at) for mark in ".!?\n") if i != -1]
    return text[start + 1:min(ends) if ends else len(text)]
