"""What content and assets can make the renderer do: print text, and read files in the asset folders
(the project's styles/, then careleaf's theme styles). Nothing else.

* Injection is inert: HTML, <script>, CSS and Jinja syntax typed into wording or
  brand fields reach the HTML escaped and the PDF as the characters typed; a
  brand colour that is not a colour is refused before anything is built.
* Resources are locked down: whatever a logo or a page's HTML names (another
  file, a link out of styles/, a file beside the theme's styles in careleaf's
  package, the network, a huge data: URI), the renderer fails that leaflet
  naming the reference and the two folders it may read, reads nothing outside
  them and opens no connection; the previous PDF stays as it was. The real logo
  and the theme's fonts still load.

"Never read" is checked with an audit hook that sees every file Python opens;
"never connected" by replacing the socket functions for the test's length.
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from careleaf.build.run import build, pages
from careleaf.project import THEME, Project
from careleaf.content.catalog import load_catalog
from careleaf.cli.main import main
from careleaf.errors import InputError, RenderError
from careleaf.pdf.render import MAX_DATA_URL, render_pdf
from conftest import edit, small_project

ROOT = Path(__file__).resolve().parents[1]
BRAND = "harbour-skin"
TREATMENT = "botox-facial-lines"


# --- a small project: one clinic, one treatment, English (two leaflets) ----------------------

def quoted(text: str) -> str:
    """A YAML double-quoted string (JSON's quoting is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def pdf_text(path_or_bytes) -> str:
    """All the text of a PDF with white space removed, so line wrapping does not matter."""
    reader = pypdf.PdfReader(path_or_bytes)
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def squeezed(text: str) -> str:
    return "".join(text.split())


# --- 1. injection is inert ------------------------------------------------------------------

# Each payload, where it is typed, and which leaflet prints it.
PAYLOADS = {
    "question": 'Q1 <script>alert("q")</script> {{ 7*7 }} end',
    "answer": 'A1 </style><style>body{display:none}</style> {% for x in "abc" %}X{% endfor %} '
              '<img src="file:///etc/passwd"> end',
    "side effect": "S1 <b>bold</b> {{ brand.phone }} {# note #} end",
    "brand name": "Harbour <i>Skin</i> {{ 7*7 }} Clinic",
    "brand address": "1 <script>x()</script> Quay {% raw %} Walk",
}
PRINTED_IN = {"question": ["pre-treatment"], "answer": ["pre-treatment"], "side effect": ["aftercare"],
              "brand name": ["pre-treatment", "aftercare"], "brand address": ["aftercare"]}
TAGS = sorted({tag for payload in PAYLOADS.values() for tag in re.findall(r"<[^>]*>", payload)})


def inject(root: Path) -> None:
    wording = root / f"leaflets/treatments/{TREATMENT}/en.yaml"
    # The question of the first section, and a first paragraph for its answer (a block: typed as is).
    edit(wording, r"(?m)^(  [a-z0-9-]+:\n    question: )[^\n]*\n    answer: \|\n",
         quoted(PAYLOADS["question"]) + "\n    answer: |\n      " + PAYLOADS["answer"] + "\n\n")
    edit(wording, r"(?m)^(  redness:\n    effect: )[^\n]*$", quoted(PAYLOADS["side effect"]))
    brand = root / f"leaflets/brands/{BRAND}.yaml"
    edit(brand, r"(?m)^name: .*$", "name: " + quoted(PAYLOADS["brand name"]))
    edit(brand, r"(?m)^(address:\n  - ).*$", quoted(PAYLOADS["brand address"]))


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """A clean and an injected copy of the small project: each leaflet's HTML, and the injected PDFs."""
    clean = small_project(tmp_path_factory.mktemp("clean"))
    root = small_project(tmp_path_factory.mktemp("injected"))
    inject(root)
    drawn = {}
    for name, project in (("clean", Project(clean)), ("injected", Project(root))):
        drawn[name] = {page.job.kind: page.html for page in pages(project, load_catalog(project), large_print=False)}
    out = root / "out"
    summary = build(Project(root), out, large_print=False, jobs=1)
    assert not summary.failed, summary.failed
    pdfs = {kind: pdf_text(out / BRAND / "en" / f"{TREATMENT}-{kind}.pdf") for kind in drawn["injected"]}
    return drawn["clean"], drawn["injected"], pdfs


@pytest.mark.parametrize("field", PAYLOADS)
def test_injected_text_reaches_the_html_escaped_and_unevaluated(injected, field):
    clean, drawn, _ = injected
    for kind in PRINTED_IN[field]:
        document = drawn[kind]
        # Not a single tag more than the clean leaflet has: every '<' typed was escaped.
        for tag in TAGS:
            assert document.count(tag) == clean[kind].count(tag), f"{tag} reached the {kind} HTML as markup"
        # And the text is all there, exactly as typed: no template code was run, nothing was dropped.
        assert PAYLOADS[field] in htmllib.unescape(document), f"the {field} is not printed as typed in {kind}"


@pytest.mark.parametrize("field", PAYLOADS)
def test_injected_text_is_printed_literally_in_the_pdf(injected, field):
    _, _, pdfs = injected
    for kind in PRINTED_IN[field]:
        assert squeezed(PAYLOADS[field]) in pdfs[kind], f"the {field} is not printed as typed in the {kind} PDF"


def test_injected_style_does_not_hide_the_page(injected):
    """'</style><style>body{display:none}' is text: the rest of the leaflet is still printed."""
    _, drawn, pdfs = injected
    assert len(pdfs["pre-treatment"]) > 2000
    assert "<style" not in drawn["pre-treatment"].split("</style>", 1)[1]


@pytest.mark.parametrize("colour", ["#fff; } body { display:none", "red", "#0b4a66;color:red", "url(x)"])
def test_a_brand_colour_that_is_not_a_colour_is_refused_before_anything_is_built(colour, tmp_path, capsys):
    root = small_project(tmp_path / "project")
    edit(root / f"leaflets/brands/{BRAND}.yaml", r"(?m)^(  primary: ).*$", quoted(colour))
    with pytest.raises(InputError, match="is not a colour"):
        load_catalog(Project(root))
    code = main(["--project", str(root), "build", "--out", str(tmp_path / "out"), "--no-large-print"])
    assert code == 2
    assert not (tmp_path / "out").exists()
    assert "is not a colour" in capsys.readouterr().err


# --- 2. resources: the network and files outside the asset folders are never reached -----------

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cannot be removed; it records only while a test watches (see `watch`)


class Watch:
    """Every file opened and every connection tried while a test renders."""

    def __init__(self):
        self.opened: list[str] = []
        self.connections: list[tuple] = []

    def read(self, path: Path) -> bool:
        target = Path(path).resolve()
        return any(Path(name).resolve() == target for name in self.opened)


@pytest.fixture
def watch(monkeypatch):
    global _OPENED
    seen = Watch()

    def refuse(*args, **kwargs):
        seen.connections.append(args)
        raise OSError("the test does not allow network connections")

    def local_only(original):
        """A Unix socket on this machine is not the network: the render workers' pool talks through one."""
        def connect(self, *args, **kwargs):
            if self.family == socket.AF_UNIX:
                return original(self, *args, **kwargs)
            return refuse(self, *args, **kwargs)
        return connect

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, local_only(getattr(socket.socket, name)))
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    _OPENED = seen.opened
    try:
        yield seen
    finally:
        _OPENED = None
    assert not seen.connections, f"the renderer tried to reach the network: {seen.connections}"


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """A project whose logo the tests below replace (and put back), with an outside file to aim at."""
    root = small_project(tmp_path_factory.mktemp("assets"))
    (root.parent / "outside.svg").write_bytes((root / f"styles/brands/{BRAND}/logo.svg").read_bytes())
    return root


@pytest.fixture
def logo(assets):
    path = assets / f"styles/brands/{BRAND}/logo.svg"
    original = path.read_bytes()
    yield path
    path.unlink()
    path.write_bytes(original)


def page_with_logo(lang: str = "en") -> str:
    """The part of a leaflet that loads the logo, as the header template writes it."""
    return (f'<!DOCTYPE html><html lang="{lang}"><head><title>t</title></head><body>'
            f'<header><img class="logo" src="brands/{BRAND}/logo.svg" alt=""></header><p>Text.</p></body></html>')


def with_extra(svg: bytes, extra: str) -> bytes:
    return svg.replace(b"</svg>", extra.encode() + b"\n</svg>")


def folders(root: Path) -> tuple[Path, ...]:
    """The folders the renderer may read: the project's styles/, then the theme's."""
    assert Project(root).asset_folders == (root / "styles", THEME / "styles")
    return Project(root).asset_folders


def allowed(root: Path) -> str:
    """How an error names the folders the renderer may read: both of them, the project's first."""
    return f"{(root / 'styles').resolve()} or {(THEME / 'styles').resolve()}"


# Files beside the theme's styles, in careleaf's own package: the theme's folder is no way out of it.
THEME_NEIGHBOURS = (THEME / "templates/labels/en.yaml", THEME.parent / "project.py")


BIG_DATA = "data:image/png;base64," + "A" * (MAX_DATA_URL + 10)

# A logo with one more reference in it: (what is added, what the error must name, the file it must not read).
LOGO_CASES = {
    "file-url": ('<image href="file:///etc/passwd" width="4" height="4"/>', "/etc/passwd", "/etc/passwd"),
    "up-into-leaflets": ('<image href="../../../leaflets/brands/harbour-skin.yaml" width="4" height="4"/>',
                         "leaflets/brands/harbour-skin.yaml", "leaflets/brands/harbour-skin.yaml"),
    "up-two-levels": ('<image href="../../leaflets/brands/harbour-skin.yaml" width="4" height="4"/>',
                      "leaflets/brands/harbour-skin.yaml", "leaflets/brands/harbour-skin.yaml"),
    "http": ('<image href="http://127.0.0.1:9/x.png" width="4" height="4"/>', "http://127.0.0.1:9/x.png", None),
    "xlink-https": (('<image xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="https://example.invalid/x.png" '
                     'width="4" height="4"/>'), "https://example.invalid/x.png", None),
    "big-data-uri": (f'<image href="{BIG_DATA}" width="4" height="4"/>', "larger than 256 KB", None),
    "style-import": ('<style>@import url("http://127.0.0.1:9/x.css");</style>', "http://127.0.0.1:9/x.css", None),
    "style-url": ('<style>circle { fill: url("file:///etc/hostname"); }</style>', "/etc/hostname", "/etc/hostname"),
    "style-font": (('<style>@font-face { font-family: X; src: url("file:///etc/hostname"); } '
                    'text { font-family: X; }</style><text x="1" y="9">x</text>'), "/etc/hostname", "/etc/hostname"),
    "use-other-file": ('<use href="file:///etc/hostname#x"/>', "/etc/hostname", "/etc/hostname"),
    "attribute-url": ('<rect width="4" height="4" fill="url(file:///etc/hostname#g)"/>', "/etc/hostname",
                      "/etc/hostname"),
}


@pytest.mark.parametrize("case", LOGO_CASES)
def test_a_logo_naming_anything_outside_styles_fails_the_render(case, assets, logo, watch):
    extra, named, secret = LOGO_CASES[case]
    logo.write_bytes(with_extra(logo.read_bytes(), extra))
    with pytest.raises(RenderError, match=re.escape(named)) as refused:
        render_pdf(page_with_logo(), folders(assets), source="case")
    assert "logo.svg" in str(refused.value)
    if case != "big-data-uri":
        assert allowed(assets) in str(refused.value)
    if secret:
        target = Path(secret) if secret.startswith("/") else assets / secret
        assert not watch.read(target), f"{target} was read"


def test_a_logo_with_an_external_entity_fails_without_reading_it(assets, logo, watch):
    logo.write_bytes(b'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
                     b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text>&secret;</text></svg>')
    with pytest.raises(RenderError, match="logo.svg"):
        render_pdf(page_with_logo(), folders(assets), source="case")
    assert not watch.read(Path("/etc/passwd"))


@pytest.mark.parametrize("target", ["outside-svg", "/etc/hostname"])
def test_a_logo_that_links_outside_styles_is_refused(target, assets, logo, watch):
    outside = assets.parent / "outside.svg" if target == "outside-svg" else Path(target)
    logo.unlink()
    logo.symlink_to(outside)
    with pytest.raises(RenderError, match=re.escape(f"a link to {outside.resolve()}")) as refused:
        render_pdf(page_with_logo(), folders(assets), source="case")
    assert f"(only files in {allowed(assets)} may be used)" in str(refused.value)
    assert not watch.read(outside)


@pytest.mark.parametrize("target", THEME_NEIGHBOURS, ids=lambda p: p.name)
def test_a_logo_that_links_beside_the_theme_styles_is_refused(target, assets, logo, watch):
    """The theme's folder is one the renderer may read, not a door to the rest of careleaf's package."""
    logo.unlink()
    logo.symlink_to(target)
    with pytest.raises(RenderError, match=re.escape(f"a link to {target.resolve()}")):
        render_pdf(page_with_logo(), folders(assets), source="case")
    assert not watch.read(target)


# References in a page's HTML (which content cannot write, but a template could).
PAGE_CASES = {
    "img-file-url": ('<img src="file:///etc/hostname" alt="">', "/etc/hostname"),
    "stylesheet-http": ('<link rel="stylesheet" href="http://127.0.0.1:9/x.css">', "http://127.0.0.1:9/x.css"),
    "url-up-two": ('<p style="background: url(../../leaflets/brands/harbour-skin.yaml)">x</p>',
                   "leaflets/brands/harbour-skin.yaml"),
    "import-up": ('<style>@import "../leaflets/brands/harbour-skin.yaml";</style>',
                  "leaflets/brands/harbour-skin.yaml"),
    "font-face": ('<style>@font-face { font-family: X; src: url(file:///etc/passwd) } p { font-family: X }</style>',
                  "/etc/passwd"),
    "object": ('<object data="file:///etc/passwd" type="image/svg+xml"></object>', "/etc/passwd"),
    "attachment": ('<link rel="attachment" href="file:///etc/passwd">', "/etc/passwd"),
    "inline-svg-image": (('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9">'
                          '<image href="file:///etc/passwd" width="4" height="4"/></svg>'), "/etc/passwd"),
    "base-href": ('<base href="file:///etc/"><img src="passwd" alt="">', "/etc/passwd"),
    "list-image-https": ('<ul style="list-style-image: url(https://example.invalid/dot.png)"><li>x</li></ul>',
                         "https://example.invalid/dot.png"),
    "missing-asset": ('<img src="brands/nobody/logo.svg" alt="">', "brands/nobody/logo.svg"),
    "theme-templates": (f'<img src="{THEME_NEIGHBOURS[0].as_uri()}" alt="">', str(THEME_NEIGHBOURS[0])),
    "theme-package": (f'<p style="background: url({THEME_NEIGHBOURS[1].as_uri()})">x</p>',
                      str(THEME_NEIGHBOURS[1])),
    "theme-up": (f'<img src="{(THEME / "styles").as_uri()}/../templates/labels/en.yaml" alt="">',
                 str(THEME_NEIGHBOURS[0])),
}


@pytest.mark.parametrize("case", PAGE_CASES)
def test_a_page_naming_anything_outside_styles_fails_the_render(case, assets, watch):
    markup, named = PAGE_CASES[case]
    page = f'<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><p>Text.</p>{markup}</body></html>'
    with pytest.raises(RenderError, match=re.escape(named)) as refused:
        render_pdf(page, folders(assets), source="case")
    if case == "missing-asset":   # in neither folder
        assert f"needs files that are missing from {allowed(assets)}" in str(refused.value)
    else:
        assert f"(only files in {allowed(assets)} may be used)" in str(refused.value)
    for secret in ("/etc/passwd", "/etc/hostname", assets / "leaflets/brands/harbour-skin.yaml", *THEME_NEIGHBOURS):
        assert not watch.read(Path(secret)), f"{secret} was read"


def test_references_the_renderer_ignores_are_never_read(assets, watch):
    """Elements WeasyPrint does not draw from a URL: nothing is fetched, so there is nothing to refuse."""
    page = ('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body><p>Text.</p>'
            '<video poster="file:///etc/passwd"></video><input type="image" src="file:///etc/passwd">'
            '<p style="background-image: image-set(url(file:///etc/passwd) 1x)">x</p>'
            '<a href="file:///etc/passwd">a link is not fetched</a></body></html>')
    assert pypdf.PdfReader(_bytes_io(render_pdf(page, folders(assets), source="case"))).pages
    assert not watch.read(Path("/etc/passwd"))


def test_the_real_logo_and_fonts_still_load(assets, watch):
    """The lockdown lets through what leaflets need: the clinic's logo and the theme's fonts, embedded."""
    project = Project(assets)
    assert not (assets / "styles/fonts").exists()       # the fonts can only come from the theme
    page = next(p for p in pages(project, load_catalog(project), large_print=False) if p.job.kind == "aftercare")
    data = render_pdf(page.html, folders(assets), source=page.job.name)
    assert watch.read(assets / f"styles/brands/{BRAND}/logo.svg")
    fonts = set()
    for pdf_page in pypdf.PdfReader(_bytes_io(data)).pages:
        for font in pdf_page["/Resources"]["/Font"].values():
            font = font.get_object()
            assert "/FontFile2" in font["/DescendantFonts"][0].get_object()["/FontDescriptor"], font["/BaseFont"]
            fonts.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert {"Leaflet-Sans", "Leaflet-Sans-Bold"} <= fonts, fonts


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


# --- through the command: exit 1, the reference named, the last good PDF kept -------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The small project built once (two PDFs), to copy."""
    root = small_project(tmp_path_factory.mktemp("built"))
    summary = build(Project(root), root / "out", large_print=False, jobs=1)
    assert len(summary.built) == 2 and not summary.failed
    return root


def pdf_state(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(out)): (p.read_bytes(), p.stat().st_ino) for p in sorted(out.rglob("*.pdf"))}


def test_a_logo_that_reaches_outside_fails_the_build_with_exit_1_and_keeps_the_last_pdfs(built, tmp_path, capsys,
                                                                                       watch):
    root = tmp_path / "project"
    shutil.copytree(built, root, symlinks=True)
    before = pdf_state(root / "out")
    logo = root / f"styles/brands/{BRAND}/logo.svg"
    logo.write_bytes(with_extra(logo.read_bytes(), '<image href="file:///etc/passwd" width="4" height="4"/>'))
    code = main(["--project", str(root), "build", "--out", str(root / "out"), "--no-large-print", "--jobs", "1",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    failures = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(failures) == 2 and all("may not read" in line and "/etc/passwd" in line for line in failures), err
    assert "Traceback" not in err and "Internal error" not in err
    assert pdf_state(root / "out") == before
    assert not watch.read(Path("/etc/passwd"))


def test_a_logo_linked_from_outside_styles_is_refused_before_rendering(built, tmp_path, capsys):
    root = tmp_path / "project"
    shutil.copytree(built, root, symlinks=True)
    before = pdf_state(root / "out")
    logo = root / f"styles/brands/{BRAND}/logo.svg"
    (tmp_path / "elsewhere.svg").write_bytes(logo.read_bytes())
    logo.unlink()
    logo.symlink_to(tmp_path / "elsewhere.svg")
    code = main(["--project", str(root), "build", "--out", str(root / "out"), "--no-large-print", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"leaflets/brands/{BRAND}.yaml:" in err
    assert "is a link to a file outside styles/" in err
    assert pdf_state(root / "out") == before


def test_a_build_leaves_nothing_in_the_temporary_folder(built, tmp_path):
    """WeasyPrint copies the fonts to a temporary folder in each process that renders; it must go at the end."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = subprocess.run([sys.executable, str(ROOT / "generate.py"), "--project", str(built), "build", "--out",
                             str(tmp_path / "out"), "--no-large-print", "--jobs", "2", "--quiet"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").rglob("*.pdf"))) == 2
    assert not list(temporary.iterdir()), "left in the temporary folder: " + ", ".join(
        p.name for p in temporary.iterdir())
