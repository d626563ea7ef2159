"""careleaf.pdf.merge: one print-ready PDF from several tagged leaflets, still tagged.

The inputs are made here with WeasyPrint from small HTML documents in English, Turkish and
Arabic (right to left), rendered once for the module. The English one runs onto a second page and
links from its first page to a heading on its second.
"""

from __future__ import annotations

import io
import subprocess
from collections import Counter

import pikepdf
import pytest

from conftest import qpdf_check
from pikepdf import Array, Dictionary, Name, String

from careleaf.pdf.merge import merge_tagged

TITLE = "Clinic print run, 3 March"
STYLE = "<style>body { font-family: 'DejaVu Sans'; }</style>"


def _html(lang: str, title: str, body: str, direction: str = "ltr") -> str:
    return (f'<!doctype html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
            f'<title>{title}</title><meta name="author" content="Author of {title}">'
            f'<meta name="keywords" content="keyword-{lang}">{STYLE}</head><body>{body}</body></html>')


ENGLISH = _html("en", "Botox aftercare (English input)", """
<h1>After your treatment</h1>
<p>Read this leaflet at home. <a href="https://example.org/help">Our help page</a> has more.
See also <a href="#questions">your questions</a>.</p>
<ul><li>Do not lie down for four hours.</li><li>Do not rub the area.</li></ul>
<table><tr><th>Day</th><th>What to expect</th></tr><tr><td>1</td><td>Small bumps</td></tr></table>
""" + "".join(f"<p>Paragraph {n} of the long advice, which goes on so that the leaflet needs a second page.</p>"
              for n in range(60)) + """
<h2 id="questions">Questions for your nurse</h2><p>Write them down.</p>
""")

TURKISH = _html("tr", "Botoks sonrası bakım (Türkçe girdi)", """
<h1>Tedaviden sonra</h1>
<p>Bu broşürü evde okuyun. <a href="https://example.org/yardim">Yardım sayfamız</a>.</p>
<ol><li>Dört saat uzanmayın.</li><li>Bölgeyi ovmayın.</li></ol>
""")

ARABIC = _html("ar", "رعاية ما بعد البوتوكس (مدخل عربي)", """
<h1>بعد العلاج</h1>
<p>اقرأ هذه النشرة في المنزل. <a href="https://example.org/ar">صفحة المساعدة</a>.</p>
<table><tr><th>اليوم</th><th>ما تتوقعه</th></tr><tr><td>١</td><td>نتوءات صغيرة</td></tr></table>
""", direction="rtl")

LANGS = ["en", "tr", "ar"]
INPUT_TITLES = ["Botox aftercare (English input)", "Botoks sonrası bakım (Türkçe girdi)", "رعاية ما بعد البوتوكس (مدخل عربي)"]


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inputs() -> list[bytes]:
    import weasyprint

    return [weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/ua-1") for html in (ENGLISH, TURKISH, ARABIC)]


@pytest.fixture(scope="module")
def merged(inputs) -> bytes:
    return merge_tagged(inputs, title=TITLE, lang="en")


@pytest.fixture(scope="module")
def pdf(merged):
    with pikepdf.open(io.BytesIO(merged)) as opened:
        yield opened


@pytest.fixture(scope="module")
def sources(inputs):
    opened = [pikepdf.open(io.BytesIO(data)) for data in inputs]
    yield opened
    for source in opened:
        source.close()


# --- helpers ------------------------------------------------------------------------------------

def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, Array) else [value]


def _page_texts(data: bytes) -> list[str]:
    """Each page's text, as poppler's pdftotext reads it (pages end with a form feed)."""
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True).stdout
    return text.decode("utf-8").split("\f")[:-1]


def _elements(parent):
    """(element, its parent, the page that applies to it) for every structure element under ``parent``."""
    stack = [(kid, parent, None) for kid in reversed(_as_list(parent.get("/K")))]
    while stack:
        node, up, page = stack.pop()
        if not isinstance(node, Dictionary) or "/S" not in node:
            continue
        page = node.get("/Pg", page)
        yield node, up, page
        stack.extend((kid, node, page) for kid in reversed(_as_list(node.get("/K"))))


def _content_refs(pdf):
    """(element, "mcid" or "objr", MCID or object, page) for each piece of content the structure tree reaches."""
    for element, _, page in _elements(pdf.Root.StructTreeRoot):
        for kid in _as_list(element.get("/K")):
            if isinstance(kid, int) or (not isinstance(kid, Dictionary) and int(kid) == kid):
                yield element, "mcid", int(kid), page
            elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.MCR:
                assert "/Stm" not in kid, "WeasyPrint draws no marked content in XObjects"
                yield element, "mcid", int(kid.MCID), kid.get("/Pg", page)
            elif isinstance(kid, Dictionary) and kid.get("/Type") == Name.OBJR:
                yield element, "objr", kid.Obj, kid.get("/Pg", page)


def _parent_tree(pdf) -> dict[int, pikepdf.Object]:
    nums = pdf.Root.StructTreeRoot.ParentTree.Nums
    return {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def _type_counts(pdf) -> Counter:
    return Counter(str(element.S) for element, _, _ in _elements(pdf.Root.StructTreeRoot))


def _xmp(pdf) -> str:
    return pdf.Root.Metadata.read_bytes().decode("utf-8")


# --- pages and text -----------------------------------------------------------------------------

def test_the_inputs_are_what_the_tests_need(sources):
    """Guards the fixtures: a two-page input, every kind of element, and tagged WeasyPrint output."""
    assert [len(source.pages) for source in sources][0] >= 2
    for source in sources:
        assert "/StructTreeRoot" in source.Root
    counts = sum((_type_counts(source) for source in sources), Counter())
    for kind in ("/H1", "/H2", "/P", "/L", "/LI", "/Table", "/TH", "/TD", "/Link"):
        assert counts[kind], kind


def test_pages_come_in_order_with_their_text(inputs, merged, sources, pdf):
    assert len(pdf.pages) == sum(len(source.pages) for source in sources)
    expected = [text for data in inputs for text in _page_texts(data)]
    assert _page_texts(merged) == expected
    texts = _page_texts(merged)
    assert "After your treatment" in texts[0]
    assert "Questions for your nurse" in texts[len(sources[0].pages) - 1]
    assert "Tedaviden sonra" in texts[len(sources[0].pages)]
    assert "اقرأ هذه النشرة" in texts[-1]


def test_qpdf_finds_no_errors(merged, tmp_path):
    path = tmp_path / "merged.pdf"
    path.write_bytes(merged)
    check = qpdf_check(path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No syntax or stream encoding errors" in check.stdout


def test_same_inputs_give_the_same_bytes(inputs, merged):
    assert merge_tagged(inputs, title=TITLE, lang="en") == merged


def test_an_empty_list_is_refused():
    with pytest.raises(ValueError, match="empty"):
        merge_tagged([], title=TITLE, lang="en")


def test_an_untagged_input_is_refused(inputs):
    untagged = pikepdf.new()
    untagged.add_blank_page()
    buffer = io.BytesIO()
    untagged.save(buffer)
    with pytest.raises(ValueError, match="document 2 is not a tagged PDF"):
        merge_tagged([inputs[0], buffer.getvalue()], title=TITLE, lang="en")


# --- structure tree -----------------------------------------------------------------------------

def test_one_document_holds_each_input_as_a_part_in_its_language(pdf):
    root = pdf.Root.StructTreeRoot
    assert len(_as_list(root.K)) == 1
    document = _as_list(root.K)[0]
    assert document.S == Name.Document
    assert document.P.objgen == root.objgen
    parts = _as_list(document.K)
    assert [str(part.S) for part in parts] == ["/Part"] * 3
    assert [str(part.Lang) for part in parts] == LANGS
    assert [part.P.objgen for part in parts] == [document.objgen] * 3
    # Each part holds its own input's content, in order.
    assert [str(_as_list(part.K)[0].S) for part in parts] == ["/H1"] * 3


def test_every_element_points_back_to_its_parent(pdf):
    for element, parent, _ in _elements(pdf.Root.StructTreeRoot):
        assert element.P.objgen == parent.objgen


def test_element_counts_are_the_sum_over_the_inputs(sources, pdf):
    expected = sum((_type_counts(source) for source in sources), Counter())
    # Each input's own /Document becomes a /Part under the one new /Document.
    expected["/Part"] += expected.pop("/Document")
    expected["/Document"] = 1
    assert _type_counts(pdf) == expected


def test_marked_content_leads_to_merged_pages_and_back(pdf):
    pages = {page.obj.objgen: page.obj for page in pdf.pages}
    tree = _parent_tree(pdf)
    from_tree = set()
    for key, value in tree.items():
        if isinstance(value, Array):  # a page's marked content, by MCID
            from_tree |= {(key, mcid, element.objgen) for mcid, element in enumerate(value)
                          if isinstance(element, Dictionary)}
    from_walk = set()
    for element, kind, value, page in _content_refs(pdf):
        assert page is not None and page.objgen in pages, f"{element.S} refers to a page outside the document"
        if kind == "mcid":
            from_walk.add((int(page.StructParents), value, element.objgen))
    assert from_walk, "no marked content found"
    assert from_walk == from_tree


def test_parent_tree_is_flat_with_one_key_per_page(pdf, sources):
    root = pdf.Root.StructTreeRoot
    assert "/Kids" not in root.ParentTree
    keys = [int(key) for key in list(root.ParentTree.Nums)[::2]]
    assert keys == sorted(set(keys)), "keys must be unique and ascending"
    tree = _parent_tree(pdf)
    page_keys = [int(page.obj.StructParents) for page in pdf.pages]
    assert len(set(page_keys)) == len(page_keys) == sum(len(source.pages) for source in sources)
    annot_keys = [int(annot.StructParent) for page in pdf.pages for annot in _as_list(page.obj.get("/Annots"))]
    assert not set(page_keys) & set(annot_keys)
    assert len(set(annot_keys)) == len(annot_keys)
    assert int(root.ParentTreeNextKey) > max(keys)
    for page in pdf.pages:
        entries = tree[int(page.obj.StructParents)]
        assert isinstance(entries, Array) and len(entries)
        for element in entries:
            assert element.Type == Name.StructElem
            # The element's page, or its nearest ancestor's with one.
            owner = element
            while "/Pg" not in owner:
                owner = owner.P
            assert owner.Pg.objgen == page.obj.objgen


def test_links_keep_their_place_in_the_structure_tree(pdf, sources):
    tree = _parent_tree(pdf)
    annots = [annot for page in pdf.pages for annot in _as_list(page.obj.get("/Annots"))]
    expected = sum(len(_as_list(page.obj.get("/Annots"))) for source in sources for page in source.pages)
    assert len(annots) == expected >= 4
    for annot in annots:
        assert annot.Subtype == Name.Link
        element = tree[int(annot.StructParent)]
        assert element.S == Name.Link
        targets = [kid.Obj.objgen for kid in _as_list(element.K)
                   if isinstance(kid, Dictionary) and kid.get("/Type") == Name.OBJR]
        assert annot.objgen in targets
    uris = [str(annot.A.URI) for annot in annots if "/A" in annot]
    assert uris == ["https://example.org/help", "https://example.org/yardim", "https://example.org/ar"]


def test_an_internal_link_still_goes_to_its_heading(pdf, merged):
    # WeasyPrint names the destination; the merge makes it explicit, pointing at the merged page.
    internal = [annot for annot in pdf.pages[0].obj.Annots if "/Dest" in annot]
    assert len(internal) == 1
    destination = internal[0].Dest
    assert isinstance(destination, Array)
    target = [page.obj.objgen for page in pdf.pages].index(destination[0].objgen)
    assert "Questions for your nurse" in _page_texts(merged)[target]


def test_each_input_has_a_bookmark_to_its_first_page(pdf, sources):
    outlines = pdf.Root.Outlines
    entries, entry = [], outlines.First
    while entry is not None:
        entries.append(entry)
        entry = entry.get("/Next")
    assert len(entries) == 3
    firsts = [0, len(sources[0].pages), len(sources[0].pages) + len(sources[1].pages)]
    page_ids = [page.obj.objgen for page in pdf.pages]
    assert [page_ids.index(entry.Dest[0].objgen) for entry in entries] == firsts
    # The inputs' own bookmarks (their headings) sit under their entry and go to merged pages.
    assert [str(entry.First.Title) for entry in entries] == ["After your treatment", "Tedaviden sonra", "بعد العلاج"]
    for entry in entries:
        assert entry.Parent.objgen == outlines.objgen
        assert entry.First.Parent.objgen == entry.objgen
        assert entry.First.Dest[0].objgen in page_ids


# --- catalog and metadata -----------------------------------------------------------------------

def test_catalog_says_tagged_in_the_given_language(pdf):
    assert str(pdf.Root.Lang) == "en"
    assert pdf.Root.MarkInfo.Marked is True
    assert pdf.Root.ViewerPreferences.DisplayDocTitle is True


def test_the_given_title_and_nothing_else_from_the_inputs(pdf):
    assert dict(pdf.docinfo.items()) == {"/Title": String(TITLE)}
    with pdf.open_metadata() as meta:
        assert meta["dc:title"] == TITLE
        assert str(meta["pdfuaid:part"]) == "1"
    xmp = _xmp(pdf)
    for lang, title in zip(LANGS, INPUT_TITLES):
        for leaked in (title, f"Author of {title}", f"keyword-{lang}", "WeasyPrint"):
            assert leaked not in xmp
            assert leaked not in str(pdf.docinfo)


def test_the_merged_language_can_differ_from_every_input(inputs):
    with pikepdf.open(io.BytesIO(merge_tagged(inputs[1:], title=TITLE, lang="de"))) as pdf:
        assert str(pdf.Root.Lang) == "de"
        assert [str(part.Lang) for part in _as_list(pdf.Root.StructTreeRoot.K[0].K)] == ["tr", "ar"]


def _id_tree(pdf) -> dict[bytes, pikepdf.Object]:
    names = pdf.Root.StructTreeRoot.IDTree.Names
    return {bytes(names[i]): names[i + 1] for i in range(0, len(names), 2)}


def _check_table_headers(pdf) -> list[bytes]:
    """Every header cell ID is unique and in the IDTree; every data cell's /Headers names a header of its own part."""
    ids = _id_tree(pdf)
    all_ids = []
    for part in _as_list(pdf.Root.StructTreeRoot.K[0].K):
        elements = [element for element, _, _ in _elements(part)]
        headers = {bytes(e.ID): e for e in elements if "/ID" in e}
        assert all(header.S == Name.TH for header in headers.values())
        for key, header in headers.items():
            assert ids[key].objgen == header.objgen
        cells = [e for e in elements if e.S == Name.TD and "/Headers" in e.get("/A", {})]
        assert bool(cells) == bool(headers)
        for cell in cells:
            assert all(bytes(name) in headers for name in cell.A.Headers)
        all_ids += headers
    assert len(all_ids) == len(set(all_ids)) == len(ids)
    return all_ids


def test_table_header_ids_are_unique_and_still_resolve(pdf):
    # WeasyPrint names each header cell by ID and each data cell's headers by those IDs.
    assert len(_check_table_headers(pdf)) == 4


# --- inputs written by other tools --------------------------------------------------------------

def _as_another_tool_writes_it(data: bytes) -> bytes:
    """The English input with what other tools write and WeasyPrint does not.

    A form XObject drawn from page 1 with marked content of its own (/StructParents), holding
    another that is itself a content item (/StructParent), and the ParentTree split over two leaves.
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root.StructTreeRoot
        heading = next(element for element, _, _ in _elements(root) if element.S == Name.H1)
        nums = list(root.ParentTree.Nums)
        key = max(int(k) for k in nums[::2]) + 1
        nums += [key, Array([heading]), key + 1, heading]
        inner = pikepdf.Stream(pdf, b"", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 1, 1], StructParent=key + 1)
        outer = pikepdf.Stream(pdf, b"", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 1, 1], StructParents=key,
                               Resources=Dictionary(XObject=Dictionary(Inner=inner)))
        resources = pdf.pages[0].obj.Resources
        resources.XObject = resources.get("/XObject", Dictionary())
        resources.XObject.Outer = outer
        half = len(nums) // 4 * 2
        leaves = [pdf.make_indirect(Dictionary(Nums=Array(part), Limits=Array([part[0], part[-2]])))
                  for part in (nums[:half], nums[half:])]
        root.ParentTree = Dictionary(Kids=Array(leaves))
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()


def test_the_same_input_twice_gets_its_own_keys_and_ids(inputs):
    crafted = _as_another_tool_writes_it(inputs[0])
    with pikepdf.open(io.BytesIO(crafted)) as pdf:
        assert "/Kids" in pdf.Root.StructTreeRoot.ParentTree
    merged = merge_tagged([crafted, crafted], title=TITLE, lang="en")
    with pikepdf.open(io.BytesIO(merged)) as pdf:
        root = pdf.Root.StructTreeRoot
        assert "/Kids" not in root.ParentTree
        page_keys = [int(page.obj.StructParents) for page in pdf.pages]
        assert len(set(page_keys)) == len(page_keys)
        assert set(page_keys) <= set(_parent_tree(pdf))
        refs = [(element, int(page.StructParents), mcid) for element, kind, mcid, page in _content_refs(pdf)
                if kind == "mcid"]
        tree = _parent_tree(pdf)
        assert refs and all(tree[key][mcid].objgen == element.objgen for element, key, mcid in refs)
        ids = _check_table_headers(pdf)
        assert {key.split(b"-", 1)[0] for key in ids} == {b"1", b"2"}
        # The form XObjects' keys moved with their document's and still lead to its heading.
        xobject_keys = []
        for number, part in enumerate(_as_list(root.K[0].K)):
            outer = pdf.pages[number * len(pdf.pages) // 2].obj.Resources.XObject.Outer
            keys = [int(outer.StructParents), int(outer.Resources.XObject.Inner.StructParent)]
            heading = next(element for element, _, _ in _elements(part) if element.S == Name.H1)
            assert tree[keys[0]][0].objgen == tree[keys[1]].objgen == heading.objgen
            xobject_keys += keys
        assert len(set(xobject_keys + page_keys)) == len(xobject_keys + page_keys)
        assert int(root.ParentTreeNextKey) > max(xobject_keys)
