"""Layouts that survive long words: the template words pseudo-localised (each about 40 % longer, with accented
letters, as software teams test translations before they exist), and Turkish as it is.

Read from the PDF as printed (Poppler's word boxes): no part of a footer is broken across lines (a date is
never parted from its year; a long footer moves a whole part to a second line), and every contact value
starts in the value column, whatever the length of its label.
"""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from careleaf.build.run import build
from careleaf.project import THEME, Project

from conftest import SMALL_BRAND, approved_project, require

ACCENTS = str.maketrans("aeiouycnsAEIOUYCNS", "áéíöüýçñšÁÉÍÖÜÝÇÑŠ")


def pseudo(words: str) -> str:
    """'Contact us' -> 'Çöñtáçt üš ~~~~': accented, about 40 % longer; {placeholders} left as they are."""
    parts = re.split(r"(\{[a-z_]+\})", words)
    text = "".join(part if part.startswith("{") else part.translate(ACCENTS) for part in parts)
    return text + " " + "~" * max(1, round(len(words) * 0.4) - 1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample cut to one clinic and treatment, approved (so footers carry the approval and review dates), in
    English with pseudo-localised template words and in Turkish, standard and large print."""
    root = approved_project(tmp_path_factory.mktemp("long-words"), languages="en, tr")
    theme = yaml.safe_load((THEME / "templates/labels/en.yaml").read_text("utf-8"))
    labels = root / "templates/labels/en.yaml"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(yaml.safe_dump({name: pseudo(words) for name, words in theme.items()}, allow_unicode=True),
                      "utf-8")
    summary = build(Project(root), root / "out", jobs=1)
    assert not summary.failed, summary.failed
    return root / "out" / SMALL_BRAND


class _Words(HTMLParser):
    """The words of each page of `pdftotext -bbox` output, with their boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[dict] = []
        self._word: dict | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "page":
            self.pages.append({"height": float(values["height"]), "width": float(values["width"]), "words": []})
        elif tag == "word":
            self._word = {key: float(values[key]) for key in ("xmin", "ymin", "xmax", "ymax")} | {"text": ""}

    def handle_data(self, data):
        if self._word is not None:
            self._word["text"] += data

    def handle_endtag(self, tag):
        if tag == "word" and self._word is not None:
            self.pages[-1]["words"].append(self._word)
            self._word = None


def words_of(pdf: Path) -> list[dict]:
    require("pdftotext")
    output = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    reader = _Words()
    reader.feed(output)
    return reader.pages


PDFS = ["en/botox-facial-lines-aftercare.pdf", "en/botox-facial-lines-pre-treatment.pdf",
        "en/botox-facial-lines-aftercare-large-print.pdf", "tr/botox-facial-lines-aftercare.pdf",
        "tr/botox-facial-lines-aftercare-large-print.pdf", "tr/botox-facial-lines-pre-treatment.pdf"]


@pytest.mark.parametrize("pdf", PDFS)
def test_no_part_of_a_footer_breaks_across_lines(built, pdf):
    margin = (17 if "large-print" in pdf else 13) * 72 / 25.4       # the stylesheets' bottom page margins
    for page in words_of(built / pdf):
        # The footer: the words in the bottom margin, left of the page number.
        footer = [w for w in page["words"] if w["ymin"] > page["height"] - margin
                  and w["xmax"] < page["width"] * 0.78]
        assert footer, "no footer found"
        assert sum(bool(re.search(r"20\d\d$", w["text"])) for w in footer) == 2, _text(footer)   # both dates
        for before, after in zip(footer, footer[1:]):
            if abs(after["ymin"] - before["ymin"]) > 2:      # a new line: only ever after a separator
                assert before["text"] == "·", f"the footer breaks after {before['text']!r}: {_text(footer)}"


@pytest.mark.parametrize("pdf", PDFS)
def test_every_contact_value_starts_in_the_value_column(built, pdf):
    """Phone, urgent phone, email, website and address: each value's first word at the same x, right of
    every label word, however long the labels ('Kliniğimizin acil hattı', pseudo-localised words)."""
    values = ("020", "hello@harbourskin.example", "https://harbourskin.example/", "14")
    page = next(p for p in words_of(built / pdf) if any(w["text"] == "hello@harbourskin.example" for w in p["words"]))
    words = page["words"]
    email = next(w for w in words if w["text"] == "hello@harbourskin.example")
    box = [w for w in words if abs(w["ymin"] - email["ymin"]) < 80]        # the contact box's lines, near the email
    starts = [w for w in box if w["text"] in values and w["xmin"] < page["width"] / 2]
    firsts = {}
    for word in starts:            # the first value word on each line
        line = round(word["ymin"])
        firsts[line] = min(firsts.get(line, word["xmin"]), word["xmin"])
    assert len(firsts) >= 4, _text(box)
    column = min(firsts.values())
    assert max(firsts.values()) - column < 1, f"values not in one column: {firsts}"
    labels = [w for w in box if w["xmax"] <= column + 0.5 and w["xmin"] < column]
    assert labels and all(w["xmax"] < column for w in labels)


def _text(words: list[dict]) -> str:
    return " ".join(w["text"] for w in words)
