"""Shared set-up for the careleaf tests.

The tests use fixture projects under tests/fixtures/, never the repository's own
leaflets/ (only tests/test_live_catalog.py builds that), so a clinic that
replaces the sample catalog keeps `make test` green. Templates, styles and fonts
come from careleaf's theme, as in any project.

Two projects are built once per test session and shared:

* ``sample``: tests/fixtures/sample, a frozen copy of the Botox sample catalog
  (two brands, two treatments, English and Turkish), built without the
  large-print variants (16 PDFs);
* ``mini``: tests/fixtures/mini (one brand, one treatment), built with large
  print (4 PDFs).

Tests that change content or output copy one of them into their own tmp_path
first. Nothing is written outside tmp_path.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from careleaf.build.run import Summary, build
from careleaf.content.catalog import Catalog, load_catalog
from careleaf.project import THEME, Project
from careleaf.review.approve import approve

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI = FIXTURES / "mini"
SAMPLE = FIXTURES / "sample"
GENERATE = ROOT / "generate.py"
APPROVED_ON = dt.date(2026, 1, 5)      # the day approved_project's leaflets were approved

# Every kind of dash or hyphen a renderer or an editor may use between two numbers.
_DASHES = re.compile("[\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")


# --- projects -------------------------------------------------------------------

def copy_project(dest: Path, source: Path = SAMPLE) -> Path:
    """A copy of a project's leaflets/, styles/ and templates/ (those it has) in ``dest``."""
    for folder in ("leaflets", "templates", "styles"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, dest / folder, dirs_exist_ok=True)
    return dest


def mini_project(dest: Path) -> Path:
    """The small test catalog."""
    return copy_project(dest, MINI)


def sample_file(relative: str) -> Path:
    """A file of the sample project as it starts: its own, or else careleaf's theme's (template words)."""
    return next(p for p in (SAMPLE / relative, THEME / relative) if p.exists())


def own_labels(root: Path) -> Path:
    """Give a project its own copy of the template words (templates/labels/), replacing the theme's."""
    shutil.copytree(THEME / "templates" / "labels", root / "templates" / "labels", dirs_exist_ok=True)
    return root


def with_theme(root: Path) -> Path:
    """Copy careleaf's theme (templates and styles) into a project, for tests that change a template or asset."""
    shutil.copytree(THEME / "templates", root / "templates", dirs_exist_ok=True)
    shutil.copytree(THEME / "styles", root / "styles", dirs_exist_ok=True)
    return root


SMALL_BRAND = "harbour-skin"
SMALL_TREATMENT = "botox-facial-lines"


def small_project(dest: Path, languages: str = "en") -> Path:
    """The sample catalog cut down to one clinic and one treatment (two leaflets a language)."""
    copy_project(dest)
    for brand in (dest / "leaflets/brands").glob("*.yaml"):
        if brand.stem != SMALL_BRAND:
            brand.unlink()
    for treatment in (dest / "leaflets/treatments").iterdir():
        if treatment.is_dir() and treatment.name != SMALL_TREATMENT:
            shutil.rmtree(treatment)
    edit(dest / f"leaflets/brands/{SMALL_BRAND}.yaml", r"(?m)^languages:.*$", f"languages: [{languages}]")
    return dest


def with_arabic(root: Path, brand: str = SMALL_BRAND) -> Path:
    """Offer a project's botox-facial-lines leaflets in Arabic too (the small Arabic fixture, English where it
    has no wording) at one brand that offers English."""
    shutil.copy(FIXTURES / "arabic/treatments/botox-facial-lines/ar.yaml", root / "leaflets/treatments/botox-facial-lines/")
    shutil.copy(FIXTURES / "arabic/shared/ar.yaml", root / "leaflets/shared/")
    edit(root / f"leaflets/brands/{brand}.yaml", r"(?m)^languages:.*$", "languages: [en, ar]\nfallback_language: en")
    return root


def arabic_project(dest: Path) -> Path:
    """The sample catalog cut to one clinic and treatment, in English and Arabic."""
    return with_arabic(small_project(dest))


def edit(path: Path, pattern: str, new: str) -> None:
    """Replace the first match of a pattern in a text file with ``new``, keeping the pattern's group 1 in front."""
    text, count = re.subn(pattern, lambda m: (m.group(1) if m.groups() else "") + new,
                          path.read_text("utf-8"), count=1)
    assert count == 1, f"{pattern!r} not found in {path}"
    path.write_text(text, "utf-8")


def replace_in(path: Path, old: str, new: str) -> None:
    """Change one exact piece of a text file; the piece must occur exactly once."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@dataclass
class Built:
    """A project and the output folder it was built into."""

    root: Path
    out: Path
    catalog: Catalog
    summary: Summary
    large_print: bool

    @property
    def project(self) -> Project:
        return Project(self.root)

    def pdfs(self) -> list[Path]:
        return sorted(self.out.rglob("*.pdf"))

    def copy_to(self, dest: Path) -> tuple[Path, Path]:
        """A copy of the project with its output at <dest>/out, brought up to date by the command.

        The update normally has nothing to do; it matters only when careleaf itself
        changed after the session's build (its code is part of every fingerprint).
        """
        root = copy_project(dest, self.root)
        shutil.copytree(self.out, dest / "out")
        options = [] if self.large_print else ["--no-large-print"]
        settled = run_cli("--project", ".", "build", "--out", "out", "--quiet", *options, cwd=root)
        assert settled.returncode == 0, settled.stderr
        return root, dest / "out"


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Built:
    """The real sample catalog, built once (standard print only)."""
    root = copy_project(tmp_path_factory.mktemp("sample"))
    out = root.parent / "sample-out"
    summary = build(Project(root), out, large_print=False)
    assert not summary.failed, summary.failed
    return Built(root, out, load_catalog(Project(root)), summary, large_print=False)


@pytest.fixture(scope="session")
def mini(tmp_path_factory) -> Built:
    """The small test catalog, built once with its large-print variants."""
    root = mini_project(tmp_path_factory.mktemp("mini"))
    out = root.parent / "mini-out"
    summary = build(Project(root), out)
    assert not summary.failed, summary.failed
    return Built(root, out, load_catalog(Project(root)), summary, large_print=True)


# --- running the command ------------------------------------------------------------

def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python generate.py ARGS`` in a separate process, as an editor runs it."""
    return subprocess.run([sys.executable, str(GENERATE), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


# --- reading output -----------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def pdf_pages_text(path: Path) -> tuple[str, ...]:
    """The text of each page of a PDF, in the order it is drawn (poppler's pdftotext).

    Cached: only read PDFs that no test rewrites (the session's builds) through it.
    """
    result = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
                            capture_output=True, text=True, check=True)
    pages = result.stdout.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return tuple(pages)


def normalise(text: str) -> str:
    """Every dash written as '-' and every run of white space as one space."""
    return " ".join(_DASHES.sub("-", text).split())


def files_state(folder: Path, pattern: str = "*.pdf") -> dict[str, tuple[bytes, int, int]]:
    """Each file's bytes, modification time and inode: enough to tell whether it was rewritten."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob(pattern)) if p.is_file()}


def approved_project(dest: Path, languages: str = "en, tr") -> Path:
    """The small sample catalog as a clinic has it once a clinician signed it off: nothing awaits approval,
    and each leaflet has an approval record. Patients' own leaflets can be made from it."""
    small_project(dest, languages)
    for path in (dest / "leaflets").rglob("*.yaml"):
        text = re.sub(r"(?m)^[ \t]*needs_approval: true[ \t]*\n", "", path.read_text("utf-8"))
        if path.name == "treatment.yaml":
            text = re.sub(r"(?m)^(    version: \d+\n)", r"\1    review_by: 2099-01-05\n", text)
        path.write_text(text, "utf-8")
    approve_all(dest)
    return dest


def approve_all(root: Path, by: str = "Dr Test Person", on: dt.date = APPROVED_ON) -> None:
    """Every leaflet of a project approved, in every language, as `careleaf approve` records it."""
    project = Project(root)
    for entry in load_catalog(project).treatments.values():
        for definition in entry.facts.leaflets:
            approve(project, definition.code, by=by, today=on)


# --- a real mail server and outbox workers (tests/mailserver.py), for the email and register tests ------

@pytest.fixture
def mail(tmp_path):
    """The clinic's mail server: STARTTLS required, then a user name and password (only over TLS)."""
    from mailserver import MailServer

    server = MailServer(tmp_path)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path):
    """`careleaf worker` processes, every one stopped after the test."""
    from mailserver import Workers

    folder = tmp_path / "workers"
    folder.mkdir()
    running = Workers(folder, GENERATE)
    try:
        yield running
    finally:
        running.stop_all()
