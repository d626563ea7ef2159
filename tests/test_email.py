"""Emailing a patient their leaflet (careleaf.desk: send, mail, outbox; `careleaf send`, `worker`, `outbox`).

What clinics and patients rely on: the leaflet reaches the patient, once, in their language,
through the clinic's own mail server over TLS with its password; what travels in plain sight
(envelope, headers, subject, body) names the clinic only; a locked leaflet opens with the
password staff were shown and with nothing else; a wrong address or a header injection is
refused before anything is queued; and once a message is delivered (or has finally failed)
the outbox no longer holds the patient's address, name or leaflet. Faults are real: the mail
server (aiosmtpd, tests/mailserver.py) is down, refuses with 451 or 550, or stalls while the
worker, a real `careleaf worker` process, is killed; the outbox is the SQLite file and a real
PostgreSQL server (with verify-full TLS). The fault suite with its numbers is tests/test_outbox_faults.py.

The clock: patients are treated on Tuesday 1 December 2026 (today), and ``send`` is given
a fixed "now" that afternoon. Rendering a PDF takes a second or two, so the fault tests render
one leaflet per module and queue messages made from it as ``send`` does (compose, then
Outbox.queue); the tests of `send` itself render their own.
"""

from __future__ import annotations

import collections
import datetime as dt
import email
import email.policy
import io
import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pikepdf
import pypdf
import pytest
import yaml

from careleaf.leaflet.assemble import direction
from careleaf.content.catalog import load_catalog
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, handout
from careleaf.desk.mail import compose
from careleaf.desk.database import DATABASE_FILE
from careleaf.desk.outbox import FINISHED, Outbox, idempotency_key
from careleaf.project import THEME, Project
from careleaf.desk.register import project_register
from careleaf.desk.send import GENERATE as MAKE_PASSWORD
from careleaf.desk.send import send
from careleaf.content.settings import load_settings

from conftest import GENERATE, approved_project, require, run_cli, wait_until
from mailserver import USER, MailServer
from pgserver import PostgresServer

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)        # Tuesday 1 December 2026, 15:00 in London
BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"
CLINIC, PHONE = "Harbour Skin Clinic", "020 7946 0321"
AFTERCARE = Choice(BRAND, TREATMENT, "aftercare", "en")
AYSE = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30", "batch": "C3920C3"}
ADDRESS = "ayse.yilmaz@example.com"
ATTACHMENT = f"{BRAND}-leaflet.pdf"
CHOICE_OPTIONS = ["--brand", BRAND, "--treatment", TREATMENT, "--kind", "aftercare"]
# What must never travel in plain sight or stay behind: who the patient is and what they were treated for.
PERSONAL = ("Ayşe", "Yılmaz", "C3920C3")
TREATMENT_WORDS = ("botulinum", "toksin", "botox", "BTX")
PASSWORD_PATTERN = re.compile(r"\b[2-9a-z]{4}(?:-[2-9a-z]{4}){3}\b")
DEADLINE = 30          # seconds: the longest any delivery may take here


def labels(lang: str) -> dict[str, str]:
    """The template words of careleaf's theme (templates/labels/<lang>.yaml), with the clinic's name and phone."""
    words = yaml.safe_load((THEME / "templates" / "labels" / f"{lang}.yaml").read_text("utf-8"))
    return {key: str(value).replace("{clinic}", CLINIC).replace("{phone}", PHONE)
            for key, value in words.items() if key.startswith("email_")}


# --- servers, workers and projects ----------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres_server():
    """A real PostgreSQL server for the module (Debian's postgresql 15, as its own user), verify-full TLS."""
    require("postgres")
    server = PostgresServer()
    server.start()
    try:
        server.create_database("careleaf")
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, monkeypatch) -> str:
    """The outbox's storage: the SQLite file, or PostgreSQL (its address in CARELEAF_DATABASE_URL; each test its
    own namespace, so tests never see each other's sends)."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("CARELEAF_DATABASE_URL", server.url())
    return request.param


@pytest.fixture
def root(tmp_path) -> Path:
    """A signed-off copy of the sample catalog (Harbour Skin Clinic, botox-facial-lines, English and Turkish)."""
    return approved_project(tmp_path / "clinic")


def configure(root: Path, mail: MailServer | None, storage: str = "sqlite", email_settings: dict | None = None,
              **outbox) -> None:
    """careleaf.yaml for this test: the mail server, and an outbox whose faults resolve in seconds."""
    settings = {"outbox": {"storage": storage, "retry_delay": 1, "lease": 1, "poll": 0.2} | outbox}
    if storage == "postgresql":
        settings["outbox"]["namespace"] = f"test-{root.parent.name}"[:63]
    if email_settings is not None or mail is not None:
        settings["email"] = email_settings if email_settings is not None else mail.settings()
    (root / "careleaf.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), "utf-8")


def outbox_of(root: Path) -> Outbox:
    project = Project(root)
    return Outbox(project, load_settings(project))


def wait_for_status(root: Path, send_id: str, *statuses: str, timeout: float = DEADLINE) -> dict:
    outbox = outbox_of(root)

    def reached():
        state = outbox.status(send_id)
        return state if state and state["status"] in statuses else None

    return wait_until(reached, timeout, what=f"send {send_id[:8]} to be {' or '.join(statuses)}")


def register_entries(root: Path) -> list:
    project = Project(root)
    return project_register(project, load_settings(project)).find()


def has_message(outbox: Outbox, send_id: str) -> bool:
    """Whether the outbox still holds the message itself (address, name, leaflet)."""
    with outbox.db.transaction() as tx:
        return tx.one("select 1 from messages where namespace = ? and id = ?", tx.namespace, send_id) is not None


def stored_bytes(root: Path, name: str) -> bytes:
    """Every byte of one of the data folder's SQLite files: the database and, when present, its write-ahead log
    and shared memory.

    Read by another process (cat): closing a file descriptor of a database file in a process that has it open
    in SQLite drops that process's locks on it (POSIX advisory locks), which can lose the worker's writes.
    """
    return b"".join(file_bytes(path) for path in sorted((root / "data").glob(f"{name}*")))


def file_bytes(path: Path) -> bytes:
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


def outbox_bytes(root: Path) -> bytes:
    return stored_bytes(root, DATABASE_FILE)


def attachments(message) -> list:
    return list(message.iter_attachments())


def pdf_of(message) -> bytes:
    [attachment] = attachments(message)
    return attachment.get_content()


def all_finished(outbox: Outbox) -> bool:
    return all(s["status"] in FINISHED for s in outbox.sends())


def quiet(root: Path, workers) -> None:
    """Until nothing more can be delivered, so that what the mail server has is final: every send has finished
    and every worker has stopped after finishing what it had in hand (SIGINT). A second delivery or a retry of
    a refusal would show in the counts the test then checks."""
    outbox = outbox_of(root)
    wait_until(lambda: all_finished(outbox), DEADLINE, what="every send to finish")
    workers.finish_all()
    assert all_finished(outbox), outbox.sends()


def lease_ran_out(root: Path, send_id: str) -> bool:
    """Whether a send's worker has gone past its lease without renewing it: another worker now takes it over."""
    state = outbox_of(root).status(send_id)
    return state["lease_until"] is not None and dt.datetime.fromisoformat(state["lease_until"]) < dt.datetime.now(UTC)


# --- one leaflet, rendered once, for the tests of delivery -------------------------------------------

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Ayşe's English aftercare leaflet, rendered once, with the catalog it came from."""
    root = approved_project(tmp_path_factory.mktemp("rendered"))
    catalog = load_catalog(Project(root))
    return handout(root, AFTERCARE, patient=AYSE, now=NOW, catalog=catalog), catalog


def queue(root: Path, rendered, *, reference: str, to: str = ADDRESS, outbox: Outbox | None = None) -> str:
    """Queue the rendered leaflet as `send` does after rendering (compose, then Outbox.queue); the send's id."""
    made, catalog = rendered
    key = idempotency_key(reference, made.record.code, made.record.version, made.record.lang)
    message = compose(Project(root), pdf=made.pdf, file_name=made.file_name, to=to, sender=USER, clinic=CLINIC,
                      phone=PHONE, lang="en", direction=direction("en"), words=catalog.labels["en"], locked=False)
    about = made.record.as_json() | {"staff": "desk-1", "reference": reference, "revision": ""}
    queued = (outbox or outbox_of(root)).queue(bytes(message), key=key, about=about)
    assert queued.status == "queued"
    return queued.id


# --- 1. delivered, in the patient's language, privately ------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "tr"])
def test_leaflet_is_delivered_in_the_patients_language_naming_the_clinic_only(root, mail, workers, lang):
    configure(root, mail)
    sent = send(root, Choice(BRAND, TREATMENT, "aftercare", lang), patient=AYSE, to=ADDRESS, reference="P-1",
                staff="desk-1", now=NOW, consent=True)
    assert (sent.status, sent.password) == ("queued", None)
    workers.start(root, mail.environment())
    [received] = mail.wait_for(1, DEADLINE)
    wait_for_status(root, sent.id, "sent")

    # The envelope: from the clinic's sender, to the patient alone, over TLS, logged in.
    assert received.rcpt_tos == [ADDRESS]
    assert received.mail_from == USER
    assert (received.tls, received.login) == (True, USER)
    message = received.message
    assert message["To"] == ADDRESS and len(message.get_all("To")) == 1
    assert not message.get_all("Cc") and not message.get_all("Bcc")
    assert message["From"].addresses[0].addr_spec == USER and message["From"].addresses[0].display_name == CLINIC

    # Nothing in plain sight names the patient, the treatment or the leaflet: headers of every part, and the words.
    # (The address is in To, alone, without a display name; nowhere else.)
    words = labels(lang)
    headers = "\n".join(f"{name}: {value}" for part in message.walk() for name, value in part.items()
                        if name.lower() != "to")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for shown in (headers, text, html):
        for secret in PERSONAL + TREATMENT_WORDS + ("ayse", "yilmaz"):
            assert secret.lower() not in shown.lower(), (secret, shown[:2000])
    assert message["Subject"] == words["email_subject"] and CLINIC in message["Subject"]
    assert message["Content-Language"] == lang
    for word in ("email_greeting", "email_body", "email_questions"):
        assert words[word] in text, word
        assert words[word] in html, word
    if lang == "tr":
        english = labels("en")
        assert english["email_body"] not in text and english["email_subject"] != message["Subject"]
    assert words["email_locked"] not in text            # not locked, so not said to be
    assert f'lang="{lang}"' in html
    assert message.get_body(("plain",)).get_content_type() == "text/plain"
    assert message.get_body(("html",)).get_content_type() == "text/html"

    # The one attachment is the patient's tagged leaflet.
    [attachment] = attachments(message)
    assert attachment.get_filename() == ATTACHMENT
    assert attachment.get_content_type() == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(attachment.get_content()))
    leaflet_text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Ayşe Yılmaz" in leaflet_text and "C3920C3" in leaflet_text
    assert "/StructTreeRoot" in reader.trailer["/Root"]

    # What staff can read back says nothing about who it went to.
    shown = run_cli("--project", str(root), "outbox", "--all", "--json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    [listed] = json.loads(shown.stdout)["sends"]
    assert (listed["id"], listed["status"], listed["code"], listed["lang"], listed["reference"]) == \
        (sent.id, "sent", "BTX-FL-AC", lang, "P-1")
    exported = run_cli("--project", str(root), "register", "--csv", cwd=root)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 2 and ",email,BTX-FL-AC,1," in exported.stdout
    for output in (shown.stdout + shown.stderr, exported.stdout + exported.stderr):
        for secret in PERSONAL + (ADDRESS, "Ay\\u015fe"):
            assert secret not in output

    # The worker logged nothing about the patient; the outbox and the register are the owner's alone.
    # (That a delivered message's bytes do not stay in the outbox's files is the next test.)
    workers.stop_all()
    assert "Ayşe" not in workers.logs() and ADDRESS not in workers.logs()
    data = root / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [data / DATABASE_FILE, *data.glob("*.sqlite3-*")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.slow
def test_delivered_message_does_not_linger_in_the_outbox_while_the_worker_runs(root, mail, workers, rendered):
    configure(root, mail)
    outbox = outbox_of(root)
    send_id = queue(root, rendered, reference="P-1", outbox=outbox)
    assert ADDRESS.encode() in outbox_bytes(root)          # until delivered, the message is kept (privately)
    workers.start(root, mail.environment())
    mail.wait_for(1, DEADLINE)
    wait_for_status(root, send_id, "sent")
    wait_until(lambda: not has_message(outbox, send_id), 10, what="the delivered message to be deleted")
    for path in sorted((root / "data").glob(f"{DATABASE_FILE}*")):
        assert ADDRESS.encode() not in file_bytes(path), f"the patient's address is still in {path.name}"


# --- 2. a locked leaflet -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_locked_leaflet_opens_with_the_password_only_and_stays_accessible(root, mail, workers):
    configure(root, mail)
    sent = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", password=MAKE_PASSWORD, now=NOW,
                consent=True)
    assert sent.status == "queued" and sent.password and PASSWORD_PATTERN.fullmatch(sent.password)
    queued_state = outbox_bytes(root)
    workers.start(root, mail.environment())
    [received] = mail.wait_for(1, DEADLINE)
    wait_for_status(root, sent.id, "sent")

    pdf = pdf_of(received.message)
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf))
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf), password=sent.password.upper())
    with pikepdf.open(io.BytesIO(pdf), password=sent.password) as document:
        encryption = document.encryption
        assert (encryption.R, encryption.bits) == (6, 256)
        assert encryption.stream_method.name == encryption.string_method.name == "aesv3"
        assert "/StructTreeRoot" in document.Root
        allowed = document.allow
        assert allowed.print_highres and allowed.print_lowres and allowed.accessibility and allowed.extract
        assert not allowed.modify_other
    assert labels("en")["email_locked"] in received.message.get_body(("plain",)).get_content()

    # The password is shown once, and kept nowhere.
    workers.stop_all()
    secret = sent.password.encode()
    for place, content in (("the queued outbox", queued_state), ("the outbox", outbox_bytes(root)),
                           ("the message", received.content), ("the worker's log", workers.logs().encode())):
        assert secret not in content, place


@pytest.mark.slow
def test_send_lock_shows_the_password_once_on_stdout_and_nowhere_else(root, mail, workers):
    configure(root, mail)
    fields = json.dumps(AYSE | {"to": ADDRESS})
    done = subprocess.run([sys.executable, str(GENERATE), "--project", str(root), "send", *CHOICE_OPTIONS,
                           "--lang", "en", "--reference", "P-1", "--staff", "desk-1", "--lock", "--consent", "--fields", "-"],
                          input=fields, capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    [password] = PASSWORD_PATTERN.findall(done.stdout)
    assert [line for line in done.stdout.splitlines() if password in line] == \
        [f"The PDF is locked with the password {password}"]
    assert password not in done.stderr
    for secret in PERSONAL + (ADDRESS,):
        assert secret not in done.stdout + done.stderr
    workers.start(root, mail.environment())
    [received] = mail.wait_for(1, DEADLINE)
    with pikepdf.open(io.BytesIO(pdf_of(received.message)), password=password) as document:
        assert document.is_encrypted
    workers.stop_all()
    for content in (received.content, outbox_bytes(root), workers.logs().encode()):
        assert password.encode() not in content


# --- 3. one address, no header injection -------------------------------------------------------------------

BAD_ADDRESSES = ["a@b.com, c@d.com", "a@b.com\r\nBcc: x@y.com", "not-an-address", "a@b.com\nSubject: x",
                 "a@b.com; c@d.com", "<a@b.com>", "Ayse <a@b.com>", "a@b.com\tc@d.com", ""]


@pytest.mark.parametrize("to", BAD_ADDRESSES)
def test_anything_but_one_plain_address_is_refused_without_echoing_it(root, to):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls", "sender": USER,
                                          "user": USER, "password_env": "CARELEAF_SMTP_PASSWORD"})
    with pytest.raises(HandoutError) as refused:
        send(root, AFTERCARE, patient=AYSE, to=to, reference="P-1", now=NOW, consent=True)
    said = str(refused.value)
    assert said.startswith("email:")
    for piece in (p for p in re.split(r"[\s,;<>]+", to) if len(p) > 3):
        assert piece not in said, piece
    assert "b.com" not in said and "Bcc" not in said and "Subject" not in said
    assert outbox_of(root).sends() == []
    assert register_entries(root) == []


def test_a_line_break_in_a_patient_field_is_refused_before_anything_is_queued(root):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls", "sender": USER})
    with pytest.raises(HandoutError) as refused:
        send(root, AFTERCARE, patient=AYSE | {"name": "Ayşe\r\nBcc: x@y.com"}, to=ADDRESS, reference="P-1", now=NOW,
             consent=True)
    assert refused.value.problems == ["name: contains control characters (such as a tab or a line break)"]
    assert outbox_of(root).sends() == []


def test_command_refuses_a_header_injection_without_echoing_it(root):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls", "sender": USER})
    done = subprocess.run([sys.executable, str(GENERATE), "--project", str(root), "send", *CHOICE_OPTIONS,
                           "--lang", "en", "--consent", "--fields", "-"],
                          input=json.dumps(AYSE | {"to": "a@b.com\r\nBcc: x@y.com"}),
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: email:")
    for piece in ("a@b.com", "x@y.com", "Bcc", "Ayşe"):
        assert piece not in done.stdout + done.stderr
    assert outbox_of(root).sends() == []


# --- 4. encryption on the wire ------------------------------------------------------------------------------

PLAIN_SETTINGS = """\
email:
  host: {host}
  port: {port}
  security: none
  sender: leaflets@harbourskin.example
outbox:
  retry_delay: 1
  lease: 1
"""


@pytest.mark.slow
def test_plain_smtp_is_refused_at_its_line_unless_the_relay_is_on_this_machine(root, tmp_path, workers):
    (root / "careleaf.yaml").write_text(PLAIN_SETTINGS.format(host="smtp.example.com", port=25), "utf-8")
    sending = [*CHOICE_OPTIONS, "--lang", "en", "--treated", "2026-12-01 14:30", "--to", ADDRESS, "--consent"]
    refused = run_cli("--project", str(root), "send", *sending, cwd=root)
    assert refused.returncode == 2, refused.stderr
    assert "careleaf.yaml:4:" in refused.stderr and "security: none" in refused.stderr
    assert ADDRESS not in refused.stderr
    assert not (root / "data").exists() or not list((root / "data").iterdir())
    assert run_cli("--project", str(root), "worker", cwd=root).returncode == 2

    relay = MailServer(tmp_path, tls=False, auth=False)
    try:
        relay.start()
        (root / "careleaf.yaml").write_text(PLAIN_SETTINGS.format(host="localhost", port=relay.port), "utf-8")
        accepted = run_cli("--project", str(root), "send", *sending, cwd=root)
        assert accepted.returncode == 0, accepted.stderr
        assert accepted.stdout.startswith("queued as ")
        workers.start(root, {})
        [received] = relay.wait_for(1, DEADLINE)
        assert received.rcpt_tos == [ADDRESS] and received.tls is False
    finally:
        relay.stop()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")     # aiosmtpd: implicit TLS is TLS
def test_implicit_tls_delivers(root, tmp_path, workers, rendered):
    server = MailServer(tmp_path, implicit_tls=True)
    try:
        server.start()
        configure(root, server)
        send_id = queue(root, rendered, reference="P-1")
        workers.start(root, server.environment())
        [received] = server.wait_for(1, DEADLINE)
        assert (received.rcpt_tos, received.login, received.tls) == ([ADDRESS], USER, True)
        assert wait_for_status(root, send_id, "sent")["attempts"] == 1
    finally:
        server.stop()


def resume(root: Path) -> None:
    done = run_cli("--project", str(root), "outbox", "--resume", cwd=root)
    assert done.returncode == 0 and done.stdout.startswith("The outbox continues"), done.stdout + done.stderr


def wait_paused(root: Path) -> tuple[str, str]:
    return wait_until(outbox_of(root).paused, DEADLINE, what="the outbox to be paused")


@pytest.mark.slow
def test_untrusted_certificate_pauses_the_outbox_and_everything_goes_after_the_fix(root, mail, workers, rendered):
    """Without the clinic's CA the worker cannot trust the server: nothing is sent, in clear or at all, and
    no patient's send fails for it; once the worker trusts the server and staff resume, every message goes."""
    configure(root, mail)
    ids = [queue(root, rendered, reference=f"P-{n}", to=f"p{n}@example.com") for n in range(3)]
    workers.start(root, {"CARELEAF_SMTP_PASSWORD": mail.environment()["CARELEAF_SMTP_PASSWORD"],
                         "SSL_CERT_FILE": str(root / "no-such-ca.pem")})
    since, reason = wait_paused(root)
    assert reason.startswith("the mail server's certificate could not be trusted")
    workers.finish_all()
    assert [outbox_of(root).status(i)["status"] for i in ids] == ["queued"] * 3
    assert mail.received() == [] and mail.rcpt_attempts == 0
    listed = run_cli("--project", str(root), "outbox", cwd=root)
    assert listed.returncode == 1 and "THE OUTBOX IS PAUSED" in listed.stdout and "--resume" in listed.stdout
    assert workers.logs().count("THE OUTBOX IS PAUSED") == 1          # one alert, not one per message
    workers.start(root, mail.environment())
    resume(root)
    for send_id in ids:
        wait_for_status(root, send_id, "sent")
    assert len(mail.received()) == 3


@pytest.mark.slow
def test_server_without_starttls_never_gets_the_message_in_clear(root, tmp_path, workers, rendered):
    plain = MailServer(tmp_path, tls=False, auth=False)
    try:
        plain.start()
        configure(root, plain, email_settings=plain.settings(security="starttls"))
        send_id = queue(root, rendered, reference="P-1")
        workers.start(root, plain.environment())
        assert "STARTTLS" in wait_paused(root)[1]
        assert outbox_of(root).status(send_id)["status"] == "queued"
        assert plain.received() == [] and plain.rcpt_attempts == 0
    finally:
        plain.stop()


@pytest.mark.slow
def test_a_wrong_password_pauses_the_outbox_without_hammering_and_resumes_after_the_fix(root, mail, workers,
                                                                                        rendered):
    """A refused sign-in is the clinic's own settings (a changed password), not the patient's address: the
    outbox pauses after one refused sign-in, and goes on once the password is right and staff resume."""
    configure(root, mail)
    ids = [queue(root, rendered, reference=f"P-{n}", to=f"p{n}@example.com") for n in range(3)]
    workers.start(root, mail.environment() | {"CARELEAF_SMTP_PASSWORD": "not the password"}, "--workers", "2")
    since, reason = wait_paused(root)
    assert "535" in reason and "password" in reason
    workers.finish_all()
    assert mail.received() == [] and mail.auth_failures <= 2        # at most one per thread, then it waits
    assert all(outbox_of(root).status(i)["status"] == "queued" for i in ids)
    workers.start(root, mail.environment())
    resume(root)
    for send_id in ids:
        wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 3


# --- 5. faults, on both storages ------------------------------------------------------------------------------

@pytest.mark.slow
def test_server_down_then_up_is_retried_and_delivered_once(root, mail, workers, storage, rendered):
    mail.stop()
    configure(root, mail, storage)
    send_id = queue(root, rendered, reference="P-1")
    workers.start(root, mail.environment())
    state = wait_for_status(root, send_id, "retrying", timeout=15)
    assert state["reply"].startswith("could not reach the mail server: ConnectionRefusedError"), state["reply"]
    assert ADDRESS not in state["reply"]
    mail.start()
    mail.wait_for(1, DEADLINE)
    state = wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 1
    assert state["attempts"] >= 2 and state["reply"] == "accepted by the mail server"
    assert [e.channel for e in register_entries(root)] == ["email"]


@pytest.mark.slow
def test_temporary_refusal_is_retried_and_delivered_once(root, mail, workers, storage, rendered):
    mail.refuse("451 4.3.0 Mailbox busy, try again later", at="data", times=1)
    configure(root, mail, storage)
    send_id = queue(root, rendered, reference="P-1")
    workers.start(root, mail.environment())
    mail.wait_for(1, DEADLINE)
    state = wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 1 and mail.data_attempts == 2
    assert state["attempts"] >= 2 and state["status"] == "sent"
    [listed] = outbox_of(root).sends()
    assert (listed["status"], listed["attempts"]) == ("sent", state["attempts"])


@pytest.mark.slow
def test_permanent_refusal_fails_at_once_without_the_address_in_the_reply(root, mail, workers, storage, rendered):
    mail.refuse("550 5.1.1 <{address}>: Recipient address rejected: User unknown", at="rcpt", times=None)
    configure(root, mail, storage)
    outbox = outbox_of(root)
    send_id = queue(root, rendered, reference="P-1", outbox=outbox)
    workers.start(root, mail.environment())
    state = wait_for_status(root, send_id, "failed")
    quiet(root, workers)                            # no retry waits: a 550 is final
    assert mail.rcpt_attempts == 1 and mail.received() == []
    assert state["attempts"] == 1
    assert state["reply"] == "550 5.1.1 <<recipient>>: Recipient address rejected: User unknown"
    assert outbox.status(send_id)["status"] == "failed"
    assert ADDRESS not in json.dumps(outbox.sends()) and ADDRESS not in workers.logs()
    assert not has_message(outbox, send_id)       # a send refused for good keeps no message
    assert register_entries(root) == []
    again = queue(root, rendered, reference="P-1", outbox=outbox)   # once the address is put right, it can be sent
    assert again != send_id


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_worker_killed_mid_send_is_delivered_after_its_lease(root, mail, workers, storage, rendered, stage):
    """Killed before the message was sent (at RCPT): delivered once. Killed after the server had it (at DATA,
    before its "250"): the window the guarantee names; delivered once or twice, and twice only as the same message."""
    mail.stall(15, at=stage)
    configure(root, mail, storage, lease=1)
    send_id = queue(root, rendered, reference="P-1")
    first = workers.start(root, mail.environment())
    wait_until(mail.stalled.is_set, DEADLINE, what="the worker to be mid-send")
    workers.kill(first)
    assert outbox_of(root).status(send_id)["status"] == "sending"
    wait_until(lambda: lease_ran_out(root, send_id), 10, what="the killed worker's lease (1 s) to run out")
    workers.start(root, mail.environment())
    state = wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    received = mail.received()
    if stage == "rcpt":
        assert len(received) == 1
    else:
        assert len(received) in (1, 2)
        assert len({copy.message_id for copy in received}) == 1
        assert {copy.content for copy in received} == {received[0].content}
    assert state["attempts"] == 2
    assert [e.channel for e in register_entries(root)] == ["email"]


@pytest.mark.slow
def test_two_workers_deliver_each_of_ten_messages_once(root, mail, workers, storage, rendered):
    configure(root, mail, storage, lease=30)
    outbox = outbox_of(root)
    ids = [queue(root, rendered, reference=f"P-{n}", to=f"patient{n}@example.com", outbox=outbox) for n in range(10)]
    workers.start(root, mail.environment(), "--workers", "2")
    workers.start(root, mail.environment(), "--workers", "2")
    mail.wait_for(10, DEADLINE)
    for send_id in ids:
        wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    received = mail.received()
    counts = collections.Counter(copy.message_id for copy in received)
    assert len(counts) == 10 and set(counts.values()) == {1}, counts
    assert sorted(copy.rcpt_tos[0] for copy in received) == sorted(f"patient{n}@example.com" for n in range(10))
    assert all(copy.message["To"] == copy.rcpt_tos[0] for copy in received)
    assert len(register_entries(root)) == 10


@pytest.mark.slow
def test_a_slow_send_is_never_taken_over_while_its_worker_lives(root, mail, workers, storage, rendered):
    """A lease of 1 s and a server that keeps the transaction waiting far longer: the worker renews its lease,
    so a second worker, polling all the while, never sends the message again."""
    configure(root, mail, storage, lease=1)
    send_id = queue(root, rendered, reference="P-1")
    release = mail.hold(at="data")      # the message has arrived; the server's "250" waits
    workers.start(root, mail.environment())
    wait_until(mail.stalled.is_set, DEADLINE, what="the first worker to be mid-send")
    second = workers.start(root, mail.environment())
    wait_until(lambda: "delivering with" in workers.log(second), DEADLINE, what="the second worker to start")
    deadline = dt.datetime.now(UTC) + dt.timedelta(seconds=4)      # four leases
    wait_until(lambda: dt.datetime.now(UTC) > deadline, 10, what="four leases to pass")
    assert len(mail.received()) == 1 and outbox_of(root).status(send_id)["attempts"] == 1, "taken over"
    release.set()
    state = wait_for_status(root, send_id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 1 and state["attempts"] == 1
    assert len(register_entries(root)) == 1


@pytest.mark.slow
def test_the_same_leaflet_to_the_same_patient_is_sent_once(root, mail, workers, storage):
    configure(root, mail, storage)
    first = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", now=NOW, consent=True)
    again = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", now=NOW, consent=True)
    assert (again.id, again.status) == (first.id, "already queued")
    assert len(outbox_of(root).sends()) == 1
    workers.start(root, mail.environment())
    mail.wait_for(1, DEADLINE)
    wait_for_status(root, first.id, "sent")
    after = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", now=NOW, consent=True)
    assert (after.id, after.status, after.password) == (first.id, "already sent", None)
    other = send(root, Choice(BRAND, TREATMENT, "aftercare", "tr"), patient=AYSE, to=ADDRESS, reference="P-1", now=NOW,
                 consent=True)
    assert other.status == "queued" and other.id != first.id        # another language is another leaflet
    wait_for_status(root, other.id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 2
    assert len({copy.message_id for copy in mail.received()}) == 2


@pytest.mark.slow
def test_a_repeated_locked_send_never_shows_a_password_that_does_not_open_the_leaflet(root, mail, workers):
    configure(root, mail)
    first = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", password=MAKE_PASSWORD, now=NOW, consent=True)
    again = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-1", password=MAKE_PASSWORD, now=NOW, consent=True)
    # The first send shows its password. The repeat is that same send, so it shows none: a password made for it
    # would not open the leaflet the patient gets.
    assert first.status == "queued" and first.password and PASSWORD_PATTERN.fullmatch(first.password)
    assert (again.id, again.status, again.password) == (first.id, "already queued", None)
    workers.start(root, mail.environment())
    wait_for_status(root, first.id, "sent")
    quiet(root, workers)
    [received] = mail.received()
    pdf = pdf_of(received.message)
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf))
    with pikepdf.open(io.BytesIO(pdf), password=first.password) as document:
        assert document.is_encrypted


# --- 6. a message for the clinic's own mail program ---------------------------------------------------------------

def test_eml_export_is_a_private_message_recorded_in_the_register_and_not_queued(root, tmp_path):
    target = tmp_path / "export" / "ayse.eml"
    sent = send(root, AFTERCARE, patient=AYSE, to=ADDRESS, reference="P-7", staff="desk-2", eml=target, now=NOW)
    assert (sent.id, sent.status, sent.password) == ("", "exported", None)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    message = email.message_from_bytes(target.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == labels("en")["email_subject"]
    assert message["To"] == ADDRESS and len(message["To"].addresses) == 1
    assert message["From"].addresses[0].addr_spec == "hello@harbourskin.example"     # the clinic's own address
    [attachment] = attachments(message)
    assert attachment.get_filename() == ATTACHMENT
    assert pypdf.PdfReader(io.BytesIO(attachment.get_content())).pages
    [entry] = register_entries(root)
    assert (entry.channel, entry.code, entry.version, entry.reference, entry.staff) == \
        ("eml", "BTX-FL-AC", 1, "P-7", "desk-2")
    assert outbox_of(root).sends() == []
    assert not list(target.parent.glob(".*partial"))
