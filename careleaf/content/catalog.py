"""Stage 2: read every content file, validate it into the typed model, and check
that the files agree with each other (references, coverage, wording per language).

Nothing is rendered until the whole catalog has passed: every problem in every
file is collected and reported together.

Layout of the content folder::

    leaflets/brands/<brand>.yaml                 Brand
    leaflets/shared/<lang>.yaml                  SharedWording
    leaflets/treatments/<id>/treatment.yaml      Treatment (facts and figures)
    leaflets/treatments/<id>/<lang>.yaml         TreatmentWording
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careleaf.content import model
from careleaf.errors import InputError, Problem, display_path
from careleaf.content.items import Item, Key, file_items
from careleaf.content.labels import read_labels
from careleaf.content.load import Document
from careleaf.project import Project, first_existing
from careleaf.content import references
from careleaf.content.validate import closest, origin, read_file
from careleaf.content.translation import SOURCE_LANGUAGE, stale_items

LANGUAGE_FILE = "??.yaml"


@dataclass
class TreatmentEntry:
    """One treatment: its facts, and its wording in each language."""

    id: str
    facts: model.Treatment
    facts_doc: Document
    wording: dict[str, model.TreatmentWording] = field(default_factory=dict)
    wording_docs: dict[str, Document] = field(default_factory=dict)

    @property
    def facts_file(self) -> str:
        return f"leaflets/treatments/{self.id}/treatment.yaml"

    def wording_file(self, lang: str) -> str:
        return f"leaflets/treatments/{self.id}/{lang}.yaml"

    def leaflet(self, kind: str) -> model.LeafletDefinition:
        return next(d for d in self.facts.leaflets if d.kind == kind)


def shared_file(lang: str) -> str:
    return f"leaflets/shared/{lang}.yaml"


def brand_file(brand: str) -> str:
    return f"leaflets/brands/{brand}.yaml"


def logo_file(brand: str, logo: str) -> str:
    return f"styles/brands/{brand}/{logo}"


def labels_file(lang: str) -> str:
    return f"templates/labels/{lang}.yaml"


COUNTRIES_FILE = "countries.yaml"      # in the templates folders, beside labels/


@dataclass
class Catalog:
    """Everything that was read, valid and cross-checked, and every item in it by key."""

    project: Project
    brands: dict[str, model.Brand]
    shared: dict[str, tuple[model.SharedWording, Document]]
    treatments: dict[str, TreatmentEntry]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)      # template words by language
    countries: dict[str, model.CountryFacts] = field(default_factory=dict)  # emergency numbers, reporting schemes
    items: dict[Key, Item] = field(default_factory=dict)
    stale: frozenset[Key] = frozenset()        # translated items older than their source wording
    documents: dict[str, Document] = field(default_factory=dict)          # each items file, as read

    def fallback(self, lang: str) -> str | None:
        return fallback_language(self.brands, lang)

    def logo(self, brand: str) -> Path:
        return self.project.styles / "brands" / brand / self.brands[brand].logo


def _read_countries(files: _Collector, project: Project, brands: dict[str, model.Brand]) -> dict[str, model.CountryFacts]:
    """The country table (the project's, else the theme's), with every brand's country in it."""
    path = first_existing(project.template_folders, COUNTRIES_FILE)
    countries, _ = files.read(path, dict[model.Country, model.CountryFacts])
    if countries is None:
        return {}
    for brand in brands.values():
        if not brand.country and not brand.emergency_number:
            files.problems.append(origin(brand).problem(
                "the clinic's country is needed (for example 'country: GB'), so that its leaflets print the right "
                "emergency number; or give the number itself as 'emergency_number:'", "name"))
        if brand.country and brand.country not in countries:
            files.problems.append(origin(brand).problem(
                f"there are no facts for country '{brand.country}' (emergency number, how to report a side "
                f"effect) in {display_path(path)}; add them to a copy of it in the project's templates/ folder",
                "country"))
    return countries


def _check_references(brands, shared, treatments, countries) -> list[Problem]:
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


def fallback_language(brands: dict[str, model.Brand], lang: str) -> str | None:
    """The language gaps in ``lang`` may be filled from: only if every brand offering it agrees."""
    offering = [b for b in brands.values() if lang in b.languages]
    choices = {b.fallback_language for b in offering}
    return choices.pop() if len(choices) == 1 and offering else None


class _Collector:
    """Reads files, remembering every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def read(self, path: Path, cls: type) -> tuple[Any, Document | None]:
        value, doc, problems = read_file(path, cls)
        self.problems.extend(problems)
        return value, doc


def load_catalog(project: Project) -> Catalog:
    """Read and check the whole project: content and template words. Raises InputError listing every problem."""
    content, styles = project.content, project.styles
    files = _Collector()
    brands, brand_docs = _read_brands(files, content, styles)
    shared = _read_all_languages(files, content / "shared", model.SharedWording)
    treatments = _read_treatments(files, content)
    if not files.problems:
        files.problems.extend(_cross_check(brands, brand_docs, shared, treatments, content))
    if not files.problems and not treatments:
        files.problems.append(Problem(content / "treatments", 1, 1, "there are no treatments to build"))
    if files.problems:    # template words are checked against the languages of valid brands only
        raise InputError(files.problems)
    languages = sorted({lang for brand in brands.values() for lang in brand.languages})
    labels, label_docs = read_labels(project.template_folders, languages, files.problems)
    countries = _read_countries(files, project, brands)
    if not files.problems:
        files.problems.extend(_check_references(brands, shared, treatments, countries))
    if files.problems:
        raise InputError(files.problems)
    catalog = Catalog(project, brands, shared, treatments, labels, countries)
    documents = {brand_file(b): (brands[b], doc) for b, doc in brand_docs.items()}
    documents |= {shared_file(lang): pair for lang, pair in shared.items()}
    documents |= {labels_file(lang): (labels[lang], doc) for lang, doc in label_docs.items()}
    for entry in treatments.values():
        documents[entry.facts_file] = (entry.facts, entry.facts_doc)
        documents |= {entry.wording_file(lang): (entry.wording[lang], entry.wording_docs[lang])
                      for lang in entry.wording}
    for file, (value, doc) in documents.items():
        catalog.items.update(file_items(file, value, doc))
        catalog.documents[file] = doc
    for brand in brands:
        logo = catalog.logo(brand)
        key = Key(logo_file(brand, logo.name), "logo")
        catalog.items[key] = Item(key, hashlib.sha256(logo.read_bytes()).hexdigest(), Problem(logo, 1, 1, ""))
    catalog.stale = frozenset(stale_keys({file: value for file, (value, _) in documents.items()}))
    return catalog


def stale_keys(wording: dict[str, Any]) -> set[Key]:
    """Keys of translated items whose source wording changed since they were translated.

    ``wording`` maps each file to what it holds; the source of a translation is
    the file of the same name in the source language.
    """
    found = set()
    for file, value in wording.items():
        if not isinstance(value, (model.TreatmentWording, model.SharedWording)):
            continue
        folder, _, name = file.rpartition("/")
        source = wording.get(f"{folder}/{SOURCE_LANGUAGE}.yaml")
        if name != f"{SOURCE_LANGUAGE}.yaml" and source is not None:
            found |= {Key(file, group, item) for group, item in stale_items(source, value)}
    return found


def _read_brands(files: _Collector, content: Path, styles: Path):
    brands: dict[str, model.Brand] = {}
    docs: dict[str, Document] = {}
    for path in sorted((content / "brands").glob("*.yaml")):
        brand, doc = files.read(path, model.Brand)
        if brand is None:
            continue
        logo = styles / "brands" / path.stem / brand.logo
        if logo.is_file() and not logo.resolve().is_relative_to(styles.resolve()):
            files.problems.append(doc.problem(("logo",), f"the logo {logo.relative_to(styles.parent)} is a link "
                                              "to a file outside styles/; put the file itself there"))
        elif not logo.is_file():
            shown = logo.relative_to(styles.parent)
            files.problems.append(doc.problem(("logo",), f"the logo file {shown} does not exist"))
        files.problems.extend(_brand_contrast(brand, doc))
        if brand.booklet and brand.page_size != "A5":
            files.problems.append(doc.problem(("booklet",), "a booklet is made of A5 pages: set 'page_size: A5' "
                                              "too, or remove 'booklet'"))
        brands[path.stem] = brand
        docs[path.stem] = doc
    if not brands and not files.problems:
        files.problems.append(Problem(content / "brands", 1, 1,
                                      "there are no brands: add at least one brands/<name>.yaml"))
    return brands, docs


def _brand_contrast(brand: model.Brand, doc: Document) -> list[Problem]:
    """Clear print: headings in the primary colour on white, black text on the tint."""
    problems = []
    if contrast(brand.colours.primary, "#ffffff") < 4.5:
        problems.append(doc.problem(("colours", "primary"), f"the colour {brand.colours.primary} is too light "
                                    "to read on white paper; choose a darker one (contrast of 4.5:1 or more)"))
    if contrast(brand.colours.tint, "#1a1a1a") < 7:
        problems.append(doc.problem(("colours", "tint"), f"the colour {brand.colours.tint} is too dark "
                                    "behind black text; choose a lighter one (contrast of 7:1 or more)"))
    return problems


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _read_all_languages(files: _Collector, folder: Path, cls: type) -> dict[str, tuple[Any, Document]]:
    found = {}
    for path in sorted(folder.glob(LANGUAGE_FILE)):
        value, doc = files.read(path, cls)
        if value is not None:
            found[path.stem] = (value, doc)
    return found


def _read_treatments(files: _Collector, content: Path) -> dict[str, TreatmentEntry]:
    treatments = {}
    for folder in sorted(p for p in (content / "treatments").glob("*") if p.is_dir()):
        facts, doc = files.read(folder / "treatment.yaml", model.Treatment)
        wording = _read_all_languages(files, folder, model.TreatmentWording)
        if facts is None:
            continue
        entry = TreatmentEntry(folder.name, facts, doc)
        for lang, (value, wording_doc) in wording.items():
            entry.wording[lang] = value
            entry.wording_docs[lang] = wording_doc
        treatments[folder.name] = entry
    return treatments


# --- cross-checks -------------------------------------------------------------------

def _cross_check(brands, brand_docs, shared, treatments, content: Path) -> list[Problem]:
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


def _check_facts(entry: TreatmentEntry, codes: dict[str, str]) -> list[Problem]:
    facts, doc = entry.facts, entry.facts_doc
    problems = []
    for where in ("timeline", "side_effects", "contraindications", "aftercare_checklist"):
        problems += _duplicates(doc, getattr(facts, where), "id", where)
    problems += _duplicates(doc, facts.leaflets, "kind", "leaflets")
    for index, definition in enumerate(facts.leaflets):
        if definition.code in codes:
            problems.append(doc.problem(("leaflets", index, "code"), f"the code {definition.code} is already "
                                        f"used by {codes[definition.code]}; every leaflet needs its own code"))
        codes.setdefault(definition.code, f"{entry.id} {definition.kind}")
        problems += _check_contents(entry, index, definition)
        urgent = [effect.id for effect in facts.side_effects if effect.urgent]
        if urgent and "side-effects" in definition.contents and "urgent-help" not in definition.contents:
            problems.append(doc.problem(("leaflets", index, "contents"), f"the side effects {', '.join(urgent)} are "
                                        "urgent and their rows point to the urgent-help box: list 'urgent-help' too"))
    return problems


def _check_contents(entry: TreatmentEntry, index: int, definition: model.LeafletDefinition) -> list[Problem]:
    doc = entry.facts_doc
    problems = []
    seen: set[str] = set()
    for position, reference in enumerate(definition.contents):
        if reference in seen:
            problems.append(doc.problem(("leaflets", index, "contents", position),
                                        f"'{reference}' is listed twice in this leaflet"))
        seen.add(reference)
    for topic in model.REQUIRED_TOPICS[definition.kind]:
        if topic not in definition.contents:
            problems.append(doc.problem(("leaflets", index, "contents"), at_key=True, message=
                                        f"the {definition.kind} leaflet {definition.code} does not cover "
                                        f"{topic.replace('-', ' ')}: add '{topic}' to its contents"))
    needs = {"aftercare-checklist": (entry.facts.aftercare_checklist, "aftercare_checklist"),
             "review-visit": ([m for m in entry.facts.timeline if m.visit], "timeline milestone with visit: true")}
    for block, (data, what) in needs.items():
        if block in definition.contents and not data:
            problems.append(doc.problem(("leaflets", index, "contents", definition.contents.index(block)),
                                        f"'{block}' is listed, but this treatment has no {what}"))
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


def _check_wording(entry: TreatmentEntry, lang: str, wording: model.TreatmentWording,
                   available: _Available, shared) -> list[Problem]:
    doc = entry.wording_docs[lang]
    facts = entry.facts
    problems = []
    for where, items in (("timeline", facts.timeline), ("side_effects", facts.side_effects),
                         ("contraindications", facts.contraindications),
                         ("aftercare_checklist", facts.aftercare_checklist)):
        problems += _match_names(doc, entry, where, [i.id for i in items], getattr(wording, where))
    problems += _match_names(doc, entry, "leaflets", [d.kind for d in facts.leaflets], wording.leaflets)
    for fact in facts.side_effects:
        said = wording.side_effects.get(fact.id)
        if said and fact.urgent and said.what_to_do:
            problems.append(doc.problem(("side_effects", fact.id, "what_to_do"), "this side effect is urgent: its "
                                        "row sends the reader to the urgent-help box, so remove its what_to_do"))
        elif said and not fact.urgent and not said.what_to_do:
            problems.append(doc.problem(("side_effects", fact.id), "say what to do about this side effect "
                                        "(what_to_do), or mark it urgent: true in treatment.yaml", at_key=True))
    for name in wording.sections:
        if name in model.COMPONENTS:
            problems.append(doc.problem(("sections", name), f"'{name}' is the name of a built-in block; "
                                        "give this section another name", at_key=True))
    for index, definition in enumerate(facts.leaflets):
        for position, reference in enumerate(definition.contents):
            problems += _check_reference(entry, index, position, reference, available, lang, shared)
    return problems


def _match_names(doc: Document, entry: TreatmentEntry, where: str, expected: list[str],
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
    if reference in model.COMPONENTS:
        own = entry.wording[lang].urgent_help
        if reference == "urgent-help" and shared[lang][0].urgent_help is None and not (own and own.action):
            return [entry.facts_doc.problem(where, f"'urgent-help' is listed, but neither shared/{lang}.yaml nor "
                                            f"{entry.id}/{lang}.yaml has 'urgent_help' wording with an action")]
        return []
    if reference.startswith("shared/"):
        name = reference.removeprefix("shared/")
        if name not in available.shared and name not in available.fallback_shared:
            return [entry.facts_doc.problem(where, f"there is no shared section '{name}' in shared/{lang}.yaml"
                                            f"{_did_you_mean(name, available.shared)}")]
        return []
    if reference not in available.own and reference not in available.fallback_own:
        options = list(available.own) + list(model.COMPONENTS) + [f"shared/{s}" for s in available.shared]
        return [entry.facts_doc.problem(where, f"there is no section '{reference}' in "
                                        f"{entry.id}/{lang}.yaml{_did_you_mean(reference, options)}")]
    return []


def _did_you_mean(name: str, options) -> str:
    guess = closest(name, options)
    return f"; did you mean '{guess[0]}'?" if guess else ""
