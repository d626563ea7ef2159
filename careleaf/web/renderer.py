"""Rendering for the web app: a bounded pool of worker processes with a time limit.

A burst of requests (the whole desk printing at nine o'clock, a practice-management
system sending a day's appointments) waits its turn for one of ``workers``
processes instead of starting a render each and running out of memory. A render
that runs past the time limit has its process ended and replaced.

Workers keep the catalog they read until a file of the project changes, so a
request pays for rendering, not for reading YAML.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import multiprocessing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from careleaf.handout.handouts import Choice

PREVIEW_DPI = 96


@dataclass(frozen=True)
class Preview:
    """A leaflet's pages as PNG images, each page's text (for screen readers), and its state."""

    pages: tuple[bytes, ...]
    texts: tuple[str, ...]
    code: str
    version: int
    reasons: tuple[str, ...]      # why it may not be given to a patient; empty when it may


class Renderer:
    def __init__(self, root: Path, *, workers: int, timeout: float):
        from pebble import ProcessPool

        self.root, self.timeout = root, timeout
        # spawn: the web server runs threads, and a forked copy of a threaded process can hang.
        self.pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("spawn"))

    async def handout(self, choice: Choice, patient: dict[str, str], *, allow_draft: bool = False):
        return await self._run(_handout, self.root, choice, patient, allow_draft)

    async def preview(self, choice: Choice, patient: dict[str, str] | None = None,
                      *, allow_draft: bool = False) -> Preview:
        return await self._run(_preview, self.root, choice, patient, allow_draft)

    async def _run(self, function, *args) -> Any:
        future = self.pool.schedule(function, args, timeout=self.timeout)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.pool.stop()
        self.pool.join(timeout=10)


# --- in the worker process ------------------------------------------------------------------

def _handout(root: Path, choice: Choice, patient: dict[str, str], allow_draft: bool):
    from careleaf.handout.handouts import handout

    return handout(root, choice, patient=patient, allow_draft=allow_draft, catalog=current_catalog(root))


def _preview(root: Path, choice: Choice, patient: dict[str, str] | None, allow_draft: bool) -> Preview:
    """The catalog's leaflet (or, given patient fields, the patient's) as page images and text."""
    from careleaf.leaflet.assemble import Job, assemble
    from careleaf.content.governance import today
    from careleaf.handout.handouts import check_choice, not_for_patients, personalise, render_personal
    from careleaf.leaflet.html import render_leaflet
    from careleaf.pdf.render import render_pdf
    from careleaf.project import Project

    project = Project(root)
    catalog = current_catalog(root)
    check_choice(catalog, choice)
    if patient is None:
        leaflet = assemble(catalog, Job(choice.brand, choice.lang, choice.treatment, choice.kind, choice.large_print),
                           today())
    else:
        leaflet = personalise(catalog, choice, patient, allow_draft=allow_draft, now=dt.datetime.now(dt.timezone.utc))
    if patient is None:
        pdf = render_pdf(render_leaflet(project, leaflet), project.asset_folders, large_print=choice.large_print,
                         source=leaflet.definition.code)
    else:
        pdf = render_personal(project, leaflet)
    pages, texts = _pictures(pdf)
    return Preview(pages, texts, leaflet.definition.code, leaflet.definition.version,
                   tuple(not_for_patients(leaflet)))


def _pictures(pdf: bytes) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    pages, texts = [], []
    try:
        for page in document:
            image = page.render(scale=PREVIEW_DPI / 72).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            pages.append(buffer.getvalue())
            texts.append(page.get_textpage().get_text_bounded())
    finally:
        document.close()
    return tuple(pages), tuple(texts)


def stamp(root: Path) -> tuple:
    """Every input file's name, size and modification time: a changed file means a new catalog."""
    found = []
    for folder in ("leaflets", "templates", "styles"):
        for path in sorted((root / folder).rglob("*")):
            if path.name.startswith(".") or path.name.endswith("~"):
                continue    # an editor's swap and backup files
            try:
                stat = path.stat()
            except OSError:
                continue    # deleted since it was listed (an editor saving by renaming)
            if path.is_file():
                found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def current_catalog(root: Path):
    """The project's catalog as its files are now, read again only when one of them changed."""
    return _catalog(root, stamp(root))


@lru_cache(maxsize=2)
def _catalog(root: Path, files: tuple):
    from careleaf.content.catalog import load_catalog
    from careleaf.project import Project

    return load_catalog(Project(root))
