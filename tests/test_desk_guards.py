"""The front desk's smaller guards, each added after a review found its gap: they need no mail server, browser
or render, so they are checked here directly."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import careleaf.desk.worker
from careleaf.errors import InputError
from careleaf.handout.handouts import handouts, read_day_list
from careleaf.desk.mail import compose
from careleaf.desk.outbox import Outbox, idempotency_key
from careleaf.desk.worker import Worker
from careleaf.project import Project
from careleaf.desk.register import Entry, as_csv
from careleaf.content.settings import Account, DeskSettings, EmailSettings, OutboxSettings, Settings
from careleaf.web.app import create_app
from careleaf.web.editor_pages import MAX_WATCHERS
from careleaf.web.security import CannotListen, check_can_listen, password_hash
from conftest import approved_project, mini_project

ABOUT = {"code": "DEMO-AC", "version": 2, "lang": "en", "large_print": False, "brand": "clinic", "treatment": "demo",
         "kind": "aftercare", "content_fingerprint": "x", "made_at": "2026-12-01T15:00:00+00:00", "draft": False}


class NoRenders:
    async def handout(self, *args, **kwargs):
        raise AssertionError("nothing is rendered in these tests")

    preview = handout

    def close(self) -> None:
        pass


@pytest.fixture
def root(tmp_path):
    return mini_project(tmp_path / "project")


# --- the web app ------------------------------------------------------------------------------------

def test_on_this_machine_the_desk_answers_only_to_its_own_names(root):
    app = create_app(Project(root), renderer=NoRenders(), hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/login").status_code == 200
    with TestClient(app, base_url="http://rebound.example:8000") as client:      # DNS rebinding
        assert client.get("/login").status_code == 400


def test_listening_beyond_this_machine_needs_a_certificate_too(monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", "t")
    monkeypatch.setenv("CARELEAF_SECRET_KEY", "k")
    desk = DeskSettings(accounts=[Account("reception", "$argon2id$x")])
    check_can_listen("0.0.0.0", desk, tls=True)
    with pytest.raises(CannotListen, match="TLS certificate"):
        check_can_listen("0.0.0.0", desk, tls=False)


def test_a_removed_account_ends_its_sessions(root):
    settings = Settings(desk=DeskSettings(accounts=[Account("reception", password_hash("correct horse battery"))]))
    app = create_app(Project(root), settings=settings, renderer=NoRenders())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        form = client.get("/login").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        signed = client.post("/login", data={"name": "reception", "password": "correct horse battery", "csrf": token},
                             follow_redirects=False)
        assert signed.status_code == 303 and client.get("/", follow_redirects=False).status_code == 200
        app.state.settings = dataclasses.replace(settings, desk=DeskSettings(accounts=[Account("someone", "$argon2id$x")]))
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_live_previews_are_capped(root):
    app = create_app(Project(root), renderer=NoRenders())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        app.state.watchers = MAX_WATCHERS
        assert client.get("/editor/events").status_code == 503


# --- the day's list and the register -------------------------------------------------------------------

def test_a_day_list_saved_in_a_windows_code_page_is_reported_not_a_fault(tmp_path):
    root = approved_project(tmp_path / "p")
    listed = tmp_path / "day.csv"
    listed.write_bytes("brand,treatment,kind,lang,treated,name\nharbour-skin,botox-facial-lines,aftercare,en,"
                       "2026-12-01 14:30,Ayşe\n".encode("cp1254"))
    with pytest.raises(InputError, match="CSV UTF-8"):
        handouts(root, listed)


def test_a_day_list_with_an_unclear_large_print_is_refused_by_its_line(tmp_path):
    root = approved_project(tmp_path / "p")
    listed = tmp_path / "day.csv"
    listed.write_text("brand,treatment,kind,lang,large_print,treated\n"
                      "harbour-skin,botox-facial-lines,aftercare,en,maybe,2026-12-01 14:30\n", "utf-8")
    with pytest.raises(InputError, match=r"day\.csv:2:1: large_print: write yes or no"):
        handouts(root, listed)


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"], ids=["old Mac", "Windows", "Unix"])
def test_a_day_list_reads_with_any_line_ending(ending):
    text = ending.join(["brand,treatment,kind,lang,treated", "b,t,aftercare,en,2026-12-01 14:30", ""])
    [(line, (choice, fields, _))] = read_day_list(text, Path("day.csv"))
    assert (line, choice.kind, fields) == (2, "aftercare", {"treated": "2026-12-01 14:30"})


def test_a_heading_row_that_is_not_csv_is_a_line_not_a_fault():
    """Found by schemathesis: a carriage return inside the heading row raised csv.Error (a 500 on the API)."""
    with pytest.raises(InputError, match=r"day\.csv:1:1: "):
        read_day_list('N\r\u00a8"x\n', Path("day.csv"))


def test_the_registers_csv_never_holds_a_formula():
    entry = Entry("2026-12-01T15:00:00+00:00", "print", "DEMO-AC", 2, "en", False, "x", "clinic", "demo",
                  "aftercare", "=HYPERLINK(\"https://x.example\")", "", "")
    assert "'=HYPERLINK" in as_csv([entry])


# --- the outbox ------------------------------------------------------------------------------------

@pytest.fixture
def outbox(root):
    settings = Settings(email=EmailSettings(host="localhost", sender="leaflets@clinic.example", security="none"),
                        outbox=OutboxSettings(retry_delay=1, lease=1))
    return Outbox(Project(root), settings)


def message(root) -> bytes:
    from careleaf.content.catalog import load_catalog

    made = compose(Project(root), pdf=b"%PDF-1.7", file_name="clinic-leaflet.pdf", to="patient@example.com",
                   sender="leaflets@clinic.example", clinic="Test Clinic", phone="020 7946 0000", lang="en",
                   direction="ltr", words=load_catalog(Project(root)).labels["en"], locked=False)
    return bytes(made)


def test_the_message_id_is_random_and_says_nothing_of_the_patient(root):
    first, second = (email.message_from_bytes(message(root), policy=email.policy.SMTP) for _ in range(2))
    assert first["Message-ID"] != second["Message-ID"]
    assert "clinic.example" in first["Message-ID"]


def test_an_unexpected_error_while_sending_is_retried_and_named_by_its_kind_only(root, outbox, monkeypatch):
    def fails(*args, **kwargs):
        raise UnicodeEncodeError("ascii", "pässword-secret", 1, 2, "ordinal not in range")

    monkeypatch.setattr(careleaf.desk.worker, "deliver", fails)
    outbox.queue(message(root), key="k1", about=ABOUT)
    worker = Worker(outbox)
    claimed = outbox.claim(worker.name)
    worker.deliver(claimed)
    state = outbox.status(claimed.id)
    assert state["status"] == "retrying" and state["reply"] == "an unexpected UnicodeEncodeError while sending"
    assert "secret" not in json.dumps(state)


def test_a_send_a_stopped_worker_left_is_taken_over_once_its_lease_runs_out(root, outbox, monkeypatch):
    monkeypatch.setattr(careleaf.desk.worker, "deliver", lambda *args, **kwargs: "accepted")
    queued = outbox.queue(message(root), key="k2", about=ABOUT)
    assert outbox.claim("worker-that-dies").id == queued.id
    assert outbox.claim("another") is None                          # leased: not taken while its worker lives
    with outbox.db.transaction() as tx:                             # the lease has run out: its worker stopped
        tx.run("update sends set lease_until = '2000-01-01T00:00:00.000+00:00' where id = ?", queued.id)
    worker = Worker(outbox)
    claimed = outbox.claim(worker.name)
    assert (claimed.id, claimed.attempts) == (queued.id, 2)
    worker.deliver(claimed)
    assert outbox.status(queued.id)["status"] == "sent"


def test_one_desk_form_sends_once_even_without_a_patient_reference(root, outbox):
    key = idempotency_key("", "DEMO-AC", 2, "en", fallback="form-1")
    assert key == idempotency_key("", "DEMO-AC", 2, "en", fallback="form-1")
    assert key != idempotency_key("", "DEMO-AC", 2, "en", fallback="form-2")
    first = outbox.queue(message(root), key=key, about=ABOUT)
    again = outbox.queue(message(root), key=key, about=ABOUT)                # a double click on Email
    assert (first.new, again.new, again.id) == (True, False, first.id)
    assert len(outbox.sends()) == 1

