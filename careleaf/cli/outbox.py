"""The outbox's commands: `careleaf worker` (deliver), `careleaf outbox` (list, retry, cancel, clear,
resume) and `careleaf purge` (retention, and one patient's records on request). Their options are declared
in careleaf.cli.desk with the other email commands. No patient name or address is ever printed: sends are
shown by their patient reference."""

from __future__ import annotations

import argparse
import json
import logging

from careleaf.errors import HandoutError
from careleaf.handout.patient import check_reference
from careleaf.project import Project

EXIT_OK = 0
EXIT_FAILED = 1        # outbox: a send failed, or the outbox is paused


def worker(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.outbox import Outbox
    from careleaf.desk.worker import Worker
    from careleaf.content.settings import load_settings

    settings = load_settings(project)
    if settings.email is None:
        raise HandoutError(["worker: careleaf.yaml has no email settings, so there is nothing to deliver through"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Worker(Outbox(project, settings), threads=options.workers).run()
    return EXIT_OK


def outbox(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.outbox import Outbox
    from careleaf.content.settings import load_settings

    box = Outbox(project, load_settings(project))
    if options.resume:
        print("The outbox continues." if box.resume() else "The outbox was not paused.")
        return EXIT_OK
    if options.retry:
        count = box.retry(None if options.retry == "failed" else options.retry)
        print(f"queued again: {count} failed send(s)")
        return EXIT_OK if count or options.retry == "failed" else EXIT_FAILED
    if options.cancel:
        if not box.cancel(options.cancel):
            raise HandoutError(["--cancel: no pending or failed send has that id"])
        print("cancelled; its message is deleted")
        return EXIT_OK
    if options.clear:
        print(f"cleared {box.clear()} failed or cancelled send(s)")
        return EXIT_OK
    return _list_outbox(box, options)


def _list_outbox(outbox, options: argparse.Namespace) -> int:
    from careleaf.desk.outbox import leaflet_names

    paused, sends = outbox.paused(), [s for s in outbox.sends() if options.all or s["status"] != "sent"]
    shown = ("id", "status", "attempts", "reference", "code", "version", "lang", "created", "updated", "reply",
             "failing_since", "next_try")
    failed = paused is not None or any(s["status"] == "failed" for s in sends)
    if options.json:
        print(json.dumps({"paused": {"since": paused[0], "reason": paused[1]} if paused else None,
                          "sends": [{name: s.get(name) for name in shown} | {"leaflets": _leaflets(s)} for s in sends]},
                         indent=2))
        return EXIT_FAILED if failed else EXIT_OK
    if paused:
        print(f"THE OUTBOX IS PAUSED since {paused[0][:16]} UTC: {paused[1]}.\n"
              "Put that right, then run: careleaf outbox --resume\n")
    for s in sends:
        why = s["reply"]
        if s["status"] == "retrying" and s.get("failing_since"):
            why = f"{why} (since {s['failing_since'][11:16]} UTC; next try {s['next_try'][11:16]})"
        print(f"{s['id'][:12]}  {s['status']:<9} {s['reference'] or '(no reference)':<14} "
              f"{' + '.join(leaflet_names(s))}  {s['attempts']}x  queued {s['created'][:16]}  {why}")
    if not sends:
        print("The outbox is empty: nothing pending or failed.")
    return EXIT_FAILED if failed else EXIT_OK


def _leaflets(send: dict) -> list[dict]:
    """Every leaflet a send carries (one email may carry several), as --json lists them."""
    from careleaf.desk.outbox import leaflets_of

    return [{name: leaflet.get(name) for name in ("code", "version", "lang", "large_print", "kind")}
            for leaflet in leaflets_of(send)]


def purge(project: Project, options: argparse.Namespace) -> int:
    from careleaf.desk.database import open_database
    from careleaf.desk.retention import forget, purge
    from careleaf.content.settings import load_settings

    settings = load_settings(project)
    database = open_database(project, settings)
    if options.reference is not None:
        if not options.reference.strip():
            raise HandoutError(["--reference: give the patient reference whose records are to be deleted"])
        print(f"{check_reference(options.reference) or '(no reference)'}: {forget(database, options.reference)}")
    else:
        print(f"past the retention periods: {purge(database, settings.retention)}")
    return EXIT_OK
