"""A render worker's side of the pool (careleaf.build.workers).

The pool's forkserver imports this module once, before it forks any worker: every worker then starts with
WeasyPrint and careleaf's drawing stage loaded, as a fork of the main process would, while the main
process itself never loads WeasyPrint. (Where the pool starts fresh processes instead, each imports it as
it starts.)
"""

from pathlib import Path

from careleaf.build.libraries import import_weasyprint

import_weasyprint()

# The drawing stage, loaded after WeasyPrint (and so without its slow library search); the PDF's finishing
# (careleaf.pdf.tagging, with pikepdf) too, which careleaf.pdf.render would otherwise load in each worker's
# first render.
from careleaf.build import caches  # noqa: E402
from careleaf.errors import RenderError  # noqa: E402
from careleaf.pdf import tagging  # noqa: E402,F401
from careleaf.pdf.render import _renderer  # noqa: E402


def start(folders: tuple, version: str | None) -> None:
    """Run in each worker as it starts: prepare fonts and stylesheets before the first leaflet, so the first
    render is not slower than the others. ``version``: the project's files when the pool was made.

    A problem here (a missing font) is left for the render itself to report, with the leaflet's name.
    """
    if version is not None:
        caches.follow(version)
    try:
        _renderer(tuple(Path(folder).resolve() for folder in folders))
    except RenderError:
        pass


def run(version: str | None, function, args: tuple):
    """One job: ``function(*args)``, after forgetting what this worker kept of the project's files if they
    changed since its last job (``version``, careleaf.build.stamps.files_version; None: never changes)."""
    if version is not None:
        caches.follow(version)
    return function(*args)
