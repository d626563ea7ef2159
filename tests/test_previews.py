"""`build --html` previews open from disk in a browser as the PDF looks: styled, with the leaflet's fonts and logo.

A preview is the leaflet's HTML with a <base> pointing at out/_assets/ (the stylesheets, fonts and logos the
renderer reads, copied once) and links to the stylesheets the renderer gives WeasyPrint. The HTML WeasyPrint
renders is not changed by this: the PDFs are the same bytes with or without --html.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from careleaf.build.run import build
from careleaf.build.output import PREVIEW_ASSETS
from careleaf.build.site import SITE
from careleaf.project import Project
from conftest import files_state, mini_project

CHROMIUM = Path("/usr/bin/chromium")
PRIMARY = "rgb(11, 74, 102)"        # tests/fixtures/mini's brand colour, #0b4a66


@pytest.fixture(scope="module")
def previews(tmp_path_factory):
    """The mini catalog built twice: with --html (previews) and without."""
    work = tmp_path_factory.mktemp("previews")
    root = mini_project(work / "project")
    build(Project(root), work / "with-html", write_html=True)
    build(Project(root), work / "without-html")
    return work


def test_previews_do_not_change_the_pdfs(previews):
    with_html, without = files_state(previews / "with-html"), files_state(previews / "without-html")
    assert {name: state[0] for name, state in with_html.items()} == {
        name: state[0] for name, state in without.items()}
    assert len(with_html) == 4


def test_every_pdf_has_a_preview_and_the_assets_are_copied_once(previews):
    out = previews / "with-html"
    assert sorted(p.with_suffix(".pdf") for p in out.rglob("*.html") if PREVIEW_ASSETS not in p.parts
                  and SITE not in p.parts) == sorted(p for p in out.rglob("*.pdf") if SITE not in p.parts)
    assets = out / PREVIEW_ASSETS
    assert (assets / "leaflet.css").is_file() and (assets / "large-print.css").is_file()
    assert (assets / "brands/clinic/logo.svg").is_file()
    assert list((assets / "fonts").glob("*.ttf"))
    assert not [p for p in (previews / "without-html").rglob("*.html") if SITE not in p.parts]


def test_a_build_without_html_removes_the_previews_of_the_leaflets_it_rebuilds(previews, tmp_path):
    root = mini_project(tmp_path / "project")
    out = tmp_path / "out"
    build(Project(root), out, write_html=True)
    build(Project(root), out, force=True)
    assert not [p for p in out.rglob("*.html") if PREVIEW_ASSETS not in p.parts and SITE not in p.parts]


@pytest.mark.slow
@pytest.mark.needs("chromium")
@pytest.mark.parametrize("large_print", [False, True], ids=["standard", "large-print"])
def test_a_preview_opens_styled_in_chromium_with_its_fonts_and_logo(previews, large_print):
    from playwright.sync_api import sync_playwright

    suffix = "-large-print" if large_print else ""
    preview = next((previews / "with-html").rglob(f"*-aftercare{suffix}.html"))
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("response", lambda response: response.ok or failed.append(response.url))
            page.goto(preview.as_uri(), wait_until="load")
            page.evaluate("document.fonts.ready.then(() => true)")
            seen = page.evaluate("""() => ({
                family: getComputedStyle(document.body).fontFamily,
                fontLoaded: [...document.fonts].some(f => f.family.includes('Leaflet Sans') && f.status === 'loaded'),
                heading: getComputedStyle(document.querySelector('h2')).color,
                logo: [...document.images].filter(i => i.classList.contains('logo')).map(i => i.naturalWidth),
                sheets: [...document.styleSheets].map(s => s.href).filter(Boolean).map(h => h.split('/').pop()),
                text: parseFloat(getComputedStyle(document.querySelector('main p, p')).fontSize),
            })""")
        finally:
            browser.close()
    assert failed == []
    assert seen["family"].startswith('"Leaflet Sans"'), seen
    assert seen["fontLoaded"], seen
    assert seen["heading"] == PRIMARY, seen
    assert seen["logo"] and all(width > 0 for width in seen["logo"]), seen
    assert seen["sheets"] == (["leaflet.css", "large-print.css"] if large_print else ["leaflet.css"])
    assert (seen["text"] >= 16 * 96 / 72 - 0.1) == large_print, seen     # large print: text of 16 pt or more
