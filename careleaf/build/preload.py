"""A render worker's side of the pool (careleaf.build.workers).

The pool's forkserver imports this module once, before it forks any worker: every worker then starts with
WeasyPrint and careleaf's drawing stage loaded, as a fork of the main process would, while the main
process itself never loads WeasyPrint. (Where the pool starts fresh processes instead, each imports it as
it starts.)
"""

import resource
from pathlib import Path

from careleaf.build.libraries import import_weasyprint

import_weasyprint()

# The drawing stage, loaded after WeasyPrint (and so without its slow library search); the PDF's finishing
# (careleaf.pdf.tagging, with pikepdf) too, which careleaf.pdf.render would otherwise load in each worker's
# first render.
from careleaf.build import caches  # noqa: E402
from careleaf.errors import RenderError  # noqa: E402
from careleaf.pdf import tagging  # noqa: E402,F401
from careleaf.pdf.render import _renderer, set_limits  # noqa: E402


def start(folders: tuple, version: str | None, limits) -> None:
    """Run in each worker as it starts: hold it to the project's ``limits`` (its memory, the assets it
    reads), and prepare fonts and stylesheets before the first leaflet, so the first render is not slower
    than the others. ``version``: the project's files when the pool was made.

    A problem here (a missing font) is left for the render itself to report, with the leaflet's name.
    """
    limit_memory(limits.render_memory_mb)
    set_limits(limits)
    if version is not None:
        caches.follow(version)
    try:
        _renderer(tuple(Path(folder).resolve() for folder in folders))
    except (RenderError, MemoryError):   # a memory limit too low to load the fonts: each leaflet says so
        pass


def limit_memory(megabytes: int) -> None:
    """This process may map at most ``megabytes`` of memory: past that, allocations fail (MemoryError, or
    the process ends), and the leaflet being rendered fails alone. Never raised above a limit already set."""
    wanted = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def run(version: str | None, function, args: tuple):
    """One job: ``function(*args)``, after forgetting what this worker kept of the project's files if they
    changed since its last job (``version``, careleaf.build.stamps.files_version; None: never changes)."""
    if version is not None:
        caches.follow(version)
    return function(*args)
