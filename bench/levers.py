#!/usr/bin/env python3
"""Measure render levers one at a time on the sample catalog, warm, in one process.

    .venv/bin/python bench/levers.py [--rounds 3] [--project DIR] [--only NAME,...]

Each lever is a stylesheet patched in a temporary folder laid over the theme's styles (the
renderer looks files up in order: the temporary folder first), or a change of how the renderer is
called; careleaf's own files are never edited. For every lever: the total warm render time of every
sample leaflet (median of the rounds, all levers measured in turn within each round, so that all see
the same machine load), the pages, and the number of times WeasyPrint laid a line out per line drawn
(``split_first_line`` calls ÷ ``draw_first_line`` calls), which does not move with the machine's load.
Results go to standard output as a Markdown table, for bench/NOTES.md.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from careleaf.build.run import pages
from careleaf.content.catalog import load_catalog
from careleaf.pdf.render import render_pdf
from careleaf.project import Project

REPO = Path(__file__).resolve().parent.parent

# name → (what it changes, CSS added after the theme's leaflet.css). Each is measured on its own.
LEVERS: dict[str, tuple[str, str]] = {
    "as shipped": ("the theme's stylesheets unchanged", ""),
    "table-layout fixed": ("`table { table-layout: fixed; width: 100% }`: columns from the first row, cells "
                           "not measured for their widest content first",
                           "table { table-layout: fixed; width: 100%; }"),
    "no break-inside avoid": ("`break-inside: auto` everywhere: no block moved whole to the next page",
                              "* { break-inside: auto !important; }"),
    "no running header": ("the running header (logo and clinic name on every page) not printed",
                          ".running-header { display: none !important; }"),
    "one font face": ("only Noto Sans in the font list: no Arabic face to fall back through",
                      "html, body, * { font-family: \"Leaflet Sans\", sans-serif !important; }"),
    "no DRAFT mark": ("the page background (the DRAFT mark, drawn as glyph outlines) not drawn: what an approved "
                      "leaflet costs", "@page { background: none !important; }"),
    "no flex or grid": ("flex and grid containers laid out as blocks (they lay their items out more than once)",
                        ".running-header, .contact-body, .treatment-record dl div, .contact dl "
                        "{ display: block !important; }"),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--project", type=Path, default=REPO / "tests" / "fixtures" / "sample")
    parser.add_argument("--only", help="comma-separated lever names")
    options = parser.parse_args(argv)
    chosen = [name for name in LEVERS if not options.only or name in options.only.split(",")]

    project = Project(options.project.resolve())
    drawn = [(page.job, page.html) for page in pages(project, load_catalog(project))]
    work = Path(tempfile.mkdtemp(prefix="careleaf-levers-"))
    try:
        folders = {name: _patched_styles(work / f"lever-{index}", project, LEVERS[name][1])
                   for index, name in enumerate(chosen)}
        counts = {name: _line_counts(drawn, folders[name]) for name in chosen}
        times: dict[str, list[float]] = {name: [] for name in chosen}
        for name in chosen:                      # warm every variant's renderer once
            _render_all(drawn, folders[name])
        for round_number in range(options.rounds):
            for name in chosen:
                started = time.perf_counter()
                _render_all(drawn, folders[name])
                times[name].append(time.perf_counter() - started)
            print(f"round {round_number + 1}/{options.rounds} done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times[chosen[0]])
    print(f"| Lever | What it changes | Render all {len(drawn)} leaflets, warm (median of {options.rounds}) "
          "| vs as shipped | Pages | Line layouts per line drawn |")
    print("|---|---|---|---|---|---|")
    for name in chosen:
        total = statistics.median(times[name])
        laid, drawn_lines, page_count = counts[name]
        print(f"| {name} | {LEVERS[name][0]} | {total:.2f} s | {(total / base - 1) * 100:+.0f}% | {page_count} "
              f"| {laid / max(drawn_lines, 1):.2f} ({laid} ÷ {drawn_lines}) |")
    return 0


def _patched_styles(folder: Path, project, extra_css: str) -> tuple[Path, ...]:
    """Asset folders with ``extra_css`` added to the end of the stylesheet the renderer would use."""
    folder.mkdir(parents=True)
    if extra_css:
        original = project.asset("leaflet.css")
        (folder / "leaflet.css").write_text(original.read_text("utf-8") + "\n/* lever */\n" + extra_css + "\n",
                                            "utf-8")
    return (folder, *project.asset_folders)


def _render_all(drawn, folders) -> list[bytes]:
    return [render_pdf(html, folders, large_print=job.large_print, source=job.name) for job, html in drawn]


def _line_counts(drawn, folders) -> tuple[int, int, int]:
    """(lines laid out, lines drawn, pages) over one render of every leaflet."""
    # WeasyPrint's modules (and pypdf) only here, where their functions are counted: --help stays quick.
    import weasyprint.draw.text
    import weasyprint.text.line_break
    from pypdf import PdfReader

    counted = {"laid": 0, "drawn": 0}
    originals = {"laid": weasyprint.text.line_break.split_first_line, "drawn": weasyprint.draw.text.draw_first_line}

    def counting(kind):
        def wrapper(*args, **kwargs):
            counted[kind] += 1
            return originals[kind](*args, **kwargs)
        return wrapper

    patched = []
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("weasyprint") and m]:
        for kind, function in originals.items():
            for attribute, value in list(vars(module).items()):
                if value is function:
                    setattr(module, attribute, counting(kind))
                    patched.append((module, attribute, value))
    try:
        pdfs = _render_all(drawn, folders)
    finally:
        for module, attribute, value in patched:
            setattr(module, attribute, value)
    page_total = sum(len(PdfReader(io.BytesIO(pdf)).pages) for pdf in pdfs)
    return counted["laid"], counted["drawn"], page_total


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
