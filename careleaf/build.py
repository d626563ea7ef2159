"""The build: run the stages in order for the whole catalog.

1. read and check every input (nothing is rendered if anything is wrong);
2. assemble each leaflet and draw its HTML;
3. skip leaflets whose fingerprint (the items they print, plus the templates,
   assets and the tool) matches the last build's; render the rest to PDF, in
   parallel, each in a worker process that is ended if it runs past the time limit;
4. write each PDF atomically, remove PDFs whose leaflet no longer exists, and
   record what was built in the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from concurrent.futures import TimeoutError as TookTooLong, as_completed
from dataclasses import dataclass, field
import importlib.util
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .assemble import Job, Leaflet, assemble, jobs as all_jobs
from .catalog import Catalog, load_catalog
from .errors import RenderError
from .governance import ReviewOverdue, today as current_date
from .items import digest
from .output import (clean_partials, locked, read_manifest, remove_quietly, write_atomically,
                     write_manifest)
from .project import Project
from .validate import origin

PACKAGE = Path(__file__).resolve().parent
MANIFEST_EVERY = 1.0         # seconds between saves of the manifest during a build
DEFAULT_TIME_LIMIT = 120     # seconds for one leaflet to render; a normal one takes well under one


class TimeLimit(RenderError):
    """A leaflet took longer to render than the limit allows."""


@dataclass
class Page:
    """One leaflet, assembled, with the fingerprint of everything its PDF depends on."""

    job: Job
    leaflet: Leaflet
    fingerprint: str
    project: Project

    @property
    def html(self) -> str:
        """Drawn on demand: a build with nothing to do never loads the HTML stage."""
        from .html import render_leaflet

        return render_leaflet(self.project, self.leaflet)


@dataclass
class Summary:
    built: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)       # leaflet codes still awaiting clinical approval
    stale: list[str] = field(default_factory=list)        # leaflets whose translation awaits review
    notes: list[str] = field(default_factory=list)        # things the person running the build should know
    seconds: float = 0.0


Progress = Callable[[int, int, str], None]


def pages(project: Project, catalog: Catalog, *, large_print: bool = True, shard: tuple[int, int] | None = None,
          today: dt.date | None = None) -> list[Page]:
    """Every leaflet of the catalog, assembled, with its fingerprint."""
    today = today or current_date()
    tools = _tools_fingerprint(project)
    result = []
    for job in all_jobs(catalog, large_print=large_print):
        if shard and not in_shard(job, *shard):
            continue
        leaflet = assemble(catalog, job, today)
        result.append(Page(job, leaflet, fingerprint(leaflet, tools), project))
    return result


def fingerprint(leaflet: Leaflet, tools: str) -> str:
    """Everything a leaflet's PDF depends on: the items it prints (exactly the wording, facts, brand
    fields and template words), whether it is overdue or awaits translation review, and the tools."""
    return digest({"tools": tools, "job": leaflet.job, "overdue": leaflet.overdue,
                   "content": leaflet.content_fingerprint, "stale": [str(key) for key in leaflet.stale]})


def in_shard(job: Job, index: int, count: int) -> bool:
    """A stable share of the catalog: the same leaflet always lands in the same shard."""
    digest = hashlib.sha256(job.name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index - 1


def build(project: Project, out: Path, *, force: bool = False, jobs: int | None = None, write_html: bool = False,
          large_print: bool = True, shard: tuple[int, int] | None = None, allow_overdue: bool = False,
          progress: Progress | None = None, today: dt.date | None = None,
          time_limit_seconds: float = DEFAULT_TIME_LIMIT) -> Summary:
    """Build the catalog into ``out``.

    Raises InputError (invalid input) or ReviewOverdue before anything is written.
    """
    started = time.perf_counter()
    catalog = load_catalog(project)
    drawn = pages(project, catalog, large_print=large_print, shard=shard, today=today)
    late = sorted({p.leaflet.definition.code for p in drawn if p.leaflet.overdue})
    if late and not allow_overdue:
        raise ReviewOverdue(_overdue_message(catalog, late))
    summary = Summary(drafts=sorted({p.leaflet.definition.code for p in drawn if p.leaflet.draft}),
                      stale=sorted({f"{p.leaflet.definition.code} ({p.job.lang})" for p in drawn if p.leaflet.stale}))
    with locked(out):
        clean_partials(out)
        manifest = read_manifest(out)
        wanted = {str(p.job.output): p for p in drawn}
        # Only PDFs of leaflets gone from the catalog are removed; a partial build
        # (--no-large-print, --shard) leaves the others' PDFs alone.
        existing = {str(job.output) for job in all_jobs(catalog, large_print=True)}
        for name in sorted(set(manifest) - existing):
            remove_quietly(out / name)
            remove_quietly((out / name).with_suffix(".html"))
            manifest.pop(name)
            summary.removed.append(name)
        todo = [p for name, p in wanted.items() if force or manifest.get(name) != p.fingerprint]
        summary.unchanged = sorted(name for name, p in wanted.items() if p not in todo)
        slow_fonts = False
        saved = time.monotonic()
        for page, result in _render_all(todo, jobs, progress, time_limit_seconds):
            name = str(page.job.output)
            if isinstance(result, RenderError):
                summary.failed.append(str(result))
                continue
            pdf, html, fast_subsetting = result
            slow_fonts |= not fast_subsetting
            write_atomically(out / page.job.output, pdf)
            preview = (out / page.job.output).with_suffix(".html")
            if write_html:
                write_atomically(preview, html.encode("utf-8"))
            else:  # a preview from an earlier --html build would now show older wording than the PDF
                preview.unlink(missing_ok=True)
            manifest[name] = page.fingerprint
            summary.built.append(name)
            # Saved now and then, not after every PDF: a killed build only rebuilds a few PDFs too many.
            if time.monotonic() - saved > MANIFEST_EVERY:
                write_manifest(out, manifest)
                saved = time.monotonic()
        write_manifest(out, manifest)
        summary.built.sort()
        if write_html:  # leaflets that did not need a new PDF still get their current HTML when asked
            for page in wanted.values():
                preview = (out / page.job.output).with_suffix(".html")
                html = page.html.encode("utf-8") if page not in todo else None
                if html and (not preview.is_file() or preview.read_bytes() != html):
                    write_atomically(preview, html)
    if todo and slow_fonts:
        summary.notes.append(SLOW_FONTS)
    summary.seconds = time.perf_counter() - started
    return summary


def _overdue_message(catalog: Catalog, codes: list[str]) -> str:
    lines = []
    for entry in catalog.treatments.values():
        for definition in entry.facts.leaflets:
            if definition.code in codes:
                lines.append(f"{origin(definition).place('review_by')}: {definition.code} ({entry.id} "
                             f"{definition.kind}) was due for review by {definition.review_by.isoformat()}")
    return ("leaflets past their review date; review them and set a new review_by, "
            "or build with --allow-overdue to print them marked REVIEW OVERDUE:\n  " + "\n  ".join(lines))


def _render_all(todo: list[Page], jobs: int | None, progress: Progress | None,
                limit: float = DEFAULT_TIME_LIMIT) -> Iterator[tuple[Page, tuple[bytes, str, bool] | RenderError]]:
    """Yield (page, result or RenderError) as each leaflet finishes.

    Each leaflet renders in a worker process; one that runs past the time limit
    has its worker ended (and replaced), which no layout inside WeasyPrint can
    swallow, and fails alone.
    """
    if not todo:
        return
    import multiprocessing

    from pebble import ProcessPool   # only when there is work to do

    if importlib.util.find_spec("weasyprint") is None:   # said once, not as a failure of every leaflet
        raise ModuleNotFoundError("No module named 'weasyprint'", name="weasyprint")
    import weasyprint  # noqa: F401 - imported once here, so every forked worker starts with it loaded

    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    with ProcessPool(max_workers=workers, context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.schedule(_render_one, (page,), timeout=limit): page for page in todo}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                page = futures[future]
                if progress:
                    progress(done, len(todo), page.job.name)
                yield page, _outcome(future, page, limit)
        finally:
            pool.stop()


def _outcome(future, page: Page, limit: float) -> tuple[bytes, str, bool] | RenderError:
    try:
        return future.result()
    except TookTooLong:
        return TimeLimit(f"{page.job.name}: rendering took longer than {limit:g} s and was stopped")
    except Exception as error:  # the worker died (killed, out of memory): this leaflet fails, the others go on
        return RenderError(f"{page.job.name}: the render process stopped: {type(error).__name__}: {error}")


SLOW_FONTS = ("HarfBuzz's font subsetter (Debian/Ubuntu package libharfbuzz-subset0) was not found, so fonts "
              "are subset with fontTools instead: writing each PDF takes about four times longer.")


def _render_one(page: Page) -> tuple[bytes, str, bool] | RenderError:
    """HTML, then PDF, for one leaflet; runs in a worker process (which also says how it subsets fonts)."""
    from .pdf import render_pdf, uses_fast_subsetting

    try:
        html = page.html
        pdf = render_pdf(html, page.project.asset_folders, large_print=page.job.large_print, source=page.job.name)
        return pdf, html, uses_fast_subsetting()
    except RenderError as error:
        return error
    except Exception as error:  # a template fault must fail this leaflet, not the whole build
        return RenderError(f"{page.job.name}: could not be drawn: {type(error).__name__}: {error}")


def _tools_fingerprint(project: Project) -> str:
    """Everything besides the items a PDF's bytes depend on: templates, assets, the renderer and careleaf.

    Brand logos and the project's template words are left out: they are items of
    the leaflets that print them, so adding a brand rebuilds only that brand's PDFs
    and a changed Turkish word only Turkish ones. Read afresh for every build, so a
    long-running process sees edits.
    """
    hashed = hashlib.sha256(f"careleaf {__version__}".encode())
    renderer = importlib.util.find_spec("weasyprint")   # its files, without the cost of importing it
    hashed.update(Path(renderer.origin).read_bytes() if renderer and renderer.origin else b"")
    # The theme's templates and styles are inside the package, read with it.
    for folder in (project.root / "templates", project.styles, PACKAGE):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            relative = path.relative_to(folder)
            if (folder, relative.parts[0]) in ((project.styles, "brands"), (project.root / "templates", "labels")):
                continue
            inside = path.resolve().is_relative_to(folder.resolve())   # never read through a link out of it
            hashed.update(str(relative).encode() + b"\0" + (path.read_bytes() if inside else b"-"))
    return hashed.hexdigest()
