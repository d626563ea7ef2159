"""The documentation site: it builds with `mkdocs build --strict`, its reference pages cover every command,
option and field with a description, and the README stays one screen.

The reference pages are made by docs/hooks/reference.py when the site is built; these tests import the same
functions, so they check exactly what the site shows. A failure naming an option or a field means the code
lacks its help text or description: add it there (the `help=` of the option, the `field("…")` of the field).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "docs" / "hooks" / "reference.py"
MKDOCS = Path(sys.executable).with_name("mkdocs")


def _load_hook():
    spec = importlib.util.spec_from_file_location("careleaf_docs_reference", HOOK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True   # no __pycache__ left in docs/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


reference = _load_hook()


def _sections(markdown: str) -> dict[str, str]:
    """The generated commands page cut at its level-2 headings, by anchor ('global', 'build', …)."""
    found = {}
    for part in re.split(r"^## ", markdown, flags=re.M)[1:]:
        anchor = re.search(r"\{ #([\w-]+) \}", part.splitlines()[0])
        found[anchor.group(1)] = part
    return found


@pytest.mark.slow
def test_the_site_builds_strictly_with_the_generated_reference(tmp_path):
    assert MKDOCS.exists(), (f"mkdocs is not installed in {MKDOCS.parent}: run `make docs`, or "
                             f"{Path(sys.executable).with_name('pip')} install -e '.[docs]'")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONDONTWRITEBYTECODE="1")
    built = subprocess.run([str(MKDOCS), "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                            "--site-dir", str(site)], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr

    commands = (site / "reference" / "commands" / "index.html").read_text("utf-8")
    for command in reference.commands():
        assert command.name in commands, f"{command.name} is not on the built commands page"
    assert "--time-limit" in commands and "--certfile" in commands
    fields = (site / "reference" / "fields" / "index.html").read_text("utf-8")
    for kind in reference.FILE_KINDS:
        assert f'id="{reference._slug(kind.title)}"' in fields, f"{kind.path} has no section on the built fields page"
    assert "urgent_phone" in fields and "render_workers" in fields
    assert reference.MISSING_MARK not in commands + fields
    # Nothing fetched from the network: the theme's fonts are off, so no page asks Google for them.
    pages = "".join(page.read_text("utf-8") for page in site.rglob("*.html"))
    assert "fonts.googleapis.com" not in pages and "fonts.gstatic.com" not in pages
    # The hook's own code is not published with the pages.
    assert not (site / "hooks").exists()


def test_every_command_and_option_has_help_text():
    missing = reference.missing_help()
    assert not missing, ("These commands and options have no help text in the CLI's parser; add help= to each:\n  "
                         + "\n  ".join(missing))


def test_every_command_and_option_is_on_the_commands_page():
    page = _sections(reference.commands_markdown())
    for command in reference.commands():
        section = page.get(reference.anchor(command.name))
        assert section is not None, f"{command.name} has no section on the commands page"
        for option in command.options:
            assert reference.code(option.names) in section, f"{command.name} {option.names} is not on the page"
            if option.help:
                assert reference.cell(reference.sentence(option.help)) in section


def test_the_commands_page_covers_the_parser_walked_on_its_own():
    """Walked here without the hook's help: every sub-command and every option string of the parser."""
    parser = reference.cli_parser()
    page = _sections(reference.commands_markdown())
    [subcommands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = [("global", parser)] + list(subcommands.choices.items())
    assert {"build", "check", "changes", "handout", "send", "worker", "serve"} <= set(subcommands.choices)
    for name, sub in parsers:
        section = page.get(name)
        assert section is not None, f"careleaf {name} has no section on the commands page"
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
                continue
            for said in action.option_strings or [action.metavar or action.dest]:
                assert said in section, f"careleaf {name} {said} is not on the commands page"
            assert action.help and action.help.strip(), f"careleaf {name} {action.option_strings or action.dest} has no help"
    summaries = {choice.dest: choice.help for choice in subcommands._choices_actions}
    for name in subcommands.choices:
        assert summaries.get(name), f"careleaf {name} has no one-line help (help= in add_parser)"


def test_every_field_of_every_file_has_a_description():
    missing = reference.missing_descriptions()
    assert not missing, ("These fields have no description in the code; give each its field(\"…\") text:\n  "
                         + "\n  ".join(missing))


def test_every_declared_file_kind_is_on_the_fields_page():
    unlisted = reference.unlisted_classes()
    assert not unlisted, ("These dataclasses are not reached from any file on the fields page; add their file to "
                          "FILE_KINDS in docs/hooks/reference.py:\n  " + "\n  ".join(unlisted))


def test_the_fields_page_shows_each_field_with_its_type_default_and_description():
    page = reference.fields_markdown()
    rows = {line for line in page.splitlines() if line.startswith("| <code>")}
    for field in reference.fields():
        description = reference.cell(field.doc) if field.doc else f"**{reference.MISSING_MARK}**"
        row = f"| {reference.code(field.name)} | {field.type} | {field.default} | {description} |"
        assert row in rows, f"{field.file}: {field.path} is not on the fields page as declared"
    for name in ("leaflets/brands/<brand>.yaml", "treatment.yaml", "leaflets/check.yaml", "careleaf.yaml"):
        assert name in page
    # Spot checks against the declarations: a required field, a default, a nested block.
    assert "| <code>urgent_phone</code> | text printed as typed (no invisible characters) | required |" in page
    assert "| <code>port</code> | whole number | <code>587</code> |" in page
    assert "`colours`" in page and "`leaflets`: each entry" in page


def test_the_readme_is_one_screen_and_names_the_two_commands():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.encode("utf-8")) < 10 * 1024, f"README.md is {len(readme.encode('utf-8')):,} bytes; keep it under 10 KB"
    assert "make leaflets" in readme and "make test" in readme
    assert "system-packages.txt" in readme and "make docs" in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).exists(), f"README.md links to {link}, which does not exist"
