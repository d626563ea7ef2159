"""The outbox through every fault we can make (tests/fault_scenarios.py), on SQLite and on PostgreSQL.

What a clinic relies on: each patient's email is delivered, and registered, once; a copy is possible only in
the window the guarantee names (a worker killed between the server's "250" and the record, or a server that
drops the connection after taking the message), and then it has the same Message-ID; nothing is ever lost
silently; a clinic group's machines share one outbox and one register, and two projects on one server never
see each other's patients; the retention periods are kept. Real servers throughout: aiosmtpd with TLS from
trustme, Debian's PostgreSQL as its own user with verify-full TLS, `careleaf worker` processes killed with
SIGKILL and stopped with SIGTERM, and a real full disk (a small tmpfs).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
import yaml

from careleaf.content.settings import load_settings
from careleaf.desk.database import Unavailable, open_database
from careleaf.desk.outbox import Outbox
from careleaf.desk.register import project_register
from careleaf.desk.retention import purge
from careleaf.project import Project

import fault_scenarios as faults
from conftest import approved_project, on_ci, require, run_cli
from mailserver import MailServer
from pgserver import PostgresServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return faults.render(tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="module")
def postgres():
    require("postgres")
    server = PostgresServer().start()
    try:
        server.create_database("careleaf")
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def scene(request, tmp_path, mail, workers, rendered, monkeypatch):
    root = approved_project(tmp_path / "clinic")
    env = {}
    if request.param == "postgresql":
        env["CARELEAF_DATABASE_URL"] = request.getfixturevalue("postgres").url()
        monkeypatch.setenv("CARELEAF_DATABASE_URL", env["CARELEAF_DATABASE_URL"])
    faults.configure(root, mail, storage=request.param,
                     namespace=f"t{uuid.uuid4().hex[:12]}" if request.param == "postgresql" else None)
    return faults.Scene(root, mail, workers, env, rendered)


def exactly_once(counts: faults.Counts, n: int) -> None:
    assert (counts.queued, counts.sent, counts.delivered, counts.duplicates, counts.failed, counts.registered,
            counts.left) == (n, n, n, 0, 0, n, 0), counts


# --- delivery ------------------------------------------------------------------------------------------------

def test_200_sends_with_four_threads_are_each_delivered_and_registered_once(scene):
    exactly_once(faults.many_workers(scene, 200, threads=4), 200)


def test_sigterm_during_a_send_delivers_it_once(scene):
    exactly_once(faults.sigterm_mid_send(scene, kills=2), 2)
    assert scene.workers.logs().count("stopping (SIGTERM)") == 2


def test_sigkill_during_a_send_gives_at_most_one_copy_with_the_same_message_id(scene):
    counts = faults.sigkill_mid_send(scene, kills=2)
    assert (counts.sent, counts.delivered, counts.failed, counts.registered, counts.left) == (2, 2, 0, 2, 0), counts
    assert counts.duplicates <= 2      # one per kill at most: each kill is after the server took the message
    assert len({copy.message_id for copy in scene.mail.received()}) == 2


def test_a_server_whose_final_reply_takes_40_seconds_is_sent_once(tmp_path, mail, workers, rendered):
    root = approved_project(tmp_path / "clinic")
    faults.configure(root, mail, lease=3)           # the lease is far shorter than the wait: renewed, never lost
    exactly_once(faults.slow_final_reply(faults.Scene(root, mail, workers, {}, rendered), 40, count=2), 2)


def test_temporary_refusals_are_retried_and_delivered_once(scene):
    exactly_once(faults.refusals(scene, "451 4.3.0 Mailbox busy, try again later", count=3), 3)


def test_permanent_refusals_fail_by_reference_and_keep_nothing(scene):
    counts = faults.refusals(scene, "550 5.1.1 <{address}>: Recipient address rejected", count=3)
    assert (counts.sent, counts.delivered, counts.failed, counts.registered) == (0, 0, 3, 0), counts
    assert sorted(counts.failed_references) == ["P-0", "P-1", "P-2"]
    listed = run_cli("--project", str(scene.root), "outbox", cwd=scene.root, env=scene.env)
    assert listed.returncode == 1 and "P-1" in listed.stdout and "550" in listed.stdout
    with scene.outbox.db.transaction() as tx:
        assert tx.one("select count(*) from messages where namespace = ?", tx.namespace)[0] == 0


def test_a_hung_server_is_waited_for_not_sent_twice(scene):
    exactly_once(faults.hang_then_release(scene, count=2), 2)


def test_a_connection_dropped_after_the_message_may_duplicate_it_with_the_same_message_id(scene):
    counts = faults.dropped_connection(scene, count=2)
    assert (counts.sent, counts.delivered, counts.failed, counts.registered) == (2, 2, 0, 2), counts
    assert counts.duplicates == 2       # the server had each message; the sender could not know


def test_server_down_then_up_delivers_every_message_once(scene):
    exactly_once(faults.server_down_then_up(scene, count=3), 3)


def test_a_full_disk_refuses_plainly_loses_nothing_and_claims_no_key(tmp_path, mail, workers, rendered):
    if not faults.can_mount():
        pytest.fail("mounting a small tmpfs needs root") if on_ci() else pytest.skip("mounting a small tmpfs needs root")
    data = tmp_path / "small-disk"
    faults.mount_tmpfs(data, "3m")
    try:
        root = approved_project(tmp_path / "clinic")
        faults.configure(root, mail, data=str(data))
        counts = faults.storage_full(faults.Scene(root, mail, workers, {}, rendered), data, count=12)
    finally:
        workers.stop_all()
        faults.unmount(data)
    assert "0 refused" not in counts.notes[0], counts.notes
    exactly_once(counts, 12)


# --- stopping the line, not the patients ----------------------------------------------------------------------

def test_retrying_is_given_up_after_retry_days_and_the_message_kept_for_a_retry(tmp_path, mail, workers, rendered):
    root = approved_project(tmp_path / "clinic")
    faults.configure(root, mail, retry_days="0.00003")        # about 2.6 s
    scene = faults.Scene(root, mail, workers, {}, rendered)
    mail.stop()
    [send_id] = scene.queue(1)
    scene.start()
    scene.wait_finished()
    scene.workers.finish_all()
    state = scene.outbox.status(send_id)
    assert state["status"] == "failed" and state["reply"].startswith("gave up after"), state
    listed = run_cli("--project", str(root), "outbox", "--json", cwd=root)
    assert listed.returncode == 1 and json.loads(listed.stdout)["sends"][0]["reference"] == "P-0"
    mail.start()
    assert run_cli("--project", str(root), "outbox", "--retry", cwd=root).stdout.startswith("queued again: 1")
    scene.start()
    scene.wait_finished()
    scene.workers.finish_all()
    exactly_once(scene.counts(), 1)


def test_cancel_and_clear(tmp_path, mail, rendered, workers):
    root = approved_project(tmp_path / "clinic")
    faults.configure(root, mail)
    scene = faults.Scene(root, mail, workers, {}, rendered)
    first, second = scene.queue(2)
    done = run_cli("--project", str(root), "outbox", "--cancel", first, cwd=root)
    assert done.returncode == 0, done.stderr
    assert scene.outbox.status(first)["status"] == "cancelled"
    assert run_cli("--project", str(root), "outbox", "--clear", cwd=root).stdout.startswith("cleared 1")
    assert [s["id"] for s in scene.outbox.sends()] == [second]


# --- a clinic group on one PostgreSQL -----------------------------------------------------------------------------

def group_machine(tmp_path: Path, name: str, mail: MailServer, url: str, namespace: str) -> Path:
    root = approved_project(tmp_path / name)
    faults.configure(root, mail, storage="postgresql", namespace=namespace)
    return root


def test_two_machines_share_one_outbox_and_one_register(tmp_path, mail, workers, rendered, postgres, monkeypatch):
    url = postgres.url()
    monkeypatch.setenv("CARELEAF_DATABASE_URL", url)
    env = {"CARELEAF_DATABASE_URL": url}
    reception = faults.Scene(group_machine(tmp_path, "reception", mail, url, "group-a"), mail, workers, env, rendered)
    upstairs = faults.Scene(group_machine(tmp_path, "upstairs", mail, url, "group-a"), mail, workers, env, rendered)
    reception.queue(20, prefix="R")
    upstairs.queue(20, prefix="U")
    reception.start("--workers", "2")
    upstairs.start("--workers", "2")
    reception.wait_finished()
    workers.finish_all()
    for machine in (reception, upstairs):       # either machine's register lists all 40
        exactly_once(machine.counts(), 40)
    listed = run_cli("--project", str(upstairs.root), "register", "--csv", cwd=upstairs.root, env=env)
    assert len(listed.stdout.splitlines()) == 41 and ",R-19," in listed.stdout and ",U-0," in listed.stdout


def test_two_projects_on_one_server_deliver_only_their_own(tmp_path, workers, rendered, postgres, monkeypatch):
    url = postgres.url()
    monkeypatch.setenv("CARELEAF_DATABASE_URL", url)
    env = {"CARELEAF_DATABASE_URL": url}
    scenes = []
    for name in ("harbour", "maple"):
        (tmp_path / f"{name}-mail").mkdir()
        mail = MailServer(tmp_path / f"{name}-mail").start()
        scenes.append(faults.Scene(group_machine(tmp_path, name, mail, url, name), mail, workers, env, rendered))
    try:
        scenes[0].queue(5, prefix="H")
        scenes[1].queue(3, prefix="M")
        scenes[0].start()                        # only the first project's worker runs
        scenes[0].wait_finished()
        workers.finish_all()
        assert len(scenes[0].mail.received()) == 5 and scenes[1].mail.received() == []
        assert {s["status"] for s in scenes[1].outbox.sends()} == {"queued"}
        assert [e.reference[0] for e in project_register(Project(scenes[0].root)).find()] == ["H"] * 5
        assert project_register(Project(scenes[1].root)).find() == []
        scenes[1].start()
        scenes[1].wait_finished()
        workers.finish_all()
        exactly_once(scenes[1].counts(), 3)
        assert len(scenes[0].mail.received()) == 5
    finally:
        for scene in scenes:
            scene.mail.stop()


def test_an_untrusted_database_certificate_or_a_stopped_server_is_said_plainly(tmp_path, postgres, monkeypatch):
    root = approved_project(tmp_path / "clinic")
    (root / "careleaf.yaml").write_text(yaml.safe_dump({"outbox": {"storage": "postgresql", "namespace": "x"}}))
    project = Project(root)
    wrong_ca = tmp_path / "other-ca.pem"
    __import__("trustme").CA().cert_pem.write_to_path(str(wrong_ca))
    for url, said in ((postgres.url(ca=wrong_ca), "securely"),
                      (postgres.url().replace(str(postgres.port), "1"), "cannot be reached")):
        monkeypatch.setenv("CARELEAF_DATABASE_URL", url)
        with pytest.raises(Unavailable) as refused:
            open_database(project, load_settings(project))
        assert said in str(refused.value) and "clinic-group-db-password" not in str(refused.value)
    done = run_cli("--project", str(root), "outbox", cwd=root)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "Internal error" not in done.stderr


# --- retention --------------------------------------------------------------------------------------------------

def test_purge_leaves_nothing_older_than_the_retention_periods(tmp_path, rendered):
    root = approved_project(tmp_path / "clinic")
    (root / "careleaf.yaml").write_text(yaml.safe_dump({"retention": {"send_records": 30, "idempotency_keys": 30,
                                                                      "failed_messages": 7, "register": 365}}))
    project = Project(root)
    settings = load_settings(project)
    outbox = Outbox(project, settings)
    scene = faults.Scene(root, None, None, {}, rendered)
    sent_id, failed_id, pending_id = scene.queue(3)
    for send_id, status in ((sent_id, "sent"), (failed_id, "failed")):
        claimed = outbox.claim("w")
        assert claimed.id == send_id
        if status == "sent":
            outbox.record_sent(claimed, "accepted")
        else:
            outbox.record_failed(claimed.id, "w", "gave up", keep=True)
    now = dt.datetime.now(dt.UTC)
    assert purge(outbox.db, settings.retention, now).send_records == 0       # nothing is old yet
    assert len(outbox.sends()) == 3 and len(project_register(project).find()) == 1

    eight_days = purge(outbox.db, settings.retention, now + dt.timedelta(days=8))
    assert (eight_days.messages, eight_days.send_records) == (1, 0)       # the failed message only
    later = purge(outbox.db, settings.retention, now + dt.timedelta(days=31))
    assert (later.send_records, later.idempotency_keys) == (2, 2)          # the pending send and its key stay
    assert [s["id"] for s in outbox.sends()] == [pending_id]
    assert len(project_register(project).find()) == 1
    assert purge(outbox.db, settings.retention, now + dt.timedelta(days=366)).register == 1
    assert project_register(project).find() == []
    with outbox.db.transaction() as tx:
        assert tx.one("select count(*) from idempotency_keys where namespace = ?", tx.namespace)[0] == 1


def test_one_patients_records_are_deleted_on_request(tmp_path, rendered):
    root = approved_project(tmp_path / "clinic")
    project = Project(root)
    outbox = Outbox(project, load_settings(project))
    scene = faults.Scene(root, None, None, {}, rendered)
    scene.queue(2)
    outbox.record_sent(outbox.claim("w"), "accepted")
    done = run_cli("--project", str(root), "purge", "--reference", "P-0", cwd=root)
    assert done.returncode == 0, done.stderr
    assert [s["reference"] for s in outbox.sends()] == ["P-1"]
    assert project_register(project).find(reference="P-0") == []
