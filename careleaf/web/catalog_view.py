"""What the pages need to know about the catalog: what can be chosen, in words staff read."""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale

from ..errors import InputError
from ..handouts import Choice
from .renderer import _catalog, _stamp


@dataclass(frozen=True)
class Options:
    brands: list[tuple[str, str]]           # (id, the clinic's name)
    treatments: list[tuple[str, str]]       # (id, the treatment's name)
    kinds: list[tuple[str, str]]
    langs: list[tuple[str, str]]            # (code, the language's own name)
    complete: bool                          # the choice names one leaflet that exists


KIND_NAMES = {"pre-treatment": "Before treatment (pre-treatment)", "aftercare": "After treatment (aftercare)"}


def stamp_of(app) -> tuple:
    return _stamp(app.state.project.root)


def catalog_now(app):
    """The catalog as the files are now, or (None, the problems in plain words) while they are broken."""
    try:
        return _catalog(app.state.project.root, stamp_of(app)), None
    except InputError as error:
        return None, str(error)


def choices(catalog, choice: Choice) -> Options:
    brand = catalog.brands.get(choice.brand) or next(iter(catalog.brands.values()))
    treatments = [(tid, entry.wording[min(entry.wording)].name if entry.wording else tid)
                  for tid, entry in sorted(catalog.treatments.items())]
    entry = catalog.treatments.get(choice.treatment)
    kinds = [(d.kind, KIND_NAMES.get(d.kind, d.kind)) for d in entry.facts.leaflets] if entry else \
        [(k, name) for k, name in KIND_NAMES.items()]
    langs = [(code, Locale.parse(code).get_display_name(code).capitalize()) for code in brand.languages]
    complete = (choice.brand in catalog.brands and entry is not None and choice.kind in dict(kinds)
                and choice.lang in catalog.brands[choice.brand].languages)
    return Options([(b, v.name) for b, v in sorted(catalog.brands.items())], treatments, kinds, langs, complete)
