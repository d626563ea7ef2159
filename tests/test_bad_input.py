"""The bad-input corpus: every likely editing mistake is refused with a plain, located message.

Each file in tests/bad-input/<target>/<mistake>.yaml is a whole content file (the
real one, with its own comments swapped for a header) holding exactly one mistake.
<target> says which file of the project it replaces (see TARGETS). The header says
what is expected::

    # Mistake: what an editor did wrong, in words
    # expect: a piece of the message the editor must be shown
    # line: the line the message must point at (left out when the whole file is at fault)
    # reported in: the file the message names, when it is not the replaced one
    # known problem: why careleaf still gets this case wrong (the case is then expected to fail)

For every case the command line is run on a copy of the project with that file
dropped in, and must: exit with status 2; print a line ``<file>:<line>:<column>:
<message>`` naming the right file and line with the expected words; show no
traceback and no programming jargon; and leave the PDFs of an earlier build
exactly as they were.

Cases too big or too odd to commit (a file over the size limit, an empty file,
brackets nested fifty thousand deep) are made by GENERATED below.

tests/good-input/<target>/<case>.yaml holds word-processor habits that must simply
work; its header lists text that must reach the leaflets' HTML unchanged::

    # expect-in-html: text (\\u00a0 stands for a non-breaking space)
    # unchanged: (present when every leaflet must come out exactly as from the original)
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from careleaf.build.run import pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.cli.main import main
from careleaf.content.load import MAX_FILE_BYTES
from conftest import copy_project, own_labels, sample_file

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "bad-input"
GOOD = Path(__file__).resolve().parent / "good-input"

TARGETS = {
    "treatment": "leaflets/treatments/botox-facial-lines/treatment.yaml",
    "other-treatment": "leaflets/treatments/botox-underarm-sweating/treatment.yaml",
    "wording": "leaflets/treatments/botox-facial-lines/en.yaml",
    "shared": "leaflets/shared/en.yaml",
    "brand": "leaflets/brands/harbour-skin.yaml",
}

PROBLEM_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")

# Words that mean a parser's or Python's wording reached an editor.
JARGON = re.compile(r"Traceback|Internal error|NoneType|KeyError|TypeError|ValueError|AttributeError|IndexError|"
                    r"RecursionError|YAMLError|\bdict\b|\bstr object|\blist object|\bmapping\b|\bscalar\b|"
                    r"\bsequence\b|\btoken\b|<block end>|<scalar>|\bunicode\b|#x[0-9a-f]{4}", re.IGNORECASE)

# Cases the command line must also refuse when run as a separate process, as an editor runs it.
IN_A_TERMINAL = {"treatment/tab-indentation", "wording/not-utf8", "wording/alias-bomb",
                 "wording/control-character", "wording/deeply-nested-brackets"}


# --- the corpus --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    target: str
    data: bytes
    expect: str
    line: int | None = None
    reported_in: str | None = None
    known: str | None = None

    @property
    def named_file(self) -> str:
        return self.reported_in or TARGETS[self.target]


def _header(raw: bytes) -> list[tuple[str, str]]:
    """The '# key: value' lines a case file starts with (UTF-16 cases are read as such)."""
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8", "replace")
    fields = []
    for line in text.lstrip("\ufeff").splitlines():
        found = re.match(r"^# ([a-zA-Z -]+): (.*)$", line)
        if not found:
            break
        fields.append((found[1].lower(), found[2].strip()))
    return fields


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)


def _real(target: str) -> str:
    return sample_file(TARGETS[target]).read_text(encoding="utf-8")


def _oversize() -> bytes:
    """The real wording with a section whose answer was pasted in many times over, past the size limit."""
    paragraph = "      " + "Botulinum toxin is a medicine. " * 30 + "\n\n"
    answer = paragraph * (MAX_FILE_BYTES // len(paragraph) + 10)
    pasted = f"sections:\n  pasted:\n    question: Pasted?\n    answer: |\n{answer}\n"
    return _real("wording").replace("sections:\n", pasted, 1).encode("utf-8")


GENERATED = [
    Case("wording/very-large-file", "wording", _oversize(), f"the limit is {MAX_FILE_BYTES:,}"),
    Case("wording/zero-byte-file", "wording", b"", "this file is empty", line=1),
    Case("wording/deeply-nested-brackets", "wording",
         ("name: " + "[" * 50_000 + "]" * 50_000 + "\n").encode("utf-8"), "nested too deeply", line=1),
]


def _bad_cases() -> list:
    cases = []
    for path in sorted(BAD.glob("*/*.yaml")):
        raw = path.read_bytes()
        head = dict(_header(raw))
        assert path.parent.name in TARGETS, f"{path}: the folder must be one of {', '.join(TARGETS)}"
        assert "expect" in head, f"{path}: the header needs an '# expect: …' line"
        cases.append(Case(f"{path.parent.name}/{path.stem}", path.parent.name, raw, head["expect"],
                          int(head["line"]) if "line" in head else None, head.get("reported in"),
                          head.get("known problem")))
    cases += GENERATED
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.known, strict=True)] if c.known else [])
            for c in cases]


BAD_CASES = _bad_cases()


# --- one build of the real catalog, and copies of the project ------------------------------

@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, Path, dict]:
    """The sample catalog, with its own template words to spoil, copied and built once (standard print only)."""
    base = own_labels(copy_project(tmp_path_factory.mktemp("bad-input-base")))
    out = base / "out"
    assert main(["--project", str(base), "build", "--out", str(out), "--no-large-print", "--quiet"]) == 0
    state = _state(out)
    assert any(name.endswith(".pdf") for name in state)
    return base, out, state


def _state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, modification time and inode: enough to tell whether anything was rewritten."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _project(base: Path, dest: Path, target: str, data: bytes) -> Path:
    """A copy of the project's content with one file replaced; templates and styles are shared, read-only."""
    shutil.copytree(base / "leaflets", dest / "leaflets")
    for folder in ("templates", "styles"):
        (dest / folder).symlink_to(base / folder, target_is_directory=True)
    (dest / TARGETS[target]).write_bytes(data)
    return dest


# --- refused, with a plain located message -------------------------------------------------

def _assert_refused(case: Case, code: int, stdout: str, stderr: str, project: Path) -> None:
    shown = f"\n--- stderr ---\n{stderr}--- stdout ---\n{stdout}"
    assert code == 2, f"exit status {code}, not 2{shown}"
    assert "Traceback" not in stderr + stdout, shown
    problems = [m for m in map(PROBLEM_LINE.match, stderr.splitlines()) if m]
    assert problems, f"no '<file>:<line>:<column>: <message>' line{shown}"
    named = [m for m in problems if m["path"] == case.named_file]
    assert named, f"no message names {case.named_file}{shown}"
    located = [m for m in named if case.line is None or int(m["line"]) == case.line]
    assert located, f"no message about {case.named_file} points at line {case.line}{shown}"
    assert any(case.expect in m["message"] for m in located), \
        f"no message about {case.named_file}:{case.line} says {case.expect!r}{shown}"
    jargon = JARGON.search(stderr)
    assert not jargon, f"jargon {jargon.group()!r} shown to the editor{shown}"
    assert str(project) not in stderr and str(project.resolve()) not in stderr, \
        f"a message names a file by its full path rather than from the project folder{shown}"
    assert "nothing was built" in stderr, shown


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_refused_plainly(case, built, tmp_path, monkeypatch, capsys):
    base, out, before = built
    project = _project(base, tmp_path / "project", case.target, case.data)
    monkeypatch.chdir(project)
    monkeypatch.delenv("CARELEAF_DEBUG", raising=False)
    code = main(["build", "--out", str(out), "--no-large-print"])
    captured = capsys.readouterr()
    _assert_refused(case, code, captured.out, captured.err, project)
    assert _state(out) == before, "the earlier build's output was changed"


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in BAD_CASES if c.id in IN_A_TERMINAL])
def test_bad_input_in_a_separate_process(case, built, tmp_path):
    """As an editor runs it: `python generate.py build`; no traceback reaches the terminal."""
    base, out, before = built
    project = _project(base, tmp_path / "project", case.target, case.data)
    env = {k: v for k, v in os.environ.items() if k != "CARELEAF_DEBUG"}
    result = subprocess.run([sys.executable, str(ROOT / "generate.py"), "build", "--out", str(out),
                             "--no-large-print"], cwd=project, capture_output=True, text=True, env=env, timeout=60)
    _assert_refused(case, result.returncode, result.stdout, result.stderr, project)
    assert _state(out) == before, "the earlier build's output was changed"


def test_corpus_is_large_and_every_file_is_named_after_one_mistake():
    assert len(BAD_CASES) >= 55
    for path in BAD.glob("*/*.yaml"):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", path.stem), f"{path.name}: name it after the mistake"
        assert dict(_header(path.read_bytes())).get("mistake"), f"{path}: the header needs a '# Mistake: …' line"
    assert {p.id for p in BAD_CASES} >= IN_A_TERMINAL


# --- word-processor habits that must simply work ---------------------------------------------

GOOD_CASES = sorted(GOOD.glob("*/*.yaml"))


@pytest.fixture(scope="session")
def original_pages(built) -> dict:
    base = built[0]
    return {page.job: page.html for page in pages(Project(base), load_catalog(Project(base)), large_print=False)}


@pytest.mark.parametrize("path", GOOD_CASES, ids=[f"{p.parent.name}/{p.stem}" for p in GOOD_CASES])
def test_good_input_simply_works(path, built, original_pages, tmp_path):
    base = built[0]
    raw = path.read_bytes()
    head = _header(raw)
    project = _project(base, tmp_path / "project", path.parent.name, raw)
    drawn = pages(Project(project), load_catalog(Project(project)), large_print=False)
    text = "\n".join(html.unescape(page.html) for page in drawn)
    expected = [_unescape(value) for key, value in head if key == "expect-in-html"]
    assert expected, f"{path}: list at least one '# expect-in-html: …' line"
    for fragment in expected:
        assert fragment in text, f"{fragment!r} did not reach the leaflets unchanged"
    if any(key == "unchanged" for key, _ in head):
        assert {page.job: page.html for page in drawn} == original_pages


# One case through the whole command, PDFs and all; the others stop at the HTML (above) to stay fast.
BUILT_BY_THE_COMMAND = GOOD / "brand" / "notepad-bom-and-crlf.yaml"


def test_good_input_builds_with_the_command(built, tmp_path, monkeypatch, capsys):
    """A brand file saved by Notepad (byte-order mark, CRLF), built into a copy of the earlier output: exit 0."""
    base, out, _ = built
    path = BUILT_BY_THE_COMMAND
    project = _project(base, tmp_path / "project", path.parent.name, path.read_bytes())
    shutil.copytree(out, tmp_path / "out")
    monkeypatch.chdir(project)
    code = main(["build", "--out", str(tmp_path / "out"), "--no-large-print", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert re.search(r"\b0 failed\b", captured.out), captured.out
