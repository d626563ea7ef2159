"""What a patient's PDF viewer reads out of a leaflet: the danger signs, the clinic's urgent number and the
emergency line, word for word as the leaflet's HTML has them, in Poppler, pdf.js and PDFium alike.

A reader that drops, reorders or garbles these words (a broken ligature, a dotless i for a dotted one, a
number split by a line break) would tell a patient something other than what a clinician approved.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import normalise
from readers import READERS

GOLDEN = Path(__file__).resolve().parent / "golden"   # the HTML of tests/fixtures/sample (test_golden.py keeps it so)

LEAFLETS = ["harbour-skin/en/botox-facial-lines-aftercare", "harbour-skin/tr/botox-facial-lines-aftercare",
            "maple-aesthetics/en/botox-underarm-sweating-aftercare",
            "maple-aesthetics/tr/botox-underarm-sweating-aftercare"]


class UrgentWords(HTMLParser):
    """Each list item and paragraph of the urgent-help box, as text."""

    def __init__(self):
        super().__init__()
        self.depth, self.pieces, self.current = 0, [], None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "section" and "urgent-help" in classes:
            self.depth = 1
        elif self.depth and tag == "section":
            self.depth += 1
        if self.depth and tag in ("li", "p", "h2"):
            self.current = []

    def handle_endtag(self, tag):
        if self.depth and tag in ("li", "p", "h2") and self.current is not None:
            self.pieces.append(normalise("".join(self.current)))
            self.current = None
        if self.depth and tag == "section":
            self.depth -= 1

    def handle_data(self, data):
        if self.current is not None:
            self.current.append(data)


def urgent_words(html: str) -> list[str]:
    parser = UrgentWords()
    parser.feed(html)
    assert parser.pieces, "the leaflet has no urgent-help box"
    return parser.pieces


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("leaflet", LEAFLETS)
def test_every_reader_reads_the_danger_signs_and_numbers_as_written(sample, reader, leaflet):
    html = (GOLDEN / f"{leaflet}.html").read_text("utf-8")
    text = normalise(" ".join(READERS[reader](sample.out / f"{leaflet}.pdf")))
    missing = [words for words in urgent_words(html) if words not in text]
    assert not missing, f"{reader} does not read these words of {leaflet} as written: {missing}"
