"""Which leaflet a patient gets, as staff choose it: the command line's options, a row of a day's list, the
desk's form or an API request all become one ``Choice``, checked against the catalog here."""

from __future__ import annotations

from dataclasses import dataclass

from careleaf.content.catalog import Catalog
from careleaf.errors import HandoutError
from careleaf.handout.patient import safe_name
from careleaf.leaflet.assemble import Job


@dataclass(frozen=True)
class Choice:
    """Which leaflet a patient gets."""

    brand: str
    treatment: str
    kind: str
    lang: str
    large_print: bool = False

    def job(self) -> Job:
        """The catalog's job for this leaflet: a patient gets the same leaflet the catalog prints."""
        return Job(self.brand, self.lang, self.treatment, self.kind, self.large_print)


def choice_problems(catalog: Catalog, choice: Choice) -> list[str]:
    """Why ``choice`` names no leaflet of the catalog, one problem a field; empty when it names one."""
    def one_of(what: str, given: str, options) -> str | None:
        options = sorted(options)
        return None if given in options else f"{what}: there is no {safe_name(given)}; choose one of {', '.join(options)}"

    problems = [one_of("brand", choice.brand, catalog.brands), one_of("treatment", choice.treatment, catalog.treatments)]
    if not any(problems):
        problems += [one_of("kind", choice.kind, [d.kind for d in catalog.treatments[choice.treatment].facts.leaflets]),
                     one_of("lang", choice.lang, catalog.brands[choice.brand].languages)]
    return [p for p in problems if p]


def check_choice(catalog: Catalog, choice: Choice) -> None:
    """HandoutError naming each field of ``choice`` that the catalog does not have."""
    problems = choice_problems(catalog, choice)
    if problems:
        raise HandoutError(problems)
