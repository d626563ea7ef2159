"""The leaflets as web pages: out/site/<brand>/, a folder a clinic publishes as it is.

Each brand's folder holds everything its pages use and nothing from anywhere else::

    out/site/<brand>/index.html                          the brand's published leaflets, by language
    out/site/<brand>/_assets/site.css, fonts/, logo.svg  copied once for the brand's pages
    out/site/<brand>/<lang>/<treatment>-<kind>/index.html
    out/site/<brand>/<lang>/<treatment>-<kind>/<treatment>-<kind>.pdf (and -large-print.pdf)

so its pages link only relatively, the PDFs a page offers to print are copies beside it, and the
folder can be copied to any web server (the brand's ``site_url``, where the QR codes point).

Only approved, current leaflets are published: a draft, a leaflet awaiting re-approval or one past
its review date has no page, and its page is removed when it becomes one. Pages are written like
the PDFs (each file atomically) and only when what they show changed: the site's own manifest,
``out/.careleaf-site.json`` (outside the published folder), keeps each page's fingerprint.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from careleaf.build.output import remove_quietly, write_atomically

if TYPE_CHECKING:
    from careleaf.content.catalog import Catalog
    from careleaf.leaflet.assemble import Job, Leaflet
    from careleaf.project import Project

SITE = "site"
MANIFEST = ".careleaf-site.json"
PAGE = "index.html"
_PAGE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*/[a-z]{2}/[A-Za-z0-9][A-Za-z0-9_.-]*/")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.pdf")


def intact(out: Path) -> bool:
    """Every page the last build published is still on disk (a build with nothing to do checks this)."""
    return all((out / SITE / key / name).is_file()
               for key, entry in _read(out).items() for name in [PAGE, *entry["files"]])


def publish(project: Project, out: Path, catalog: Catalog, planned: list, pdfs: dict[str, str],
            assemble: Callable[[Job], Leaflet]) -> list[str]:
    """Bring out/site/ up to date with this build's leaflets; the pages written or removed, for the summary.

    ``planned`` is the build's list of leaflets (careleaf.build.run.Planned), ``pdfs`` its manifest (each
    PDF's fingerprint once written): a page is written only beside a PDF this build made or found current.
    """
    from careleaf.content.items import digest            # the catalog's machinery, only for a full build

    site = out / SITE
    before = _read(out)
    current = {p.job: p for p in planned if pdfs.get(str(p.job.output)) == p.fingerprint}
    standard = [p for p in planned if not p.job.large_print and not p.draft and not p.overdue]
    languages: dict[tuple, list[str]] = {}
    for p in standard:
        languages.setdefault(_leaflet(p.job), []).append(p.job.lang)

    pages: dict[str, dict[str, Any]] = {}
    changed: list[str] = []
    for p in standard:
        key = f"{p.job.brand}/{p.job.page}"
        if p.job not in current:         # its PDF failed this time: its page, if any, stays as it was
            if key in before:
                pages[key] = before[key]
            continue
        large = current.get(_large(p.job))
        others = sorted(lang for lang in languages[_leaflet(p.job)] if lang != p.job.lang)
        fingerprint = digest({"pdf": p.fingerprint, "large": large.fingerprint if large else None,
                              "languages": others, "words": catalog.labels[p.job.lang]})
        old = before.get(key)
        if old and old["fingerprint"] == fingerprint and all(
                (site / key / name).is_file() for name in [PAGE, *old["files"]]):
            pages[key] = old
            continue
        pages[key] = _write_page(project, site / key, out, p.job, [p.job] + ([large.job] if large else []),
                                 others, assemble(p.job), fingerprint)
        changed.append(f"{SITE}/{key}")

    for key in sorted(set(before) - set(pages)):     # drafts again, overdue, or gone from the catalog
        for name in [PAGE, *before[key]["files"]]:
            remove_quietly(site / key / name)
        changed.append(f"{SITE}/{key} (removed)")
    _brand_pages(project, site, catalog, pages, {key.split("/")[0] for key in before})
    _write(out, pages)
    return changed


def _write_page(project: Project, folder: Path, out: Path, job: Job, printed: list[Job], others: list[str],
                leaflet: Leaflet, fingerprint: str) -> dict[str, Any]:
    """One leaflet's page, with copies of its PDFs beside it; its entry in the site's manifest."""
    from careleaf.leaflet.page import Download, Language, render_page

    downloads = []
    for pdf in printed:
        data = (out / pdf.output).read_bytes()
        _write_if_changed(folder / pdf.output.name, data)
        downloads.append(Download(pdf.output.name, len(data), pdf.large_print))
    links = [Language(lang, f"../../{lang}/{job.treatment}-{job.kind}/") for lang in others]
    # A page that named a large-print PDF no longer built keeps no copy of it.
    for stale in {p.name for p in folder.glob("*.pdf")} - {d.href for d in downloads}:
        remove_quietly(folder / stale)
    _write_if_changed(folder / PAGE, render_page(project, leaflet, downloads, links).encode("utf-8"))
    return {"fingerprint": fingerprint, "files": [d.href for d in downloads], "lang": job.lang,
            "treatment": job.treatment, "kind": job.kind, "title": leaflet.title,
            "treatment_name": leaflet.treatment_name}


def _brand_pages(project: Project, site: Path, catalog: Catalog, pages: dict[str, dict], had: set[str]) -> None:
    """Each brand's index and assets when it has published pages; both removed when it has none now."""
    from careleaf.content.model import KINDS
    from careleaf.leaflet.page import ASSETS, Listed, render_index

    by_brand: dict[str, list[tuple[str, dict]]] = {}
    for key, entry in pages.items():
        by_brand.setdefault(key.split("/")[0], []).append((key, entry))
    for brand_id in sorted(had - set(by_brand)):
        remove_quietly(site / brand_id / PAGE)
        shutil.rmtree(site / brand_id / ASSETS, ignore_errors=True)
        _remove_empty(site / brand_id)
    for brand_id, entries in sorted(by_brand.items()):
        brand = catalog.brands.get(brand_id)
        if brand is None:          # a brand gone from the catalog whose page stayed because its PDF failed
            continue
        _write_assets(project, site / brand_id / ASSETS, brand_id, brand.logo)
        listed = [Listed(e["lang"], key.split("/", 1)[1], e["title"], e["treatment_name"])
                  for key, e in sorted(entries, key=lambda item: (item[1]["treatment"],
                                                                  KINDS.index(item[1]["kind"])))]
        lang = brand.languages[0]
        html = render_index(project, brand, catalog.labels[lang], lang, listed)
        _write_if_changed(site / brand_id / PAGE, html.encode("utf-8"))


def _write_assets(project: Project, folder: Path, brand_id: str, logo: str) -> None:
    """The stylesheet, the fonts it names (with their licence) and the brand's logo, from the asset folders
    (the project's file first, then the theme's), as careleaf.pdf reads them."""
    from careleaf.leaflet.page import STYLESHEET
    from careleaf.pdf.fonts import FONT_FILES

    wanted = {STYLESHEET: project.asset(STYLESHEET), "logo.svg": project.styles / "brands" / brand_id / logo,
              "fonts/OFL.txt": project.asset("fonts/OFL.txt")}
    wanted |= {f"fonts/{name}": project.asset(f"fonts/{name}") for name in FONT_FILES}
    for name, source in wanted.items():
        if source is not None and source.is_file():
            _write_if_changed(folder / name, source.read_bytes())


def _write_if_changed(path: Path, data: bytes) -> None:
    """Written atomically, and only when its bytes differ: an unchanged page keeps its time and inode."""
    if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
        write_atomically(path, data)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _leaflet(job: Job) -> tuple[str, str, str]:
    return job.brand, job.treatment, job.kind


def _large(job: Job) -> Job:
    from dataclasses import replace

    return replace(job, large_print=True)


def _read(out: Path) -> dict[str, dict[str, Any]]:
    """Each published page's entry; an unreadable manifest means every page is written again."""
    try:
        pages = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(pages, dict):
        return {}
    # Only entries naming a page's own folder and plain file names in it: removing what it lists never
    # reaches outside out/site/, whatever the file says.
    return {key: entry for key, entry in pages.items()
            if _PAGE_KEY.fullmatch(key) and isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str)
            and isinstance(entry.get("files"), list)
            and all(isinstance(name, str) and _FILE.fullmatch(name) for name in entry["files"])}


def _write(out: Path, pages: dict[str, dict[str, Any]]) -> None:
    write_atomically(out / MANIFEST, (json.dumps(dict(sorted(pages.items())), indent=1) + "\n").encode("utf-8"))
