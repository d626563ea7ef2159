"""The command line: exit codes, messages, and what it leaves in the output folder.

Most tests copy an already built project (see conftest.py) so that only the
leaflets a test changes are rendered again.
"""

from __future__ import annotations

import argparse
import fcntl
import re
import shutil
from pathlib import Path

import pytest

from careleaf.cli import main as cli
from careleaf.build.run import pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.build.output import preview_html
from careleaf.handout.patient import PATIENT_FIELDS, REFERENCE

from conftest import files_state, replace_in, run_cli, with_theme

SUMMARY = re.compile(r"^(\d+) built, (\d+) unchanged, (\d+) removed, (\d+) failed in \d+\.\d s; output in out/$",
                     re.MULTILINE)


def summary(stdout: str) -> tuple[int, int, int, int]:
    found = SUMMARY.findall(stdout)
    assert len(found) == 1, stdout
    return tuple(int(n) for n in found[0])


def build(root: Path, *options: str, env: dict[str, str] | None = None):
    return run_cli("--project", ".", "build", "--out", "out", *options, cwd=root, env=env)


# --- success and incremental builds ----------------------------------------------------

def test_nothing_changed_builds_nothing_and_rewrites_nothing(sample, tmp_path):
    root, out = sample.copy_to(tmp_path / "project")
    before = files_state(out)
    result = build(root, "--no-large-print", "--quiet")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (0, len(sample.pdfs()), 0, 0)
    assert result.stderr == ""
    assert files_state(out) == before      # same bytes, same modification times, same files


def test_force_rebuilds_every_leaflet_with_the_same_bytes(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    before = files_state(out)
    standard = {name for name in before if not name.endswith("-large-print.pdf")}
    result = build(root, "--force", "--no-large-print")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (len(standard), 0, 0, 0)
    after = files_state(out)
    assert after.keys() == before.keys()
    for name in standard:
        assert after[name][0] == before[name][0], f"{name} differs when rebuilt from the same input"
        assert after[name][2] != before[name][2], f"{name} was not rewritten"
    for name in before.keys() - standard:
        assert after[name] == before[name], f"{name} was touched by a --no-large-print build"
    # Progress goes to stderr, one line per leaflet, when not --quiet.
    total = len(standard)
    assert sorted(re.findall(rf"^\[\d+/{total}\] (\S+)$", result.stderr, re.MULTILINE)) == \
        sorted(name.removesuffix(".pdf") for name in standard)


def test_only_the_changed_leaflet_is_rebuilt(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    before = files_state(out)
    replace_in(root / "leaflets/treatments/demo/en.yaml", "answer: Some redness.", "answer: Some redness, briefly.")
    result = build(root, "--quiet")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (2, 2, 0, 0)
    after = files_state(out)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {"clinic/en/demo-aftercare.pdf", "clinic/en/demo-aftercare-large-print.pdf"}


def test_deleted_pdf_is_built_again(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    original = (out / "clinic/en/demo-pre-treatment.pdf").read_bytes()
    (out / "clinic/en/demo-pre-treatment.pdf").unlink()
    result = build(root, "--quiet")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (1, 3, 0, 0)
    assert (out / "clinic/en/demo-pre-treatment.pdf").read_bytes() == original


def test_removed_leaflet_has_its_pdf_removed(sample, tmp_path):
    root, out = sample.copy_to(tmp_path / "project")
    gone = sorted(str(p.relative_to(out)) for p in out.rglob("botox-underarm-sweating-*.pdf"))
    kept = files_state(out)
    for name in gone:
        kept.pop(name)
    assert gone
    shutil.rmtree(root / "leaflets/treatments/botox-underarm-sweating")
    result = build(root, "--no-large-print", "--quiet")
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (0, len(kept), len(gone), 0)
    for name in gone:
        assert f"removed out/{name} (its leaflet no longer exists)" in result.stdout.splitlines()
    assert files_state(out) == kept


def test_no_large_print_leaves_existing_large_print_pdfs_alone(mini, tmp_path):
    """--no-large-print skips the variants; it must not delete them as if their leaflets were gone."""
    root, out = mini.copy_to(tmp_path / "project")
    before = files_state(out)
    result = build(root, "--no-large-print", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "removed" not in result.stdout.replace("0 removed", "")
    assert files_state(out) == before


def test_html_option_writes_every_leaflets_html(mini, tmp_path):
    """--html writes each leaflet's HTML beside its PDF, also when the PDF itself is up to date."""
    root, out = mini.copy_to(tmp_path / "project")
    result = build(root, "--html", "--quiet")
    assert result.returncode == 0, result.stderr
    project = Project(root)
    for page in pages(project, load_catalog(project)):
        written = out / page.job.output.with_suffix(".html")
        assert written.is_file(), f"{written.relative_to(out)} was not written"
        assert written.read_text("utf-8") == preview_html(page.html, page.job.output, large_print=page.job.large_print)


def test_html_preview_is_never_older_than_its_pdf(mini, tmp_path):
    """A build without --html updates a PDF; the next --html build must not keep the old preview beside it."""
    root, out = mini.copy_to(tmp_path / "project")
    assert build(root, "--html", "--quiet").returncode == 0
    replace_in(root / "leaflets/treatments/demo/en.yaml", "answer: Some redness.", "answer: Some redness, briefly.")
    assert build(root, "--quiet").returncode == 0
    result = build(root, "--html", "--quiet")
    assert result.returncode == 0, result.stderr
    preview = (out / "clinic/en/demo-aftercare.html").read_text("utf-8")
    assert "Some redness, briefly." in preview, "the preview shows wording the PDF no longer has"


# --- invalid input: exit 2, plain located messages, nothing touched ----------------------------

def test_duplicated_key_exits_2_and_leaves_built_pdfs_untouched(sample, tmp_path):
    root, out = sample.copy_to(tmp_path / "project")
    before = files_state(out)
    wording = root / "leaflets/treatments/botox-facial-lines/en.yaml"
    lines = wording.read_text("utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("name:"))
    lines.insert(at + 1, "name: Botox\n")
    wording.write_text("".join(lines), "utf-8")

    result = build(root, "--no-large-print")
    assert result.returncode == 2
    assert result.stderr == (
        f"leaflets/treatments/botox-facial-lines/en.yaml:{at + 2}:1: 'name' appears twice in the same place "
        f"(lines {at + 1} and {at + 2}); keep one of them\n"
        "1 problem found; nothing was built.\n")
    assert result.stdout == ""
    assert files_state(out) == before


def test_every_problem_is_reported_as_path_line_column(mini, tmp_path, capsys, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(mini.root, root)
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.\n", "    anwser: It is a demo.\n")
    replace_in(root / "leaflets/brands/clinic.yaml", "colours:\n  primary:", "colours:\n\tprimary:")
    monkeypatch.chdir(root)
    assert cli.main(["build", "--out", "out"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "leaflets/brands/clinic.yaml:5:1: this line is indented with a tab; YAML needs spaces. "
        "Replace the tab with spaces",
        "leaflets/treatments/demo/en.yaml:10:5: 'answer' is missing here "
        "(The answer: short paragraphs; **bold**, and lists with '- ' at the start of a line)",
        "leaflets/treatments/demo/en.yaml:11:5: unknown key 'anwser'; did you mean 'answer'?",
        "3 problems found; nothing was built.",
    ]
    assert captured.out == ""
    assert not (root / "out").exists()


@pytest.mark.parametrize("content, where", [
    (b"name: Test Clinic\nname: Again\n", ":2:1: 'name' appears twice"),
    ("name: Test Clinic\nphone: 020\x0b7946\n".encode(), ":2:11: "),
    ("name: caf\xe9\n".encode("latin-1"), ":1:10: this file is not saved as UTF-8 text"),
    (b"# nothing yet\n", ":1:1: this file is empty"),
], ids=["duplicate-key", "control-character", "not-utf8", "comments-only"])
def test_unreadable_file_exits_2_without_a_traceback(mini, tmp_path, content, where):
    root = tmp_path / "project"
    shutil.copytree(mini.root, root)
    (root / "leaflets/brands/clinic.yaml").write_bytes(content)
    result = build(root)
    assert result.returncode == 2, result.stderr
    first, last = result.stderr.splitlines()[0], result.stderr.splitlines()[-1]
    assert first.startswith("leaflets/brands/clinic.yaml" + where), result.stderr
    assert last == "1 problem found; nothing was built."
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr


# --- other failures: exit 1 --------------------------------------------------------------------

def test_reference_outside_the_assets_fails_the_leaflet_with_exit_1(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    failing = "clinic/en/demo-aftercare.pdf"
    before = files_state(out)[failing]
    contact = with_theme(root) / "templates/components/contact.html"   # the project's own copy of the template
    contact.write_text(contact.read_text("utf-8") + "{% if leaflet.job.kind == 'aftercare' and not "
                       "leaflet.job.large_print %}<img src=\"https://example.invalid/pixel.png\" alt=\"\">{% endif %}\n",
                       "utf-8")
    result = build(root, "--quiet", "--no-large-print")
    assert result.returncode == 1
    built, unchanged, removed, failed = summary(result.stdout)
    assert (built + unchanged, removed, failed) == (1, 0, 1)
    assert re.search(r"^Error: clinic/en/demo-aftercare: refers to files the renderer may not read: "
                     r"https://example\.invalid/pixel\.png", result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr
    # The good PDF from the last build is kept as it was.
    assert files_state(out)[failing] == before


def test_second_build_on_the_same_folder_is_refused(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    before = files_state(out)
    with open(out / ".careleaf.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = build(root, "--force")
    assert result.returncode == 1
    assert result.stderr == "Error: another build is writing to out right now; wait for it to finish and try again\n"
    assert files_state(out) == before


def test_leaflet_past_its_review_date_is_not_printed(mini, tmp_path):
    root, out = mini.copy_to(tmp_path / "project")
    before = files_state(out)
    result = build(root, "--force", env={"CARELEAF_TODAY": "2099-01-06"})
    assert result.returncode == 1
    assert "DEMO-AC (demo aftercare) was due for review by 2099-01-05" in result.stderr
    assert "DEMO-PT (demo pre-treatment) was due for review by 2099-01-05" in result.stderr
    assert "--allow-overdue" in result.stderr
    assert files_state(out) == before


# --- options and help --------------------------------------------------------------------------

def documented_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def help_text(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_documents_every_option_of_every_command(capsys):
    main = cli.parser()
    commands = subcommands(main)
    assert "build" in commands
    parsers = {(): main, **{(name,): sub for name, sub in commands.items()}}
    for prefix, parser in parsers.items():
        shown = help_text([*prefix, "--help"], capsys)
        for action in documented_options(parser):
            assert action.help and action.help != argparse.SUPPRESS, f"{action.option_strings} has no help text"
            for option in action.option_strings:
                assert option in shown, f"{option} missing from {' '.join(prefix) or 'main'} --help"
            assert " ".join(action.help.split()) in shown, action.option_strings
        if not prefix:
            for name in commands:
                assert name in shown


@pytest.mark.parametrize("command", ["handout", "send"])
def test_every_patient_field_is_an_option_with_its_description_and_limit(command, capsys):
    shown = help_text([command, "--help"], capsys)
    for field in PATIENT_FIELDS:
        assert f"--{field.name} TEXT {field.help} (at most {field.limit} characters)" in shown, field.name
    assert f"--{REFERENCE.name}" in shown and REFERENCE.help in shown


def test_version(capsys):
    from careleaf import __version__
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"careleaf {__version__}"


@pytest.mark.parametrize("argv, message", [
    (["build", "--jobs", "0"], "argument --jobs: '0' should be a whole number of 1 or more"),
    (["build", "--jobs", "two"], "argument --jobs: 'two' should be a whole number of 1 or more"),
    (["build", "--shard", "3/2"], "argument --shard: '3/2' should look like 1/4 (the first of four shares)"),
    (["build", "--shard", "0/4"], "argument --shard: '0/4' should look like 1/4 (the first of four shares)"),
    (["build", "--colour"], "unrecognized arguments: --colour"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith(message)
