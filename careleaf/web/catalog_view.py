"""What the pages need to know about the project: what can be chosen (in words staff read), whether its
files changed, and its outbox."""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale

from careleaf.build.stamps import files_version
from careleaf.errors import InputError
from careleaf.handout.choice import Choice, choice_problems
from careleaf.web.renderer import current_catalog


@dataclass(frozen=True)
class Options:
    brands: list[tuple[str, str]]           # (id, the clinic's name)
    treatments: list[tuple[str, str]]       # (id, the treatment's name)
    kinds: list[tuple[str, str]]
    langs: list[tuple[str, str]]            # (code, the language's own name)
    complete: bool                          # the choice names one leaflet that exists


KIND_NAMES = {"pre-treatment": "Before treatment (pre-treatment)", "aftercare": "After treatment (aftercare)"}


def stamp_of(app) -> str:
    """The version of the project's files as they are now (careleaf.build.stamps.files_version): a saved edit
    gives a new one, and the previews kept for the old one are not shown again."""
    return files_version(app.state.project)


def version_of(app) -> str:
    """A short name for the project's files as they are now: page images' addresses carry it, so a browser
    fetches them again after an edit."""
    return stamp_of(app)[:12]


def catalog_now(app):
    """The catalog as the files are now, or (None, the problems in plain words) while they are broken."""
    try:
        return current_catalog(app.state.project.root), None
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
    return Options([(b, v.name) for b, v in sorted(catalog.brands.items())], treatments, kinds, langs,
                   not choice_problems(catalog, choice))


def outbox_of(app):
    """The project's outbox, opened once for the app."""
    from careleaf.desk.outbox import Outbox   # huey: only once something is emailed or a send looked up

    if getattr(app.state, "outbox", None) is None:
        app.state.outbox = Outbox(app.state.project, app.state.settings)
    return app.state.outbox


def find_send(app, send_id: str) -> dict | None:
    """A send's state by its id, or None (also for an id that is not one: ids are hex digits)."""
    if not send_id.isalnum() or len(send_id) > 64:
        return None
    return outbox_of(app).status(send_id)
