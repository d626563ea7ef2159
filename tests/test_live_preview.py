"""The editor's live preview follows every file of the project as it is saved, without restarting `serve`.

The web app's render workers live as long as the server and keep what they read of the project (parsed
stylesheets and fonts, the templates, the words the templates print). The tests share a real
``careleaf serve`` with one render worker (so the same worker draws the preview before and after each
edit); each asks for the editor's preview, saves a file of the project, and asks again: the next preview
must show the edit. Each test's edits are undone after it, by saving the files back.
"""

from __future__ import annotations

import ast
import html
import io
import re
import shutil
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image

from careleaf.build import caches
from careleaf.project import THEME
from conftest import ROOT, own_labels, small_project
from webserver import WebServer

AFTERCARE = {"brand": "harbour-skin", "treatment": "botox-facial-lines", "kind": "aftercare", "lang": "en"}
MAGENTA = (255, 0, 255)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, WebServer]:
    """The small catalog with its own copy of the theme's stylesheet and English template words, served with
    one render worker."""
    root = own_labels(small_project(tmp_path_factory.mktemp("live") / "project"))
    shutil.copy(THEME / "styles/leaflet.css", root / "styles/leaflet.css")
    (root / "careleaf.yaml").write_text(yaml.safe_dump({"desk": {"render_workers": 1, "render_timeout": 60}}), "utf-8")
    with WebServer(root) as server:
        yield root, server


@pytest.fixture
def project(served):
    """The served project and its server; the project's templates/ and styles/ are saved back as they were
    after the test."""
    root, server = served
    kept = {path: path.read_bytes() for folder in ("templates", "styles") for path in (root / folder).rglob("*")
            if path.is_file()}
    yield root, server
    for folder in ("templates", "styles"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and path not in kept:
                path.unlink()
    for path, data in kept.items():
        if path.read_bytes() != data:
            path.write_bytes(data)


def editor_preview(server: WebServer) -> tuple[str, list[Image.Image]]:
    """The editor's preview of the aftercare leaflet: its pages' text (as the page gives it to screen readers)
    and its page images."""
    page = httpx.get(server.url + "/editor", params=AFTERCARE, timeout=120)
    assert page.status_code == 200, page.text[:500]
    sources = [html.unescape(src) for src in re.findall(r'<img src="(/preview/[^"]+)"', page.text)]
    assert sources, "the editor shows no preview:\n" + page.text[:2000]
    images = []
    for source in sources:
        answer = httpx.get(server.url + source, timeout=120)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png", source
        images.append(Image.open(io.BytesIO(answer.content)).convert("RGB"))
    texts = re.findall(r"<pre>(.*?)</pre>", page.text, re.DOTALL)
    return " ".join(" ".join(html.unescape(text).split()) for text in texts), images


def share_of(image: Image.Image, colour: tuple[int, int, int]) -> float:
    counts = {found: count for count, found in image.getcolors(image.width * image.height)}
    return counts.get(colour, 0) / (image.width * image.height)


@pytest.mark.slow
def test_a_stylesheet_edit_shows_in_the_next_preview(project):
    root, server = project
    _, before = editor_preview(server)
    assert share_of(before[0], MAGENTA) == 0
    with open(root / "styles/leaflet.css", "a", encoding="utf-8") as sheet:
        sheet.write("\n@page { background: rgb(255, 0, 255); }\n")
    _, after = editor_preview(server)
    assert share_of(after[0], MAGENTA) > 0.2, "the page background set by the edited stylesheet"


@pytest.mark.slow
def test_a_template_word_edit_shows_in_the_next_preview(project):
    root, server = project
    words = root / "templates/labels/en.yaml"
    before, _ = editor_preview(server)
    assert "Possible side effects" in before and "Side effects to watch for" not in before
    words.write_text(words.read_text("utf-8").replace("side_effects: Possible side effects",
                                                      "side_effects: Side effects to watch for"), "utf-8")
    after, _ = editor_preview(server)
    assert "Side effects to watch for" in after and "Possible side effects" not in after


@pytest.mark.slow
def test_a_word_a_template_starts_to_print_is_asked_for_at_once(project):
    """A template saved printing a new word: the editor says at once that the words file lacks it, and once the
    word is added, the preview prints it."""
    root, server = project
    template, words = root / "templates/aftercare.html", root / "templates/labels/en.yaml"
    shutil.copy(THEME / "templates/aftercare.html", template)
    editor_preview(server)
    template.write_text(template.read_text("utf-8").replace("{{ label.aftercare_lede }}",
                                                            "{{ label.mirror_note }}"), "utf-8")
    page = httpx.get(server.url + "/editor", params=AFTERCARE, timeout=120)
    assert "these template words are missing: mirror_note" in html.unescape(page.text), page.text[:3000]
    words.write_text(words.read_text("utf-8") + "mirror_note: Keep this page by your bathroom mirror.\n", "utf-8")
    after, _ = editor_preview(server)
    assert "Keep this page by your bathroom mirror." in after


@pytest.mark.slow
def test_a_template_added_to_the_project_replaces_the_themes_in_the_next_preview(project):
    """A project template that replaces one of the theme's, saved while the server runs."""
    root, server = project
    lede = "Take this leaflet home with you."
    before, _ = editor_preview(server)
    assert lede in before
    template = (THEME / "templates/aftercare.html").read_text("utf-8")
    assert "{{ label.aftercare_lede }}" in template
    (root / "templates/aftercare.html").write_text(
        template.replace("{{ label.aftercare_lede }}", "Keep this page by your bathroom mirror."), "utf-8")
    after, _ = editor_preview(server)
    assert "Keep this page by your bathroom mirror." in after and lede not in after


# --- every cache of the project's files is forgotten when they change -------------------------------------

def cached_functions_of_project_files() -> set[str]:
    """Every function of careleaf cached with lru_cache whose arguments name the project's files (a Path, the
    asset or template folders, the fonts found in them), except those given the files' version as well."""
    found = set()
    for path in sorted((ROOT / "careleaf").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.FunctionDef)
                    and any("lru_cache" in ast.unparse(decorator) for decorator in node.decorator_list)):
                continue
            arguments = node.args.args + node.args.kwonlyargs
            named = " ".join(ast.unparse(a.annotation) for a in arguments if a.annotation is not None)
            if re.search(r"\b(Path|Fonts)\b", named) and not any(a.arg == "version" for a in arguments):
                found.add(f"{module}.{node.name}")
    return found


def test_every_cache_of_the_projects_files_is_in_the_one_registry():
    registered = {f"{cache.__module__}.{cache.__wrapped__.__name__}" for cache in caches.PROJECT_CACHES}
    assert cached_functions_of_project_files() == registered


def test_a_leaflet_that_fails_to_render_shows_its_message_in_the_editor(project):
    """A logo saved over a limit: the editor says the leaflet cannot be printed, and why, beside the last good
    preview, rather than silently showing the old one."""
    root, server = project
    editor_preview(server)
    logo = root / "styles/brands/harbour-skin/logo.svg"
    logo.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g/>" * 20_010 + b"</svg>")
    page = httpx.get(server.url + "/editor", params=AFTERCARE, timeout=120)
    shown = html.unescape(page.text)
    assert page.status_code == 200
    assert 'id="render-failure"' in shown, shown[:3000]
    assert "This leaflet cannot be printed as the files are now" in shown
    assert "styles/brands/harbour-skin/logo.svg" in shown and "limits.svg_elements" in shown
