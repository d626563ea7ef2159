"""The build: run the stages in order for the whole catalog.

1. read and check every input (nothing is rendered if anything is wrong);
2. assemble each leaflet and draw its HTML;
3. skip leaflets whose fingerprint (their HTML plus the assets and the tool)
   matches the last build's; render the rest to PDF, in parallel;
4. write each PDF atomically, remove PDFs whose leaflet no longer exists, and
   record what was built in the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
from contextlib import contextmanager
import time
from dataclasses import dataclass, field
from functools import lru_cache
import importlib.util
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .assemble import Job, Leaflet, assemble, jobs as all_jobs
from .catalog import Catalog, load_catalog
from .errors import RenderError
from .governance import ReviewOverdue, today as current_date
from .labels import check_labels
from .output import (clean_partials, locked, read_manifest, remove_quietly, write_atomically,
                     write_manifest)

PACKAGE = Path(__file__).resolve().parent
MANIFEST_EVERY = 1.0         # seconds between saves of the manifest during a build
DEFAULT_TIME_LIMIT = 120.0   # seconds for one leaflet; a normal one takes well under one


class TimeLimit(RenderError):
    """A leaflet took longer to render than the limit allows."""


@contextmanager
def time_limit(seconds: float, name: str) -> Iterator[None]:
    """Stop a render that runs away (a pathological layout), failing that leaflet only."""
    def expire(signum, frame):
        raise TimeLimit(f"{name}: rendering took longer than {seconds:g} s and was stopped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Project:
    """Where a project's content, templates and assets live."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / "leaflets"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def styles(self) -> Path:
        return self.root / "styles"


@dataclass
class Page:
    """One leaflet, assembled, with the fingerprint of everything its PDF depends on."""

    job: Job
    leaflet: Leaflet
    fingerprint: str
    templates: Path

    @property
    def html(self) -> str:
        """Drawn on demand: a build with nothing to do never loads the HTML stage."""
        from .html import render_leaflet

        return render_leaflet(self.templates, self.leaflet)


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


def check(project: Project) -> Catalog:
    """Read and check every input; raises InputError listing all problems."""
    catalog = load_catalog(project.content, project.styles)
    check_labels(project.templates, sorted({lang for b in catalog.brands.values() for lang in b.languages}))
    return catalog


def pages(project: Project, catalog: Catalog, *, large_print: bool = True, shard: tuple[int, int] | None = None,
          today: dt.date | None = None) -> list[Page]:
    """Every leaflet of the catalog, assembled, with its fingerprint.

    The fingerprint covers the assembled leaflet (exactly the wording, facts and
    brand data it prints), the templates, the assets and the tool itself, so a
    change reaches the leaflets that show it and no others.
    """
    today = today or current_date()
    tools = _tools_fingerprint(project.styles, project.templates)
    result = []
    for job in all_jobs(catalog, large_print=large_print):
        if shard and not in_shard(job, *shard):
            continue
        leaflet = assemble(catalog, job, today)
        fingerprint = hashlib.sha256(f"{tools}\0{leaflet!r}".encode("utf-8")).hexdigest()
        result.append(Page(job, leaflet, fingerprint, project.templates))
    return result


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
    catalog = check(project)
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
        for page, result in _render_all(project, todo, jobs, progress, time_limit_seconds):
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
        for index, definition in enumerate(entry.facts.leaflets):
            if definition.code in codes:
                place = entry.facts_doc.problem(("leaflets", index, "review_by"), "")
                lines.append(f"{str(place).rstrip(': ')}: {definition.code} ({entry.id} {definition.kind}) was due "
                             f"for review by {definition.review_by.isoformat()}")
    return ("leaflets past their review date; review them and set a new review_by, "
            "or build with --allow-overdue to print them marked REVIEW OVERDUE:\n  " + "\n  ".join(lines))


def _render_all(project: Project, todo: list[Page], jobs: int | None, progress: Progress | None,
                time_limit_seconds: float = DEFAULT_TIME_LIMIT):
    """Yield (page, pdf bytes or RenderError) as each leaflet finishes."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    tasks = [(page, project.styles, time_limit_seconds) for page in todo]
    if workers == 1:
        results = map(_render_one, tasks)
        executor = None
    else:
        from concurrent.futures import ProcessPoolExecutor  # only when there is work to share

        executor = ProcessPoolExecutor(max_workers=workers)
        results = executor.map(_render_one, tasks)
    try:
        for done, (page, result) in enumerate(zip(todo, results), start=1):
            if progress:
                progress(done, len(todo), page.job.name)
            yield page, result
    finally:
        if executor:
            executor.shutdown(cancel_futures=True)


SLOW_FONTS = ("HarfBuzz's font subsetter (Debian/Ubuntu package libharfbuzz-subset0) was not found, so fonts "
              "are subset with fontTools instead: writing each PDF takes about four times longer.")


def _render_one(task: tuple[Page, Path, float]) -> tuple[bytes, str, bool] | RenderError:
    """HTML, then PDF, for one leaflet; runs in a worker process (which also says how it subsets fonts)."""
    from .pdf import render_pdf, uses_fast_subsetting

    page, styles, limit = task
    started = time.monotonic()
    try:
        with time_limit(limit, page.job.name):
            html = page.html
            pdf = render_pdf(html, styles, large_print=page.job.large_print, source=page.job.name)
        if time.monotonic() - started > limit:  # the alarm can be swallowed inside the renderer
            raise TimeLimit(f"{page.job.name}: rendering took longer than {limit:g} s and was stopped")
        return pdf, html, uses_fast_subsetting()
    except RenderError as error:
        return error
    except Exception as error:  # a template fault must fail this leaflet, not the whole build
        return RenderError(f"{page.job.name}: could not be drawn: {type(error).__name__}: {error}")


@lru_cache(maxsize=None)
def _tools_fingerprint(styles: Path, templates: Path) -> str:
    """Everything besides the content that a PDF's bytes depend on: assets, templates, renderer and tool."""
    digest = hashlib.sha256(f"careleaf {__version__}".encode())
    renderer = importlib.util.find_spec("weasyprint")   # its files, without the cost of importing it
    digest.update(Path(renderer.origin).read_bytes() if renderer and renderer.origin else b"")
    for folder in (styles, templates, PACKAGE):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            inside = path.resolve().is_relative_to(folder.resolve())   # never read through a link out of it
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + (path.read_bytes() if inside else b"-"))
    return digest.hexdigest()
