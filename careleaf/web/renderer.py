"""Rendering for the web app: the render pool (careleaf.build.workers), sized and timed by careleaf.yaml's
``desk: render_workers, render_timeout``.

A burst of requests (the whole desk printing at nine o'clock, a practice-management
system sending a day's appointments) waits its turn for one of ``workers``
processes instead of starting a render each and running out of memory. A render
that runs past the time limit has its process ended and replaced.

The desk comes first: a patient waiting at the counter is never queued behind the API. The API's renders have
``workers`` workers of their own, started at the first API render and niced, so that during a burst the kernel
gives the desk's workers the processors first; the desk's renders never wait in the API's queue.

The workers live as long as the server. Each request carries the version of the
project's files (careleaf.build.stamps.files_version): a worker keeps the catalog,
stylesheets, fonts and templates it read until that changes, so a request pays for
rendering, not for reading YAML, and the editor's preview shows every saved edit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from careleaf.build import caches
from careleaf.build.stamps import files_version
from careleaf.build.workers import Pool
from careleaf.content.catalog import load_catalog
from careleaf.handout.handouts import Choice, catalog_leaflet, handout, not_for_patients, personalise, render_personal
from careleaf.leaflet.html import render_leaflet
from careleaf.pdf.render import render_pdf
from careleaf.project import Project

PREVIEW_DPI = 96


@dataclass(frozen=True)
class Preview:
    """A leaflet's pages as PNG images, each page's text (for screen readers), and its state."""

    pages: tuple[bytes, ...]
    texts: tuple[str, ...]
    code: str
    version: int
    reasons: tuple[str, ...]      # why it may not be given to a patient; empty when it may


DESK, API = 0, 1       # who a render is for: the desk's workers, or the API's
API_NICE = 10          # the API's workers yield the processors to the desk's


class Renderer:
    def __init__(self, root: Path, *, workers: int, timeout: float, limits=None):
        self.project, self.timeout, self.workers, self.limits = Project(root), timeout, workers, limits
        self.pool = self._pool(workers)
        self.api_pool: Pool | None = None
        self.api_starting = asyncio.Lock()

    def _pool(self, size: int, nice: int = 0) -> Pool:
        return Pool(size, time_limit=self.timeout, folders=self.project.asset_folders,
                    version=files_version(self.project), limits=self.limits, nice=nice)

    @property
    def root(self) -> Path:
        return self.project.root

    async def handout(self, choice: Choice, patient: dict[str, str], *, allow_draft: bool = False,
                      priority: int = DESK):
        return await self._run(priority, _handout, self.root, choice, patient, allow_draft)

    async def preview(self, choice: Choice, patient: dict[str, str] | None = None,
                      *, allow_draft: bool = False, priority: int = DESK) -> Preview:
        return await self._run(priority, _preview, self.root, choice, patient, allow_draft)

    async def _run(self, priority: int, function, *args) -> Any:
        version = await asyncio.to_thread(files_version, self.project)
        if priority == API and self.api_pool is None:
            async with self.api_starting:       # a burst's first requests start one pool, not one each
                if self.api_pool is None:
                    self.api_pool = await asyncio.to_thread(self._pool, self.workers, API_NICE)
        pool = self.api_pool if priority == API else self.pool
        return await asyncio.wrap_future(pool.schedule(function, *args, version=version))

    def close(self) -> None:
        self.pool.close()
        if self.api_pool is not None:
            self.api_pool.close()


# --- in a worker process ------------------------------------------------------------------

def _handout(root: Path, choice: Choice, patient: dict[str, str], allow_draft: bool):
    return handout(root, choice, patient=patient, allow_draft=allow_draft, catalog=current_catalog(root))


def _preview(root: Path, choice: Choice, patient: dict[str, str] | None, allow_draft: bool) -> Preview:
    """The catalog's leaflet (or, given patient fields, the patient's) as page images and text."""
    project = Project(root)
    catalog = current_catalog(root)
    if patient is None:
        leaflet = catalog_leaflet(catalog, choice)
        pdf = render_pdf(render_leaflet(project, leaflet), project.asset_folders, large_print=choice.large_print,
                         source=leaflet.definition.code)
    else:
        leaflet = personalise(catalog, choice, patient, allow_draft=allow_draft, now=dt.datetime.now(dt.timezone.utc))
        pdf = render_personal(project, leaflet)
    pages, texts = _pictures(pdf)
    return Preview(pages, texts, leaflet.definition.code, leaflet.definition.version,
                   tuple(not_for_patients(leaflet)))


def _pictures(pdf: bytes) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    import pypdfium2   # PDFium: only the render workers draw pages, the server never does

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


# --- in the server and in its workers -----------------------------------------------------

def current_catalog(root: Path):
    """The project's catalog as its files are now, read again only when one of them changed (and then with
    nothing kept of the files before: the words the templates print, say)."""
    version = files_version(Project(root))
    caches.follow(version)
    return _catalog(root, version)


@lru_cache(maxsize=2)
def _catalog(root: Path, version: str):
    return load_catalog(Project(root))
