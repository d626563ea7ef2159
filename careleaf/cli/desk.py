"""The front desk's commands: a patient's leaflet (handout, handouts), email (send, worker, outbox) and
the register of what was handed out (register, superseded).

Patient fields are health data: none is ever printed in a message, and options that
would leave them in the shell's history have a way round (``--fields -`` reads them
as JSON from standard input; passwords come from an environment variable).

As in careleaf.cli.main, each command imports the library it runs inside its own function, so that
`careleaf --help` stays instant and no command loads another's libraries (YAML and Babel for a leaflet,
the database for the outbox, FastAPI for the web server). Only careleaf modules that need nothing beyond the
standard library are imported at the top: errors, project, the patient fields' declaration, writing a
file, the progress line.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path

from careleaf.errors import HandoutError
from careleaf.build.output import write_atomically
from careleaf.cli.progress import progress_printer
from careleaf.handout.patient import FIELDS, PATIENT_FIELDS, REFERENCE, check_reference
from careleaf.project import Project, refuse_shared_output

COMMANDS = ("handout", "handouts", "send", "worker", "outbox", "purge", "register", "superseded", "serve", "password-hash")
EXIT_OK = 0


def add_parsers(commands) -> None:
    _handout_parsers(commands)
    _email_parsers(commands)
    _register_parsers(commands)
    _web_parsers(commands)


def run(project: Project, options: argparse.Namespace) -> int:
    from careleaf.cli.outbox import outbox, purge, worker

    return {"handout": _handout, "handouts": _handouts, "send": _send, "worker": worker, "outbox": outbox,
            "purge": purge, "register": _register, "superseded": _superseded, "serve": _serve,
            "password-hash": _password_hash}[options.command](project, options)


# --- options ------------------------------------------------------------------------------

def _handout_parsers(commands) -> None:
    one = commands.add_parser(
        "handout", help="make one patient's leaflet, with their dates and treatment record",
        description="Make a leaflet for one patient: the timeline and aftercare windows become real dates from the "
                    "treatment time, in the clinic's time zone, and an aftercare leaflet prints the treatment record. "
                    "Only approved, current leaflets are made. The PDF is written to --out, or to standard output "
                    "when that is not a terminal, else to <brand>-leaflet.pdf here; never into out/. "
                    "Patient fields given as options stay in the shell's history: to keep them out of it, "
                    "give them as JSON on standard input with --fields -.",
        epilog="Exit status: 0 written, 1 the PDF could not be rendered, 2 a choice or field is wrong, "
               "or the leaflet is not approved for patients.")
    _leaflet_options(one)
    one.add_argument("--out", type=Path, metavar="FILE", help="where to write the PDF")

    many = commands.add_parser(
        "handouts", help="make one print-ready PDF of a day's list of patients",
        description="Read a day's list (CSV with a heading row: brand, treatment, kind, lang, large_print, reference "
                    "and the patient fields of `careleaf handout`), check every row, then make one PDF with each "
                    "patient's leaflet in the order of the list. A bad row is reported by its line and nothing is made.")
    many.add_argument("--from", dest="list_file", type=Path, required=True, metavar="CSV", help="the day's list")
    many.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the PDF")
    many.add_argument("--allow-draft", action="store_true", help="for training: allow draft or overdue leaflets")
    many.add_argument("--staff", help="who is handing them out, for the register (default: $CARELEAF_STAFF, "
                                      "else your login name)")


def _leaflet_options(command) -> None:
    """Which leaflet, for which patient: the options `handout` and `send` share."""
    command.add_argument("--brand", required=True, help="the clinic (a file name in leaflets/brands/, without .yaml)")
    command.add_argument("--treatment", required=True, help="the treatment (a folder in leaflets/treatments/)")
    command.add_argument("--kind", required=True, choices=("pre-treatment", "aftercare"), help="which leaflet")
    command.add_argument("--lang", required=True, help="the patient's language, for example en or tr")
    command.add_argument("--large-print", action="store_true", help="the large-print leaflet")
    patient = command.add_argument_group("the patient (fields are checked; none is ever logged)")
    for field in PATIENT_FIELDS:      # not required here: a field may come from --fields instead
        patient.add_argument(f"--{field.name}", metavar="TEXT", help=f"{field.help} (at most {field.limit} characters)")
    patient.add_argument("--fields", metavar="FILE",
                         help="read the fields from a JSON object in FILE ('-' for standard input); for send, "
                              "it may also hold 'to'")
    patient.add_argument(f"--{REFERENCE.name}", help=REFERENCE.help)
    command.add_argument("--staff", help="who is handing it out, for the register (default: $CARELEAF_STAFF, "
                                         "else your login name)")
    command.add_argument("--allow-draft", action="store_true",
                         help="for training: make a draft or overdue leaflet anyway, marked DRAFT or REVIEW OVERDUE")


def _email_parsers(commands) -> None:
    send = commands.add_parser(
        "send", help="email one patient their leaflet (queued in the outbox)",
        description="Make one patient's leaflet, as `careleaf handout` does, and queue it in the outbox for "
                    "`careleaf worker` to deliver through the mail server in careleaf.yaml. The subject and the "
                    "attachment's name give the clinic's name only. With --eml, write the message to a file instead, "
                    "for the clinic's own mail program.")
    _leaflet_options(send)
    send.add_argument("--to", metavar="ADDRESS", help="the patient's email address (or 'to' in --fields)")
    send.add_argument("--consent", action="store_true",
                      help="the patient agreed to have the leaflet emailed (needed to send; recorded with it)")
    locking = send.add_mutually_exclusive_group()
    locking.add_argument("--lock", action="store_true",
                         help="lock the PDF with a new password, shown once here: tell it to the patient another way")
    locking.add_argument("--password-env", metavar="VARIABLE",
                         help="lock the PDF with the password in this environment variable")
    send.add_argument("--eml", type=Path, metavar="FILE", help="write the message to FILE instead of sending it")

    worker = commands.add_parser(
        "worker", help="deliver the outbox's emails (runs until stopped)",
        description="Run the outbox's worker: deliver queued emails, retry temporary failures with back-off for "
                    "outbox: retry_days, take over sends a stopped worker (on any machine) left, and purge what is "
                    "past its retention once a day. SIGTERM or SIGINT stops it after the sends in hand.")
    worker.add_argument("--workers", type=int, default=1, metavar="N", help="messages delivered at once (default 1)")

    outbox = commands.add_parser(
        "outbox", help="list pending, retrying and failed emails; retry, cancel, clear, resume",
        description="List the emails not yet delivered (and those that failed) with the patient reference, never "
                    "a name or an address: the state, the reason and the next try. Exit status 1 when a send has "
                    "failed or the outbox is paused.")
    outbox.add_argument("--all", action="store_true", help="also list delivered ones")
    outbox.add_argument("--json", action="store_true", help="as JSON")
    acting = outbox.add_mutually_exclusive_group()
    acting.add_argument("--retry", nargs="?", const="failed", metavar="ID",
                        help="queue again this failed send, or every failed one (--retry alone)")
    acting.add_argument("--cancel", metavar="ID", help="stop this send; its message is deleted")
    acting.add_argument("--clear", action="store_true", help="take failed and cancelled sends off the list")
    acting.add_argument("--resume", action="store_true",
                        help="continue after a paused outbox's fault (password, certificate) is put right")

    purge = commands.add_parser(
        "purge", help="delete send records, keys and register entries past careleaf.yaml's retention",
        description="Delete what is older than careleaf.yaml's retention (failed messages, send records, "
                    "idempotency keys, register entries) and give the space back (VACUUM). With --reference, "
                    "delete every record of one patient instead, on their request.")
    purge.add_argument("--reference", help="delete everything about this patient reference")


def _register_parsers(commands) -> None:
    register = commands.add_parser(
        "register", help="which leaflet versions were handed out, by patient reference, code or date",
        description="List the register of handouts (printed, emailed, exported): time, channel, leaflet code, "
                    "version, language, content fingerprint, staff and the clinic's patient reference. It never "
                    "holds names or addresses.")
    register.add_argument("--reference", help="only this patient reference")
    register.add_argument("--code", help="only this leaflet code")
    register.add_argument("--since", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="from this date")
    register.add_argument("--until", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="to this date")
    register.add_argument("--csv", action="store_true", help="as CSV, to open in a spreadsheet")

    superseded = commands.add_parser(
        "superseded", help="handouts whose leaflet has changed since, with what changed",
        description="List the handouts in the register whose wording differs from what the leaflet prints now "
                    "(whatever the version says), grouped by leaflet, language and version, with the words changed "
                    "since: the patients to contact again, and how (emailed, or phoned or given a print).")
    superseded.add_argument("--json", action="store_true", help="as JSON")


def _web_parsers(commands) -> None:
    serve = commands.add_parser(
        "serve", help="the front desk's web page, the editor's live preview, and the JSON API",
        description="Serve the front desk (choose, preview, personalise, print, email), the editor's page and the "
                    "JSON API from this project. It listens on 127.0.0.1 only, unless careleaf.yaml has staff accounts "
                    "and the environment has API tokens and a cookie-signing key.")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="the port (default: 8000)")
    serve.add_argument("--certfile", type=Path, help="a TLS certificate (PEM): needed to listen beyond this machine")
    serve.add_argument("--keyfile", type=Path, help="the certificate's private key (PEM)")
    serve.add_argument("--training", action="store_true",
                       help="for training staff: drafts can be printed (marked DRAFT), and nothing is emailed")
    commands.add_parser("password-hash", help="hash a member of staff's password for careleaf.yaml",
                        description="Ask for a password (twice) and print its argon2 hash, to paste into "
                                    "careleaf.yaml under desk: accounts:. The password itself is never stored.")


# --- handouts ------------------------------------------------------------------------------

def _handout(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.register import register_handout
    from careleaf.handout.handouts import file_name, handout

    fields = _fields(options)
    fields.pop("to", None)
    check_reference(options.reference)     # before anything is made: a leaflet is never left unregistered
    target = _handout_target(project, options.out, file_name(options.brand))
    made = handout(project, _choice(options), patient=fields, allow_draft=options.allow_draft)
    if target is None:
        sys.stdout.buffer.write(made.pdf)
        sys.stdout.flush()
    else:
        write_atomically(target, made.pdf, private=True)
        print(json.dumps(made.record.as_json(), indent=2))
        print(f"wrote {target}", file=sys.stderr)
    register_handout(project, made.record, channel="print", staff=_staff(project, options),
                     reference=options.reference or "")
    return EXIT_OK


def _handouts(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.register import register_handout
    from careleaf.handout.handouts import handouts
    from careleaf.review.git import current_revision

    target = _handout_target(project, options.out, "")
    show = progress_printer()
    pdf, records, references = handouts(project, options.list_file, allow_draft=options.allow_draft,
                                        progress=lambda done, total: show(done, total, f"patient {done}"))
    write_atomically(target, pdf, private=True)
    staff, revision = _staff(project, options), current_revision(project.root)
    for record, reference in zip(records, references):
        register_handout(project, record, channel="print", staff=staff, reference=reference, revision=revision)
    print(f"wrote {target}: {len(records)} leaflets", file=sys.stderr)
    return EXIT_OK


def _choice(options: argparse.Namespace):
    from careleaf.handout.choice import Choice

    return Choice(options.brand, options.treatment, options.kind, options.lang, options.large_print)


def _fields(options: argparse.Namespace) -> dict[str, str]:
    """The patient fields: from --fields (JSON, a file or standard input), then from the options."""
    fields = _read_fields(options.fields) if options.fields else {}
    return fields | {name: getattr(options, name) for name in FIELDS if getattr(options, name) is not None}


def _read_fields(source: str) -> dict[str, str]:
    """Patient fields from a JSON object (a file, or '-' for standard input): kept out of the shell's history."""
    try:
        fields = json.loads(sys.stdin.read() if source == "-" else Path(source).read_text("utf-8"))
    except OSError as error:
        raise HandoutError([f"--fields: cannot read {source}: {error.strerror}"]) from None
    except ValueError:      # not JSON, or not UTF-8
        fields = None
    if not isinstance(fields, dict):
        raise HandoutError(["--fields: not a JSON object of field names and text"])
    return fields


def _handout_target(project: Project, out: Path | None, default_name: str) -> Path | None:
    """Where a patient's PDF goes: --out, else standard output when piped, else a new file here. Never into out/."""
    if out is None and not sys.stdout.isatty():
        return None
    target = out or _unused(Path(default_name))
    refuse_shared_output(project, target, "--out")
    return target


def _unused(path: Path) -> Path:
    """``path``, or the first of path-2, path-3 … that does not exist: another patient's copy is never replaced."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _staff(project: Project, options: argparse.Namespace) -> str:
    from careleaf.content.settings import load_settings

    return options.staff or os.environ.get(load_settings(project).staff_env) or getpass.getuser()


# --- email -----------------------------------------------------------------------------------

def _send(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.send import GENERATE, send

    fields = _fields(options)
    to = fields.pop("to", None)
    to = options.to or to
    if not to:
        raise HandoutError(["--to: the patient's email address is needed (or 'to' in --fields)"])
    password = GENERATE if options.lock else None
    if options.password_env:
        password = os.environ.get(options.password_env)
        if not password:
            raise HandoutError([f"--password-env: the environment variable {options.password_env} is empty"])
    sent = send(project, _choice(options), patient=fields, to=to, reference=options.reference or "",
                staff=_staff(project, options), password=password, eml=options.eml, allow_draft=options.allow_draft,
                consent=options.consent)
    if sent.status == "exported":
        print(f"wrote the message to {options.eml}; send it from the clinic's mail program")
    elif sent.status.startswith("already"):
        print(f"not sent again: this leaflet version is {sent.status} for this patient (send {sent.id}); "
              "it keeps the password it was locked with then")
    else:
        print(f"queued as {sent.id}; `careleaf worker` delivers it, `careleaf outbox` shows how it went")
    if sent.password and options.lock:
        print(f"The PDF is locked with the password {sent.password}\nTell it to the patient by phone or in person. "
              "It is shown only now and is not kept anywhere.")
    return EXIT_OK


# --- the register --------------------------------------------------------------------------

def _register(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.register import as_csv, as_lines, project_register

    register = project_register(project)
    entries = register.find(reference=options.reference, code=options.code, since=options.since, until=options.until)
    sys.stdout.write(as_csv(entries) if options.csv else as_lines(entries) + "\n")
    return EXIT_OK


def _superseded(project: Project, options: argparse.Namespace) -> int:
    from careleaf.review.changes import change_text
    from careleaf.desk.register import project_register, superseded

    groups = superseded(project, project_register(project))
    if options.json:
        print(json.dumps([g.as_json() for g in groups], indent=2, ensure_ascii=False))
        return EXIT_OK
    for group in groups:
        now = f"now version {group.version_now}" if group.version_now else "no longer in the catalog"
        print(f"{group.code} version {group.version_given} in {group.lang} ({now}; its wording has changed "
              f"since): {len(group.entries)} handout(s)")
        for e in group.entries:
            reach = "email them the new version" if e.channel == "email" else "phone them, or give them a print"
            print(f"    {e.at[:16]}  {e.channel:<5}  {e.lang}  {e.reference or '(no reference)'}: {reach}")
        if group.changes is not None:
            print("  what changed since:")
            print("\n".join("    " + line for c in group.changes for line in change_text(c).split("\n")))
        if group.note:
            print(f"  {group.note}")
    if not groups:
        print("No handouts of a leaflet that has changed since.")
    return EXIT_OK


# --- the web app ---------------------------------------------------------------------------

def _serve(project: Project, options: argparse.Namespace) -> int:
    import uvicorn

    from careleaf.content.settings import load_settings
    from careleaf.web.app import create_app
    from careleaf.web.security import CannotListen, check_can_listen, is_loopback

    settings = load_settings(project)
    tls = bool(options.certfile and options.keyfile)
    if tls:    # sign-in cookies then travel over HTTPS only
        settings = dataclasses.replace(settings, desk=dataclasses.replace(settings.desk, https=True))
    try:
        check_can_listen(options.host, settings.desk, tls=tls)
    except CannotListen as refusal:
        raise HandoutError([str(refusal)]) from None
    # On this machine only, it answers to its own names alone (a page elsewhere cannot rebind a name to it).
    hosts = ["127.0.0.1", "localhost", "::1", options.host] if is_loopback(options.host) else None
    scheme = "https" if tls else "http"
    print(f"The front desk is at {scheme}://{options.host}:{options.port}/ (stop with Ctrl+C)", file=sys.stderr)
    app = create_app(project, settings=settings, training=options.training, hosts=hosts)
    # X-Forwarded-For is believed only from the proxies careleaf.yaml lists: uvicorn's own default believes it
    # from 127.0.0.1, so anything on this machine could pose as any address and dodge the sign-in limits.
    proxies = settings.desk.trusted_proxies
    # An editor's open live preview is a connection that never ends: stop waiting for it after 5 s.
    uvicorn.run(app, host=options.host, port=options.port, server_header=False, log_level="info",
                proxy_headers=bool(proxies), forwarded_allow_ips=",".join(proxies) if proxies else "",
                timeout_graceful_shutdown=5, ssl_certfile=options.certfile if tls else None,
                ssl_keyfile=options.keyfile if tls else None)
    return EXIT_OK


def _password_hash(project: Project, options: argparse.Namespace) -> int:
    from careleaf.web.security import password_hash

    first = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    again = getpass.getpass("Again: ") if sys.stdin.isatty() else first
    if first != again or len(first) < 10:
        raise HandoutError(["password-hash: the two passwords differ, or it is shorter than 10 characters"])
    print(password_hash(first))
    return EXIT_OK
