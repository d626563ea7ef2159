"""`check`'s safety rules: red flags and hard facts a leaflet must not get wrong, reported as errors.

* a treatment's own ``urgent_help`` in one language and not in another: that language would print only the
  shared red flags, another treatment's danger signs, with no warning;
* ``replaces_shared: true`` without the treatment's own ``action``: the box would print the shared action
  (written for another treatment) under these signs;
* a ``{…}`` that would print literally: references are filled in only in answers and intros;
* telephone and emergency numbers typed into wording (the box prints the clinic's and the country's own),
  regulators named in what-to-do wording (the country table says how to report), and marks that contradict
  the clinic's country (a CE mark on a US leaflet).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Iterator

from careleaf.content import model, references
from careleaf.content.catalog import Catalog
from careleaf.content.facts import AFTERCARE_CHECKLIST, SIDE_EFFECTS, URGENT_HELP
from careleaf.content.items import Key, model_of
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.review.findings import Finding, finding_at

_ANY_DAY = dt.date(2000, 1, 1)          # what a leaflet prints does not depend on the day
# Fields in which {group.name} references are filled in (leaflet.assemble._referred).
FILLED_IN = ("answer", "intro")
_BRACES = re.compile(r"\{[^{}\n]*\}")
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d ()\-]{6,}\d(?![\w.])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMERGENCY = re.compile(r"(?<![\w.,])(999|911|112|111|000)(?![\w.,%]|\.\d)")
# Regulators, by the country whose table names them: what to do about a side effect comes from that table.
REGULATORS = {"MHRA": "GB", "FDA": "US", "TİTCK": "TR", "TITCK": "TR", "HPRA": "IE", "Yellow Card": "GB",
              "MedWatch": "US"}
# Marks a product carries, by the countries where a patient may be asked to look for them.
MARKS = {"CE mark": ("GB", "IE", "TR"), "CE işareti": ("GB", "IE", "TR"), "UKCA": ("GB",)}
# Wording that says what to do: where a regulator's name would be a typed fact.
WHAT_TO_DO = (URGENT_HELP.key, SIDE_EFFECTS.key, AFTERCARE_CHECKLIST.key)


def safety_findings(catalog: Catalog) -> list[Finding]:
    found = own_urgent_help_in_every_language(catalog) + replaced_without_action(catalog)
    countries = _printed_for(catalog)
    for key, where, field, text in wording_texts(catalog):
        found += _text_findings(catalog, key, where, field, text, countries.get(key, set()))
    return sorted(set(found), key=Finding.sort_key)


def own_urgent_help_in_every_language(catalog: Catalog) -> list[Finding]:
    found = []
    for entry in catalog.treatments.values():
        having = sorted(lang for lang, wording in entry.wording.items() if wording.urgent_help)
        for lang, wording in sorted(entry.wording.items()):
            if having and not wording.urgent_help:
                found.append(finding_at(entry.wording_docs[lang], ("name",), "error", "urgent-help-missing",
                                        f"{entry.id} has its own urgent_help (red-flag signs) in "
                                        f"{', '.join(f'{h}.yaml' for h in having)} but not in {lang}.yaml, so its "
                                        f"{lang} leaflets would print only the shared signs: translate the box "
                                        "into this file", at_key=True))
    return found


def replaced_without_action(catalog: Catalog) -> list[Finding]:
    return [finding_at(entry.wording_docs[lang], (URGENT_HELP.key, "replaces_shared"), "error",
                       "replaces-without-action",
                       "replaces_shared: true needs this treatment's own 'action:' (what to do about these signs); "
                       "without it the box prints the shared action, written for other treatments")
            for entry in catalog.treatments.values() for lang, wording in sorted(entry.wording.items())
            if wording.urgent_help and wording.urgent_help.replaces_shared and not wording.urgent_help.action]


def wording_texts(catalog: Catalog) -> Iterator[tuple[Key, tuple, str, str]]:
    """Every piece of text in the wording files: (item, its key path in the file, field name, text)."""
    for key, item in sorted(catalog.items.items()):
        if model_of(key.file) not in (model.TreatmentWording, model.SharedWording):
            continue
        base = (key.group,) if key.group in ("name", URGENT_HELP.key) else (key.group, key.name)
        yield from _texts(key, base, "", item.value)


def _texts(key: Key, where: tuple, field: str, value: Any) -> Iterator[tuple[Key, tuple, str, str]]:
    if isinstance(value, str):
        yield key, where, field, value
    elif isinstance(value, list):
        for index, part in enumerate(value):
            yield from _texts(key, (*where, index), field, part)
    elif dataclasses.is_dataclass(value):
        for spec in dataclasses.fields(value):
            yield from _texts(key, (*where, spec.name), spec.name, getattr(value, spec.name))


def _printed_for(catalog: Catalog) -> dict[Key, set[str]]:
    """The countries of the clinics each wording item is printed for."""
    found: dict[Key, set[str]] = {}
    for job in jobs(catalog, large_print=False):
        country = catalog.brands[job.brand].country or ""
        for key in assemble(catalog, job, _ANY_DAY).printed:
            found.setdefault(key, set()).add(country)
    return found


def _text_findings(catalog: Catalog, key: Key, where: tuple, field: str, text: str,
                   countries: set[str]) -> list[Finding]:
    doc = catalog.documents[key.file]
    found = []

    def error(code: str, message: str) -> None:
        found.append(finding_at(doc, where, "error", code, message))

    left = references.REFERENCE.sub("", text) if field in FILLED_IN else text
    for braces in _BRACES.findall(left):
        error("printed-braces", f"{braces} would print as it is, braces and all: references are filled in only "
                                "in answers and intros (and only those careleaf knows); write the words")
    plain = _DATE.sub("", references.REFERENCE.sub("", text))
    for number in _PHONE.findall(plain):
        if sum(c.isdigit() for c in number) >= 7:
            error("typed-phone", f"'{number.strip()}' looks like a telephone number typed into the wording: the "
                                 "leaflet prints the clinic's numbers from its brand file, so leave it out")
    for number in _EMERGENCY.findall(plain):
        error("typed-emergency-number", f"'{number}' is an emergency or advice number typed into the wording: the "
                                        "urgent-help box prints the right one for each clinic's country (999, 911, "
                                        "112 …), so write 'the emergency number' instead")
    if key.group in WHAT_TO_DO:
        for name in (n for n in REGULATORS if n.lower() in text.lower()):
            error("typed-regulator", f"'{name}' is a regulator typed into what-to-do wording, right for one "
                                     "country only: careleaf's country table says how to report in each clinic's "
                                     "country ({country.regulator} in an answer)")
    for mark, allowed in MARKS.items():
        wrong = sorted(c or "no country" for c in countries if c not in allowed)
        if mark.lower() in text.lower() and wrong:
            error("wrong-country-mark", f"'{mark}' is printed for clinics in {', '.join(wrong)}, where products "
                                        "do not carry it: word it for every clinic, or keep it out of their "
                                        "leaflets")
    return found
