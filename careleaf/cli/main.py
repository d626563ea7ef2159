"""The command line: parse options, run the library, turn its errors into plain messages.

Each command imports the library it runs inside its own function: `careleaf --help` stays instant, a build
never loads the readability or email libraries, and a Python lacking careleaf's packages gets a plain message
(main catches ModuleNotFoundError) instead of a traceback. Only the standard library and careleaf modules that
need nothing beyond it (errors, project, writing a file) are imported at the top.

Exit codes for build: 0 success, 1 a leaflet failed to render, 2 the input is invalid.
``check`` exits 1 when it finds an error; ``changes`` exits 1 when a leaflet needs
a new version number and 2 for a revision git does not know.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from careleaf import __version__
from careleaf.build.output import write_atomically
from careleaf.cli import desk as desk_commands
from careleaf.cli.progress import progress_printer
from careleaf.errors import HandoutError, InputError, RenderError, RevisionError
from careleaf.project import Project, find_project

EXIT_OK, EXIT_RENDER, EXIT_INPUT = 0, 1, 2
EXIT_FOUND = 1  # check found an error; changes found a leaflet that needs a new version number


def parser() -> argparse.ArgumentParser:
    from careleaf.build.run import DEFAULT_TIME_LIMIT   # here, not at the top: a Python lacking careleaf's packages is told so

    main = argparse.ArgumentParser(
        prog="careleaf",
        description="Build printable, accessible patient leaflets (PDF) from the YAML wording in leaflets/.",
        epilog="Exit status: 0 success, 1 a leaflet failed to render, 2 the input is invalid.")
    main.add_argument("--version", action="version", version=f"careleaf {__version__}")
    main.add_argument("--project", type=Path, metavar="DIR",
                      help="the project folder holding leaflets/ (default: this folder, or the nearest one above "
                           "it that has leaflets/)")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new_cmd = commands.add_parser("new", help="start a new project: your clinic, an example treatment, ready to build",
                                  description="Write a working project for your clinic into DIR: leaflets/ with the "
                                              "clinic's brand file (every field present and explained), check.yaml "
                                              "with the defaults, and an example treatment in each of its "
                                              "languages; the brand's logo in styles/. What is not given as an "
                                              "option is asked for (or, when not typing at a terminal, left at its "
                                              "default). Templates, stylesheets and fonts come with careleaf; copy "
                                              "one into the project's templates/ or styles/ to change it.")
    new_cmd.add_argument("folder", type=Path, metavar="DIR", help="the new project's folder (empty or not yet there)")
    new_cmd.add_argument("--name", metavar="NAME", help="the clinic's name, as printed on every leaflet")
    new_cmd.add_argument("--country", metavar="CC", help="the clinic's country as two capital letters: GB, US, TR …")
    new_cmd.add_argument("--time-zone", metavar="ZONE",
                         help="the clinic's time zone (default: the country's, e.g. Europe/Istanbul for TR)")
    new_cmd.add_argument("--languages", metavar="LANG,LANG",
                         help="the languages it hands leaflets out in, e.g. tr,en (default: en)")
    new_cmd.add_argument("--page-size", choices=("A4", "Letter", "A5"),
                         help="the paper (default: Letter in the US, A4 elsewhere)")

    build_cmd = commands.add_parser("build", help="build every leaflet's PDF",
                                    description="Check every input, then build each leaflet for each brand "
                                                "and language. Only leaflets that changed are rebuilt.")
    build_cmd.add_argument("--out", type=Path, metavar="DIR",
                           help="where PDFs are written, as DIR/<brand>/<lang>/<treatment>-<kind>.pdf "
                                "(default: out/ in the project)")
    build_cmd.add_argument("--force", action="store_true", help="rebuild every leaflet, changed or not")
    build_cmd.add_argument("--full-check", action="store_true",
                           help="read and check every file even if none changed since the last build (without it, "
                                "a build whose inputs are all unchanged, by size, time and content, stops there)")
    build_cmd.add_argument("--html", action="store_true",
                           help="also write each leaflet's HTML beside its PDF, to preview in a browser")
    build_cmd.add_argument("--jobs", type=_positive, default=os.cpu_count() or 1, metavar="N",
                           help="how many leaflets to render at once (default: the number of cores)")
    build_cmd.add_argument("--no-large-print", dest="large_print", action="store_false",
                           help="skip the large-print variants")
    build_cmd.add_argument("--shard", type=_shard, metavar="K/N",
                           help="build only the K-th of N stable shares of the catalog (for splitting across machines)")
    build_cmd.add_argument("--time-limit", type=_positive, default=int(DEFAULT_TIME_LIMIT), metavar="SECONDS",
                           help="stop rendering a leaflet that takes longer than this; it fails, the others "
                                f"go on (default: {int(DEFAULT_TIME_LIMIT)})")
    build_cmd.add_argument("--allow-overdue", action="store_true",
                           help="build leaflets past their review date anyway, each page marked REVIEW OVERDUE")
    build_cmd.add_argument("--quiet", action="store_true", help="print only problems and the summary")

    check_cmd = commands.add_parser("check", help="check the wording without building anything",
                                    description="Read every input and report problems, review dates, drafts, "
                                                "stale translations and wording that is hard to read (targets "
                                                "in leaflets/check.yaml), with each answer's readability score. "
                                                "Nothing is built.",
                                    epilog="Exit status: 0 no errors (warnings and notes allowed), 1 errors found.")
    check_cmd.add_argument("--json", action="store_true", help="print the findings and scores as JSON")

    changes_cmd = commands.add_parser("changes", help="list wording changed since a git revision, for sign-off",
                                      description="Compare the wording and facts with those at a git revision "
                                                  "(a commit, tag or branch, e.g. HEAD~1 or v3): show each change "
                                                  "word by word, the leaflets and PDFs it reaches, and the "
                                                  "leaflets whose version number was not raised.",
                                      epilog="Exit status: 0 every changed leaflet has a new version, "
                                             "1 a leaflet needs a version bump, 2 bad revision or invalid input.")
    changes_cmd.add_argument("revision", metavar="REV", help="the git revision the PDFs in use were built from")
    changes_cmd.add_argument("--out", type=Path, metavar="DIR",
                             help="the output folder the PDFs are named in (default: out/ in the project)")
    changes_cmd.add_argument("--json", action="store_true", help="print the changes as JSON")

    approve_cmd = commands.add_parser(
        "approve", help="sign off a leaflet's wording as a clinician, after reading what changed",
        description="Show the sign-off sheet of leaflet CODE (what changed, word by word, since its last "
                    "approval), then record the approval in its treatment.yaml: who, when, and which wording. "
                    "Changing anything it prints afterwards makes it await re-approval (a draft) again. "
                    "Approving changed wording raises its version number.",
        epilog="Exit status: 0 approved (or shown), 2 it cannot be approved yet or the input is invalid.")
    approve_cmd.add_argument("code", metavar="CODE", help="the leaflet's code, for example BTX-FL-AC")
    approve_cmd.add_argument("--lang", metavar="LANG",
                             help="approve this language only (default: every language the leaflet is offered in)")
    approve_cmd.add_argument("--by", metavar="NAME", help="the approving clinician, for example \"Dr A. Example\"")
    approve_cmd.add_argument("--show", action="store_true", help="only show the sign-off sheet; approve nothing")

    translations_cmd = commands.add_parser(
        "translations", help="list translations older than their English, or mark one as reviewed",
        description="Without options: list every translated item whose English wording changed since it was "
                    "translated. With --reviewed: after updating a translation file, record that it now matches "
                    "the current English.")
    translations_cmd.add_argument("--reviewed", type=Path, nargs="+", metavar="FILE",
                                  help="translation files (e.g. leaflets/shared/tr.yaml) brought up to date")

    booklet_cmd = commands.add_parser(
        "booklet", help="impose an A5 leaflet's pages on A4 sheets, to print double-sided and fold",
        description="Make a booklet of an A5 leaflet PDF (a brand with page_size: A5): its pages two to an A4 "
                    "landscape sheet, in booklet order. Print it on both sides with \"flip on short edge\", fold "
                    "the stack in half and staple along the fold. The booklet is for printing only: it is not "
                    "tagged for screen readers, so give the A5 leaflet itself to anyone reading on screen.",
        epilog="Exit status: 0 written, 1 the booklet could not be written, 2 the file is not an A5 leaflet PDF.")
    booklet_cmd.add_argument("leaflet", type=Path, metavar="LEAFLET.pdf", help="the A5 leaflet PDF")
    booklet_cmd.add_argument("--out", type=Path, metavar="BOOKLET.pdf",
                             help="where to write the booklet (default: beside the leaflet, as <name>-booklet.pdf)")
    audit_cmd = commands.add_parser(
        "audit", help="check PDFs the way a screen reader reads them",
        description="Walk each PDF's tag tree and page content, and name in plain words what a screen reader "
                    "would miss, hear twice or hear out of order: content neither tagged nor an artifact, tables "
                    "without header cells, figures without alt text, skipped heading levels, elements split by a "
                    "page break, and DRAFT or REVIEW OVERDUE marks in the text.",
        epilog="Exit status: 0 no problems, 1 problems found, 2 a file could not be read.")
    audit_cmd.add_argument("paths", type=Path, nargs="+", metavar="PDF_OR_FOLDER",
                           help="a PDF, or a folder whose PDFs (in it and its folders) are all checked")
    audit_cmd.add_argument("--watermark", action="append", metavar="TEXT",
                           help="a mark that must not be in the text (repeatable; default: careleaf's DRAFT and "
                                "REVIEW OVERDUE marks in every language it ships)")
    desk_commands.add_parsers(commands)
    return main


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' should be a whole number of 1 or more")
    return int(text)


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"'{text}' should look like 1/4 (the first of four shares)")
    return int(index), int(count)


def main(argv: list[str] | None = None) -> int:
    try:
        options = parser().parse_args(argv)
        if options.command == "new":
            return _new(options)
        if options.command == "booklet":   # works on a PDF, so needs no project
            return _booklet(options)
        if options.command == "audit":     # so does this
            return _audit(options)
        project = find_project(options.project)
        if options.command in ("build", "changes") and options.out is None:   # relative to here, as typed
            options.out = Path(os.path.relpath(project.out))
        if options.command == "build":
            return _build(project, options)
        if options.command == "check":
            return _check(project, options)
        if options.command == "changes":
            return _changes(project, options)
        if options.command == "translations":
            return _translations(project, options)
        if options.command == "approve":
            return _approve(project, options)
        if options.command in desk_commands.COMMANDS:
            return desk_commands.run(project, options)
    except ModuleNotFoundError as error:   # run with a Python that careleaf was not installed into
        print(f"careleaf needs the Python package '{error.name}', which this Python ({sys.executable}) does not "
              "have.\nRun `make leaflets` (it sets up .venv the first time), or use the Python careleaf was "
              "installed into, for example: .venv/bin/python generate.py build", file=sys.stderr)
        return EXIT_INPUT
    except InputError as error:
        print(error, file=sys.stderr)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was built.", file=sys.stderr)
        return EXIT_INPUT
    except RenderError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_RENDER
    except RevisionError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except HandoutError as error:
        for problem in error.problems:
            print(f"Error: {problem}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # the output was piped into a reader that stopped early ('| head'): not a fault
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("Stopped; PDFs already written are complete, the others are as they were.", file=sys.stderr)
        return EXIT_RENDER
    except Exception as error:  # a bug in careleaf, not the editor's doing: say so without a traceback
        if os.environ.get("CARELEAF_DEBUG"):
            raise
        # A patient's fields may be inside the error's message: a handout's fault is named by its kind alone.
        said = "" if getattr(options, "command", "") in desk_commands.COMMANDS else f": {error}"
        print(f"Internal error: {type(error).__name__}{said}\n"
              "This is a fault in careleaf, not in your content. Set CARELEAF_DEBUG=1 for details.", file=sys.stderr)
        return EXIT_RENDER
    return EXIT_OK  # pragma: no cover - argparse requires a command


def _build(project: Project, options: argparse.Namespace) -> int:
    from careleaf.build.run import build

    progress = None if options.quiet else progress_printer()
    summary = build(project, options.out, force=options.force, full_check=options.full_check, jobs=options.jobs,
                    write_html=options.html, large_print=options.large_print, shard=options.shard,
                    allow_overdue=options.allow_overdue,
                    progress=progress, time_limit_seconds=options.time_limit)
    _print_summary(summary, options.out)
    return EXIT_RENDER if summary.failed else EXIT_OK


def _print_summary(summary, out: Path) -> None:
    for failure in summary.failed:
        print(f"Error: {failure}", file=sys.stderr)
    for name in summary.removed:
        print(f"removed {out / name} (its leaflet no longer exists)")
    print(f"{len(summary.built)} built, {len(summary.unchanged)} unchanged, {len(summary.removed)} removed, "
          f"{len(summary.failed)} failed in {summary.seconds:.1f} s; output in {out}/")
    if summary.site:
        print(f"web pages: {len(summary.site)} updated in {out / 'site'}/")
    if summary.drafts:
        print("Drafts (wording awaiting clinical approval; every page is marked DRAFT, and none is on the web "
              "pages): " + ", ".join(summary.drafts))
    if summary.stale:
        print("Translations awaiting review (the source wording changed): " + ", ".join(summary.stale))
    for note in summary.notes:
        print(f"Note: {note}")


def _check(project: Project, options: argparse.Namespace) -> int:
    from careleaf.review import check  # imported here: its readability library is slow to load, and build needs none of it

    result = check.run(project)
    if options.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print(check.text(result))
    return EXIT_OK if result.ok else EXIT_FOUND


def _changes(project: Project, options: argparse.Namespace) -> int:
    from careleaf.review import changes

    result = changes.compare(project, options.revision, options.out)
    if options.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        print(changes.text(result))
    return EXIT_FOUND if result.needs_bump else EXIT_OK


def _approve(project: Project, options: argparse.Namespace) -> int:
    from careleaf.review import approve

    if options.show or options.by is None:
        for sheet in approve.sign_offs(project, options.code, options.lang):
            print(approve.sheet_text(sheet) + "\n")
        if not options.show:
            print("Nothing approved: give the approving clinician with --by \"Dr …\"", file=sys.stderr)
            return EXIT_INPUT
        return EXIT_OK
    sheets, version = approve.approve(project, options.code, by=options.by, lang=options.lang)
    for sheet in sheets:
        print(approve.sheet_text(sheet, version) + "\n")
    print(f"Approved {options.code} version {version} in {', '.join(s.lang for s in sheets)} by {options.by}.")
    return EXIT_OK


def _audit(options: argparse.Namespace) -> int:
    import pikepdf

    from careleaf.pdf.audit import audit_paths

    missing = [str(path) for path in options.paths if not path.exists()]
    if missing:
        print(f"Error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_INPUT
    try:
        reports = audit_paths(options.paths, watermarks=options.watermark)
    except (pikepdf.PdfError, OSError) as error:
        print(f"Error: could not read a PDF: {error}", file=sys.stderr)
        return EXIT_INPUT
    for report in reports:
        print(report)
    failing = sum(1 for report in reports if report.problems)
    print(f"{len(reports)} PDF(s) checked, {failing} with problems.")
    return EXIT_FOUND if failing else EXIT_OK


def _booklet(options: argparse.Namespace) -> int:
    from careleaf.pdf.booklet import booklet_path, impose_booklet

    out = options.out or booklet_path(options.leaflet)
    if out.resolve() == options.leaflet.resolve():
        print(f"Error: the booklet would replace the leaflet {options.leaflet}: choose another --out",
              file=sys.stderr)
        return EXIT_INPUT
    try:
        booklet = impose_booklet(options.leaflet.read_bytes())
    except OSError as error:
        print(f"Error: cannot read {options.leaflet}: {error.strerror or error}", file=sys.stderr)
        return EXIT_INPUT
    except RenderError as error:   # not an A5 leaflet: the file given is wrong, as for invalid input
        print(f"Error: {options.leaflet}: {error}", file=sys.stderr)
        return EXIT_INPUT
    write_atomically(out, booklet)
    print(f"wrote {out}: print it on both sides with \"flip on short edge\", then fold")
    return EXIT_OK


def _new(options: argparse.Namespace) -> int:
    from careleaf.content.starter import Clinic, countries, languages, new_project

    ask = sys.stdin.isatty()
    name = options.name or _ask(ask, "The clinic's name", "My Clinic")
    country = (options.country or _ask(ask, f"Its country ({', '.join(countries())})", "GB")).upper()
    chosen = options.languages or _ask(ask, f"Its languages, separated by commas ({', '.join(languages())})", "en")
    time_zone = options.time_zone or (_ask(ask, "Its time zone", Clinic(country=country).zone) if ask else "")
    clinic = Clinic(name=name, country=country, time_zone=time_zone, page_size=options.page_size or "",
                    languages=tuple(lang.strip().lower() for lang in chosen.split(",") if lang.strip()))
    written = new_project(options.folder, clinic)
    print(f"Started a careleaf project for {clinic.name} in {options.folder}/ ({len(written)} files): "
          f"{clinic.country}, {clinic.zone}, {', '.join(clinic.languages)}, {clinic.paper}. Next:\n"
          f"  cd {options.folder}\n"
          f"  (edit leaflets/brands/{clinic.slug}.yaml: the clinic's phone numbers, address and website)\n"
          "  careleaf check      # review dates, drafts and readability\n"
          "  careleaf build      # the PDFs, in out/")
    return EXIT_OK


def _ask(interactive: bool, question: str, default: str) -> str:
    """An answer typed at the terminal, or ``default`` (also when nothing is typed, or no one is typing)."""
    if not interactive:
        return default
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def _translations(project: Project, options: argparse.Namespace) -> int:
    from careleaf.content.catalog import load_catalog
    from careleaf.content.translation import out_of_date, reviewed

    catalog = load_catalog(project)
    if options.reviewed:
        for path in options.reviewed:
            reviewed(catalog, path.resolve())
            print(f"marked {path} as matching the current English")
        return EXIT_OK
    stale = out_of_date(catalog)
    for path, items in stale.items():
        print(f"{path}: {len(items)} item(s) older than the English: {', '.join(items)}")
    if not stale:
        print("Every translation matches the current English.")
    return EXIT_OK
