"""The outbox's faults, each as a scenario run against real servers and real `careleaf worker` processes.

Used by tests/test_outbox_faults.py (which asserts what each must give) and bench/faults.py (which writes the
numbers to bench/DESK-RESULTS.md). A scenario queues messages as `careleaf send` does (compose, then
Outbox.queue: one leaflet rendered once, each message to another address), starts workers, makes its fault,
waits until every send has finished, stops the workers gracefully, and counts:

    queued      sends put in the outbox
    sent        sends the outbox records as delivered
    delivered   distinct messages (Message-IDs) the mail server has
    duplicates  copies beyond the first of any message
    failed      sends recorded as failed (each with its patient reference)
    registered  register entries
    left        messages (address, name, leaflet) still stored after the run
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from careleaf.content.catalog import load_catalog
from careleaf.content.settings import load_settings
from careleaf.desk.database import Unavailable
from careleaf.desk.mail import compose
from careleaf.desk.outbox import FINISHED, Outbox, idempotency_key
from careleaf.desk.register import project_register
from careleaf.handout.handouts import Choice, handout
from careleaf.leaflet.assemble import direction
from careleaf.project import Project

from conftest import approved_project, wait_until
from mailserver import USER, MailServer, Workers

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
AFTERCARE = Choice("harbour-skin", "botox-facial-lines", "aftercare", "en")
PATIENT = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30", "batch": "C3920C3"}


@dataclass
class Counts:
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    duplicates: int = 0
    failed: int = 0
    registered: int = 0
    left: int = 0
    notes: list[str] = field(default_factory=list)
    failed_references: list[str] = field(default_factory=list)


@dataclass
class Scene:
    """One project, its mail server and its workers."""

    root: Path
    mail: MailServer
    workers: Workers
    env: dict[str, str]
    rendered: tuple

    @property
    def outbox(self) -> Outbox:
        project = Project(self.root)
        return Outbox(project, load_settings(project))

    def start(self, *options: str, env: dict[str, str] | None = None):
        return self.workers.start(self.root, self.env | self.mail.environment() | (env or {}), *options)

    def queue(self, count: int, *, prefix: str = "P") -> list[str]:
        outbox = self.outbox
        return [queue_one(self.root, self.rendered, reference=f"{prefix}-{n}", to=f"patient{n}@example.com",
                          outbox=outbox) for n in range(count)]

    def wait_finished(self, timeout: float = 300) -> None:
        outbox = self.outbox
        wait_until(lambda: all(s["status"] in FINISHED for s in outbox.sends()), timeout,
                   what="every send to be delivered or failed", interval=0.2)

    def counts(self) -> Counts:
        sends = self.outbox.sends()
        received = self.mail.received()
        ids = collections.Counter(copy.message_id for copy in received)
        project = Project(self.root)
        register = project_register(project, load_settings(project)).find()
        with self.outbox.db.transaction() as tx:
            left = tx.one("select count(*) from messages where namespace = ? and id in (select id from sends where "
                          "namespace = ? and status = 'sent')", tx.namespace, tx.namespace)[0]
        failed = [s for s in sends if s["status"] == "failed"]
        return Counts(queued=len(sends), sent=sum(s["status"] == "sent" for s in sends), delivered=len(ids),
                      duplicates=len(received) - len(ids), failed=len(failed), registered=len(register), left=left,
                      failed_references=[s["reference"] for s in failed])


def render(folder: Path) -> tuple:
    root = approved_project(folder)
    catalog = load_catalog(Project(root))
    return handout(root, AFTERCARE, patient=PATIENT, now=NOW, catalog=catalog), catalog


def queue_one(root: Path, rendered, *, reference: str, to: str, outbox: Outbox) -> str:
    made, catalog = rendered
    key = idempotency_key(reference, made.record.code, made.record.version, made.record.lang)
    message = compose(Project(root), pdf=made.pdf, file_name=made.file_name, to=to, sender=USER,
                      clinic="Harbour Skin Clinic", phone="020 7946 0321", lang="en", direction=direction("en"),
                      words=catalog.labels["en"], locked=False)
    about = made.record.as_json() | {"staff": "desk-1", "reference": reference, "revision": "", "consent": "yes"}
    return outbox.queue(bytes(message), key=key, about=about).id


def configure(root: Path, mail: MailServer, *, storage: str = "sqlite", namespace: str | None = None,
              data: str | None = None, **outbox) -> None:
    email = mail.settings()
    email.pop("timeout")         # careleaf's default: RFC 5321's 10 minutes for the final reply
    settings: dict = {"email": email, "outbox": {"storage": storage, "retry_delay": 0.5, "lease": 2,
                                                           "poll": 0.1} | outbox}
    if namespace:
        settings["outbox"]["namespace"] = namespace
    if data:
        settings["data"] = data
    (root / "careleaf.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), "utf-8")


# --- the scenarios --------------------------------------------------------------------------------------

def many_workers(scene: Scene, count: int = 200, threads: int = 4) -> Counts:
    """`careleaf worker --workers 4`: every message once, every one registered, nothing left."""
    scene.queue(count)
    scene.start("--workers", str(threads))
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def sigterm_mid_send(scene: Scene, kills: int = 3) -> Counts:
    """A service stop (SIGTERM) while the server takes its time over the message: finished, then stopped."""
    return _stopped_mid_send(scene, kills, stall=2, stop=scene.workers.terminate)


def sigkill_mid_send(scene: Scene, kills: int = 3) -> Counts:
    """A worker killed (SIGKILL) while the server holds the message before its "250" (0.3 s): the window."""
    return _stopped_mid_send(scene, kills, stall=0.3, stop=scene.workers.kill)


def _stopped_mid_send(scene: Scene, kills: int, *, stall: float, stop) -> Counts:
    """``kills`` sends, each with its worker stopped (``stop``) while the server holds the message ``stall``
    seconds; then one worker finishes the outbox."""
    scene.queue(kills)
    for _ in range(kills):
        scene.mail.stall(stall, at="data")
        worker = scene.start()
        wait_until(scene.mail.stalled.is_set, 60, what="a worker to be mid-send")
        stop(worker)
        worker.wait(timeout=60)
    scene.start()
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def slow_final_reply(scene: Scene, seconds: float = 40, count: int = 3) -> Counts:
    """A server that keeps each message and answers "250" only after ``seconds``."""
    scene.mail.stall(seconds, at="data", times=None)
    scene.queue(count)
    scene.start("--workers", str(count))
    scene.wait_finished(timeout=seconds * 3 + 60)
    scene.workers.finish_all()
    return scene.counts()


def refusals(scene: Scene, reply: str, count: int = 5) -> Counts:
    """The server answers ``reply`` to the first ``count`` recipients (451: later tries go; 550: final)."""
    scene.mail.refuse(reply, at="rcpt", times=count)
    scene.queue(count)
    scene.start("--workers", "2")
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def hang_then_release(scene: Scene, count: int = 3) -> Counts:
    """The server hangs mid-transaction for longer than a lease; released, every message goes once."""
    release = scene.mail.hold(at="rcpt")
    scene.queue(count)
    scene.start("--workers", "2")
    wait_until(scene.mail.stalled.is_set, 60, what="the server to hang")
    deadline = dt.datetime.now(UTC) + dt.timedelta(seconds=5)
    wait_until(lambda: dt.datetime.now(UTC) > deadline, 10, what="two leases to pass")
    release.set()
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def dropped_connection(scene: Scene, count: int = 3) -> Counts:
    """The server keeps each message, then drops the connection before its "250": the sender cannot know it
    arrived, so it tries again (a duplicate with the same Message-ID, as any mail client would send)."""
    scene.mail.drop(times=count)
    scene.queue(count)
    scene.start()
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def server_down_then_up(scene: Scene, count: int = 5) -> Counts:
    scene.mail.stop()
    ids = scene.queue(count)
    scene.start("--workers", "2")
    outbox = scene.outbox
    wait_until(lambda: all(outbox.status(i)["status"] == "retrying" for i in ids), 60, what="every send retrying")
    scene.mail.start()
    scene.wait_finished()
    scene.workers.finish_all()
    return scene.counts()


def storage_full(scene: Scene, tmpfs: Path, count: int = 10) -> Counts:
    """The data folder's disk fills up while patients are sent their leaflets, then is freed. Queueing on a full
    disk is refused, named plainly, and leaves no key claimed; every accepted send is delivered or failed."""
    filler = tmpfs / "filler"
    counts_refused, accepted = 0, []
    outbox = scene.outbox
    for n in range(count):
        if n == count // 2:
            _fill(filler)
        try:
            accepted.append(queue_one(scene.root, scene.rendered, reference=f"P-{n}", to=f"patient{n}@example.com",
                                      outbox=outbox))
        except Unavailable as problem:
            assert "is full" in str(problem), problem
            counts_refused += 1
    scene.start("--workers", "2")
    if filler.exists():
        filler.unlink()
    for n in range(count // 2, count):    # sent again once there is room: not "already queued"
        if f"P-{n}" not in [s["reference"] for s in outbox.sends()]:
            accepted.append(queue_one(scene.root, scene.rendered, reference=f"P-{n}", to=f"patient{n}@example.com",
                                      outbox=outbox))
    scene.wait_finished()
    scene.workers.finish_all()
    counts = scene.counts()
    counts.notes.append(f"{counts_refused} refused while the disk was full, then queued again")
    return counts


def _fill(path: Path) -> None:
    """Fill the file system ``path`` is on, to the last block."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for size in (65536, 512, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(descriptor)


def mount_tmpfs(folder: Path, size: str = "4m") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)], check=True)


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


def can_mount() -> bool:
    return os.geteuid() == 0
