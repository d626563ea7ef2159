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
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from careleaf.build.run import Summary, build
from careleaf.build.site import SITE
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
    require("pdftotext")
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
    """Each file's bytes, modification time and inode: enough to tell whether it was rewritten. The web pages
    in site/ (and the copies of the PDFs they offer) are left out: tests/test_site.py has them."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob(pattern)) if p.is_file() and p.relative_to(folder).parts[0] != SITE}


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


# --- waiting: on a condition, with a deadline, never a bare sleep ------------------------------------

class TimedOut(AssertionError):
    """A condition a test waited for did not come true in time."""


def wait_until(condition, timeout: float, what: str, *, interval: float = 0.1, pause=time.sleep):
    """Poll ``condition`` until it returns something true, and return that; TimedOut naming ``what`` at the deadline.

    Tests wait with this and never with a bare sleep: a slow machine makes them slower, not wrong, and a fast
    one is not held up. ``pause(seconds)`` is how to wait between two polls (a Playwright page's own wait lets
    the browser's events run meanwhile).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout} s waiting for {what}")
        pause(interval)


def repeat_until(action, condition, timeout: float, what: str, *, every: float = 3.0, interval: float = 0.1,
                 pause=time.sleep):
    """Do ``action``, then wait up to ``every`` seconds for ``condition``; again until it holds or ``timeout`` ends.

    For a signal that can be missed through no fault of the code under test and with no event to wait for
    instead: a file saved just before a server starts watching for changes, which says nothing when it has.
    """
    deadline = time.monotonic() + timeout
    while True:
        action()
        try:
            return wait_until(condition, max(0.0, min(every, deadline - time.monotonic())), what,
                              interval=interval, pause=pause)
        except TimedOut:
            if time.monotonic() >= deadline:
                raise TimedOut(f"timed out after {timeout} s waiting for {what}") from None


# --- system components: skipped with the install line where missing, never skipped under CI=true ------------

# What a test may ask for: one of these names, or any Debian package named in system-packages.txt (which says
# how to detect each and why careleaf needs it; tools/require.py reads it and installs what is missing).
COMPONENTS = {
    "pdftotext": ("poppler-utils",),
    "node": ("nodejs",),
    "pdfjs": ("nodejs", "npm"),
    "postgres": ("postgresql",),
}
# What `npm ci` (from package-lock.json) adds for a component, beyond its system packages.
NPM_INSTALLS = {"pdfjs": ROOT / "node_modules" / "pdfjs-dist"}


@functools.cache
def _system_packages() -> tuple[object, dict]:
    """tools/require.py (standard library only) and the packages of system-packages.txt by Debian name.

    Loaded on first use, so a test run that asks for no component never reads them.
    """
    spec = importlib.util.spec_from_file_location("careleaf_tools_require", ROOT / "tools" / "require.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module, {package.debian: package for package in module.read_list()}


def missing(component: str) -> str | None:
    """Why ``component`` cannot be used on this machine (what is missing, why careleaf needs it, the command that
    installs it), or None when it can. A name neither here nor in system-packages.txt is a mistake: ValueError."""
    script, packages = _system_packages()
    names = COMPONENTS.get(component, (component,))
    if unknown := [name for name in names if name not in packages]:
        raise ValueError(f"{component!r}: not a component of tests/conftest.py nor a package of system-packages.txt "
                         f"({', '.join(unknown)})")
    absent = [packages[name] for name in names if not script.is_present(packages[name].detect)]
    npm = NPM_INSTALLS.get(component)
    npm_missing = npm is not None and not npm.is_dir()
    if not absent and not npm_missing:
        return None
    why = [f"{package.debian}: {package.reason}" for package in absent]
    steps = [f"apt-get install -y {' '.join(package.debian for package in absent)}"] if absent else []
    if npm_missing:
        why.append(f"{npm.relative_to(ROOT) if npm.is_relative_to(ROOT) else npm}/ is not installed")
        steps.append("npm ci")
    return f"{component} is missing ({'; '.join(why)}); install: {' && '.join(steps)}"


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(*components: str) -> None:
    """Skip the calling test or fixture when a component it needs is missing, saying what and how to install it.

    Under CI=true the test fails instead: CI installs every component (`make test` runs tools/require.py), so a
    missing one there is a broken set-up, and must never pass as a test quietly not run.
    """
    problems = [problem for problem in map(missing, components) if problem]
    if not problems:
        return
    said = "; ".join(problems)
    if on_ci():
        pytest.fail(f"CI=true, so this test may not be skipped: {said}", pytrace=False)
    pytest.skip(said)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*components): system components the test needs (tests/conftest.py "
                                       "require()): skipped with the install line when missing, failed under CI=true")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """``@pytest.mark.needs("chromium")``: checked before any fixture starts a server for the test."""
    for marker in item.iter_markers("needs"):
        require(*marker.args)


# --- the run's last words: what did not run, and why -------------------------------------------------------

def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """End every run with the tests that did not run, one line for each reason (with the install line where a
    component is missing), or "Everything ran.": a gap in what was tested is said, never silent. A wrapper,
    so that it comes after pytest's own summaries, just before the counts."""
    yield
    groups: dict[str, list[str]] = {}
    for report in terminalreporter.stats.get("skipped", []):
        groups.setdefault(_skip_reason(report), []).append(Path(report.nodeid.split("::")[0]).name)
    lines = [f"  {len(files)} test(s) in {', '.join(sorted(set(files)))}: {reason}"
             for reason, files in sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))]
    if deselected := len(terminalreporter.stats.get("deselected", [])):
        lines.append(f"  {deselected} test(s) deselected (-m, -k or --deselect)")
    elif chosen := " ".join(f"{flag} {value!r}" for flag, value in (("-m", config.option.markexpr),
                                                                    ("-k", config.option.keyword)) if value):
        lines.append(f"  the tests that {chosen} leaves out (pytest-xdist does not count them)")
    session = getattr(terminalreporter, "_session", None)
    if exitstatus == pytest.ExitCode.INTERRUPTED or getattr(session, "shouldfail", False):
        lines.append("  the tests after the run stopped early (interrupted, -x or --maxfail)")
    terminalreporter.write_line("Not run:" if lines else "Everything ran.")
    for line in lines:
        terminalreporter.write_line(line)


def qpdf_check(path: Path) -> subprocess.CompletedProcess:
    """`qpdf --check` on a PDF: the structural check an outside reader's parser would trip on."""
    require("qpdf")
    return subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)


CHROMIUM = Path("/usr/bin/chromium")     # Debian's chromium, driven by Playwright (never `playwright install`)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
