"""How the files of a project must agree with each other, checked once every file reads on its own.

Each treatment's facts have their wording in every language its clinics offer and
no more; names are unique; each leaflet covers what its kind must and lists only
sections that exist (in its language or the fallback's); each language a brand
offers has its files; every {timeline.…}-style reference names a fact that exists.
A problem is reported at the line where the mistake is, and every one is collected.

``entry`` below is always a catalog.TreatmentEntry: a treatment's facts and its wording by language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careleaf.content import model, references
from careleaf.content.facts import (AFTERCARE_CHECKLIST, BEFORE_TREATMENT, COMPONENT_NAMES, FACT_GROUPS, FACT_KEYS,
                                    REVIEW_VISIT, SIDE_EFFECTS, TIMELINE, URGENT_HELP)
from careleaf.content.load import Document
from careleaf.content.locales import locale_problem
from careleaf.content.fields import closest
from careleaf.errors import Problem, display_path


def fallback_language(brands: dict[str, model.Brand], lang: str) -> str | None:
    """The language gaps in ``lang`` may be filled from: only if every brand offering it agrees."""
    offering = [b for b in brands.values() if lang in b.languages]
    choices = {b.fallback_language for b in offering}
    return choices.pop() if len(choices) == 1 and offering else None


def check_references(brands, shared, treatments, countries) -> list[Problem]:
    """Every {timeline.…}-style reference in answers and intros names a fact that exists, and every
    {country.…} word exists for each clinic offering that language (careleaf.content.references)."""
    problems = []
    for lang in sorted({lang for brand in brands.values() for lang in brand.languages}):
        offering = [countries[b.country].words.get(lang, {}) if b.country in countries else {}
                    for b in brands.values() if lang in b.languages]
        words = set.intersection(*(set(w) for w in offering)) if offering else set()
        texts = []
        if lang in shared:
            value, doc = shared[lang]
            texts += [(doc, ("sections", name, "answer"), section.answer, None) for name, section in value.sections.items()]
        for entry in treatments.values():
            wording, doc = entry.wording.get(lang), entry.wording_docs.get(lang)
            if wording is None:
                continue
            texts += [(doc, ("sections", name, "answer"), s.answer, entry.facts) for name, s in wording.sections.items()]
            texts += [(doc, ("leaflets", kind, "intro"), w.intro, entry.facts) for kind, w in wording.leaflets.items()]
        for doc, where, text, facts in texts:
            problems += [doc.problem(where, message) for message in references.problems_in(text, facts, words)]
    return problems


def cross_check(brands, brand_docs, shared, treatments, content: Path) -> list[Problem]:
    """Every way the files must agree, once each reads on its own."""
    problems: list[Problem] = []
    shared_sections = {lang: set(value.sections) for lang, (value, _) in shared.items()}
    for brand_id, brand in brands.items():
        problems += _check_brand_languages(brand, brand_docs[brand_id], shared, treatments, content)
    codes: dict[str, str] = {}
    for entry in treatments.values():
        problems += _check_facts(entry, codes)
        for lang, wording in entry.wording.items():
            fallback = fallback_language(brands, lang)
            available = _Available(wording.sections, shared_sections.get(lang, set()),
                                   entry.wording.get(fallback).sections if fallback in entry.wording else {},
                                   shared_sections.get(fallback, set()))
            problems += _check_wording(entry, lang, wording, available, shared)
    return problems


def _duplicates(doc: Document, items: list[Any], key: str, where: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        value = getattr(item, key)
        if value in seen:
            problems.append(doc.problem((where, index, key), f"'{value}' is used twice in '{where}' "
                                        f"(items {seen[value] + 1} and {index + 1}); names must be unique"))
        seen.setdefault(value, index)
    return problems


def _check_facts(entry, codes: dict[str, str]) -> list[Problem]:
    facts, doc = entry.facts, entry.facts_doc
    problems = []
    for where in FACT_KEYS:
        problems += _duplicates(doc, getattr(facts, where), "id", where)
    problems += _duplicates(doc, facts.leaflets, "kind", "leaflets")
    problems += _check_course(entry)
    for index, definition in enumerate(facts.leaflets):
        if definition.code in codes:
            problems.append(doc.problem(("leaflets", index, "code"), f"the code {definition.code} is already "
                                        f"used by {codes[definition.code]}; every leaflet needs its own code"))
        codes.setdefault(definition.code, f"{entry.id} {definition.kind}")
        problems += _check_contents(entry, index, definition)
        urgent = [effect.id for effect in facts.side_effects if effect.urgent]
        if urgent and SIDE_EFFECTS.name in definition.contents and URGENT_HELP.name not in definition.contents:
            said = (f"the side effect {urgent[0]} is urgent and its row points" if len(urgent) == 1 else
                    f"the side effects {', '.join(urgent)} are urgent and their rows point")
            problems.append(doc.problem(("leaflets", index, "contents"), f"{definition.code} ({definition.kind}): "
                                        f"{said} to the urgent-help box: list '{URGENT_HELP.name}' too"))
    return problems


def _check_course(entry) -> list[Problem]:
    """A course's next session is its visit: a second visit on the timeline would give two dates to come back."""
    course, doc = entry.facts.course, entry.facts_doc
    if course is None:
        return []
    problems = [doc.problem((TIMELINE.key, index, "visit"), "this treatment is given as a course, so the visit is "
                            "its next session (drawn from course: interval); remove 'visit: true' here")
                for index, milestone in enumerate(getattr(entry.facts, TIMELINE.key)) if milestone.visit]
    if course.up_to is not None and course.up_to < course.sessions:
        problems.append(doc.problem(("course", "up_to"), f"up_to ({course.up_to}) is fewer than sessions "
                                    f"({course.sessions}); up_to is the most sessions a course may have"))
    return problems


def _check_contents(entry, index: int, definition: model.LeafletDefinition) -> list[Problem]:
    doc = entry.facts_doc
    problems = []
    seen: set[str] = set()
    for position, reference in enumerate(definition.contents):
        if reference in seen:
            problems.append(doc.problem(("leaflets", index, "contents", position),
                                        f"'{reference}' is listed twice in {definition.code} ({definition.kind})"))
        seen.add(reference)
    for topic in model.REQUIRED_TOPICS[definition.kind]:
        if topic not in definition.contents:
            problems.append(doc.problem(("leaflets", index, "contents"), at_key=True, message=
                                        f"the {definition.kind} leaflet {definition.code} does not cover "
                                        f"{topic.replace('-', ' ')}: add '{topic}' to its contents"))
    needs = {AFTERCARE_CHECKLIST.name: (getattr(entry.facts, AFTERCARE_CHECKLIST.key), AFTERCARE_CHECKLIST.key),
             BEFORE_TREATMENT.name: (getattr(entry.facts, BEFORE_TREATMENT.key), BEFORE_TREATMENT.key),
             REVIEW_VISIT.name: ([m for m in getattr(entry.facts, TIMELINE.key) if m.visit] or entry.facts.course,
                                 f"{TIMELINE.key} milestone with visit: true, nor a course")}
    for block, (data, what) in needs.items():
        if block in definition.contents and not data:
            problems.append(doc.problem(("leaflets", index, "contents", definition.contents.index(block)),
                                        f"{definition.code} ({definition.kind}) lists '{block}', but this treatment "
                                        f"has no {what}"))
    return problems


def _check_brand_languages(brand: model.Brand, doc: Document, shared, treatments, content: Path) -> list[Problem]:
    """Every language a brand offers has its wording files; the mistake is shown on the brand's line."""
    known = sorted(set(shared) | {lang for entry in treatments.values() for lang in entry.wording})
    problems = []
    for index, lang in enumerate(brand.languages):
        missing = [] if lang in shared else [content / "shared" / f"{lang}.yaml"]
        missing += [content / "treatments" / entry.id / f"{lang}.yaml"
                    for entry in treatments.values() if lang not in entry.wording]
        if missing:
            files = ", ".join(display_path(path) for path in missing)
            problems.append(doc.problem(("languages", index), f"this clinic hands out leaflets in '{lang}', but "
                                        f"there is no wording in that language ({files} missing)"
                                        f"{_did_you_mean(lang, known)}"))
    for lang, locale in brand.locales.items():
        problem = locale_problem(lang, locale)
        if problem:
            problems.append(doc.problem(("locales", lang), problem))
    if brand.fallback_language and brand.fallback_language not in brand.languages:
        problems.append(doc.problem(("fallback_language",), f"the fallback language '{brand.fallback_language}' "
                                    "must also be one of this brand's languages"))
    return problems


@dataclass
class _Available:
    """The sections a leaflet in one language may use, and those its fallback language adds."""

    own: Any
    shared: set[str]
    fallback_own: Any
    fallback_shared: set[str]


def _check_wording(entry, lang: str, wording: model.TreatmentWording,
                   available: _Available, shared) -> list[Problem]:
    doc = entry.wording_docs[lang]
    facts = entry.facts
    problems = []
    for group in FACT_GROUPS:
        problems += _match_names(doc, entry, group.key, [i.id for i in getattr(facts, group.key)],
                                 getattr(wording, group.key))
    problems += _match_names(doc, entry, "leaflets", [d.kind for d in facts.leaflets], wording.leaflets)
    for fact in facts.side_effects:
        said = wording.side_effects.get(fact.id)
        if said and fact.urgent and said.what_to_do:
            problems.append(doc.problem((SIDE_EFFECTS.key, fact.id, "what_to_do"), "this side effect is urgent: its "
                                        "row sends the reader to the urgent-help box, so remove its what_to_do"))
        elif said and not fact.urgent and not said.what_to_do:
            problems.append(doc.problem((SIDE_EFFECTS.key, fact.id), "say what to do about this side effect "
                                        "(what_to_do), or mark it urgent: true in treatment.yaml", at_key=True))
    for name in wording.sections:
        if name in COMPONENT_NAMES:
            problems.append(doc.problem(("sections", name), f"'{name}' is the name of a built-in block; "
                                        "give this section another name", at_key=True))
    for index, definition in enumerate(facts.leaflets):
        for position, reference in enumerate(definition.contents):
            problems += _check_reference(entry, index, position, reference, available, lang, shared)
    return problems


def _match_names(doc: Document, entry, where: str, expected: list[str],
                 written: dict[str, Any]) -> list[Problem]:
    problems = []
    for name in expected:
        if name not in written:
            problems.append(doc.problem((where,), f"'{where}' has no wording for '{name}' "
                                        f"(it is listed in {entry.id}/treatment.yaml)", at_key=True))
    for name in written:
        if name not in expected:
            problems.append(doc.problem((where, name), f"'{name}' is not in {entry.id}/treatment.yaml "
                                        f"under '{where}'{_did_you_mean(name, expected)}", at_key=True))
    return problems


def _check_reference(entry, index, position, reference, available: _Available, lang, shared) -> list[Problem]:
    where = ("leaflets", index, "contents", position)
    definition = entry.facts.leaflets[index]
    leaflet = f"{definition.code} ({definition.kind}): "
    if reference in COMPONENT_NAMES:
        own = entry.wording[lang].urgent_help
        if reference == URGENT_HELP.name and shared[lang][0].urgent_help is None and not (own and own.action):
            return [entry.facts_doc.problem(where, f"{leaflet}'{URGENT_HELP.name}' is listed, but neither shared/{lang}.yaml "
                                            f"nor {entry.id}/{lang}.yaml has '{URGENT_HELP.key}' wording with an "
                                            "action")]
        return []
    if reference.startswith("shared/"):
        name = reference.removeprefix("shared/")
        if name not in available.shared and name not in available.fallback_shared:
            return [entry.facts_doc.problem(where, f"{leaflet}there is no shared section '{name}' in shared/{lang}.yaml"
                                            f"{_did_you_mean(name, available.shared)}")]
        return []
    if reference not in available.own and reference not in available.fallback_own:
        options = list(available.own) + list(COMPONENT_NAMES) + [f"shared/{s}" for s in available.shared]
        return [entry.facts_doc.problem(where, f"{leaflet}there is no section '{reference}' in "
                                        f"{entry.id}/{lang}.yaml{_did_you_mean(reference, options)}")]
    return []


def _did_you_mean(name: str, options) -> str:
    guess = closest(name, options)
    return f"; did you mean '{guess[0]}'?" if guess else ""
