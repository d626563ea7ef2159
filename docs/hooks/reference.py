"""The reference pages, made from the code each time the site is built (a mkdocs hook).

``docs/reference/commands.md`` and ``docs/reference/fields.md`` hold a short
introduction and a placeholder; ``on_page_markdown`` replaces the placeholder with
tables generated here:

* commands: every sub-command of the argparse parser (``parser()`` in the CLI
  module) and every option and argument, with its help text;
* fields: every field of every file an editor or the technical person writes,
  read from the dataclass declarations (the content model and ``careleaf.yaml``'s
  settings): its type, its default and its description (the ``doc`` each field
  is declared with).

Anything without help text or a description is printed with ``MISSING_MARK`` and
logged as a warning, so ``mkdocs build --strict`` stops; ``tests/test_docs.py``
imports the same functions and fails too. The text on these pages is the code's
own: to change it, change the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import html
import logging
import re
import sys
import types
import typing
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

ROOT = Path(__file__).resolve().parents[2]

log = logging.getLogger("mkdocs.hooks.reference")

MISSING_MARK = "⚠ MISSING DESCRIPTION: add one in the code"
COMMANDS_PLACEHOLDER = "<!-- careleaf:commands -->"
FIELDS_PLACEHOLDER = "<!-- careleaf:fields -->"
PAGES = {"reference/commands.md": COMMANDS_PLACEHOLDER, "reference/fields.md": FIELDS_PLACEHOLDER}


# --- where the code is (before and after the package was split into sub-folders) -----------------

def _checkout_first() -> None:
    """Document the checkout this site is built from (mkdocs restores sys.path after loading a hook)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def cli_parser() -> argparse.ArgumentParser:
    _checkout_first()
    try:
        from careleaf.cli.main import parser
    except ImportError:
        from careleaf.cli import parser
    return parser()


def model_module():
    _checkout_first()
    try:
        from careleaf.content import model
    except ImportError:
        from careleaf import model
    return model


def settings_module():
    _checkout_first()
    try:
        from careleaf.content import settings
    except ImportError:
        from careleaf import settings
    return settings


# --- text in a Markdown table cell ------------------------------------------------------------------

def cell(text: str) -> str:
    """Plain text for a table cell: `code` kept as code, everything else printed as typed."""
    parts = text.replace("\n", " ").split("`")
    if len(parts) % 2 == 0:      # an odd number of backticks: no code spans
        parts = [text.replace("\n", " ")]
    out = []
    for number, part in enumerate(parts):
        escaped = html.escape(part, quote=False).replace("|", "&#124;")
        if number % 2:
            out.append(f"<code>{escaped}</code>")
        else:
            for mark in "\\*_[]{}#":
                escaped = escaped.replace(mark, "\\" + mark)
            out.append(escaped)
    return "".join(out)


def sentence(text: str) -> str:
    """Help text as a table shows it: starting with a capital."""
    return text[:1].upper() + text[1:]


def code(text: str) -> str:
    return f"<code>{html.escape(text, quote=False).replace('|', '&#124;')}</code>"


# --- commands -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One option or argument of one command, as the parser declares it."""

    command: str          # "careleaf" for the options before the command, else "careleaf build", …
    names: str            # "--out", "--no-large-print", or the metavar of an argument ("DIR")
    value: str            # what follows it ("DIR", "{pre-treatment,aftercare}"), "" for a switch
    help: str | None      # None when the code gives none
    required: bool
    group: str            # the argument group's title
    not_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str             # "careleaf build"
    summary: str | None   # the one line in `careleaf --help`; None when the code gives none
    description: str
    usage: str
    epilog: str
    options: tuple[Option, ...]


WIDTH = 80    # usage lines wrapped the same whatever the terminal is


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str | None:
    if not action.help or not action.help.strip():
        return None
    text = action.help
    if "%" in text:     # %(default)s and the like, expanded as --help does
        text = parser.formatter_class(prog=parser.prog)._expand_help(action)
    return " ".join(text.split())


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = parser.formatter_class(prog=parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def _options(parser: argparse.ArgumentParser, command: str) -> list[Option]:
    exclusive = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            exclusive[action] = tuple(a.option_strings[-1] for a in group._group_actions if a is not action)
    found = []
    for group in parser._action_groups:
        for action in group._group_actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
                continue
            if action.option_strings:
                names = ", ".join(action.option_strings)
                takes_value = action.nargs != 0
                value = ""
                if takes_value:
                    value = action.metavar or ("{" + ",".join(map(str, action.choices)) + "}" if action.choices
                                               else action.dest.upper())
                    if action.nargs in ("+", "*"):
                        value += " …"
            else:
                names = action.metavar or action.dest
                value = "{" + ",".join(map(str, action.choices)) + "}" if action.choices else ""
                if action.nargs in ("+", "*"):
                    names += " …"
            found.append(Option(command, names, value, _help(parser, action),
                                bool(action.required) if action.option_strings else action.nargs not in ("?", "*"),
                                group.title or "", exclusive.get(action, ())))
    return found


def commands() -> list[Command]:
    """The top-level options, then every sub-command in the order `careleaf --help` lists them."""
    main = cli_parser()
    found = [Command(main.prog, main.description, "", _usage(main), main.epilog or "", tuple(_options(main, main.prog)))]
    for action in main._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        summaries = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            summary = summaries.get(name)
            summary = " ".join(summary.split()) if summary and summary.strip() else None
            found.append(Command(sub.prog, summary, " ".join((sub.description or "").split()), _usage(sub),
                                 " ".join((sub.epilog or "").split()), tuple(_options(sub, sub.prog))))
    return found


def missing_help() -> list[str]:
    """Every command and option that has no help text, named as a person would type it."""
    missing = []
    for command in commands():
        if command.summary is None:
            missing.append(f"{command.name} (the command's one-line help)")
        missing += [f"{command.name} {option.names}" for option in command.options if option.help is None]
    return missing


def anchor(command: str) -> str:
    return "global" if " " not in command else command.split(" ", 1)[1]


def commands_markdown() -> str:
    everything = commands()
    main, subs = everything[0], everything[1:]
    lines = ["| Command | What it does |", "|---|---|"]
    lines += [f"| [{code(c.name)}](#{anchor(c.name)}) | {cell(sentence(c.summary or MISSING_MARK))} |" for c in subs]
    lines += ["", f"## Options before the command {{ #{anchor(main.name)} }}", ""]
    lines += _command_body(main, with_summary=False)
    for command in subs:
        lines += ["", f"## {command.name} {{ #{anchor(command.name)} }}", ""]
        lines += _command_body(command, with_summary=True)
    return "\n".join(lines) + "\n"


def _command_body(command: Command, *, with_summary: bool) -> list[str]:
    lines = []
    if with_summary:
        lines += [cell(sentence(command.summary or MISSING_MARK)) + ".", ""]
    if command.description:
        lines += [cell(command.description), ""]
    lines += ["```text", command.usage, "```", ""]
    groups: dict[str, list[Option]] = {}
    for option in command.options:
        groups.setdefault(option.group, []).append(option)
    for title, options in groups.items():
        if len(groups) > 1 or title not in ("options", "optional arguments"):
            lines += [f"**{cell(title[:1].upper() + title[1:])}**", ""]
        heading = "Argument" if not any(option.names.startswith("-") for option in options) else "Option"
        lines += [f"| {heading} | Value | What it does |", "|---|---|---|"]
        for option in options:
            said = cell(sentence(option.help)) if option.help else f"**{MISSING_MARK}**"
            if option.required and option.names.startswith("-"):
                said = "Required. " + said
            if option.not_with:
                said += " Not with " + ", ".join(code(other) for other in option.not_with) + "."
            lines.append(f"| {code(option.names)} | {code(option.value) if option.value else ''} | {said} |")
        lines.append("")
    if command.epilog:
        lines += [cell(command.epilog), ""]
    return lines


# --- fields ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileKind:
    """A kind of file, and the class its whole content (or each entry of it) is read into."""

    title: str
    path: str
    about: str
    root: str                  # the class's name in its module
    module: str                # "model" or "settings"
    each: str = ""             # for a file of entries under names (countries.yaml): what one entry is


FILE_KINDS = [
    FileKind("Brands", "leaflets/brands/<brand>.yaml", "One clinic: its name, colours, contact details, page size "
             "and languages.", "Brand", "model"),
    FileKind("Treatment facts", "leaflets/treatments/<treatment>/treatment.yaml", "A treatment's facts and "
             "figures, the same in every language, and its leaflets with their approval records.",
             "Treatment", "model"),
    FileKind("Treatment wording", "leaflets/treatments/<treatment>/<lang>.yaml", "A treatment's wording in one "
             "language (en.yaml, tr.yaml).", "TreatmentWording", "model"),
    FileKind("Shared wording", "leaflets/shared/<lang>.yaml", "Questions and answers several treatments use, and "
             "the urgent-help box, in one language.", "SharedWording", "model"),
    FileKind("Check settings", "leaflets/check.yaml", "What `careleaf check` and the build hold the wording to.",
             "CheckSettings", "model"),
    FileKind("Countries", "templates/countries.yaml", "Facts about each country a clinic may be in, one entry "
             "under each country's two-letter code (`GB:`, `US:`, `TR:`). careleaf's theme has this file; a project "
             "may copy it to its own `templates/` folder and change it.", "CountryFacts", "model", each="country"),
    FileKind("Front desk settings", "careleaf.yaml", "The front desk's settings: email, the outbox, the web page, the "
             "data folder. Optional: without it, everything has its default.", "Settings", "settings"),
]


@dataclass(frozen=True)
class Field:
    """One field of one file kind, as its dataclass declares it."""

    file: str          # the file kind's path
    path: str          # where it is written: "colours.primary", "leaflets[].code"
    name: str
    type: str          # in plain words (Markdown)
    default: str       # "required", or the default (Markdown)
    doc: str | None    # None when the code gives no description


@dataclass
class _Table:
    cls: type
    path: str          # "" for the top level
    heading: str
    anchor: str
    fields: list[Field] = dataclasses.field(default_factory=list)


_SCALARS = {
    "Text": "text", "Verbatim": "text printed as typed (no invisible characters)",
    "Markup": "text with light formatting", "Id": "name (lower case, hyphens)",
    "Reference": "section or block name", "Code": "code (capitals, digits, hyphens)",
    "Colour": "colour (`#rrggbb`)", "Url": "web address (`https://…`)", "Language": "language code (`en`)",
    "Country": "country code (`GB`)", "TimeZone": "time zone (`Europe/London`)", "SvgFile": "SVG file name",
    "Duration": "time (`48-72 hours`, `2 weeks`)", "int": "whole number", "bool": "`true` or `false`",
    "str": "text", "date": "date (`YYYY-MM-DD`)",
}


def _module(kind: FileKind):
    return model_module() if kind.module == "model" else settings_module()


def _unwrap(kind: Any) -> Any:
    """X from Optional[X]."""
    if get_origin(kind) in (typing.Union, types.UnionType):
        rest = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _scalars(module) -> dict:
    """The validator's table of scalar kinds: written as one value (a Duration is '48-72 hours'), not as fields."""
    validate = sys.modules.get(getattr(getattr(module, "field", None), "__module__", ""))
    return getattr(validate, "SCALARS", {})


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _heading(path: str) -> str:
    """How a reader finds a nested block: `colours`, `leaflets`: each entry, `sections`: each entry, by name."""
    plain = path.replace("[]", "").replace(".<name>", "")
    if path.endswith("[]"):
        return f"`{plain}`: each entry"
    if path.endswith(".<name>"):
        return f"`{plain}`: each entry, under its name"
    return f"`{plain}`"


def _file_tables(kind: FileKind) -> list[_Table]:
    """The file's classes in the order a reader meets them, each once: the top level first."""
    module = _module(kind)
    root = getattr(module, kind.root)
    scalars = _scalars(module)
    base = _slug(kind.title)
    tables: list[_Table] = []
    placed: dict[type, str] = {}       # class -> the anchor of its one table

    def place(cls: type, where: str) -> str:
        if cls not in placed:
            placed[cls] = f"{base}-{_slug(where) or 'top'}"
            queue.append((cls, where))
        return "#" + placed[cls]

    def type_text(hint: Any, where: str) -> str:
        hint = _unwrap(hint)
        origin = get_origin(hint)
        if dataclasses.is_dataclass(hint) and hint not in scalars:
            return f"[the fields below]({place(hint, where)})"
        if origin is list:
            (item,) = get_args(hint)
            item = _unwrap(item)
            if dataclasses.is_dataclass(item):
                return f"list of [entries]({place(item, where + '[]')})"
            return "list of " + type_text(item, where + "[]")
        if origin is dict:
            key, item = (_unwrap(arg) for arg in get_args(hint))
            keys = ("one of " + ", ".join(f"`{k}`" for k in get_args(key)) if get_origin(key) is Literal
                    else type_text(key, where))
            if dataclasses.is_dataclass(item):
                return f"[entries]({place(item, where + '.<name>')}), each under a {keys}"
            return f"{type_text(item, where + '.<name>')} for each {keys}"
        if origin is Literal:
            return "one of " + ", ".join(f"`{value}`" for value in get_args(hint))
        name = getattr(hint, "__name__", str(hint))
        return _SCALARS.get(name, f"`{name}`")

    queue: list[tuple[type, str]] = []
    place(root, "")
    while queue:
        cls, path = queue.pop(0)
        table = _Table(cls, path, _heading(path) if path else "", placed[cls])
        tables.append(table)
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if not item.init:
                continue
            where = f"{path}.{item.name}" if path else item.name
            doc = (item.metadata or {}).get("doc")
            table.fields.append(Field(kind.path, where, item.name, type_text(hints[item.name], where), _default(item),
                                      " ".join(doc.split()) if isinstance(doc, str) and doc.strip() else None))
    return tables


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(item: dataclasses.Field) -> str:
    if item.default is MISSING and item.default_factory is MISSING:
        return "required"
    value = item.default if item.default is not MISSING else item.default_factory()
    if value is None:
        return "not set"
    if dataclasses.is_dataclass(value):
        return "the defaults below"
    if value in ([], {}):
        return "none"
    return code(_yaml(value))


def fields() -> list[Field]:
    """Every field of every file kind."""
    return [f for kind in FILE_KINDS for table in _file_tables(kind) for f in table.fields]


def missing_descriptions() -> list[str]:
    """Every field without a description, as 'file: path (Class.field)'."""
    missing = []
    for kind in FILE_KINDS:
        for table in _file_tables(kind):
            missing += [f"{kind.path}: {f.path} ({table.cls.__name__}.{f.name})" for f in table.fields if f.doc is None]
    return missing


def unlisted_classes() -> list[str]:
    """Dataclasses declared in the model or settings module that no file kind reaches: a file kind is missing."""
    reached = {table.cls for kind in FILE_KINDS for table in _file_tables(kind)}
    unlisted = []
    for module in (model_module(), settings_module()):
        for name, value in vars(module).items():
            if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
                    and value not in reached):
                unlisted.append(f"{module.__name__}.{name}")
    return unlisted


def _summary(cls: type) -> str:
    doc = cls.__doc__ or ""
    if not doc.strip() or doc.startswith(f"{cls.__name__}("):   # a dataclass without a docstring
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def fields_markdown() -> str:
    lines = []
    for kind in FILE_KINDS:
        lines += [f"## {kind.title}: `{kind.path}` {{ #{_slug(kind.title)} }}", "", cell(kind.about), ""]
        for table in _file_tables(kind):
            heading = table.heading or (f"Each {kind.each}" if kind.each else "Top level")
            lines += [f"### {heading} {{ #{table.anchor} }}", ""]
            summary = _summary(table.cls)
            if summary:
                lines += [cell(summary), ""]
            lines += ["| Field | Type | Default | Description |", "|---|---|---|---|"]
            for f in table.fields:
                description = cell(f.doc) if f.doc else f"**{MISSING_MARK}**"
                lines.append(f"| {code(f.name)} | {f.type} | {f.default} | {description} |")
            lines.append("")
    return "\n".join(lines) + "\n"


# --- the hook -------------------------------------------------------------------------------------

def on_page_markdown(markdown: str, page, config, files) -> str:
    placeholder = PAGES.get(page.file.src_uri)
    if placeholder is None:
        return markdown
    from mkdocs.exceptions import PluginError

    if placeholder not in markdown:
        raise PluginError(f"{page.file.src_uri} must keep the line {placeholder}: the generated tables go there")
    if placeholder == COMMANDS_PLACEHOLDER:
        generated = commands_markdown()
        for name in missing_help():
            log.warning("no help text in the code for %s (careleaf's CLI parser)", name)
    else:
        generated = fields_markdown()
        for name in missing_descriptions():
            log.warning("no description in the code for %s", name)
        for name in unlisted_classes():
            log.warning("%s is not on the fields page: add its file to FILE_KINDS in docs/hooks/reference.py", name)
    return markdown.replace(placeholder, generated)
