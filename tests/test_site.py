"""The leaflets as web pages (out/site/): what a patient reads on a phone after scanning the QR code.

One tmp project, built once for the module: the small sample catalog approved in English and in Arabic
(the Arabic fixture, its translation reviewed and approved), with the brand's ``site_url`` set. The
pages are read as files, and in a real browser (Playwright driving Debian's /usr/bin/chromium) served
from a loopback HTTP server: nothing fetched from anywhere else, no script, axe-core with no violation
at a phone's width and at 200 % zoom, and every link reached by the keyboard with its focus shown.
Screenshots go to tmp_path, and are copied to /tmp/careleaf-site-*.png to look at.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from careleaf.build.run import build
from careleaf.build.site import MANIFEST, SITE
from careleaf.content.catalog import load_catalog
from careleaf.content.translation import reviewed
from careleaf.errors import InputError
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.leaflet.html import markup, referred, render_leaflet
from careleaf.leaflet.page import render_page
from careleaf.project import Project
from careleaf.review.approve import approve

from conftest import (SMALL_BRAND, SMALL_TREATMENT, approve_all, approved_project, copy_project, edit,
                      replace_in, small_project, with_arabic)

BRAND = SMALL_BRAND
SITE_URL = "https://harbourskin.example/leaflets/"
TODAY = __import__("datetime").date(2026, 6, 1)
WORDING = f"leaflets/treatments/{SMALL_TREATMENT}/en.yaml"
PAGES = [f"{lang}/{SMALL_TREATMENT}-{kind}/" for lang in ("en", "ar") for kind in ("pre-treatment", "aftercare")]


def publishing(root: Path) -> Path:
    """The brand publishes out/site/<brand>/ at SITE_URL (instead of pages of its own)."""
    edit(root / f"leaflets/brands/{BRAND}.yaml", r"(?m)^leaflet_page:.*$", f"site_url: {SITE_URL}")
    return root


def approved_with_arabic(dest: Path) -> Path:
    """The approved small catalog in English and Arabic: the Arabic wording's review and approval recorded."""
    root = publishing(with_arabic(approved_project(dest, languages="en"), BRAND))
    arabic = [root / "leaflets/shared/ar.yaml", root / f"leaflets/treatments/{SMALL_TREATMENT}/ar.yaml"]
    for path in arabic:
        path.write_text(re.sub(r"(?m)^[ \t]*needs_approval: true[ \t]*\n", "", path.read_text("utf-8")), "utf-8")
    catalog = load_catalog(Project(root))
    for path in arabic:
        reviewed(catalog, path.resolve())
    approve_all(root)
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = approved_with_arabic(tmp_path_factory.mktemp("site") / "project")
    out = root / "out"
    summary = build(Project(root), out, jobs=2, today=TODAY)
    assert not summary.failed and not summary.drafts, summary
    return SimpleNamespace(root=root, out=out, folder=out / SITE / BRAND, summary=summary)


def text_of(html: str) -> str:
    """The words of an HTML fragment, as a reader sees them: tags gone, spaces as one."""
    class Words(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.words: list[str] = []

        def handle_data(self, data):
            self.words.append(data)

        def handle_starttag(self, tag, attrs):
            self.words.append(" ")

    parser = Words()
    parser.feed(html)
    return " ".join("".join(parser.words).split())


def leaflet_words(leaflet) -> list[str]:
    """Everything the leaflet says, piece by piece, from the assembled content (not from any HTML)."""
    values = referred(leaflet)
    words = [leaflet.title] + ([text_of(markup(leaflet.intro, values))] if leaflet.intro else [])
    for block in leaflet.blocks:
        if block.section:
            words += [block.section.question, text_of(markup(block.section.answer, values))]
    words += [m.label for m in leaflet.timeline]
    for _, effects in leaflet.side_effects:
        words += [e.effect for e in effects] + [e.what_to_do for e in effects if e.what_to_do and not e.urgent]
    words += leaflet.do_not_treat + leaflet.tell_us + [step for _, steps in leaflet.checklist for step in steps]
    if leaflet.urgent_help:
        words += [*leaflet.urgent_help.symptoms, leaflet.urgent_help.action]
    words += [leaflet.brand.name, leaflet.brand.phone, leaflet.brand.urgent_phone, leaflet.brand.website]
    return [" ".join(w.split()) for w in words]


# --- the pages say what the leaflets say ----------------------------------------------------------

def test_every_approved_leaflet_has_a_page_with_its_words(site):
    project = Project(site.root)
    catalog = load_catalog(project)
    for job in jobs(catalog, large_print=False):
        leaflet = assemble(catalog, job, TODAY)
        page = site.folder / job.page / "index.html"
        html = page.read_text("utf-8")
        said = text_of(html)
        missing = [w for w in leaflet_words(leaflet) if w not in said]
        assert not missing, f"{job.name}: not on its page: {missing}"
        assert f'<html lang="{job.lang}" dir="{"rtl" if job.lang == "ar" else "ltr"}"' in html
        # The same words as the PDF's own HTML, for every piece of content both print.
        pdf_words = text_of(render_leaflet(project, leaflet))
        assert all(w in pdf_words for w in leaflet_words(leaflet))
        # Both PDFs are beside the page, the same bytes as the build's.
        for name in (job.output.name, job.output.name.replace(".pdf", "-large-print.pdf")):
            assert (page.parent / name).read_bytes() == (site.out / job.output.parent / name).read_bytes()
            assert f'href="{name}"' in html


def test_the_timeline_table_comes_before_its_picture_and_aftercare_starts_with_urgent_help(site):
    for lang in ("en", "ar"):
        aftercare = (site.folder / f"{lang}/{SMALL_TREATMENT}-aftercare/index.html").read_text("utf-8")
        timeline = aftercare[aftercare.index('<section class="timeline">'):]
        assert timeline.index('<table class="milestones">') < timeline.index('<figure class="timeline-picture">')
        main = aftercare[aftercare.index("<main"):]
        assert main.index('class="urgent-help"') < main.index('<section class="qa"')
        assert main.count('class="urgent-help"') == 1


def test_the_pages_link_each_other_and_the_index_lists_them(site):
    english = (site.folder / f"en/{SMALL_TREATMENT}-aftercare/index.html").read_text("utf-8")
    assert f'href="../../ar/{SMALL_TREATMENT}-aftercare/" hreflang="ar" lang="ar" dir="rtl">العربية</a>' in english
    arabic = (site.folder / f"ar/{SMALL_TREATMENT}-aftercare/index.html").read_text("utf-8")
    assert f'href="../../en/{SMALL_TREATMENT}-aftercare/" hreflang="en" lang="en" dir="ltr">English</a>' in arabic
    index = (site.folder / "index.html").read_text("utf-8")
    assert [m for m in re.findall(r'<a href="([^"]+)"', index) if not m.startswith("https:")] == PAGES
    # Phone numbers dial, the email writes, from the page.
    assert '<a href="tel:02079460999">020 7946 0999</a>' in english
    assert '<a href="mailto:hello@harbourskin.example">' in english
    assert '<a href="tel:02079460999"><bdi dir="ltr">020 7946 0999</bdi></a>' in arabic


def test_the_site_is_self_contained(site):
    """Everything a page names is inside the brand's folder: it can be copied to any web server as it is."""
    for page in site.folder.rglob("*.html"):
        html = page.read_text("utf-8")
        assert "<script" not in html.lower() and not re.search(r"\son[a-z]+=", html)
        for target in re.findall(r'(?:href|src)="([^"]+)"', html):
            if target.startswith(("https://", "tel:", "mailto:", "data:", "#")):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(site.folder.resolve()), (page, target)
            assert resolved.is_file() or (resolved / "index.html").is_file(), (page, target)
        assert "url(" not in html
    css = (site.folder / "_assets/site.css").read_text("utf-8")
    for target in re.findall(r'url\("([^"]+)"\)', css):
        assert (site.folder / "_assets" / target).is_file()
    assert not (site.out / SITE / MANIFEST).exists(), "the site's manifest stays outside the published folder"


def test_the_qr_code_points_to_the_page(site):
    catalog = load_catalog(Project(site.root))
    job = next(j for j in jobs(catalog, large_print=False) if j.lang == "ar" and j.kind == "aftercare")
    leaflet = assemble(catalog, job, TODAY)
    assert leaflet.web_address == f"{SITE_URL}ar/{SMALL_TREATMENT}-aftercare/"
    assert f"{SITE_URL}ar/{SMALL_TREATMENT}-aftercare/" in render_leaflet(Project(site.root), leaflet)


def test_a_brand_gives_one_address_for_its_leaflets(tmp_path):
    root = publishing(small_project(tmp_path / "project"))
    replace_in(root / f"leaflets/brands/{BRAND}.yaml", f"site_url: {SITE_URL}",
               f"site_url: {SITE_URL}\nleaflet_page: https://harbourskin.example/x/{{code}}")
    with pytest.raises(InputError, match="not both"):
        load_catalog(Project(root))


def test_no_patient_and_no_draft_is_ever_drawn_as_a_page(site, tmp_path):
    root = small_project(tmp_path / "drafts")
    catalog = load_catalog(Project(root))
    leaflet = assemble(catalog, jobs(catalog, large_print=False)[0], TODAY)
    assert leaflet.draft
    with pytest.raises(ValueError, match="only the catalog's approved"):
        render_page(Project(root), leaflet, [], [])
    summary = build(Project(root), root / "out", large_print=False, today=TODAY)
    assert summary.drafts and summary.built and not summary.site
    assert not (root / "out" / SITE).exists()


# --- drafts never published; pages written only when they change -----------------------------------

def test_a_page_goes_when_its_leaflet_awaits_approval_again_and_unchanged_pages_stay(site, tmp_path):
    root = copy_project(tmp_path / "project", site.root)
    out = root / "out"
    build(Project(root), out, jobs=2, large_print=False, today=TODAY)
    folder = out / SITE / BRAND
    before = site_files(out)
    assert len([name for name in before if name.endswith("index.html")]) == 5

    build(Project(root), out, full_check=True, large_print=False, today=TODAY)
    assert site_files(out) == before, "a build with nothing new rewrites no page"

    restored = f"{BRAND}/{PAGES[1]}index.html"
    (out / SITE / restored).unlink()        # the stamps would say "nothing to do": the site's check says otherwise
    build(Project(root), out, large_print=False, today=TODAY)
    after = site_files(out)
    assert after[restored][0] == before[restored][0]
    assert {k: v for k, v in after.items() if k != restored} == {k: v for k, v in before.items() if k != restored}

    # The English aftercare's wording changes after approval: a draft again, its page goes at once, and the
    # Arabic page no longer offers English; the pre-treatment pages are not touched.
    answer = "You may have some redness"
    replace_in(root / WORDING, answer, "You might have some redness")
    summary = build(Project(root), out, large_print=False, today=TODAY)
    assert summary.drafts == ["BTX-FL-AC (en: awaiting re-approval)"]
    assert (out / BRAND / "en" / f"{SMALL_TREATMENT}-aftercare.pdf").is_file()
    assert not (folder / PAGES[1]).exists()
    assert f"{PAGES[1]}" not in (folder / "index.html").read_text("utf-8")
    arabic = (folder / PAGES[3] / "index.html").read_text("utf-8")
    assert 'class="languages"' not in arabic
    assert 'class="notice translation-review"' in arabic, "the Arabic page says its English source changed"
    after = site_files(out)
    for page in (PAGES[0], PAGES[2]):
        assert after[f"{BRAND}/{page}index.html"] == before[f"{BRAND}/{page}index.html"]

    approve(Project(root), "BTX-FL-AC", by="Dr Test Person", lang="en", today=TODAY)    # approved again: published
    build(Project(root), out, large_print=False, today=TODAY)
    assert "You might have some redness" in (folder / PAGES[1] / "index.html").read_text("utf-8")


def test_a_sharded_build_leaves_the_site_alone(site, tmp_path):
    root = copy_project(tmp_path / "project", site.root)
    summary = build(Project(root), root / "out", large_print=False, shard=(1, 2), today=TODAY)
    assert not (root / "out" / SITE).exists()
    assert any("without --shard" in note for note in summary.notes)


def site_files(out: Path) -> dict[str, tuple[bytes, int, int]]:
    folder = out / SITE
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- in a browser ------------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The brand's site folder on a loopback web server, as the clinic publishes it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site.folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# A phone; a desktop window at 200 % zoom (half its width in CSS pixels, each drawn twice as large); a phone
# at 200 %; and 320 CSS pixels, where WCAG's reflow asks for no sideways scrolling.
VIEWS = {"phone": (390, 844, 3), "zoom-200": (640, 450, 2), "phone-zoom-200": (195, 422, 6), "reflow-320": (320, 640, 1)}
AXE_VIEWS = ("phone", "zoom-200")      # axe's rules do not change with the width; the layout is checked at all four


def open_page(browser, url: str, view: str, **options):
    width, height, scale = VIEWS[view]
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                  **options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url, wait_until="networkidle")
    page.evaluate("document.fonts.ready")
    return context, page, requests


@pytest.mark.slow
@pytest.mark.needs("chromium")
def test_pages_fetch_nothing_from_elsewhere_and_need_no_script(site, served, browser, tmp_path):
    for path in ["", *PAGES]:
        context, page, requests = open_page(browser, served + path, "phone", java_script_enabled=False)
        try:
            assert requests and all(url.startswith(served) for url in requests), requests
            assert any(url.endswith(".ttf") for url in requests), "the page's own fonts are used"
            assert page.locator("script").count() == 0
            heading = page.get_by_role("heading", level=1)
            assert heading.is_visible() and heading.bounding_box()["width"] > 200
            for link in page.locator("a[href$='.pdf']").all():
                response = context.request.get(served + path + link.get_attribute("href"))
                assert response.ok and response.body()[:5] == b"%PDF-"
        finally:
            context.close()


@pytest.mark.slow
@pytest.mark.needs("chromium")
def test_axe_finds_nothing_at_a_phones_width_and_at_200_percent(site, served, browser, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    report = {}
    for view in VIEWS:
        for path in ["", *PAGES]:
            context, page, _ = open_page(browser, served + path, view)
            try:
                if view in AXE_VIEWS:
                    found = Axe().run(page).response
                    report[f"{view} {path or 'index'}"] = [
                        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
                        for v in found["violations"]]
                    assert found["passes"], "axe ran its checks"
                sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert sideways <= 0, f"{view} {path}: scrolls sideways by {sideways} px"
                name = f"{view}-{path.strip('/').replace('/', '-') or 'index'}"
                page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
                if view == "phone" or path == PAGES[1]:
                    shutil.copy(tmp_path / f"{name}.png", f"/tmp/careleaf-site-{name}.png")
            finally:
                context.close()
    assert report and not any(report.values()), {k: v for k, v in report.items() if v}


@pytest.mark.slow
@pytest.mark.needs("chromium")
def test_the_keyboard_reaches_every_link_and_shows_where_it_is(site, served, browser):
    for path in ["", PAGES[1], PAGES[3]]:
        context, page, _ = open_page(browser, served + path, "phone")
        try:
            links = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.outerHTML)")
            reached = []
            for _ in links:
                page.keyboard.press("Tab")
                focused = page.evaluate("""() => {
                    const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
                    return {html: el.outerHTML, outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
                            visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight};
                }""")
                assert focused["outline"] != "none" and focused["width"] >= 2, f"{path}: no focus shown on {focused}"
                assert focused["visible"], f"{path}: the focused link is off the screen: {focused['html']}"
                reached.append(focused["html"])
            assert reached == links, f"{path}: the keyboard reaches {len(reached)} of {len(links)} links"
            # The first Tab is the skip link; Enter takes the reader to the leaflet itself.
            page.goto(served + path)
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.tagName") == "MAIN"
        finally:
            context.close()


def test_a_project_changes_the_pages_look_as_it_changes_the_pdfs(site, tmp_path):
    root = copy_project(tmp_path / "project", site.root)
    (root / "styles").mkdir(exist_ok=True)
    (root / "styles/site.css").write_text("/* the clinic's own */ body { font-size: 1.25rem; }\n", "utf-8")
    (root / "templates/site/components").mkdir(parents=True)
    (root / "templates/site/components/timeline.html").write_text(
        '{% extends "theme/site/components/timeline.html" %}\n', "utf-8")
    (root / "templates/site/components/contact.html").write_text(
        '<section class="own-contact"><h2>{{ label.contact }}</h2>{{ brand.phone | link("tel") }}</section>\n', "utf-8")
    build(Project(root), root / "out", large_print=False, today=TODAY)
    folder = root / "out" / SITE / BRAND
    assert (folder / "_assets/site.css").read_text("utf-8").startswith("/* the clinic's own */")
    page = (folder / PAGES[1] / "index.html").read_text("utf-8")
    assert '<section class="own-contact">' in page and '<table class="milestones">' in page
