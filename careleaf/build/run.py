"""The build: run the stages in order for the whole catalog.

1. read and check every input (nothing is rendered if anything is wrong);
2. assemble each leaflet and draw its HTML;
3. skip leaflets whose fingerprint (the items they print, plus the templates,
   assets and the tool) matches the last build's; render the rest to PDF, in
   parallel, each in a worker process that is ended if it runs past the time limit;
4. write each PDF atomically, remove PDFs whose leaflet no longer exists, and
   record what was built in the manifest.

Before all that, a build compares the file stamps the last complete build left
(careleaf.build.stamps): when no input file changed, there is nothing to do and no YAML
is read. ``full_check`` skips that shortcut.

The main process keeps only each leaflet's fingerprint while it decides what to
render, and assembles a leaflet again just before handing it to a worker, a few
at a time: its memory does not grow with the catalog's size beyond the catalog
itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import os
import time
from concurrent.futures import FIRST_COMPLETED, TimeoutError as TookTooLong, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from careleaf import __version__
from careleaf.build import stamps
from careleaf.build.output import (clean_partials, locked, preview_html, publish_preview_assets, read_manifest,
                                   remove_quietly, write_atomically, write_manifest)
from careleaf.build.site import intact as site_intact, publish as publish_site
from careleaf.build.workers import Pool
from careleaf.content.governance import ReviewOverdue, today as current_date
from careleaf.errors import RenderError
from careleaf.project import Project, Refused, hash_regular

# The catalog's machinery (the YAML reader and careleaf.content's checks, careleaf.leaflet, careleaf.pdf's
# stages) is imported inside the functions that use it, not here: a build the file stamps settle reads no
# YAML and loads none of it, and takes a tenth of a second (tests/test_incremental.py).
if TYPE_CHECKING:
    from careleaf.content.catalog import Catalog
    from careleaf.leaflet.assemble import Job, Leaflet
    from careleaf.pdf.pages import PageFacts

MANIFEST_EVERY = 1.0         # seconds between saves of the manifest during a build
DEFAULT_TIME_LIMIT = 120     # seconds for one leaflet to render; a normal one takes well under one
IN_FLIGHT = 2                # leaflets handed to each worker at a time: one rendering, one waiting


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
        from careleaf.leaflet.html import render_leaflet   # the catalog's machinery (see the imports)

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
    site: list[str] = field(default_factory=list)         # web pages written or removed in out/site/
    seconds: float = 0.0


Progress = Callable[[int, int, str], None]


def pages(project: Project, catalog: Catalog, *, large_print: bool = True, shard: tuple[int, int] | None = None,
          today: dt.date | None = None) -> list[Page]:
    """Every leaflet of the catalog, assembled, with its fingerprint."""
    return [Page(job, leaflet, print_, project)
            for job, leaflet, print_ in _assembled(project, catalog, large_print, shard, today or current_date())]


@dataclass(frozen=True)
class Planned:
    """What a build keeps of one leaflet while it decides what to render: its fingerprint and what the
    summary says about it, not the assembled leaflet (a catalog of thousands would hold them all)."""

    job: Job
    fingerprint: str
    code: str
    draft: str                  # Leaflet.draft_name: '' when it is not a draft
    stale: bool
    overdue: bool
    review_by: dt.date | None


def plan(project: Project, catalog: Catalog, *, large_print: bool, shard: tuple[int, int] | None,
         today: dt.date) -> list[Planned]:
    return [Planned(job, print_, leaflet.definition.code, leaflet.draft_name, bool(leaflet.stale), leaflet.overdue,
                    leaflet.definition.review_by)
            for job, leaflet, print_ in _assembled(project, catalog, large_print, shard, today)]


def _assembled(project: Project, catalog: Catalog, large_print: bool, shard: tuple[int, int] | None,
               today: dt.date) -> Iterator[tuple[Job, Leaflet, str]]:
    from careleaf.leaflet.assemble import assemble, jobs as all_jobs   # the catalog's machinery (see the imports)

    tools = _tools_fingerprint(project)
    for job in all_jobs(catalog, large_print=large_print):
        if shard and not in_shard(job, *shard):
            continue
        leaflet = assemble(catalog, job, today)
        yield job, leaflet, fingerprint(leaflet, tools)


def fingerprint(leaflet: Leaflet, tools: str) -> str:
    """Everything a leaflet's PDF depends on: the items it prints (exactly the wording, facts, brand
    fields and template words), whether it is overdue or awaits translation review, and the tools; and
    whether a booklet is written beside it."""
    from careleaf.content.items import digest   # the catalog's machinery (see the imports)

    booklet = {"booklet": True} if leaflet.brand.booklet else {}
    return digest({"tools": tools, "job": leaflet.job, "overdue": leaflet.overdue,
                   "content": leaflet.content_fingerprint, "stale": [str(key) for key in leaflet.stale], **booklet})


def in_shard(job: Job, index: int, count: int) -> bool:
    """A stable share of the catalog: the same leaflet always lands in the same shard."""
    digest = hashlib.sha256(job.name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count == index - 1


def build(project: Project, out: Path, *, force: bool = False, full_check: bool = False, jobs: int | None = None,
          write_html: bool = False, large_print: bool = True, shard: tuple[int, int] | None = None,
          allow_overdue: bool = False, progress: Progress | None = None, today: dt.date | None = None,
          time_limit_seconds: float = DEFAULT_TIME_LIMIT) -> Summary:
    """Build the catalog into ``out``.

    Unless ``force``, ``full_check`` or ``write_html`` is given, a build whose input files all match the
    stamps of the last complete build (careleaf.build.stamps) stops there, having read nothing else.
    Raises InputError (invalid input) or ReviewOverdue before anything is written.
    """
    started = time.perf_counter()
    today = today or current_date()
    options = {"large_print": large_print, "shard": list(shard) if shard else None}
    if not (force or full_check or write_html):
        summary = _if_nothing_changed(project, out, options, today)
        if summary is not None:
            summary.seconds = time.perf_counter() - started
            return summary
    # The catalog's machinery, only now that the stamps could not settle it.
    from careleaf.content.catalog import load_catalog
    from careleaf.leaflet.assemble import assemble

    inputs = stamps.stamp_inputs(project)       # before anything is read: an edit from now on is noticed
    catalog = load_catalog(project)
    planned = plan(project, catalog, large_print=large_print, shard=shard, today=today)
    late = sorted({p.code for p in planned if p.overdue})
    if late and not allow_overdue:
        raise ReviewOverdue(_overdue_message(catalog, late))
    summary = Summary(drafts=sorted({p.draft for p in planned if p.draft}),
                      stale=sorted({f"{p.code} ({p.job.lang})" for p in planned if p.stale}))

    def draw(leaflet: Planned) -> Page:
        return Page(leaflet.job, assemble(catalog, leaflet.job, today), leaflet.fingerprint, project)

    with locked(out):
        clean_partials(out)
        manifest = read_manifest(out)
        wanted = {str(p.job.output): p for p in planned}
        _remove_gone(out, manifest, catalog, summary)
        todo = [p for name, p in wanted.items() if force or manifest.get(name) != p.fingerprint]
        rendering = {str(p.job.output) for p in todo}
        summary.unchanged = sorted(set(wanted) - rendering)
        if write_html:
            publish_preview_assets(out, project.asset_folders)
        slow_fonts = False
        budgets = _page_budgets(project) if todo else {}
        saved = time.monotonic()
        for leaflet, result in _render_all(todo, draw, project.asset_folders, jobs, progress, time_limit_seconds,
                                           catalog.limits):
            name = str(leaflet.job.output)
            if isinstance(result, RenderError):
                summary.failed.append(str(result))
                continue
            pdf, html, fast_subsetting, facts = result
            slow_fonts |= not fast_subsetting
            summary.notes += _length_warnings(leaflet.job, facts, catalog, budgets)
            write_atomically(out / leaflet.job.output, pdf)
            _write_or_remove_booklet(out, leaflet.job, pdf if catalog.brands[leaflet.job.brand].booklet else None)
            _write_or_remove_preview(out, leaflet.job, html if write_html else None)
            manifest[name] = leaflet.fingerprint
            summary.built.append(name)
            # Saved now and then, not after every PDF: a killed build only rebuilds a few PDFs too many.
            if time.monotonic() - saved > MANIFEST_EVERY:
                write_manifest(out, manifest)
                saved = time.monotonic()
        write_manifest(out, manifest)
        summary.built.sort()
        if shard is None:      # a page links its other languages, which another shard may build
            summary.site = publish_site(project, out, catalog, planned, manifest,
                                        lambda job: assemble(catalog, job, today))
        else:
            summary.notes.append(SITE_NOT_SHARDED)
        if write_html:  # leaflets that did not need a new PDF still get their current HTML when asked
            for name in summary.unchanged:
                _write_or_remove_preview(out, wanted[name].job, draw(wanted[name]).html, only_if_changed=True)
        if not summary.failed:
            overdue_from = today.isoformat() if late else stamps.overdue_from([p.review_by for p in planned])
            stamps.save(out, stamps.Record(inputs, options, stamps.manifest_digest(manifest), overdue_from,
                                           sorted(wanted), summary.drafts, summary.stale))
    if todo and slow_fonts:
        summary.notes.append(SLOW_FONTS)
    summary.seconds = time.perf_counter() - started
    return summary


def _longest_first(leaflet: Planned) -> tuple:
    """Large print and pre-treatment leaflets take longest: started first, they do not finish last, alone,
    while the other workers wait. (The order changes no PDF; with one worker it changes nothing at all.)"""
    return (not leaflet.job.large_print, leaflet.job.kind != "pre-treatment", leaflet.job.name)


def _if_nothing_changed(project: Project, out: Path, options: dict, today: dt.date) -> Summary | None:
    """The summary of a build with nothing to do, if the stamps say so; None when a full build must decide."""
    record = stamps.load(out)
    if record is None or record.options != options or not stamps.still_current(record, today):
        return None
    with locked(out):
        manifest = read_manifest(out)          # only PDFs still on disk: a deleted PDF is rebuilt
        if stamps.manifest_digest(manifest) != record.manifest or not site_intact(out):
            return None
        now = stamps.unchanged_since(record, project)
        if now is None:
            return None
        if now is not record.inputs:          # files read and found the same: trusted from now on
            stamps.save(out, replace(record, inputs=now))
    return Summary(unchanged=list(record.wanted), drafts=list(record.drafts), stale=list(record.stale))


def _remove_gone(out: Path, manifest: dict[str, str], catalog: Catalog, summary: Summary) -> None:
    """Only PDFs of leaflets gone from the catalog are removed; a partial build (--no-large-print,
    --shard) leaves the others' PDFs alone."""
    from careleaf.leaflet.assemble import jobs as all_jobs   # the catalog's machinery (see the imports)
    from careleaf.pdf.booklet import booklet_path   # the catalog's machinery (see the imports)

    existing = {str(job.output) for job in all_jobs(catalog, large_print=True)}
    for name in sorted(set(manifest) - existing):
        remove_quietly(out / name)
        remove_quietly((out / name).with_suffix(".html"))
        remove_quietly(booklet_path(out / name))
        manifest.pop(name)
        summary.removed.append(name)


def _write_or_remove_preview(out: Path, job: Job, html: str | None, *, only_if_changed: bool = False) -> None:
    """A leaflet's preview beside its PDF; without one (no --html), an older preview is removed, as it
    would show older wording than the new PDF."""
    preview = (out / job.output).with_suffix(".html")
    if html is None:
        preview.unlink(missing_ok=True)
        return
    data = preview_html(html, job.output, large_print=job.large_print).encode("utf-8")
    if not (only_if_changed and preview.is_file() and preview.read_bytes() == data):
        write_atomically(preview, data)


def _write_or_remove_booklet(out: Path, job: Job, pdf: bytes | None) -> None:
    """An A5 leaflet imposed as an A4 booklet beside it, when its brand asks for one; else none."""
    from careleaf.pdf.booklet import booklet_path, impose_booklet   # the catalog's machinery (see the imports)

    path = booklet_path(out / job.output)
    if pdf is None:
        path.unlink(missing_ok=True)
    else:
        write_atomically(path, impose_booklet(pdf))


def _overdue_message(catalog: Catalog, codes: list[str]) -> str:
    from careleaf.content.validate import origin   # the catalog's machinery (see the imports)

    lines = []
    for entry in catalog.treatments.values():
        for definition in entry.facts.leaflets:
            if definition.code in codes:
                lines.append(f"{origin(definition).place('review_by')}: {definition.code} ({entry.id} "
                             f"{definition.kind}) was due for review by {definition.review_by.isoformat()}")
    return ("leaflets past their review date; review them and set a new review_by, "
            "or build with --allow-overdue to print them marked REVIEW OVERDUE:\n  " + "\n  ".join(lines))


def _render_all(todo: list[Planned], draw: Callable[[Planned], Page], folders: tuple[Path, ...], jobs: int | None,
                progress: Progress | None, limit: float = DEFAULT_TIME_LIMIT, limits=None
                ) -> Iterator[tuple[Planned, RenderResult | RenderError]]:
    """Yield (leaflet, result or RenderError) as each leaflet finishes.

    Each leaflet renders in the render pool (careleaf.build.workers); one that runs past the time limit
    has its worker ended (and replaced) and fails alone. Leaflets are assembled and handed over a few at a
    time, as workers free up.
    """
    if not todo:
        return
    if importlib.util.find_spec("weasyprint") is None:   # said once, not as a failure of every leaflet
        raise ModuleNotFoundError("No module named 'weasyprint'", name="weasyprint")
    count = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    if count > 1:
        todo = sorted(todo, key=_longest_first)
    with Pool(count, time_limit=limit, folders=folders, limits=limits) as pool:
        waiting = iter(todo)
        running: dict = {}

        def hand_over_next() -> None:
            leaflet = next(waiting, None)
            if leaflet is not None:
                running[pool.schedule(_render_one, draw(leaflet))] = leaflet

        for _ in range(count * IN_FLIGHT):
            hand_over_next()
        done = 0
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: str(running[f].job.output)):
                leaflet = running.pop(future)
                hand_over_next()
                done += 1
                if progress:
                    progress(done, len(todo), leaflet.job.name)
                yield leaflet, _outcome(future, leaflet.job.name, limit)


def _outcome(future, name: str, limit: float) -> RenderResult | RenderError:
    try:
        return future.result()
    except TookTooLong:
        return TimeLimit(f"{name}: rendering took longer than {limit:g} s and was stopped")
    except Exception as error:  # the worker died (killed, out of memory): this leaflet fails, the others go on
        return RenderError(f"{name}: the render process stopped ({type(error).__name__}: {error}); if it ran "
                           "out of memory, the limit is set by limits.render_memory_mb in careleaf.yaml")


SITE_NOT_SHARDED = ("the web pages in site/ are written by a build of the whole catalog (each page links to its "
                    "other languages, which other shares build): run one without --shard to publish them")

SLOW_FONTS = ("HarfBuzz's font subsetter (Debian/Ubuntu package libharfbuzz-subset0) was not found, so fonts "
              "are subset with fontTools instead: writing each PDF takes about four times longer.")


# What a worker hands back: the PDF, the HTML it was made from (for the preview), whether fonts were
# subset by HarfBuzz, and how full each page is (careleaf.pdf.pages).
RenderResult = tuple[bytes, str, bool, "PageFacts"]


def _render_one(page: Page) -> RenderResult | RenderError:
    """HTML, then PDF, for one leaflet; runs in a worker process (which also says how it subsets fonts)."""
    from careleaf.pdf.render import render, uses_fast_subsetting   # the drawing stage (see the imports)

    try:
        html = page.html
        rendered = render(html, page.project.asset_folders, large_print=page.job.large_print, source=page.job.name)
        return rendered.pdf, html, uses_fast_subsetting(), rendered.facts
    except RenderError as error:
        return error
    except Exception as error:  # a template fault must fail this leaflet, not the whole build
        return RenderError(f"{page.job.name}: could not be drawn: {type(error).__name__}: {error}")


def _length_warnings(job: Job, facts: PageFacts, catalog: Catalog, budgets: dict[str, int]) -> list[str]:
    """A leaflet over its kind's page budget, ending on a nearly empty page, or breaking a layout rule
    (careleaf.pdf.pages)."""
    from careleaf.pdf.pages import budget_warnings   # the catalog's machinery (see the imports)

    return budget_warnings(job.name, job.kind, facts, large_print=job.large_print,
                           page_size=catalog.brands[job.brand].page_size, budgets=budgets)


def _page_budgets(project: Project) -> dict[str, int]:
    """check.yaml's page budget per kind of leaflet (its defaults when the file has none, or has problems:
    `check` reports those)."""
    from careleaf.content.standards import load_check_settings   # the catalog's machinery (see the imports)

    return load_check_settings(project.content)[0].page_budget


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
    for folder in (project.templates, project.styles, stamps.PACKAGE):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            relative = path.relative_to(folder)
            if (folder, relative.parts[0]) in ((project.styles, "brands"), (project.templates, "labels")):
                continue
            hashed.update(str(relative).encode() + b"\0")
            try:
                hash_regular(path, within=(folder,), digest=hashed)   # never through a link out of it
            except Refused:
                hashed.update(b"-")       # the build's checks report it
    return hashed.hexdigest()
