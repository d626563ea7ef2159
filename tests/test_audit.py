"""The accessibility audit (careleaf.pdf.audit) and the tag-tree repair it checks (careleaf.pdf.tagging).

Every PDF the fixtures make (the sample in English and Turkish, standard and large print,
drafts included, and the Arabic fixture) must pass the audit. Small PDFs made straight
from tiny HTML show that the audit does catch each kind of problem, and that the repair
turns margin boxes and hidden content into artifacts and puts split elements together.
"""

from __future__ import annotations

import subprocess
from io import BytesIO
from pathlib import Path

import pikepdf
import pytest

from careleaf.pdf import tagging
from careleaf.pdf.audit import audit, default_watermarks
from careleaf.pdf.glyphtext import composite_fonts, read_cmap, write_cmap
from careleaf.build.run import pages
from careleaf.content.catalog import load_catalog
from careleaf.pdf.render import render
from careleaf.pdf.structure import is_element, kids, top_elements, tree_items, walk
from careleaf.project import THEME, Project
from conftest import arabic_project, copy_project, qpdf_check, run_cli

def test_cells_under_a_row_group_heading_are_read_with_that_heading_only():
    """The side-effect table's groups: 'A headache' is read as common, never also as very rare."""
    groups = "".join(f"<tbody><tr><th colspan='2' scope='rowgroup'>{group}</th></tr>"
                     f"<tr><td>{group} effect</td><td>{group} advice</td></tr></tbody>"
                     for group in ("Common", "Very rare"))
    data = _mended(_page(f"<h1>T</h1><table><thead><tr><th>Effect</th><th>What to do</th></tr></thead>{groups}"
                         "</table>"))
    with pikepdf.open(BytesIO(data)) as pdf:
        elements = _elements(pdf)    # in reading order, as the HTML wrote them
        headers = [cell for cell in elements if cell.S == "/TH"]
        names = dict(zip((str(cell.ID) for cell in headers), ("Effect", "What to do", "Common", "Very rare")))
        cells = [cell for cell in elements if cell.S == "/TD"]
        read = [sorted(names[str(header)] for header in cell.A.Headers) for cell in cells]
    assert len(headers) == 4
    assert read == [["Common", "Effect"], ["Common", "What to do"], ["Effect", "Very rare"], ["Very rare", "What to do"]]


UA = {"pdf_variant": "pdf/ua-1"}


# --- every PDF of the fixtures -----------------------------------------------------------

def _render_all(root: Path, out: Path) -> list[Path]:
    """Every leaflet of a project in both print sizes, rendered the way a build renders each one."""
    project = Project(root)
    written = []
    for page in pages(project, load_catalog(project), large_print=True):
        path = out / f"{page.job.name.removesuffix('.pdf')}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(page.html, project.asset_folders, large_print=page.job.large_print,
                                source=page.job.name).pdf)
        written.append(path)
    return written


@pytest.fixture(scope="module")
def fixture_pdfs(tmp_path_factory) -> dict[str, list[Path]]:
    base = tmp_path_factory.mktemp("audit")
    return {"sample": _render_all(copy_project(base / "sample"), base / "sample-out"),
            "arabic": _render_all(arabic_project(base / "arabic"), base / "arabic-out")}


@pytest.mark.parametrize("fixture", ["sample", "arabic"])
def test_every_fixture_pdf_passes_the_audit(fixture_pdfs, fixture):
    paths = fixture_pdfs[fixture]
    assert any("-large-print" in path.name for path in paths) and any("-large-print" not in path.name for path in paths)
    failing = [str(report) for report in (audit(path, name=path.name) for path in paths) if report.problems]
    assert not failing, "\n".join(failing)


def test_the_sample_covers_drafts_and_both_languages(fixture_pdfs):
    names = {str(path) for path in fixture_pdfs["sample"]}
    assert any("/en/" in name for name in names) and any("/tr/" in name for name in names)
    drafted = [path for path in fixture_pdfs["sample"] if _has_draft_sentence(path)]
    assert drafted, "the sample is expected to hold drafts"


def _has_draft_sentence(path: Path) -> bool:
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split())
    return any(" ".join(phrase.split()) in text for phrase in default_watermarks())


def test_fixture_pdfs_are_qpdf_clean(fixture_pdfs):
    for path in fixture_pdfs["sample"][:4] + fixture_pdfs["arabic"][:2]:
        result = qpdf_check(path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_audit_command_reports_and_exits(fixture_pdfs, tmp_path):
    clean = run_cli("audit", str(fixture_pdfs["arabic"][0].parent), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 with problems" in clean.stdout
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(_raw(_page("<table><tr><td>1</td></tr></table>")))
    found = run_cli("audit", str(broken), cwd=tmp_path)
    assert found.returncode == 1 and "table(s) without header cells" in found.stdout


# --- the audit catches each kind of problem --------------------------------------------------

def _page(body: str, style: str = "") -> str:
    return (f'<html lang="en"><head><title>A test</title><style>@page {{ size: A6 }} {style}</style></head>'
            f"<body>{body}</body></html>")


def _raw(html: str) -> bytes:
    """What WeasyPrint writes on its own."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf(**UA)


def _mended(html: str) -> bytes:
    """What careleaf writes: the same, with the tag tree mended."""
    from weasyprint import HTML

    return tagging.write_pdf(HTML(string=html).render(**UA), **UA)


def _counts(data: bytes, watermarks=()) -> dict[str, int]:
    return audit(data, watermarks=watermarks).counts()


MARGINS = "@page { @top-center { content: 'Harbour Skin Clinic' } @bottom-right { content: 'Page ' counter(page) } }"
LONG_LIST = "<h1>Steps</h1><ul>" + "".join(f"<li>Step number {n}</li>" for n in range(1, 41)) + "</ul>"
SQUARE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='10' height='10'%3E%3C/svg%3E"


def test_a_table_without_header_cells_is_found():
    assert _counts(_raw(_page("<h1>T</h1><table><tr><td>a</td><td>b</td></tr></table>")))[
        "table without header cells"] == 1
    assert _counts(_raw(_page("<h1>T</h1><table><tr><th>a</th></tr><tr><td>b</td></tr></table>")))[
        "table without header cells"] == 0


def test_a_figure_without_alt_text_is_found():
    assert _counts(_raw(_page(f'<h1>T</h1><img src="{SQUARE}">')))["figure without alt text"] == 1
    assert _counts(_raw(_page(f'<h1>T</h1><img src="{SQUARE}" alt="A square">')))["figure without alt text"] == 0


def test_a_skipped_heading_level_and_a_second_h1_are_found():
    assert _counts(_raw(_page("<h1>One</h1><h3>Three</h3>")))["heading level"] == 1
    assert _counts(_raw(_page("<h1>One</h1><h2>Two</h2><h1>Again</h1>")))["heading level"] == 1
    assert _counts(_raw(_page("<h1>One</h1><h2>Two</h2><h3>Three</h3><h2>Two</h2>")))["heading level"] == 0


def test_margin_box_text_is_unclaimed_without_the_repair():
    counts = _counts(_raw(_page("<h1>T</h1><p>Body</p>", MARGINS)))
    assert counts["unclaimed content"] == 2


def test_content_drawn_outside_marked_content_is_found():
    with pikepdf.open(BytesIO(_mended(_page("<h1>T</h1>")))) as pdf:
        pdf.pages[0].contents_add(pdf.make_stream(b"q 0 0 10 10 re f Q"))
        out = BytesIO()
        pdf.save(out)
    assert _counts(out.getvalue())["untagged content"] == 1


def test_a_list_split_by_a_page_break_is_found_without_the_repair():
    assert _counts(_raw(_page(LONG_LIST)))["split element"] >= 1


def test_a_watermark_in_the_text_is_found():
    mark = "DRAFT – not approved for patient use"
    hidden = _mended(_page(f"<h1>T</h1><p>Words.</p><p aria-hidden='true'>{mark}</p>"))
    assert _counts(hidden, [mark])["watermark text"] == 1        # an artifact that copying still takes
    read_twice = _mended(_page(f"<p>{mark}</p><h1>T</h1><p style='break-before: page'>{mark}</p>"))
    assert _counts(read_twice, [mark])["watermark text"] == 1
    said_once = _mended(_page(f"<p>{mark}</p><h1>T</h1>"))
    assert _counts(said_once, [mark])["watermark text"] == 0


def test_an_arabic_watermark_in_the_text_is_found_in_the_order_its_glyphs_are_drawn():
    mark = "مسودة – غير معتمدة لاستخدام المرضى"
    font = (THEME / "styles/fonts/NotoSansArabic-Regular.ttf").as_uri()
    html = (f'<html lang="ar" dir="rtl"><head><title>T</title><style>@page {{ size: A4 }} @font-face {{ '
            f'font-family: A; src: url({font}) }} body {{ font-family: A }}</style></head><body><h1>T</h1>'
            f"<p>Words.</p><p aria-hidden='true'>{mark}</p></body></html>")
    assert _counts(_mended(html), [mark])["watermark text"] == 1


def test_a_draft_overdue_for_review_may_say_each_once():
    draft, overdue = "DRAFT – not approved for patient use", "REVIEW OVERDUE – check with the clinic"
    both = _mended(_page(f"<p>{draft}</p><p>{overdue}</p><h1>T</h1>"))
    assert _counts(both, [draft, overdue])["watermark text"] == 0


def test_default_watermarks_are_the_draft_and_overdue_marks_of_every_language():
    phrases = default_watermarks()
    assert len(phrases) >= 2 * len(list((THEME / "templates/labels").glob("*.yaml"))) - 2
    assert any(phrase.startswith("DRAFT") for phrase in phrases)


# --- the repair ------------------------------------------------------------------------------

def test_margin_box_text_becomes_a_pagination_artifact():
    data = _mended(_page("<h1>T</h1><p>Body</p>", MARGINS))
    assert not any(audit(data, watermarks=()).counts().values())
    with pikepdf.open(BytesIO(data)) as pdf:
        artifacts = _artifact_properties(pdf.pages[0])
    assert {str(properties.get("/Type")) for properties in artifacts if properties is not None} == {"/Pagination"}
    assert len(artifacts) >= 2


def _artifact_properties(page) -> list:
    found = []
    for instruction in pikepdf.parse_content_stream(page):
        if str(instruction.operator) in ("BDC", "BMC") and instruction.operands[0] == pikepdf.Name.Artifact:
            found.append(instruction.operands[1] if str(instruction.operator) == "BDC" else None)
    return found


def test_hidden_content_becomes_an_artifact_and_leaves_the_tree():
    data = _mended(_page("<h1>T</h1><p aria-hidden='true'><span>Label one</span></p><p>Read me</p>"))
    assert not any(audit(data, watermarks=()).counts().values())
    with pikepdf.open(BytesIO(data)) as pdf:
        roles = [str(element.S) for element in _elements(pdf)]
    assert roles.count("/P") == 1


def test_a_list_split_by_a_page_break_is_one_list_with_every_item():
    data = _mended(_page(LONG_LIST))
    with pikepdf.open(BytesIO(data)) as pdf:
        assert len(pdf.pages) > 1
        lists = [element for element in _elements(pdf) if element.S == "/L"]
        assert len(lists) == 1
        items = [kid for kid in kids(lists[0]) if is_element(kid) and kid.S == "/LI"]
        assert len(items) == 40
        assert all(item.P.objgen == lists[0].objgen for item in items)
        _assert_parent_tree_matches_content(pdf)
    assert not any(audit(data, watermarks=()).counts().values())


def test_a_link_split_by_a_page_break_keeps_its_content_on_each_page():
    words = " ".join(f"word{n}" for n in range(400))
    data = _mended(_page(f'<h1>T</h1><p><a href="https://example.org/">{words}</a></p>'))
    with pikepdf.open(BytesIO(data)) as pdf:
        assert len(pdf.pages) > 1
        links = [element for element in _elements(pdf) if element.S == "/Link"]
        assert len(links) == 1
        references = [kid for kid in kids(links[0]) if isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/MCR"]
        assert references and all(reference.Pg.objgen != links[0].Pg.objgen for reference in references)
        _assert_parent_tree_matches_content(pdf)


def test_a_table_split_by_a_page_break_is_one_table_read_with_its_header_once():
    rows = "".join(f"<tr><th scope='row'>Row {n}</th><td>{n}</td></tr>" for n in range(60))
    data = _mended(_page(f"<h1>T</h1><table><thead><tr><th>Name</th><th>Value</th></tr></thead>"
                         f"<tbody>{rows}</tbody></table>"))
    with pikepdf.open(BytesIO(data)) as pdf:
        assert len(pdf.pages) > 1
        elements = _elements(pdf)
        assert [str(element.S) for element in elements].count("/Table") == 1
        assert [str(element.S) for element in elements].count("/THead") == 1
        header_cells = [element for element in elements if element.S == "/TH"]
        scopes = [str(cell.A.Scope) for cell in header_cells]
        assert scopes[:2] == ["/Column", "/Column"] and set(scopes[2:]) == {"/Row"} and len(scopes) == 62
        ids = {str(cell.ID) for cell in header_cells if "/ID" in cell}
        for cell in (element for element in elements if element.S == "/TD"):
            assert {str(header) for header in cell.A.Headers} <= ids
        _assert_parent_tree_matches_content(pdf)
    assert not any(audit(data, watermarks=()).counts().values())


def test_the_repair_is_deterministic_qpdf_clean_and_keeps_the_pdf_ua_identity(tmp_path):
    html = _page(LONG_LIST + "<p aria-hidden='true'>Hidden</p>", MARGINS)
    first, second = _mended(html), _mended(html)
    assert first == second
    path = tmp_path / "mended.pdf"
    path.write_bytes(first)
    result = qpdf_check(path)
    assert result.returncode == 0 and "No syntax or stream encoding errors" in result.stdout, result.stdout
    with pikepdf.open(path) as pdf:
        assert str(pdf.Root.Lang) == "en" and pdf.Root.MarkInfo.Marked
        assert b"pdfuaid:part" in pdf.Root.Metadata.read_bytes()
        assert b"Careleaf" not in pdf.Root.StructTreeRoot.ParentTree.Nums.unparse()
        assert not any(f"/{key}" in element for element in _elements(pdf) for key in (tagging.SOURCE, tagging.HIDDEN))


# --- helpers -----------------------------------------------------------------------------------

def _elements(pdf: pikepdf.Pdf) -> list:
    """Every structure element, in reading order."""
    return list(walk(top_elements(pdf.Root.StructTreeRoot)))


def _assert_parent_tree_matches_content(pdf: pikepdf.Pdf) -> None:
    """Every MCID drawn on every page maps, through the ParentTree, to the element of the tree that holds it."""
    nums = pdf.Root.StructTreeRoot.ParentTree.Nums
    mapping = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
    held = {}
    for element in _elements(pdf):
        for kid in kids(element):
            if isinstance(kid, int):
                held[(element.Pg.objgen, kid)] = element.objgen
            elif isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") == "/MCR":
                held[(kid.Pg.objgen, int(kid.MCID))] = element.objgen
    for page in pdf.pages:
        drawn = [int(instruction.operands[1].MCID) for instruction in pikepdf.parse_content_stream(page)
                 if str(instruction.operator) == "BDC" and isinstance(instruction.operands[1], pikepdf.Dictionary)
                 and "/MCID" in instruction.operands[1]]
        row = mapping[int(page.obj.StructParents)]
        for mcid in drawn:
            assert row[mcid].objgen == held[(page.obj.objgen, mcid)]
    assert int(pdf.Root.StructTreeRoot.ParentTreeNextKey) == max(mapping) + 1


# --- links ---------------------------------------------------------------------------------------

def test_clinic_details_and_the_leaflet_address_are_tagged_links(fixture_pdfs):
    """Phone numbers, email, website and the leaflet online: tappable, each a Link element holding its
    annotation (OBJR), both saying the link's words, and the ParentTree leading back from the annotation."""
    for path in fixture_pdfs["arabic"]:
        with pikepdf.open(path) as pdf:
            root = pdf.Root.StructTreeRoot
            parents = {int(key): value for key, value in tree_items(root.ParentTree)}
            links = [element for element in walk(top_elements(root)) if element.S == "/Link"]
            targets = set()
            for element in links:
                annotations = [kid.Obj for kid in kids(element) if isinstance(kid, pikepdf.Dictionary)
                               and kid.get("/Type") == "/OBJR"]
                assert annotations and str(element.get("/Alt", "")).strip(), f"{path.name}: a link says nothing"
                for annotation in annotations:
                    assert str(annotation.Contents) == str(element.Alt)
                    assert parents[int(annotation.StructParent)].objgen == element.objgen
                    targets.add(str(annotation.A.URI))
        expected = {"tel:02079460321", "tel:02079460999", "mailto:hello@harbourskin.example",
                    "https://harbourskin.example/"}
        assert expected <= targets, f"{path.name}: {targets}"
        assert any(target.startswith("https://harbourskin.example/leaflets/") for target in targets)


# --- what viewers read: Unicode mappings, languages, links, drawing order ----------------------------

ENGLISH_IN_ARABIC = ('<html lang="ar" dir="rtl"><head><title>A test</title><style>@page { size: A6 }</style></head>'
                     "<body><h1>عنوان</h1><p LANG>Read this part of the leaflet in English please.</p></body></html>")


def _without_mapping(data: bytes, *, drop_map: bool) -> bytes:
    """The same PDF with one drawn glyph's ToUnicode entry emptied, or a composite font's map taken away."""
    with pikepdf.open(BytesIO(data)) as pdf:
        font = next(composite_fonts(pdf))
        if drop_map:
            del font["/ToUnicode"]
        else:
            mapping = read_cmap(font.ToUnicode.read_bytes())
            used = next(code for code, text in mapping.items() if text.isalpha())
            font.ToUnicode = pdf.make_stream(write_cmap({**mapping, used: ""}))
        out = BytesIO()
        pdf.save(out)
    return out.getvalue()


def test_glyphs_mapped_to_no_text_are_found():
    data = _mended(_page("<h1>Aftercare</h1><p>Keep the area clean.</p>"))
    assert _counts(data)["unicode mapping"] == 0
    assert _counts(_without_mapping(data, drop_map=False))["unicode mapping"] >= 1
    assert _counts(_without_mapping(data, drop_map=True))["unicode mapping"] >= len("Aftercare")


def test_a_part_in_another_script_without_lang_is_found():
    assert _counts(_mended(ENGLISH_IN_ARABIC.replace(" LANG", "")))["language"] == 1
    assert _counts(_mended(ENGLISH_IN_ARABIC.replace(" LANG", ' lang="en" dir="ltr"')))["language"] == 0


def test_a_link_without_alternate_text_is_found():
    link = _page('<h1>Contact</h1><p>Visit <a href="https://clinic.example/">our website</a> today.</p>')
    assert _counts(_raw(link))["link without alternate text"] == 1      # WeasyPrint: the bare address, no /Alt
    assert _counts(_mended(link))["link without alternate text"] == 0


def test_a_mark_drawn_off_the_line_is_found():
    words = ('<html lang="ar" dir="rtl"><head><title>A test</title><style>@page { size: A6 }</style></head>'
             "<body><h1>عنوان</h1><p>ابقَ منتصبًا. لا تستلقِ ولا تنحنِ.</p></body></html>")
    assert _counts(_raw(words))["raised mark"] >= 1                    # WeasyPrint raises a mark with Ts
    assert _counts(_mended(words))["raised mark"] == 0


def test_content_drawn_out_of_reading_order_is_found():
    bullets = _page("<h1>Steps</h1><ul><li>Stay upright</li><li>Do not rub the area</li><li>Call us</li></ul>")
    assert _counts(_raw(bullets))["drawing order"] >= 1                 # WeasyPrint draws the bullets last
    assert _counts(_mended(bullets))["drawing order"] == 0


def test_the_pdfua_checker_finds_nothing_on_any_fixture_pdf(fixture_pdfs, monkeypatch):
    """pdfua (PyPI): the machine-checkable part of PDF/UA-1, every rule it has, on every fixture PDF, none of
    them skipped. pdfua 0.1.3's rule UA-14-001 (empty headings) asks each /K for ``is_integer``, which pikepdf
    refuses on an Array (ValueError), so the rule was skipped on every tagged PDF with a heading of several
    kids: its number test gets a value pikepdf can answer, and a rule skipped for any reason fails here."""
    import pdfua.rules.structure
    from pdfua import validate

    number = pdfua.rules.structure.as_integer
    monkeypatch.setattr(pdfua.rules.structure, "as_integer",
                        lambda value: None if isinstance(value, (pikepdf.Array, pikepdf.Dictionary)) else number(value))
    findings, skipped = {}, {}
    for path in (path for paths in fixture_pdfs.values() for path in paths):
        report = validate(path)
        findings[path.name] = [(finding.rule_id, finding.message) for finding in report.findings]
        skipped[path.name] = [(outcome.rule_id, outcome.skipped_reason) for outcome in report.skipped]
        assert len(report.outcomes) >= 12
    assert not any(skipped.values()), {name: rules for name, rules in skipped.items() if rules}
    assert not any(findings.values()), {name: found for name, found in findings.items() if found}
