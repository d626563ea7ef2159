"""What `send` refuses before anything is made: drafts to patients, messages into the catalog's folder,
and a project that would put patients' data where it is shared or committed."""

from __future__ import annotations

import datetime as dt

import pytest

from careleaf.errors import HandoutError, InputError
from careleaf.handout.handouts import Choice
from careleaf.content.starter import new_project
from careleaf.project import Project
from careleaf.cli.main import main
from careleaf.desk.send import DRAFTS_NOT_EMAILED, send
from careleaf.content.settings import Settings, data_folder
from conftest import approved_project

AFTERCARE = Choice("harbour-skin", "botox-facial-lines", "aftercare", "en")
PATIENT = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30"}
NOW = dt.datetime(2026, 12, 1, 15, tzinfo=dt.timezone.utc)


@pytest.fixture
def root(tmp_path):
    return approved_project(tmp_path / "p")


def test_a_draft_is_never_sent_even_for_training(root, tmp_path):
    for eml in (None, tmp_path / "x.eml"):
        with pytest.raises(HandoutError, match="never sent to a patient") as refused:
            send(root, AFTERCARE, patient=PATIENT, to="ayse@example.com", allow_draft=True, eml=eml, now=NOW)
        assert refused.value.problems == [DRAFTS_NOT_EMAILED]
    assert not (tmp_path / "x.eml").exists() and not (root / "data").exists()


def test_the_command_line_refuses_a_training_email_with_the_same_words(root, tmp_path, capsys):
    eml = tmp_path / "x.eml"
    code = main(["--project", str(root), "send", "--brand", AFTERCARE.brand, "--treatment", AFTERCARE.treatment,
                 "--kind", AFTERCARE.kind, "--lang", AFTERCARE.lang, "--treated", PATIENT["treated"],
                 "--to", "ayse@example.com", "--eml", str(eml), "--allow-draft"])
    assert code == 2 and DRAFTS_NOT_EMAILED in capsys.readouterr().err
    assert not eml.exists() and not (root / "data").exists()


def test_an_exported_message_is_never_written_into_out(root):
    with pytest.raises(HandoutError, match="--eml"):
        send(root, AFTERCARE, patient=PATIENT, to="ayse@example.com", eml=root / "out" / "patient.eml", now=NOW)
    assert not (root / "out").exists()


def test_the_data_folder_may_not_be_inside_out_and_is_made_private(root):
    project = Project(root)
    with pytest.raises(InputError, match="inside out/"):
        data_folder(project, Settings(data="out/data"))
    (root / "data").mkdir(mode=0o755)
    assert data_folder(project, Settings()).stat().st_mode & 0o777 == 0o700


def test_a_new_project_keeps_patients_data_out_of_git(tmp_path):
    new_project(tmp_path / "clinic")
    ignored = (tmp_path / "clinic" / ".gitignore").read_text("utf-8").split()
    assert {"data/", "out/", "*.eml", "*-leaflet.pdf"} <= set(ignored)
    assert not (tmp_path / "clinic" / "gitignore").exists()


def settings_with_email(root) -> None:
    (root / "careleaf.yaml").write_text("email:\n  host: localhost\n  port: 2525\n  security: starttls\n"
                                        "  sender: leaflets@group.example\n", "utf-8")


def queued_message(root, send_id: str):
    import email
    import email.policy

    from careleaf.content.settings import load_settings
    from careleaf.desk.outbox import Outbox

    outbox = Outbox(Project(root), load_settings(Project(root)))
    with outbox.db.transaction() as tx:
        body = tx.one("select body from messages where namespace = ? and id = ?", tx.namespace, send_id)[0]
    return email.message_from_bytes(bytes(body), policy=email.policy.default), outbox.status(send_id)


def test_nothing_is_queued_without_the_patients_consent_and_a_send_records_it(root):
    settings_with_email(root)
    with pytest.raises(HandoutError, match="consent") as refused:
        send(root, AFTERCARE, patient=PATIENT, to="ayse@example.com", now=NOW)
    assert "Ayşe" not in str(refused.value) and not (root / "data").exists()
    sent = send(root, AFTERCARE, patient=PATIENT, to="ayse@example.com", now=NOW, consent=True)
    _, state = queued_message(root, sent.id)
    assert dt.datetime.fromisoformat(state["consent"]).tzinfo is not None


def test_each_brand_sends_from_its_own_address(root):
    settings_with_email(root)
    brand = root / "leaflets" / "brands" / "harbour-skin.yaml"
    brand.write_text(brand.read_text("utf-8") + "sender: leaflets@harbourskin.example\n", "utf-8")
    sent = send(root, AFTERCARE, patient=PATIENT, to="ayse@example.com", now=NOW, consent=True)
    message, _ = queued_message(root, sent.id)
    assert message["From"].addresses[0].addr_spec == "leaflets@harbourskin.example"
    assert message["From"].addresses[0].display_name == "Harbour Skin Clinic"


def test_a_register_kept_in_its_own_file_moves_into_the_desks_database_once(root):
    import sqlite3

    from careleaf.desk.register import COLUMNS, project_register

    data = root / "data"
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / "register.sqlite3") as old:
        old.execute(f"create table handouts ({', '.join(COLUMNS)})")
        old.execute(f"insert into handouts values ({', '.join('?' for _ in COLUMNS)})",
                    ["2025-03-01T10:00:00+00:00", "print", "BTX-FL-AC", 1, "en", 0, "f", "harbour-skin",
                     "botox-facial-lines", "aftercare", "desk-1", "R-1", ""])
    [entry] = project_register(Project(root)).find()
    assert (entry.reference, entry.channel, entry.at) == ("R-1", "print", "2025-03-01T10:00:00+00:00")
    assert not (data / "register.sqlite3").exists() and (data / "register.sqlite3.moved").exists()
