"""careleaf.pdf.engine, careleaf's one door to WeasyPrint: what careleaf relies on is still there and still
works, only the engine reaches past WeasyPrint's public API, and a leaflet gives the same bytes every time
with either font subsetter.

A new WeasyPrint that changes what careleaf relies on (see the engine's notes) fails here: the private
names are looked up, and a small leaflet is rendered and read back from its PDF to see that each hook took
effect (the running header an artifact, the aria-hidden paragraph gone from the tree, a table split by a
page break one table with scoped header cells, the pages measured).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import threading
from io import BytesIO
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from careleaf.pdf import engine, tagging
from careleaf.pdf.audit import audit
from careleaf.pdf.fontstamps import settled_font
from careleaf.pdf.render import Rendered, render
from careleaf.pdf.structure import content, page_numbers, role, top_elements, walk
from careleaf.project import THEME

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "careleaf"
ENGINE = PACKAGE / "pdf" / "engine.py"
FOLDERS = (THEME / "styles",)

ROWS = 45
UA = {"pdf_variant": "pdf/ua-1"}
LEAFLET = ("<html lang='en'><head><title>Engine check</title><style>@page { size: A6 }</style></head><body>"
           "<div class='running-header'>Harbour Skin Clinic</div>"
           "<main><h1>After your treatment</h1><p>Read this leaflet at home.</p>"
           "<p aria-hidden='true'>Words for the eye only</p>"
           "<table><thead><tr><th scope='col'>Day</th><th scope='col'>What to do</th></tr></thead><tbody>"
           + "".join(f"<tr><th scope='row'>Day {day}</th><td>Rest and keep the area clean</td></tr>"
                     for day in range(1, ROWS + 1))
           + "</tbody></table><p>Call us with any question.</p></main></body></html>")


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    return render(LEAFLET, FOLDERS, source="engine-check")


def _laid_out(html: str, **options):
    """HTML laid out by WeasyPrint alone, without careleaf's stylesheets."""
    return engine.lay_out(html, base_url=FOLDERS[0].as_uri() + "/", fetcher=None, stylesheets=[],
                          fonts=engine.font_configuration(), **options)


def _elements(pdf: pikepdf.Pdf) -> list:
    return list(walk(top_elements(pdf.Root.StructTreeRoot)))


# --- what careleaf relies on is there and works ----------------------------------------------

def test_the_weasyprint_internals_careleaf_relies_on_are_there():
    import weasyprint

    assert weasyprint.__version__.startswith("70."), "careleaf.pdf.engine is written against WeasyPrint 70"
    assert engine.missing_internals(_laid_out(LEAFLET)) == []


def test_a_split_table_is_one_table_with_its_header_cells_scoped(rendered):
    with pikepdf.open(BytesIO(rendered.pdf)) as pdf:
        elements = _elements(pdf)
        roles = [role(element) for element in elements]
        tables = [element for element in elements if role(element) == "/Table"]
        pages_of_table = {page for page, _ in content(tables[0], page_numbers(pdf))}
        scopes = [str(element.A.get("/Scope")) for element in elements if role(element) == "/TH"]
    assert len(pages_of_table) >= 2, "the test table is meant to cross a page break"
    assert roles.count("/Table") == 1 and roles.count("/THead") == 1, "the table is read as one, its header once"
    assert roles.count("/TR") == ROWS + 1
    assert scopes == ["/Column", "/Column"] + ["/Row"] * ROWS


def test_the_running_header_and_hidden_words_are_artifacts_not_read(rendered):
    with pikepdf.open(BytesIO(rendered.pdf)) as pdf:
        paragraphs = [element for element in _elements(pdf) if role(element) == "/P"]
        pagination = [_pagination_artifacts(page) for page in pdf.pages]
    assert len(paragraphs) == 2, "the aria-hidden paragraph is not in the tag tree"
    assert all(pagination), "every page's running header is a pagination artifact"
    counts = audit(rendered.pdf, watermarks=()).counts()
    assert counts["untagged content"] == counts["unclaimed content"] == counts["split element"] == 0


def _pagination_artifacts(page: pikepdf.Page) -> int:
    return sum(1 for instruction in pikepdf.parse_content_stream(page)
               if str(instruction.operator) == "BDC" and instruction.operands[0] == "/Artifact"
               and isinstance(instruction.operands[1], pikepdf.Dictionary)
               and instruction.operands[1].get("/Type") == "/Pagination")


def test_the_pages_are_measured(rendered):
    with pikepdf.open(BytesIO(rendered.pdf)) as pdf:
        count = len(pdf.pages)
    assert rendered.facts.count == count >= 2
    assert all(0 < fill <= 1 for fill in rendered.facts.fills)
    assert rendered.facts.fills[0] > 0.8, "a page the table runs on from is nearly full"


def test_the_tree_builder_is_wrapped_only_while_careleaf_writes_and_only_for_its_write():
    """Another write of the process, in another thread while careleaf writes, is WeasyPrint's own."""
    from weasyprint.pdf import tags

    original = tags._build_box_tree
    ours, theirs = (_laid_out(LEAFLET) for _ in range(2))
    seen: dict[str, object] = {}

    def note(element, source, tag) -> None:
        if "other" not in seen:
            seen["wrapped"] = engine.builder_wrapped()
            other = threading.Thread(target=lambda: seen.setdefault("other", engine.write_pdf(theirs, **UA)))
            other.start()
            other.join(timeout=120)
        element["CareleafProbe"] = True

    with pikepdf.open(BytesIO(engine.write_pdf(ours, note=note, **UA))) as pdf:
        assert any("/CareleafProbe" in element for element in _elements(pdf))
    assert seen["wrapped"] and not engine.builder_wrapped() and tags._build_box_tree is original
    with pikepdf.open(BytesIO(seen["other"])) as pdf:
        assert not any("/CareleafProbe" in element for element in _elements(pdf))


# --- only the engine reaches past WeasyPrint's public API --------------------------------------

# WeasyPrint's modules that are its internals, by the dotted path or the path of their files.
INTERNAL_MODULES = ("weasyprint.pdf", "weasyprint.text.ffi", "weasyprint.layout", "weasyprint.formatting_structure",
                    "weasyprint.draw")
_PATH = re.compile(r"\bweasyprint(?:[./][A-Za-z_]\w*)+")


def _internal(path: str) -> bool:
    dotted = re.sub("[./]", ".", path)
    parts = dotted.split(".")
    return (any(part.startswith("_") for part in parts[1:])
            or any(dotted == module or dotted.startswith(module + ".") for module in INTERNAL_MODULES))


def _private_names(paths: list[Path], *, stored_only: bool = False) -> set[str]:
    """The names starting with one underscore that the modules define as functions, classes or attributes
    (or, unless stored_only, also read as attributes)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and (not stored_only or isinstance(node.ctx, ast.Store)):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _weasyprint_private_names() -> set[str]:
    import weasyprint

    return _private_names(list(Path(weasyprint.__file__).parent.rglob("*.py")))


def offences(source: str, private: set[str]) -> list[str]:
    """Where a module's text reaches past WeasyPrint's public API: a path into an internal module or to a
    private name (in code, comments or strings), or an attribute named as one of WeasyPrint's private ones."""
    found = [match for match in _PATH.findall(source) if _internal(match)]
    bound: dict[str, str] = {}   # a local name -> the weasyprint module it stands for
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("weasyprint"):
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if _internal(f"{node.module}.{alias.name}")]
        elif isinstance(node, ast.Import):
            bound.update({alias.asname: alias.name for alias in node.names
                          if alias.asname and alias.name.startswith("weasyprint")})
        elif isinstance(node, ast.Attribute) and node.attr in private:
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in private:
            found.append(f"'{node.value}'")   # getattr(page, "_page_box")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            path = f"{bound[node.value.id]}.{node.attr}"
            found += [path] if _internal(path) else []
    return found


def test_no_module_but_the_engine_reaches_past_weasyprints_public_api():
    others = [path for path in sorted(PACKAGE.rglob("*.py")) if path != ENGINE]
    # A private name careleaf sets on its own objects that WeasyPrint happens to use too (self._fonts) is careleaf's.
    private = _weasyprint_private_names() - _private_names(others, stored_only=True)
    assert {"_page_box", "_build_box_tree", "_box"} <= private
    reaching = {str(path.relative_to(ROOT)): found for path in others
                for found in [offences(path.read_text("utf-8"), private)] if found}
    assert reaching == {}, f"only careleaf/pdf/engine.py may reach into WeasyPrint: {reaching}"


@pytest.mark.parametrize("source", [
    "from weasyprint.pdf import tags",
    "import weasyprint.text.ffi",
    "from weasyprint.formatting_structure.boxes import MarginBox",
    "import weasyprint as w\nw.layout.absolute",
    "from weasyprint import _private",
    "box = page._page_box",
    "tree = getattr(tags, '_build_box_tree')",
    "# wraps weasyprint/pdf/tags.py",
])
def test_the_scan_finds_each_way_of_reaching_in(source):
    assert offences(source, {"_page_box", "_build_box_tree"})


@pytest.mark.parametrize("source", [
    "from weasyprint import CSS, HTML",
    "from weasyprint.text.fonts import FontConfiguration",
    "from weasyprint.urls import URLFetcher",
    "import weasyprint",
    "self._fonts = {}",
])
def test_the_scan_lets_the_public_api_be(source):
    assert offences(source, {"_page_box", "_build_box_tree"}) == []


# --- the same bytes with either font subsetter -------------------------------------------------

SHORT = ("<html lang='en'><head><title>Bytes</title></head><body><h1>Aftercare</h1>"
         "<p>Keep the area clean and dry for two days.</p></body></html>")


def _render_at(epoch: str | None, monkeypatch) -> bytes:
    """The short leaflet rendered with fontTools' clock set by SOURCE_DATE_EPOCH (unset: the real time)."""
    if epoch is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    return render(SHORT, FOLDERS, source="bytes").pdf


def _font_programs(data: bytes) -> list[bytes]:
    with pikepdf.open(BytesIO(data)) as pdf:
        return [descriptor.FontFile2.read_bytes() for descriptor in pdf.objects
                if isinstance(descriptor, pikepdf.Dictionary) and "/FontFile2" in descriptor]


def _dates(font: bytes) -> tuple[int, int]:
    """A font's (created, modified), read with its checksums checked."""
    head = TTFont(BytesIO(font), checkChecksums=2)["head"]
    return head.created, head.modified


def test_fonttools_subsetting_gives_the_same_bytes_whatever_the_clock(monkeypatch):
    fast = render(SHORT, FOLDERS, source="bytes").pdf if engine.uses_fast_subsetting() else None
    with engine.subsetting_with_fonttools():
        assert not engine.uses_fast_subsetting()
        builds = [_render_at(epoch, monkeypatch) for epoch in ("1", "2000000000", None)]
    assert builds[0] == builds[1] == builds[2]
    fonts = _font_programs(builds[0])
    assert fonts and all(created == modified for created, modified in map(_dates, fonts))
    if fast is not None:   # the fontTools path was the one taken: its subsets are not HarfBuzz's
        assert sorted(fonts) != sorted(_font_programs(fast))


def test_harfbuzz_subsetting_gives_the_same_bytes_whatever_the_clock(monkeypatch):
    if not engine.uses_fast_subsetting():
        if os.environ.get("CI") == "true":
            pytest.fail("WeasyPrint does not find HarfBuzz's subsetter (libharfbuzz-subset0)")
        pytest.skip("WeasyPrint does not find HarfBuzz's subsetter (libharfbuzz-subset0)")
    first, second = (_render_at(epoch, monkeypatch) for epoch in ("1", "2000000000"))
    assert first == second
    # HarfBuzz keeps the font file's own dates, which careleaf leaves alone.
    theme = {_dates((THEME / "styles" / "fonts" / name).read_bytes()) for name in ("NotoSans-Regular.ttf",
                                                                                   "NotoSans-Bold.ttf")}
    assert {_dates(font) for font in _font_programs(first)} <= theme


def test_a_settled_font_keeps_valid_checksums():
    font = (THEME / "styles" / "fonts" / "NotoSans-Regular.ttf").read_bytes()
    created, modified = _dates(font)
    assert created != modified
    settled = settled_font(font)
    assert _dates(settled) == (created, created)
    assert settled_font(settled) is None, "a settled font is left as it is"
    assert len(settled) == len(font)


def test_a_mended_pdf_with_settled_fonts_is_qpdf_clean(tmp_path):
    with engine.subsetting_with_fonttools():
        path = tmp_path / "settled.pdf"
        path.write_bytes(tagging.write_pdf(_laid_out(SHORT, **UA), **UA))
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "No syntax or stream encoding errors" in result.stdout, result.stdout


def test_each_text_run_is_noted_with_its_words_by_page_and_mcid():
    """note_runs: the words each piece of marked content draws, as the HTML has them (for /ActualText)."""
    runs: dict[int, dict[int, str]] = {}
    data = engine.write_pdf(_laid_out(LEAFLET, **UA), note=lambda *noted: None,
                            note_runs=lambda page, found: runs.__setitem__(page, found), **UA)
    with pikepdf.open(BytesIO(data)) as pdf:
        assert set(runs) == set(range(len(pdf.pages)))
    words = [text for page in runs.values() for text in page.values()]
    assert "Read this leaflet at home." in words and "Call us with any question." in words
    assert all(isinstance(mcid, int) for page in runs.values() for mcid in page)
