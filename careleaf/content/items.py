"""Items: the smallest pieces of content a leaflet prints, each with a typed key.

A leaflet prints items: a question and answer, a side effect's facts and its
wording, a brand's urgent number, a template word such as "Possible side effects".
``assemble`` records, for each leaflet, exactly the items it took; that one
record is what the approval check, the stale-translation note, the fingerprint
that decides what to rebuild, and the wording-change sheet (``changes``) read.

A key names the file an item is written in (relative to the project, the way an
editor finds it), its group and its name:

    Key("leaflets/treatments/botox-facial-lines/en.yaml", "sections", "will-my-face-swell")
    Key("leaflets/treatments/botox-facial-lines/treatment.yaml", "side_effects", "bruising")
    Key("leaflets/brands/harbour-skin.yaml", "urgent_phone", "")
    Key("templates/labels/tr.yaml", "frequency_common", "")

This module also says, in one place, which model each file holds, and how its
items are found in it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Iterator

from careleaf.content import model
from careleaf.content.facts import FACT_KEYS, URGENT_HELP
from careleaf.errors import Problem
from careleaf.content.labels import TemplateWords
from careleaf.content.load import Document
from careleaf.project import CONTENT, TEMPLATES

# The name of the one item a file's urgent-help wording is: Key(file, "urgent_help", "box").
URGENT_BOX = "box"

# Brand fields that print nothing on a catalog leaflet: which languages are offered is a list of PDFs, not
# their content; the time zone and opening days give a patient's own leaflet its dates (careleaf.handout.personal).
BRAND_NOT_PRINTED = ("languages", "time_zone", "opening_days", "closed_dates", "booklet")


@dataclass(frozen=True, order=True)
class Key:
    """Which item: the file it is written in, its group and its name ('' for a single value)."""

    file: str
    group: str
    name: str = ""

    @property
    def item(self) -> str:
        """As an editor reads it: 'sections/will-my-face-swell', 'timeline/effect-starts', 'urgent_phone'."""
        return self.group if self.name in ("", self.group) else f"{self.group}/{self.name}"

    def __str__(self) -> str:
        return f"{self.file}#{self.item}"


@dataclass(frozen=True)
class Item:
    """One item of a file: its value, and where it is written."""

    key: Key
    value: Any
    where: Problem          # its file, line and column (the message is empty)


# --- which model each file holds -----------------------------------------------------

_LANGUAGE_FILE = r"[a-z]{2}\.yaml"
LAYOUT: list[tuple[str, Any]] = [
    (rf"{CONTENT}/brands/[^/]+\.yaml", model.Brand),
    (rf"{CONTENT}/shared/{_LANGUAGE_FILE}", model.SharedWording),
    (rf"{CONTENT}/treatments/[^/]+/treatment\.yaml", model.Treatment),
    (rf"{CONTENT}/treatments/[^/]+/{_LANGUAGE_FILE}", model.TreatmentWording),
    (rf"{TEMPLATES}/labels/{_LANGUAGE_FILE}", TemplateWords),
]


def model_of(file: str) -> Any:
    """What a file holds, by where it is in the project (None: not an items file)."""
    return next((kind for pattern, kind in LAYOUT if re.fullmatch(pattern, file)), None)


def language_of(file: str) -> str:
    return PurePosixPath(file).stem


# --- the items of one file ------------------------------------------------------------

def file_items(file: str, value: Any, doc: Document) -> dict[Key, Item]:
    """Every item of one file, keyed, each with its line."""
    found = {}
    for group, name, item, where, at_key in _parts(value):
        key = Key(file, group, name)
        found[key] = Item(key, item, doc.problem(where, "", at_key=at_key))
    return found


def _parts(value: Any) -> Iterator[tuple[str, str, Any, tuple, bool]]:
    """(group, name, value, key path in the file, located at the key?) for each item."""
    if isinstance(value, model.Treatment):
        for group in FACT_KEYS:
            for index, fact in enumerate(getattr(value, group)):
                yield group, fact.id, fact, (group, index), False
        for index, definition in enumerate(value.leaflets):
            yield "leaflets", definition.kind, definition, ("leaflets", index), False
        if value.course:        # an item only where there is one: leaflets without a course keep their record
            yield "course", "", value.course, ("course",), True
    elif isinstance(value, (model.TreatmentWording, model.SharedWording)):
        for group, name, item in wording_items(value):
            where = (group,) if group in ("name", URGENT_HELP.key) else (group, name)
            yield group, name, item, where, True
    elif isinstance(value, model.Brand):
        for spec in dataclasses.fields(value):
            if spec.name not in BRAND_NOT_PRINTED:
                yield spec.name, "", getattr(value, spec.name), (spec.name,), True
    elif isinstance(value, dict):          # template words
        for name, words in value.items():
            yield name, "", words, (name,), True


def wording_items(wording: model.TreatmentWording | model.SharedWording) -> Iterator[tuple[str, str, Any]]:
    """Every translatable item of a wording file as (group, name, value).

    These names are also the keys of a translation's ``translated_from`` record,
    written into translated files, so they stay as they are.
    """
    if isinstance(wording, model.TreatmentWording):
        yield "name", "name", wording.name
        for group in ("leaflets", "sections", *FACT_KEYS):
            for name, value in getattr(wording, group).items():
                yield group, name, value
    else:
        for name, value in wording.sections.items():
            yield "sections", name, value
    if wording.urgent_help:
        yield URGENT_HELP.key, URGENT_BOX, wording.urgent_help


# --- fingerprints -----------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A value as plain JSON data, the same on every run and machine."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {spec.name: plain(getattr(value, spec.name)) for spec in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8; equal data always gives equal bytes."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()
