"""careleaf reads only the project's own regular files, within stated limits, and runs only the code the docs say.

* Every file careleaf reads of a project (wording, stamps, templates, stylesheets, fonts, logos) must be a
  regular file that resolves inside the project: a link out of it (to /etc/passwd, to /dev/zero), a named
  pipe, or a name that would become a path out of out/ (``...yaml``) gets a message naming the file, in
  bounded time, and the file outside is never opened ("never opened" is checked with an audit hook that sees
  every file Python opens).
* Limits (careleaf.yaml's ``limits``) are enforced before any work: a 20 MB logo, an SVG of too many
  elements, a decompression-bomb image each fail their brand's leaflets naming the logo, the limit and the
  setting, while the other brand still builds, every process within 1 GB; `check` refuses each of them too.
* Project templates render in Jinja's sandbox; render workers never import a module from the folder
  careleaf is run from.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from careleaf.cli.main import main
from careleaf.content.settings import Limits
from careleaf.project import Refused, read_regular
from conftest import SMALL_BRAND, SMALL_TREATMENT, copy_project, edit, small_project

SECRET = "root:x:0:0:the-outside-secret-line"
CARELEAF = str(Path(sys.executable).with_name("careleaf"))     # the command, as installed
OTHER_BRAND = "maple-aesthetics"

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cannot be removed; it records only while a test watches (see `opened`)


@pytest.fixture
def opened():
    """Every path this process opens during the test (render workers are other processes: see the logo tests)."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


def opened_as(paths: list[str], target: Path) -> list[str]:
    """The names under which ``target`` was opened (itself, or a link to it)."""
    return [name for name in paths if Path(name).resolve() == target.resolve()]


def said_at(said: str, relative: str, message: str) -> bool:
    """Whether a line of the output names the file (by its place in the project, at line 1) and says ``message``."""
    return any(f"{relative}:1" in line and message in line for line in said.splitlines())


def run(root: Path, *args: str, capsys) -> tuple[int, str]:
    code = main(["--project", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def build(root: Path, capsys) -> tuple[int, str]:
    return run(root, "build", "--out", str(root / "out"), "--no-large-print", "--quiet", capsys=capsys)


@pytest.fixture
def outside(tmp_path) -> Path:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    return secret


WORDING = f"leaflets/treatments/{SMALL_TREATMENT}/en.yaml"
FACTS = f"leaflets/treatments/{SMALL_TREATMENT}/treatment.yaml"


# --- 1. only the project's own regular files -------------------------------------------------------------

@pytest.mark.parametrize("relative", [FACTS, WORDING, f"leaflets/brands/{SMALL_BRAND}.yaml", "templates/labels/en.yaml"])
def test_a_file_linked_out_of_the_project_is_named_and_never_read(relative, tmp_path, outside, opened, capsys):
    root = small_project(tmp_path / "project")
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).unlink(missing_ok=True)
    (root / relative).symlink_to(outside)
    opened.clear()     # what the copy above wrote, under the name that is now the link
    for command in ("check", "build"):
        code, said = run(root, command, *(("--out", str(root / "out")) if command == "build" else ()), capsys=capsys)
        assert code != 0, said
        assert said_at(said, relative, "this is a link to a file outside the project"), said
        assert "the-outside-secret-line" not in said and "Traceback" not in said
    assert not opened_as(opened, outside)
    assert not (root / "out").exists() or not list((root / "out").rglob("*.pdf"))


def test_the_stamps_never_read_through_a_link_out_of_the_project(tmp_path, outside, opened, capsys):
    """A stray link in styles/ that nothing uses: the build succeeds, stamping it without reading it."""
    root = small_project(tmp_path / "project")
    (root / "styles" / "notes.txt").symlink_to(outside)
    opened.clear()
    code, said = build(root, capsys)
    assert code == 0, said
    code, said = build(root, capsys)       # the second build compares stamps
    assert code == 0, said
    assert not opened_as(opened, outside)


def test_a_wording_file_linked_to_dev_zero_is_refused_at_once(tmp_path, capsys):
    root = small_project(tmp_path / "project")
    (root / WORDING).unlink()
    (root / WORDING).symlink_to("/dev/zero")
    code, said = run(root, "check", capsys=capsys)
    assert code != 0
    assert said_at(said, WORDING, "this is a link to a file outside the project"), said
    assert "MemoryError" not in said and "Internal error" not in said


@pytest.mark.parametrize("where", [WORDING, "careleaf.yaml", "styles/fonts/NotoSans-Regular.ttf"])
def test_a_named_pipe_never_makes_careleaf_wait(where, tmp_path):
    """Run as a separate process with a deadline: before, `check` and `build` waited for ever on the pipe."""
    root = small_project(tmp_path / "project")
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    (root / where).unlink(missing_ok=True)
    os.mkfifo(root / where)
    for command in (["check"], ["build", "--out", str(root / "out"), "--no-large-print"]):
        done = subprocess.run([CARELEAF, "--project", str(root), *command],
                              capture_output=True, text=True, timeout=240)
        said = done.stdout + done.stderr
        assert done.returncode != 0, said
        assert "named pipe (FIFO)" in said and where in said, said
        assert "Traceback" not in said


def test_read_regular_never_trusts_the_size_the_file_system_reports(tmp_path):
    inside = tmp_path / "project"
    inside.mkdir()
    big = inside / "big.yaml"
    big.write_bytes(b"x" * 101)
    with pytest.raises(Refused) as refused:
        read_regular(big, within=(inside,), limit=100, setting="limits.wording_bytes")
    assert refused.value.kind == "too-large" and "limits.wording_bytes" in str(refused.value)
    assert read_regular(big, within=(inside,), limit=101) == b"x" * 101


@pytest.mark.parametrize("name, what", [("...yaml", "brand"), ("...yaml", "language"), ("-x", "treatment")])
def test_a_name_that_would_become_a_path_out_of_out_is_refused(name, what, tmp_path, capsys):
    """'...yaml' is the brand (or language) '..': its leaflets would be written into the project, beside out/."""
    root = small_project(tmp_path / "project")
    if what == "brand":
        shutil.copy(root / f"leaflets/brands/{SMALL_BRAND}.yaml", root / "leaflets/brands" / name)
    elif what == "language":
        shutil.copy(root / "leaflets/shared/en.yaml", root / "leaflets/shared" / name)
    else:
        shutil.copytree(root / f"leaflets/treatments/{SMALL_TREATMENT}", root / "leaflets/treatments" / name)
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    code, said = build(root, capsys)
    assert code == 2, said
    assert f"this {what}'s name '{name.removesuffix('.yaml')}' cannot be used" in said
    after = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert [p for p in after if p not in before and not p.startswith("out")] == []


# --- 2. templates in the sandbox; workers with a clean import path ------------------------------------------

def test_a_template_that_reaches_past_the_sandbox_fails_naming_the_template(tmp_path, outside, capsys):
    root = small_project(tmp_path / "project")
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates/aftercare.html").write_text(
        '{% extends "theme/aftercare.html" %}\n{% block lede %}'
        f"{{{{ cycler.__init__.__globals__.__builtins__.open('{outside}').read() }}}}{{% endblock %}}\n")
    code, said = build(root, capsys)
    assert code == 1, said
    assert "templates/aftercare.html:2: the template reaches for something templates may not use" in said
    assert "the-outside-secret-line" not in said
    assert (root / f"out/{SMALL_BRAND}/en/{SMALL_TREATMENT}-pre-treatment.pdf").is_file()   # the other leaflet


def test_a_weasyprint_module_in_the_working_folder_is_never_imported(tmp_path):
    root = small_project(tmp_path / "project")
    trap = tmp_path / "here"
    trap.mkdir()
    marker = tmp_path / "imported"
    for name in ("weasyprint.py", "pikepdf.py"):
        (trap / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit('booby trap')\n")
    # The installed command, run from that folder, as the clinic's technical person would.
    done = subprocess.run([CARELEAF, "--project", str(root), "build", "--out", str(root / "out"), "--no-large-print"],
                          cwd=trap, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists(), f"imported from the working folder: {marker.read_text()}"
    assert len(list((root / "out").rglob("*.pdf"))) == 2


# --- 3. limits, before the work: logos and images ---------------------------------------------------------

def two_clinics(dest: Path) -> Path:
    """The sample catalog cut to one treatment in English, for both clinics; each worker held to 1 GB."""
    copy_project(dest)
    for treatment in (dest / "leaflets/treatments").iterdir():
        if treatment.is_dir() and treatment.name != SMALL_TREATMENT:
            shutil.rmtree(treatment)
    for brand in (dest / "leaflets/brands").glob("*.yaml"):
        edit(brand, r"(?m)^languages:.*$", "languages: [en]")
    (dest / "careleaf.yaml").write_text("limits:\n  render_memory_mb: 1024\n")
    return dest


def huge_logo() -> bytes:
    """20 MB of SVG: a million small paths."""
    path = b'<path d="M1 1h2v2h-2z"/>'
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40">'
            + path * (20_000_000 // len(path)) + b"</svg>")


def busy_logo() -> bytes:
    """Small in bytes (under 1 MB), but more elements than the limit."""
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40">'
            + b"<g/>" * (Limits().svg_elements + 10) + b"</svg>")


def bomb_logo() -> bytes:
    """A 20 KB logo embedding a 12,000 × 12,000 PNG (144 million pixels)."""
    from PIL import Image

    png = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(png, "PNG", optimize=True)
    data = base64.b64encode(png.getvalue()).decode()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" '
            f'height="40"><image width="100" height="40" xlink:href="data:image/png;base64,{data}"/></svg>').encode()


LOGOS = {"20 MB": (huge_logo, "the limit is 5,000,000 bytes (the setting limits.image_bytes in careleaf.yaml)"),
         "too many elements": (busy_logo, "more than 20,000 elements (the setting limits.svg_elements"),
         "decompression bomb": (bomb_logo, "12,000 × 12,000 pixels; the limit is 25,000,000 pixels (the setting "
                                           "limits.image_pixels")}

PEAK = ("import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:])\n"
        "print('peak-kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(done.returncode)\n")


@pytest.mark.slow
@pytest.mark.parametrize("kind", LOGOS)
def test_an_oversized_logo_fails_its_brand_naming_it_and_the_other_brand_builds(kind, tmp_path):
    make, said_limit = LOGOS[kind]
    root = two_clinics(tmp_path / "project")
    logo = root / f"styles/brands/{SMALL_BRAND}/logo.svg"
    logo.write_bytes(make())
    # The build in its own process, with a deadline, its peak memory measured (each render worker is held
    # to 1 GB by careleaf.yaml above: a worker that needed more would fail its leaflet).
    done = subprocess.run([sys.executable, "-c", PEAK, CARELEAF, "--project", str(root),
                           "build", "--out", str(root / "out"), "--no-large-print"],
                          capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    failures = [line for line in said.splitlines() if line.startswith(f"Error: {SMALL_BRAND}/en/")]
    assert len(failures) == 2, said
    assert all(said_limit in line and f"styles/brands/{SMALL_BRAND}/logo.svg" in line for line in failures), said
    assert "Traceback" not in said and "DecompressionBomb" not in said
    assert len(list((root / f"out/{OTHER_BRAND}").rglob("*.pdf"))) == 2
    assert not (root / f"out/{SMALL_BRAND}").exists() or not list((root / f"out/{SMALL_BRAND}").rglob("*.pdf"))
    peak_kb = int(said.split("peak-kb")[1].split()[0])
    assert peak_kb < 1024 * 1024, f"the build took {peak_kb // 1024} MB"

    checked = subprocess.run([CARELEAF, "--project", str(root), "check"],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode != 0
    assert f"leaflets/brands/{SMALL_BRAND}.yaml" in checked.stdout + checked.stderr
    assert said_limit in checked.stdout + checked.stderr


# --- 4. `check` refuses what `build` refuses --------------------------------------------------------------

ASSET_CASES = {
    "logo naming a file outside": (f"styles/brands/{SMALL_BRAND}/logo.svg",
                                   b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/'
                                   b'xlink"><image xlink:href="file:///etc/hostname"/></svg>', "may not read"),
    "stylesheet importing over the network": ("styles/leaflet.css", b'@import "https://example.com/x.css";\n',
                                             "may not read"),
    "stylesheet naming a missing font": ("styles/leaflet.css",
                                         b'@font-face { font-family: X; src: url(fonts/gone.ttf); }\n',
                                         "missing"),
    "busy logo": (f"styles/brands/{SMALL_BRAND}/logo.svg", None, "limits.svg_elements"),
}


@pytest.mark.parametrize("case", ASSET_CASES)
def test_check_refuses_the_logos_and_stylesheets_the_build_refuses(case, tmp_path, capsys):
    relative, data, said_part = ASSET_CASES[case]
    root = small_project(tmp_path / "project")
    (root / relative).write_bytes(data if data is not None else busy_logo())
    code, said = run(root, "check", capsys=capsys)
    assert code != 0, said
    assert said_part in said, said


def test_check_refuses_a_stylesheet_linked_out_of_styles(tmp_path, outside, capsys):
    root = small_project(tmp_path / "project")
    (root / "styles/leaflet.css").symlink_to(outside)
    code, said = run(root, "check", capsys=capsys)
    assert code != 0, said
    assert "may not read" in said and "leaflet.css" in said
    assert "the-outside-secret-line" not in said


def test_the_limits_are_settings_of_careleaf_yaml(tmp_path, capsys):
    root = small_project(tmp_path / "project")
    (root / "careleaf.yaml").write_text(textwrap.dedent("""\
        limits:
          wording_bytes: 1000
        """))
    code, said = run(root, "check", capsys=capsys)
    assert code != 0
    assert "the limit is 1,000 bytes (the setting limits.wording_bytes in careleaf.yaml)" in said


# --- 5. render workers' memory ------------------------------------------------------------------------------

def test_a_render_worker_is_held_to_its_memory_limit_and_the_next_job_still_runs():
    from careleaf.build.workers import Pool
    from careleaf.project import THEME

    with Pool(1, time_limit=120, folders=(THEME / "styles",), limits=Limits(render_memory_mb=1024)) as pool:
        with pytest.raises(MemoryError):
            pool.schedule(eval, "len(bytearray(1536 * 2**20))").result(timeout=120)
        assert pool.schedule(eval, "len(bytearray(64 * 2**20))").result(timeout=120) == 64 * 2**20


def test_a_leaflet_that_runs_out_of_memory_fails_naming_itself_and_the_setting(tmp_path, capsys):
    """A limit too low for any leaflet: each fails by name, saying which setting to raise; nothing hangs."""
    root = small_project(tmp_path / "project")
    (root / "careleaf.yaml").write_text("limits:\n  render_memory_mb: 150\n")
    code, said = build(root, capsys)
    assert code == 1, said
    failures = [line for line in said.splitlines() if line.startswith(f"Error: {SMALL_BRAND}/en/")]
    assert len(failures) == 2 and all("limits.render_memory_mb" in line for line in failures), said
