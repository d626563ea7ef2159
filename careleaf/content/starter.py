"""`careleaf new`: a complete, working project for one clinic, written from careleaf's starter (careleaf/starter/).

The clinic's name, country, time zone, languages and page size are asked for (or given as options); the
project then has the clinic's brand file with every field present and explained, a check.yaml with the
defaults, and an example treatment in each of its languages, ready to `careleaf build`. A translation of the
example is recorded as checked against the English (it is careleaf's own), so `check` reports only what the
clinic's own changes deserve.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from careleaf.content import model
from careleaf.content.fields import SCALARS, Invalid, TimeZone
from careleaf.content.schemas import schema_texts
from careleaf.content.translation import SOURCE_LANGUAGE, mark_reviewed
from careleaf.content.validate import read_file
from careleaf.errors import InputError, Problem
from careleaf.project import CONTENT, TEMPLATES, THEME

STARTER = Path(__file__).resolve().parent.parent / "starter"
EXAMPLE = "example-treatment"

# A clinic's usual time zone by country, for the countries in careleaf's table (a country with several zones
# gets its most populous; the clinic may choose another).
TIME_ZONES = {"GB": "Europe/London", "US": "America/New_York", "TR": "Europe/Istanbul", "IE": "Europe/Dublin",
              "DE": "Europe/Berlin", "FR": "Europe/Paris", "ES": "Europe/Madrid", "IT": "Europe/Rome",
              "NL": "Europe/Amsterdam"}


@dataclass(frozen=True)
class Clinic:
    """What `careleaf new` asks about the clinic."""

    name: str = "My Clinic"
    country: str = "GB"
    languages: tuple[str, ...] = ("en",)
    time_zone: str = ""                 # '' for the country's usual one
    page_size: str = ""                 # '' for the country's usual paper: Letter in the US, A4 elsewhere
    opening_days: tuple[str, ...] = field(default=model.WEEKDAYS[:5])

    @property
    def zone(self) -> str:
        return self.time_zone or TIME_ZONES.get(self.country, "Europe/London")

    @property
    def paper(self) -> str:
        return self.page_size or ("Letter" if self.country in ("US", "CA") else "A4")

    @property
    def slug(self) -> str:
        """The brand's file name: 'Izmir Skin Clinic' -> 'izmir-skin-clinic'."""
        letters = unicodedata.normalize("NFKD", self.name.replace("ı", "i").lower())
        plain = "".join(c for c in letters if not unicodedata.combining(c))
        return re.sub(r"[^a-z0-9]+", "-", plain).strip("-") or "my-clinic"


def countries() -> list[str]:
    """The countries careleaf's own table has facts for (emergency number, reporting)."""
    return sorted(yaml.safe_load((THEME / TEMPLATES / "countries.yaml").read_text("utf-8")))


def languages() -> list[str]:
    """The languages careleaf has template words and an example treatment for."""
    theme = {path.stem for path in (THEME / TEMPLATES / "labels").glob("*.yaml")}
    example = {path.stem for path in (STARTER / CONTENT / "treatments" / EXAMPLE).glob("??.yaml")}
    return sorted(theme & example)


def clinic_problems(clinic: Clinic) -> list[str]:
    """What is wrong with the answers, in plain words (an empty list when nothing is)."""
    problems = []
    if not clinic.name.strip():
        problems.append("the clinic's name is empty")
    if clinic.country not in countries():
        problems.append(f"careleaf has no facts for the country '{clinic.country}' (its emergency number, how to "
                        f"report a side effect); choose one of {', '.join(countries())}, or add yours to a copy "
                        "of countries.yaml in the project's templates/ afterwards")
    unknown = [lang for lang in clinic.languages if lang not in languages()]
    if unknown or not clinic.languages:
        problems.append(f"careleaf has no example wording in {', '.join(unknown) or 'no language'}; choose from "
                        f"{', '.join(languages())} (another language can be added afterwards)")
    try:
        SCALARS[TimeZone].parse(clinic.zone)
    except Invalid as error:
        problems.append(f"time zone: {error}")
    if clinic.paper not in ("A4", "Letter", "A5"):
        problems.append(f"page size '{clinic.paper}' should be A4, Letter or A5")
    return problems


def new_project(folder: Path, clinic: Clinic = Clinic()) -> list[Path]:
    """Write a complete, working project for ``clinic`` into ``folder``, with the JSON Schemas editors' tools
    use. Refuses a folder that already holds files, or answers careleaf cannot use. Returns what was written."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError([Problem(folder, 1, 1, "this folder is not empty; give a new folder for the project, "
                                                "so nothing of yours is overwritten")])
    problems = clinic_problems(clinic)
    if problems:
        raise InputError([Problem(folder, 1, 1, problem) for problem in problems])
    files: dict[Path, bytes] = {}
    for path in sorted(STARTER.rglob("*")):
        relative = path.relative_to(STARTER)
        if path.is_file() and _wanted(relative, clinic.languages):
            files[relative] = path.read_bytes()
    files[Path(".gitignore")] = files.pop(Path("gitignore"))   # kept without its dot: packaging skips hidden files
    logo = files.pop(Path("styles/brands/my-clinic/logo.svg"))
    files[Path("styles/brands", clinic.slug, "logo.svg")] = logo
    files[Path(CONTENT, "brands", f"{clinic.slug}.yaml")] = brand_file(clinic).encode("utf-8")
    files[Path(CONTENT, "check.yaml")] = check_file().encode("utf-8")
    files |= {Path(CONTENT, "schema", name): text.encode("utf-8") for name, text in schema_texts().items()}
    written = []
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    _record_translations(folder, clinic.languages)
    return written


def _wanted(relative: Path, languages: tuple[str, ...]) -> bool:
    """A starter file the project takes: wording files only in the clinic's languages."""
    return not re.fullmatch(r"[a-z]{2}\.yaml", relative.name) or relative.stem in languages


def _record_translations(folder: Path, languages: tuple[str, ...]) -> None:
    """The example's translations are careleaf's own, checked against its English: recorded as such, as
    `careleaf translations --reviewed` would, so the clinic is told only about what it changes."""
    if SOURCE_LANGUAGE not in languages:
        return
    for place, kind in ((Path(CONTENT, "shared"), model.SharedWording),
                        (Path(CONTENT, "treatments", EXAMPLE), model.TreatmentWording)):
        source, _, _ = read_file(folder / place / f"{SOURCE_LANGUAGE}.yaml", kind)
        for lang in languages:
            if lang != SOURCE_LANGUAGE:
                mark_reviewed(folder / place / f"{lang}.yaml", source)


# --- the brand file and check.yaml, every field present and explained -----------------------

def brand_file(clinic: Clinic) -> str:
    """The clinic's brand file: every field of model.Brand with its help as a comment; those a clinic
    usually leaves out are there, commented out, with an example."""
    values: dict[str, Any] = {
        "name": clinic.name, "logo": "logo.svg", "colours": {"primary": "#0b4a66", "tint": "#eef6f9"},
        "phone": "000 000 0000", "urgent_phone": "000 000 0001",
        "address": ["1 Example Street", "Your town"], "website": "https://clinic.example/",
        "email": "hello@clinic.example", "page_size": clinic.paper, "booklet": False,
        "languages": list(clinic.languages), "country": clinic.country, "time_zone": clinic.zone,
        "opening_days": list(clinic.opening_days), "closed_dates": [],
        "urgent_hours": {"days": list(clinic.opening_days), "opens": "09:00", "closes": "18:00"}}
    examples = {"locales": {clinic.languages[0]: f"{clinic.languages[0]}_{clinic.country}"},
                "fallback_language": clinic.languages[0],
                "leaflet_page": "https://clinic.example/leaflets/{code}?lang={lang}", "emergency_number": "112"}
    lines = ["# yaml-language-server: $schema=../schema/brand.schema.json",
             f"# {clinic.name}: printed at the top of every page and in the contact box. Replace the example",
             "# phone numbers, address, website and email with the clinic's own before handing leaflets out.",
             f"# The logo is styles/brands/{clinic.slug}/logo.svg; every field is explained above it.", ""]
    for spec in dataclasses.fields(model.Brand):
        lines.append(f"# {spec.metadata['doc']}")
        if spec.name in values:
            lines += _yaml_lines(spec.name, values[spec.name])
        else:
            lines += ["# " + line for line in _yaml_lines(spec.name, examples.get(spec.name, ""))]
    return "\n".join(lines) + "\n"


def check_file() -> str:
    """check.yaml with careleaf's defaults, each target explained."""
    lines = ["# yaml-language-server: $schema=schema/check.schema.json",
             "# What 'careleaf check' holds the wording to, with careleaf's defaults. Nothing here changes a",
             "# leaflet: these are the targets an editor is warned about.", ""]
    return "\n".join(lines + _commented_defaults(model.CheckSettings, 0)) + "\n"


def _commented_defaults(cls: type, indent: int) -> list[str]:
    lines = []
    pad = " " * indent
    for spec in dataclasses.fields(cls):
        default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()
        lines.append(f"{pad}# {spec.metadata['doc']}")
        if dataclasses.is_dataclass(default):
            lines.append(f"{pad}{spec.name}:")
            lines += _commented_defaults(type(default), indent + 2)
        else:
            lines += [pad + line for line in _yaml_lines(spec.name, default)]
    return lines


def _yaml_lines(name: str, value: Any) -> list[str]:
    """'name: value' as YAML, strings in double quotes (JSON's quoting is YAML's), maps (a dataclass is one, the
    standard's topics for instance) on their own lines, indented."""
    if dataclasses.is_dataclass(value):
        value = {spec.name: getattr(value, spec.name) for spec in dataclasses.fields(value)}
    if isinstance(value, dict) and value:
        return [f"{name}:"] + ["  " + line for key, item in value.items() for line in _yaml_lines(key, item)]
    return [f"{name}: {json.dumps(value, ensure_ascii=False)}"]
