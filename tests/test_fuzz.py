"""Fuzzing the input: whatever a wording file holds, the build works or says plainly what is wrong.

Two kinds of generated input, each written into a copy of the sample project:

* documents shaped like leaflet content: the real file's data with parts
  replaced by random values (nested dicts and lists, unicode, control
  characters, YAML's special words, numbers written as text), dumped as YAML;
* the real files mutated line by line (lines deleted, doubled, swapped or
  re-indented; tabs, quotes, colons and other YAML punctuation inserted) and
  byte by byte.

The property: reading the project either succeeds, and then every leaflet is
assembled and its HTML drawn, or fails with InputError, whose every line is
`path:line:column: message` and carries no Python wording. Anything else (any
other exception) is a crash. Most examples stop at the HTML, to stay fast; a few
go through the command line to PDFs, which must open.

Deterministic: derandomized, no example database, no deadline. Failing examples
are not shrunk (that can take minutes); set CARELEAF_FUZZ_SHRINK=1 to shrink one.

Faults this fuzzing found are kept as regression tests at the end of this file.
While a newly found fault is being fixed, its name can be put in PENDING: the
properties then tolerate exactly that fault.
"""

from __future__ import annotations

import copy
import os
import re

import pypdf
import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from careleaf.build.run import pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.cli.main import main
from careleaf.errors import InputError

from conftest import own_labels, sample_file, small_project

pytestmark = pytest.mark.slow   # fuzzing: hundreds of generated documents

BRAND = "harbour-skin"
TREATMENT = "botox-facial-lines"

# The files an editor changes, by what they hold.
TARGETS = {
    "wording": f"leaflets/treatments/{TREATMENT}/en.yaml",
    "facts": f"leaflets/treatments/{TREATMENT}/treatment.yaml",
    "shared": "leaflets/shared/en.yaml",
    "brand": f"leaflets/brands/{BRAND}.yaml",
    "labels": "templates/labels/en.yaml",
}

PROBLEM_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")
PYTHON_WORDING = re.compile(r"Traceback|Internal error|\b[A-Z][a-zA-Z]*(Error|Exception)\b|\bNoneType\b|"
                            r"object has no attribute|<class '|\bline \d+, in\b")

# Control characters (but tab and line ends) and Unicode's line separators: never printed, never in a message.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")

# Faults found and not yet fixed, tolerated by name (none at present).
PENDING: set[str] = set()

SHRINK = (Phase.shrink,) if os.environ.get("CARELEAF_FUZZ_SHRINK") else ()
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None, print_blob=True,
                phases=(Phase.explicit, Phase.generate) + SHRINK,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = own_labels(small_project(tmp_path_factory.mktemp("fuzz")))
    load_catalog(Project(root))  # the starting point is valid
    return Project(root)


class Swapped:
    """One of the project's files replaced for the length of an example, then put back."""

    def __init__(self, project: Project, target: str, data: bytes):
        self.path = project.root / TARGETS[target]
        self.data = data

    def __enter__(self):
        self.original = self.path.read_bytes()
        self.path.write_bytes(self.data)
        return self

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)


def assert_works_or_refuses_plainly(project: Project, target: str) -> str:
    """'built' (every leaflet drawn as HTML) or 'refused' (a clean InputError); anything else fails the test."""
    try:
        try:
            catalog = load_catalog(project)
        except InputError as error:
            assert_plain_problems(shown(error), len(error.problems))
            return "refused"
        drawn = [page.html for page in pages(project, catalog, large_print=False)]
    except Exception:
        if target == "labels" and "labels-unchecked" in PENDING:
            return "pending"
        raise
    for html in drawn:
        assert html.startswith("<!DOCTYPE html>")
        control = CONTROL.search(html)
        assert not control or "escaped-controls" in PENDING, f"{control.group()!r} reached the leaflet"
    return "built"


def shown(error: InputError) -> str:
    """The problems as the command prints them."""
    if "raw-text-in-messages" in PENDING:
        return "\n".join(re.sub("[\x00-\x1f\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", str(p))
                         for p in error.problems)
    return str(error)


def assert_plain_problems(text: str, count: int) -> None:
    lines = text.splitlines()
    assert count and len(lines) == count, f"{count} problems printed on {len(lines)} lines:\n{text}"
    for line in lines:
        assert PROBLEM_LINE.match(line), f"not 'path:line:column: message': {line!r}"
        wording = PYTHON_WORDING.search(line)
        assert not wording, f"Python's wording {wording.group()!r} reached the editor: {line!r}"


# --- strategies: content-shaped documents ----------------------------------------------------

YAML_WORDS = ["yes", "no", "on", "off", "true", "false", "True", "NO", "y", "n", "null", "Null", "~", "",
              "012", "0x1F", "1e3", "1_000", ".inf", "-.5", "10:30", "1:2:3", "2024-02-30", "2024-13-01",
              "<<", "=", "!!str", "&a", "*a", "%TAG", "---", "...", "- ", "? x", "{}", "[]", "#", " # note",
              "'", '"', ":", "|", ">", "@x", "`x`", "\\", "nan", "-0", "+1", "48-72 hours", "4,5-6 months"]
NUMBER_TEXT = st.one_of(st.integers(-10**6, 10**6).map(str),
                        st.floats(allow_nan=True, allow_infinity=True).map(repr),
                        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str))
CHARACTERS = st.characters(codec="utf-8")  # control characters, Word's punctuation, any script
TEXT = st.one_of(st.text(CHARACTERS, max_size=40), st.sampled_from(YAML_WORDS), NUMBER_TEXT,
                 st.text(st.sampled_from("ab :#-'\"\n\t\\*{}[]&!|>%@`\u00a0\u2028\x0b\x00"), max_size=12))
LEAF = st.one_of(TEXT, st.integers(), st.floats(), st.booleans(), st.none())


def values(keys: st.SearchStrategy[str]) -> st.SearchStrategy:
    return st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def _paths(data, prefix=()):
    """Every place in a document: each key of each mapping and each item of each list."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


@st.composite
def content_documents(draw) -> tuple[str, bytes]:
    """A real file's data with a few places replaced, removed or added, as YAML text."""
    target = draw(st.sampled_from(sorted(TARGETS)))
    data = copy.deepcopy(yaml.safe_load(sample_file(TARGETS[target]).read_text("utf-8")))
    known = sorted({str(key) for path in _paths(data) for key in path if isinstance(key, str)})
    keys = st.one_of(st.sampled_from(known), TEXT)
    for _ in range(draw(st.integers(1, 4))):
        places = list(_paths(data))
        where = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        parent = _at(data, where[:-1]) if where else None
        if action == "replace" or not where:
            value = draw(values(keys))
            if where:
                parent[where[-1]] = value
            else:
                data = value
        elif action == "remove":
            del parent[where[-1]]
        else:
            holder = _at(data, where)
            if isinstance(holder, dict):
                holder[draw(keys)] = draw(values(keys))
            elif isinstance(holder, list):
                holder.insert(draw(st.integers(0, len(holder))), draw(values(keys)))
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False,
                          default_flow_style=draw(st.sampled_from([False, None])),
                          width=draw(st.sampled_from([80, 20])))
    return target, text.encode("utf-8")


def _at(data, path):
    for key in path:
        data = data[key]
    return data


# --- strategies: mutations of the real files ---------------------------------------------------

INSERTS = ["\t", '"', "'", ":", ": ", "- ", "#", " #", "&", "*", "!", "{", "}", "[", "]", "|", ">", "%", "@", "`",
           "\\", "?", ",", "\u00a0", "\ufeff", "\u2028", "\x00", "\x0b", "\r", "\u2026", "\u201c", "\u201d",
           "\u2022", "---\n", "...", "  ", "\n", "key: value", "- item", "{{ 7*7 }}", "<b>"]


@st.composite
def mutated_files(draw) -> tuple[str, bytes]:
    target = draw(st.sampled_from(sorted(TARGETS)))
    lines = sample_file(TARGETS[target]).read_bytes().split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "indent", "byte", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(INSERTS)).encode("utf-8") + lines[i][at:]
        elif kind == "indent":
            change = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
            stripped = lines[i].lstrip(b" ")
            depth = max(0, len(lines[i]) - len(stripped) + change)
            lines[i] = b" " * depth + stripped
        elif kind == "byte" and lines[i]:
            at = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + bytes([draw(st.integers(0, 255))]) + lines[i][at + 1:]
        elif kind == "truncate":
            lines = lines[:i + 1]
            lines[-1] = lines[-1][:draw(st.integers(0, len(lines[-1])))]
    return target, b"\n".join(lines)


# --- the properties ---------------------------------------------------------------------------

@FUZZ
@given(content_documents())
def test_content_shaped_documents_are_read_or_refused_plainly(project, case):
    target, data = case
    with Swapped(project, target, data):
        event(assert_works_or_refuses_plainly(project, target))  # see --hypothesis-show-statistics


@settings(FUZZ, max_examples=250)
@given(mutated_files())
def test_mutated_files_are_read_or_refused_plainly(project, case):
    target, data = case
    with Swapped(project, target, data):
        event(assert_works_or_refuses_plainly(project, target))  # see --hypothesis-show-statistics


@settings(FUZZ, max_examples=8)
@given(case=st.one_of(mutated_files(), content_documents()))
def test_through_the_command_to_pdfs(project, tmp_path_factory, case, capsys):
    """A few examples as an editor runs them: exit 0 with PDFs that open, or exit 2 with plain messages."""
    target, data = case
    out = tmp_path_factory.mktemp("out")
    with Swapped(project, target, data):
        code = main(["--project", str(project.root), "build", "--out", str(out), "--no-large-print", "--jobs", "1",
                     "--quiet", "--allow-overdue"])
    captured = capsys.readouterr()
    event(f"exit {code}")
    if code == 1 and target == "labels" and "labels-unchecked" in PENDING:
        return
    assert code in (0, 2), f"exit {code}:\n{captured.err}"
    if code == 2:
        *problems, summary = captured.err.splitlines()
        count = int(re.fullmatch(r"(\d+) problems? found; nothing was built\.", summary)[1])
        if "raw-text-in-messages" not in PENDING:
            assert_plain_problems("\n".join(problems), count)
        assert "Traceback" not in captured.err and "Internal error" not in captured.err
        assert not list(out.rglob("*.pdf"))
    else:
        built = sorted(out.rglob("*.pdf"))
        assert built, captured.out
        for path in built:
            assert pypdf.PdfReader(path).pages


# --- faults this fuzzing found, kept as regression tests ---------------------------

@pytest.mark.parametrize("text", ["null\n", "''\n", "- a\n", "keep_leaflet: x\n", "side_effects:\n  a: b\n"],
                         ids=["null", "empty-text", "a-list", "words-missing", "word-not-text"])
def test_a_broken_labels_file_is_refused_plainly(project, text):
    original = sample_file(TARGETS["labels"]).read_text("utf-8")
    data = text if text in ("null\n", "''\n", "- a\n", "keep_leaflet: x\n") else \
        re.sub(r"(?m)^side_effects: .*\n", lambda _: text, original, count=1)
    with Swapped(project, "labels", data.encode("utf-8")):
        with pytest.raises(InputError) as refused:
            load_catalog(project)
    # Named at the project's own file of template words, the one that was edited, not careleaf's.
    own = (project.root / TARGETS["labels"]).resolve()
    assert refused.value.problems and all(p.path.resolve() == own for p in refused.value.problems)


def test_a_key_with_a_line_break_is_reported_on_one_line(project):
    data = sample_file(TARGETS["brand"]).read_text("utf-8") + '"car\\rriage\\u2028line\\x0bbreak": x\n'
    with Swapped(project, "brand", data.encode("utf-8")):
        with pytest.raises(InputError) as refused:
            load_catalog(project)
    assert "unknown key" in str(refused.value)
    assert_plain_problems(str(refused.value), len(refused.value.problems))


def test_a_control_character_written_as_an_escape_is_refused(project):
    original = sample_file(TARGETS["brand"]).read_text("utf-8")
    data = re.sub(r"(?m)^name: .*$", lambda _: 'name: "Harbour\\x0b Skin\\x00 Clinic\\x1b[31m"', original, count=1)
    with Swapped(project, "brand", data.encode("utf-8")):
        with pytest.raises(InputError, match=r"harbour-skin\.yaml:\d+:\d+: "):
            load_catalog(project)
