"""Drawing order that follows reading order (careleaf.pdf.drawing): what a viewer copies, searches and reads
aloud comes in the order the tags read it, and the page looks exactly as it did.

WeasyPrint draws positioned boxes (a list's bullets, the timeline's picture) after the page's flow; careleaf
moves each such piece to where it is read. Measured three ways: the order of the marked content in each
page's content stream against the tag tree's, the text order of the viewers that follow drawing order
(pdf.js and PDFium; Poppler orders by position), and the pixels with and without the move.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pikepdf
import pytest

from careleaf.build.run import pages
from careleaf.content.catalog import load_catalog
from careleaf.pdf import tagging
from careleaf.pdf.drawing import out_of_order
from careleaf.pdf.render import render
from careleaf.pdf.structure import content, page_numbers, top_elements
from careleaf.project import Project
from conftest import normalise
from readers import READERS


def drawn_and_read(path: Path) -> list[tuple[list[int], list[int]]]:
    """For each page, its MCIDs in the order drawn and in the order the tags read them."""
    with pikepdf.open(path) as pdf:
        numbers = page_numbers(pdf)
        read: dict[int, list[int]] = {}
        for top in top_elements(pdf.Root.StructTreeRoot):
            for page, mcid in content(top, numbers):
                read.setdefault(page, []).append(mcid)
        drawn = [[int(instruction.operands[1].MCID) for instruction in pikepdf.parse_content_stream(page)
                  if str(instruction.operator) == "BDC" and isinstance(instruction.operands[1], pikepdf.Dictionary)
                  and "/MCID" in instruction.operands[1]] for page in pdf.pages]
    return [(drawn[number], read.get(number, [])) for number in range(len(drawn))]


def test_every_fixture_pdf_is_drawn_in_reading_order(sample, mini):
    late = {str(path): found for built in (sample, mini) for path in built.pdfs()
            if (found := [mcid for drawn, read in drawn_and_read(path) for mcid in out_of_order(drawn, read)])}
    assert not late, late


@pytest.mark.parametrize("reader", ["pdf.js", "PDFium"])
def test_viewers_meet_bullets_checklist_and_time_windows_in_reading_order(sample, reader):
    aftercare = normalise(" ".join(READERS[reader](sample.out / "harbour-skin/en/botox-facial-lines-aftercare.pdf")))
    before = normalise(" ".join(READERS[reader](sample.out / "harbour-skin/en/botox-facial-lines-pre-treatment.pdf")))
    assert aftercare.index("In the first 4 hours") < aftercare.index("Stay upright") \
        < aftercare.index("In the first 24") < aftercare.index("Possible side effects")
    assert "• Trouble swallowing" in aftercare            # each bullet just before its item
    assert "• you are pregnant" in before and "• you are breastfeeding" in before


def test_moving_pieces_changes_no_pixel(tmp_path, sample, monkeypatch):
    project = Project(sample.root)
    page = next(page for page in pages(project, load_catalog(project), large_print=False)
                if page.job.name.startswith("harbour-skin/ar/") or page.job.name.endswith("en/botox-facial-lines-pre-treatment"))
    moved = render(page.html, project.asset_folders, source=page.job.name).pdf
    monkeypatch.setattr(tagging, "follow_reading_order", lambda pdf, reading: 0)
    kept = render(page.html, project.asset_folders, source=page.job.name).pdf
    assert moved != kept, "the leaflet is expected to have pieces to move"
    images = []
    for name, data in (("moved", moved), ("kept", kept)):
        (tmp_path / f"{name}.pdf").write_bytes(data)
        subprocess.run(["pdftoppm", "-r", "70", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
        images.append(sorted(tmp_path.glob(f"{name}-*.png")))
    assert len(images[0]) == len(images[1]) > 1
    for moved_page, kept_page in zip(*images):
        assert moved_page.read_bytes() == kept_page.read_bytes(), f"{moved_page.name} looks different"
