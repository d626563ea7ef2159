"""careleaf as a tool and a clinic's folder as its project: `careleaf new`, finding the project,
the theme's templates and styles replaced file by file, and a plain word when run with the wrong Python."""

from __future__ import annotations

import subprocess
import sys

import pypdf
import pytest

from careleaf.content.catalog import load_catalog
from careleaf.cli.main import main
from careleaf.project import THEME, Project

from conftest import GENERATE, copy_project, mini_project, pdf_pages_text, replace_in, run_cli


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A project written by `careleaf new`, built once with the command as a new user runs it."""
    folder = tmp_path_factory.mktemp("new") / "my-leaflets"
    assert main(["new", str(folder)]) == 0
    result = run_cli("build", "--quiet", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


def test_new_writes_a_small_project_that_builds_as_it_is(started):
    assert sorted(p.relative_to(started).as_posix() for p in (started / "out").rglob("*.pdf")) == [
        "out/my-clinic/en/example-treatment-aftercare-large-print.pdf",
        "out/my-clinic/en/example-treatment-aftercare.pdf",
        "out/my-clinic/en/example-treatment-pre-treatment-large-print.pdf",
        "out/my-clinic/en/example-treatment-pre-treatment.pdf"]
    pdf = started / "out/my-clinic/en/example-treatment-aftercare.pdf"
    assert "/StructTreeRoot" in pypdf.PdfReader(pdf).trailer["/Root"]    # tagged
    text = " ".join(pdf_pages_text(pdf))
    assert "My Clinic" in text and "Redness where you were treated" in text
    assert "DRAFT" in text   # nobody has approved the example wording
    # Only content and the logo are the project's; the templates and styles are careleaf's own (the project's
    # templates/ and styles/ hold only a note on replacing them).
    assert not [p for p in (started / "templates").rglob("*") if p.name != "README.md"]
    assert not (started / "styles/leaflet.css").exists()
    assert sorted(p.name for p in (started / "leaflets/schema").iterdir()) == [
        "brand.schema.json", "check.schema.json", "shared-wording.schema.json", "treatment-wording.schema.json",
        "treatment.schema.json"]


def test_new_project_passes_check_without_errors(started):
    result = run_cli("check", cwd=started)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_a_project_names_its_own_parts_in_one_place(tmp_path):
    """What careleaf reads of a project and where it writes, as the project's documentation lays it out."""
    project = Project(tmp_path)
    assert project.inputs == (tmp_path / "leaflets", tmp_path / "templates", tmp_path / "styles",
                              tmp_path / "careleaf.yaml")
    assert project.template_folders == (tmp_path / "templates", THEME / "templates")
    assert project.asset_folders == (tmp_path / "styles", THEME / "styles")
    assert project.out == tmp_path / "out"
    assert project.is_shared_output(tmp_path / "out" / "clinic" / "leaflet.pdf")
    assert not project.is_shared_output(tmp_path / "letters" / "leaflet.pdf")


def test_new_refuses_a_folder_that_holds_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["new", str(tmp_path)]) == 2
    assert "this folder is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_commands_find_the_project_from_a_folder_inside_it(tmp_path):
    root = mini_project(tmp_path / "clinic")
    inside = root / "leaflets" / "treatments"
    result = run_cli("build", "--quiet", "--no-large-print", cwd=inside)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (root / "out/clinic/en").iterdir()) == [
        "demo-aftercare.pdf", "demo-pre-treatment.pdf"]
    assert not (inside / "out").exists()


def test_outside_any_project_the_command_says_how_to_start_one(tmp_path):
    result = run_cli("build", cwd=tmp_path)
    assert result.returncode == 2
    assert "no careleaf project here" in result.stderr and "careleaf new DIR" in result.stderr
    assert "Traceback" not in result.stderr
    given = run_cli("--project", str(tmp_path), "check", cwd=tmp_path)
    assert given.returncode == 2 and "has no leaflets/ folder" in given.stderr


def test_a_project_template_replaces_the_themes_file_of_that_name(tmp_path):
    root = mini_project(tmp_path / "clinic")
    contact = root / "templates/components/contact.html"
    contact.parent.mkdir(parents=True)
    contact.write_text((THEME / "templates/components/contact.html").read_text("utf-8").replace(
        "<h2>{{ label.contact }}</h2>", "<h2>{{ label.contact }}</h2><p>Open late on Thursdays</p>"), "utf-8")
    result = run_cli("build", "--quiet", "--no-large-print", cwd=root)
    assert result.returncode == 0, result.stderr
    text = " ".join(pdf_pages_text(root / "out/clinic/en/demo-aftercare.pdf"))
    assert "Open late on Thursdays" in text
    assert "Possible side effects" in text    # the theme's other templates still apply


def test_a_project_labels_file_replaces_the_themes_words(tmp_path):
    root = mini_project(tmp_path / "clinic")
    labels = root / "templates/labels/en.yaml"
    labels.parent.mkdir(parents=True)
    labels.write_text((THEME / "templates/labels/en.yaml").read_text("utf-8"), "utf-8")
    replace_in(labels, "side_effects: Possible side effects", "side_effects: Side effects you might notice")
    catalog = load_catalog(Project(root))
    assert catalog.labels["en"]["side_effects"] == "Side effects you might notice"
    assert catalog.documents["templates/labels/en.yaml"].path == labels


def test_a_project_stylesheet_replaces_the_themes_and_still_finds_the_themes_fonts(tmp_path):
    """A project's leaflet.css is used; the fonts it names, which the project does not have, are the theme's."""
    root = mini_project(tmp_path / "clinic")
    css = (THEME / "styles/leaflet.css").read_text("utf-8")
    (root / "styles/leaflet.css").write_text(css + '\nh1::after { content: " (clinic style)"; }\n', "utf-8")
    result = run_cli("build", "--quiet", "--no-large-print", cwd=root)
    assert result.returncode == 0, result.stderr
    pdf = root / "out/clinic/en/demo-aftercare.pdf"
    assert "(clinic style)" in pdf_pages_text(pdf)[0]
    fonts = {str(font["/BaseFont"]).split("+")[-1] for page in pypdf.PdfReader(pdf).pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts == {"Leaflet-Sans", "Leaflet-Sans-Bold"}, fonts


def test_without_its_dependencies_the_command_says_how_to_run_it(tmp_path):
    """`python3 generate.py build` with a Python careleaf was not installed into: a plain way forward."""
    root = copy_project(tmp_path / "project")
    # -S: without site-packages, as a system Python without careleaf's requirements would be.
    result = subprocess.run([sys.executable, "-S", str(GENERATE), "build"], cwd=root, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "make leaflets" in result.stderr and ".venv/bin/python generate.py build" in result.stderr
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    assert not (root / "out").exists()
