"""`check` takes time in proportion to the wording: no shape of text makes it slow down faster than it grows.

Each pathological shape is checked at two sizes in one run; four times the text may cost about four times
the time, never the square of it. Costs are compared with each other, not with a clock.
"""

from __future__ import annotations

import textwrap
import time

import pytest

from careleaf.project import Project
from careleaf.review import check

from conftest import mini_project

SMALL, LARGE = 20_000, 80_000       # characters of one answer
ALLOWED = 12   # 4× the text may cost up to 12×: linear with noise on a busy 2-core machine; quadratic is 16×
FLOOR = 0.05                         # seconds: below this a cost is timer noise, not a measure

SHAPES = {
    "a long run of digits": lambda n: "1" * n,
    "digits before a unit": lambda n: "1 " * (n // 2) + "days",
    "decimal points": lambda n: "1." * (n // 2),
    "abbreviations run together": lambda n: "a." * (n // 2),
    "abbreviations apart": lambda n: "A. " * (n // 3),
    "repeated punctuation": lambda n: "!?." * (n // 3),
    "closing brackets after stops": lambda n: "a.)" * (n // 3),
    "one very long word": lambda n: "a" * n,
    "one long hyphenated word": lambda n: "a-" * (n // 2),
    "a deep list on one line": lambda n: "- " * (n // 2) + "x",
    "deep nested list items": lambda n: "\n".join("  " * (i % 30) + "- item" for i in range(n // 36)),
    "prose": lambda n: "You may have some redness. It goes in a day. " * (n // 46),
}


class Timer:
    """check on the small catalog with one answer replaced by a given text."""

    def __init__(self, root):
        self.root = root
        self.wording = root / "leaflets/treatments/demo/en.yaml"
        self.original = self.wording.read_text(encoding="utf-8")
        self.runs = 0

    def cost(self, text: str) -> float:
        self.runs += 1      # each text starts differently (its first word too), so no cache can answer for it
        answer = "    answer: |\n" + textwrap.indent(f"{self.runs}{text}", "      ")
        self.wording.write_text(self.original.replace("    answer: It is a demo.", answer), encoding="utf-8")
        start = time.perf_counter()
        report = check.run(Project(self.root))
        took = time.perf_counter() - start
        assert not [f for f in report.findings if f.code == "invalid"], report.findings
        return took


@pytest.fixture(scope="module")
def timer(tmp_path_factory):
    timer = Timer(mini_project(tmp_path_factory.mktemp("linear") / "project"))
    timer.cost("It is a demo.")      # load the syllable dictionary once, outside any measure
    return timer


@pytest.mark.parametrize("shape", SHAPES)
def test_four_times_the_text_costs_about_four_times_the_time(timer, shape):
    make = SHAPES[shape]
    base = min(timer.cost("It is a demo.") for _ in range(2))
    small = min(timer.cost(make(SMALL)) for _ in range(2)) - base
    large = min(timer.cost(make(LARGE)) for _ in range(2)) - base     # best of two: one pause is noise
    assert large <= ALLOWED * max(small, FLOOR), \
        f"{shape}: {SMALL:,} characters cost {small:.2f} s, {LARGE:,} cost {large:.2f} s"
