"""Facts referred to in wording, so that every figure is written once.

An answer does not retype "4.5-6 months": it writes ``{timeline.effect-lasts}`` and
the leaflet prints the milestone's duration in its language ("4.5–6 months",
"4,5–6 ay"). Change the figure in treatment.yaml and every place it is printed
changes with it. The same for a side effect's duration, an aftercare window, and
words that differ by the clinic's country (``{country.painkiller}``: paracetamol
in Britain, acetaminophen in the US), from careleaf's country table.

    {timeline.<id>}                    a milestone's time
    {side_effects.<id>.lasts}          how long a side effect lasts
    {aftercare_checklist.<id>.within}  an aftercare step's window
    {country.<word>}                   a word from the brand's country (templates/countries.yaml)
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from careleaf.content.facts import SIDE_EFFECTS, WITH_FIGURES

COUNTRY = "country"    # {country.<word>}: a word from the brand's country
_GROUPS = "|".join(re.escape(key) for key in (*WITH_FIGURES, COUNTRY))
REFERENCE = re.compile(rf"\{{({_GROUPS})\.([a-z0-9-]+)(?:\.([a-z]+))?\}}")
HOW = "write " + ", ".join(group.reference("<id>") for group in WITH_FIGURES.values()) + f" or {{{COUNTRY}.<word>}}"


def found_in(text: str | None) -> Iterator[re.Match]:
    return REFERENCE.finditer(text or "")


def problems_in(text: str | None, facts: Any, country_words: set[str] | None) -> list[str]:
    """What is wrong with the references in one text, in plain words; ``facts`` is the treatment's (None in
    shared wording, which may refer only to country words)."""
    problems = []
    for match in found_in(text):
        group, name, field = match.groups()
        if group == COUNTRY:
            if field or (country_words is not None and name not in country_words):
                known = ", ".join(sorted(country_words or ())) or "none"
                problems.append(f"{match[0]}: the country table has no word '{name}' for every clinic offering "
                                f"this language (words: {known})")
            continue
        if facts is None:
            problems.append(f"{match[0]}: shared wording is used by several treatments, so it cannot refer to one "
                            "treatment's facts; move the figure into the treatment's own wording")
            continue
        found = {item.id: item for item in getattr(facts, group)}
        if name not in found:
            problems.append(f"{match[0]}: there is no '{name}' under {group} in treatment.yaml")
        elif field != WITH_FIGURES[group].reference_field:
            problems.append(f"{match[0]}: write {WITH_FIGURES[group].reference(name)}")
        elif group == SIDE_EFFECTS.key and getattr(found[name], SIDE_EFFECTS.figure) is None:   # the one optional figure
            problems.append(f"{match[0]}: that side effect has no '{SIDE_EFFECTS.figure}' in treatment.yaml")
    stray = re.findall(r"\{[a-z_]+\.[^{}\s]*\}", REFERENCE.sub("", text or ""))
    problems += [f"{text}: not a reference careleaf knows; {HOW}" for text in stray]
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """The text with every reference replaced by its value (``values`` by 'group.name')."""
    return REFERENCE.sub(lambda m: values.get(f"{m[1]}.{m[2]}", m[0]), text)
