"""Stage 2: read every content file, validate it into the typed model, and check
that the files agree with each other (references, coverage, wording per language).

Nothing is rendered until the whole catalog has passed: every problem in every
file is collected and reported together. How the files must agree with each
other is in ``cross_checks.py``.

Layout of the content folder::

    leaflets/brands/<brand>.yaml                 Brand
    leaflets/shared/<lang>.yaml                  SharedWording
    leaflets/treatments/<id>/treatment.yaml      Treatment (facts and figures)
    leaflets/treatments/<id>/<lang>.yaml         TreatmentWording
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careleaf.content import model
from careleaf.content.cross_checks import check_references, cross_check, fallback_language
from careleaf.errors import InputError, Problem, display_path
from careleaf.content.items import Item, Key, file_items
from careleaf.content.labels import read_labels
from careleaf.content.load import Document
from careleaf.project import CONTENT, STYLES, TEMPLATES, Project, Refused, first_existing, read_regular, resolved_inside
from careleaf.content.settings import Limits, project_limits
from careleaf.content.validate import origin, read_file
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
        return f"{CONTENT}/treatments/{self.id}/treatment.yaml"

    def wording_file(self, lang: str) -> str:
        return f"{CONTENT}/treatments/{self.id}/{lang}.yaml"

    def leaflet(self, kind: str) -> model.LeafletDefinition:
        return next(d for d in self.facts.leaflets if d.kind == kind)


def shared_file(lang: str) -> str:
    return f"{CONTENT}/shared/{lang}.yaml"


def brand_file(brand: str) -> str:
    return f"{CONTENT}/brands/{brand}.yaml"


def logo_file(brand: str, logo: str) -> str:
    return f"{STYLES}/brands/{brand}/{logo}"


def labels_file(lang: str) -> str:
    return f"{TEMPLATES}/labels/{lang}.yaml"


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
    limits: Limits = field(default_factory=Limits)                          # careleaf.yaml's, for the renderer

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


class _Collector:
    """Reads files, remembering every problem instead of stopping at the first."""

    def __init__(self, limits: Limits) -> None:
        self.problems: list[Problem] = []
        self.limits = limits

    def read(self, path: Path, cls: type) -> tuple[Any, Document | None]:
        value, doc, problems = read_file(path, cls, limit=self.limits.wording_bytes)
        self.problems.extend(problems)
        return value, doc

    def named_plainly(self, path: Path, name: str, what: str) -> bool:
        """Whether a file's or folder's name may become part of a path in out/ (a brand, a treatment, a
        language); a problem when it may not (``...yaml`` would be the brand '..', and write outside out/)."""
        if (_LANGUAGE if what == "language" else _NAME).fullmatch(name):
            return True
        rule = "two small letters, such as en" if what == "language" else \
            "letters, digits and '-' only, starting with a letter or digit, such as harbour-skin"
        self.problems.append(Problem(path, 1, 1, f"this {what}'s name '{name}' cannot be used: it becomes part of "
                                                 f"the leaflets' file names, so it must be {rule}. Rename it"))
        return False


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_LANGUAGE = re.compile(r"[a-z]{2}")


def _limits(files: list[Problem], project: Project) -> Limits:
    """careleaf.yaml's limits; its problems are the catalog's (reported with the others), the defaults used."""
    try:
        return project_limits(project)
    except InputError as error:
        files.extend(error.problems)
        return Limits()


def load_catalog(project: Project) -> Catalog:
    """Read and check the whole project: content and template words. Raises InputError listing every problem."""
    content, styles = project.content, project.styles
    problems: list[Problem] = []
    files = _Collector(_limits(problems, project))
    files.problems.extend(problems)
    brands, brand_docs = _read_brands(files, content, styles)
    shared = _read_all_languages(files, content / "shared", model.SharedWording)
    treatments = _read_treatments(files, content)
    if not files.problems:
        files.problems.extend(cross_check(brands, brand_docs, shared, treatments, content))
    if not files.problems and not treatments:
        files.problems.append(Problem(content / "treatments", 1, 1, "there are no treatments to build"))
    if files.problems:    # template words are checked against the languages of valid brands only
        raise InputError(files.problems)
    languages = sorted({lang for brand in brands.values() for lang in brand.languages})
    labels, label_docs = read_labels(project.template_folders, languages, files.problems)
    countries = _read_countries(files, project, brands)
    if not files.problems:
        files.problems.extend(check_references(brands, shared, treatments, countries))
    if files.problems:
        raise InputError(files.problems)
    catalog = Catalog(project, brands, shared, treatments, labels, countries, limits=files.limits)
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
        catalog.items[key] = Item(key, _logo_digest(logo, styles, files.limits), Problem(logo, 1, 1, ""))
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
        if not files.named_plainly(path, path.stem, "brand"):
            continue
        brand, doc = files.read(path, model.Brand)
        if brand is None:
            continue
        logo = styles / "brands" / path.stem / brand.logo
        shown = logo.relative_to(styles.parent)
        if not logo.exists() and not logo.is_symlink():
            files.problems.append(doc.problem(("logo",), f"the logo file {shown} does not exist"))
        elif refusal := _logo_refusal(logo, styles):
            files.problems.append(doc.problem(("logo",), f"the logo {shown} {refusal}"))
        files.problems.extend(_brand_contrast(brand, doc))
        if brand.booklet and brand.page_size != "A5":
            files.problems.append(doc.problem(("booklet",), "a booklet is made of A5 pages: set 'page_size: A5' "
                                              "too, or remove 'booklet'"))
        if brand.leaflet_page and brand.site_url:
            files.problems.append(doc.problem(("site_url",), "a leaflet's QR code points to one page: give "
                                              "'site_url' (the pages careleaf writes) or 'leaflet_page' (pages "
                                              "of your own), not both"))
        brands[path.stem] = brand
        docs[path.stem] = doc
    if not brands and not files.problems:
        files.problems.append(Problem(content / "brands", 1, 1,
                                      "there are no brands: add at least one brands/<name>.yaml"))
    return brands, docs


def _logo_refusal(logo: Path, styles: Path) -> str | None:
    """Why a brand's logo cannot be used at all (a link out of styles/, not a file), or None. Its size and
    what it holds (elements, pixels, what it refers to) are checked as it is drawn, failing that brand's
    leaflets only, and by `check`: careleaf.pdf.assets."""
    try:
        real = resolved_inside(logo, (styles,))
        if not real.is_file():
            return "is not a file careleaf can read (a pipe, a device or a folder); put an ordinary file there"
    except Refused as refused:
        return "is a link to a file outside styles/; put the file itself there" if refused.kind == "outside" \
            else f"cannot be used: {refused.reason}"
    return None


def _logo_digest(logo: Path, styles: Path, limits: Limits) -> str:
    """The logo's SHA-256 (an item of its brand's leaflets); for a logo over its limit, a digest of that
    refusal, which the render reports."""
    try:
        return hashlib.sha256(read_regular(logo, within=(styles,), limit=limits.image_bytes)).hexdigest()
    except Refused as refused:
        return hashlib.sha256(refused.reason.encode("utf-8")).hexdigest()


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
        if not files.named_plainly(path, path.stem, "language"):
            continue
        value, doc = files.read(path, cls)
        if value is not None:
            found[path.stem] = (value, doc)
    return found


def _read_treatments(files: _Collector, content: Path) -> dict[str, TreatmentEntry]:
    treatments = {}
    for folder in sorted(p for p in (content / "treatments").glob("*") if p.is_dir()):
        if not files.named_plainly(folder, folder.name, "treatment"):
            continue
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
