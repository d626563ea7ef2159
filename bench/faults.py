#!/usr/bin/env python3
"""The outbox's faults, counted: for each, sent / delivered / duplicates / failed / registered / left.

    .venv/bin/python bench/faults.py [--quick] [--only NAME ...] [--results FILE]

Runs the scenarios of tests/fault_scenarios.py (the same ones tests/test_outbox_faults.py asserts) against real
servers: aiosmtpd with TLS (trustme), Debian's PostgreSQL 15 started as its own user with verify-full TLS, and
`careleaf worker` processes from this working tree, stopped with SIGTERM or killed with SIGKILL. Writes the
table between the <!-- faults --> markers of bench/DESK-RESULTS.md (bench/desk.py keeps it when it rewrites
the rest). --quick: 50 sends instead of 200 in the volume rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import fault_scenarios as faults       # noqa: E402  (tests/ is put on the path first)
from mailserver import MailServer, Workers        # noqa: E402
from pgserver import PostgresServer, available    # noqa: E402

SECTION = re.compile(r"<!-- faults -->.*<!-- /faults -->", re.S)


def run(name: str, storage: str, body, work: Path, rendered, postgres, *, mail_args: dict | None = None,
        outbox: dict | None = None):
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-{storage}-", dir=work))
    (folder / "workers").mkdir()
    mail = MailServer(folder).start()
    workers = Workers(folder / "workers", REPO / "generate.py")
    env = {}
    try:
        root = faults.approved_project(folder / "clinic")
        namespace = None
        if storage == "postgresql":
            env["CARELEAF_DATABASE_URL"] = postgres.url()
            namespace = f"bench-{folder.name}".replace(".", "-")[:63]
        import os
        os.environ.update(env)
        faults.configure(root, mail, storage=storage, namespace=namespace, **(outbox or {}))
        started = time.monotonic()
        counts = body(faults.Scene(root, mail, workers, env, rendered))
        return counts, time.monotonic() - started
    finally:
        workers.stop_all()
        mail.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", help="only the faults whose name contains one of these")
    parser.add_argument("--results", type=Path, default=BENCH / "DESK-RESULTS.md")
    args = parser.parse_args()
    volume = 50 if args.quick else 200
    work = Path(tempfile.mkdtemp(prefix="careleaf-faults-"))
    rendered = faults.render(work / "rendered")
    postgres = PostgresServer().start() if available() else None
    if postgres:
        postgres.create_database("careleaf")
    storages = ["sqlite"] + (["postgresql"] if postgres else [])
    plan = []
    for storage in storages:
        plan += [
            (f"{volume} sends, --workers 4", storage, lambda s: faults.many_workers(s, volume, threads=4), {}),
            ("SIGTERM mid-send (x3)", storage, lambda s: faults.sigterm_mid_send(s, 3), {}),
            ("SIGKILL mid-send, 0.3 s server (x5)", storage, lambda s: faults.sigkill_mid_send(s, 5), {}),
            ("451 then accepted (x5)", storage, lambda s: faults.refusals(s, "451 4.3.0 busy", 5), {}),
            ("550 recipient refused (x5)", storage, lambda s: faults.refusals(s, "550 5.1.1 unknown", 5), {}),
            ("server hangs, then released (x3)", storage, lambda s: faults.hang_then_release(s, 3), {}),
            ("connection dropped after DATA (x3)", storage, lambda s: faults.dropped_connection(s, 3), {}),
            ("server down, then up (x5)", storage, lambda s: faults.server_down_then_up(s, 5), {}),
        ]
    plan.append(("final 250 after 40 s (x3)", "sqlite", lambda s: faults.slow_final_reply(s, 40, 3), {"lease": 3}))
    rows = []
    for name, storage, body, outbox in plan:
        if args.only and not any(word.lower() in name.lower() for word in args.only):
            continue
        print(f"{name} on {storage} …", file=sys.stderr, flush=True)
        try:
            counts, seconds = run(name.split()[0], storage, body, work, rendered, postgres, outbox=outbox)
            rows.append((name, storage, counts, seconds))
        except Exception:
            traceback.print_exc()
            rows.append((name, storage, None, 0))
    if postgres:
        postgres.stop()
    write(args.results, rows, args)
    return 0 if all(row[2] is not None for row in rows) else 1


def write(path: Path, rows, args) -> None:
    lines = ["<!-- faults -->", "## The outbox through faults (bench/faults.py)", "",
             f"Written by `.venv/bin/python bench/faults.py{' --quick' if args.quick else ''}` on "
             f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python {platform.python_version()}, "
             f"{platform.machine()}. Each row: its own project, mail server (aiosmtpd, STARTTLS, trustme CA) and "
             "`careleaf worker` processes; PostgreSQL 15 with verify-full TLS, one database, each row its own "
             "namespace. *delivered*: distinct Message-IDs the server kept; *duplicates*: copies beyond the first; "
             "*left*: messages still stored for sends recorded as sent.", "",
             "| Fault | Storage | Queued | Sent | Delivered | Duplicates | Failed | Registered | Left | Time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, storage, c, seconds in rows:
        if c is None:
            lines.append(f"| {name} | {storage} | the run failed (see its output) | | | | | | | |")
        else:
            lines.append(f"| {name} | {storage} | {c.queued} | {c.sent} | {c.delivered} | {c.duplicates} | "
                         f"{c.failed} | {c.registered} | {c.left} | {seconds:.1f} s |")
    text = path.read_text("utf-8") if path.exists() else "# careleaf front-desk benchmark results\n"
    if args.only:       # the rows not run again stay as they were
        ran = {f"| {name} | {storage} |" for name, storage, _, _ in rows}
        old = SECTION.search(text)
        kept = [line for line in (old.group(0).splitlines() if old else [])
                if line.startswith("| ") and not line.startswith(("| Fault", "|---")) and
                not any(line.startswith(prefix) for prefix in ran)]
        lines[len(lines) - len(rows):len(lines) - len(rows)] = kept
    lines.append("<!-- /faults -->")
    section = "\n".join(lines)
    text = SECTION.sub(lambda _: section, text) if SECTION.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, "utf-8")
    print(section)


if __name__ == "__main__":
    sys.exit(main())
