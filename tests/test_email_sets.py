"""Several leaflets for one patient in one email (careleaf.desk.send.send_leaflets; the desk's "Email both";
POST /api/sends with ``also``), against a real mail server (aiosmtpd with TLS, tests/mailserver.py) and real
`careleaf worker` processes, on the SQLite file and on a real PostgreSQL server.

What patients and clinics rely on: one message, each leaflet its own PDF (all opening with the one password
staff were shown, each the leaflet it should be, in its language); the message and the file names say
nothing of the patient or the treatment; the same set for the same patient goes once, a different set is
another message; a set with a leaflet not for patients is refused whole before anything is queued; and
delivery registers every leaflet, so a recall of either finds the patient.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
import warnings

import pikepdf
import pypdf
import pytest

from careleaf.content.catalog import load_catalog
from careleaf.desk.outbox import leaflet_names
from careleaf.desk.send import GENERATE as MAKE_PASSWORD
from careleaf.desk.send import check_leaflets, send_leaflets
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, handout
from careleaf.project import Project
from careleaf.web.app import create_app

from conftest import approved_project, run_cli
from test_desk_counter import SHOWN, csrf_of, today_in_london
from test_email import (ADDRESS, AFTERCARE, AYSE, BRAND, DEADLINE, NOW, PASSWORD_PATTERN, PERSONAL, TREATMENT,
                        TREATMENT_WORDS, configure, labels, outbox_of, postgres_server, quiet, register_entries,
                        storage, wait_for_status)

with warnings.catch_warnings():     # Starlette's TestClient warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["postgres_server", "storage"]        # fixtures, used by name

PRE_TREATMENT = Choice(BRAND, TREATMENT, "pre-treatment", "en")
AFTERCARE_TR = Choice(BRAND, TREATMENT, "aftercare", "tr")
PRE_TREATMENT_TR = Choice(BRAND, TREATMENT, "pre-treatment", "tr")
TOKEN = "set-token-41aa"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def root(tmp_path):
    return approved_project(tmp_path / "clinic")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Ayşe's leaflets, each rendered once for the tests that are about queueing, not rendering."""
    root = approved_project(tmp_path_factory.mktemp("made"))
    catalog = load_catalog(Project(root))
    return {choice: handout(root, choice, patient=AYSE, now=NOW, catalog=catalog)
            for choice in (AFTERCARE, PRE_TREATMENT, AFTERCARE_TR)}


def language(pdf: bytes, password: str) -> str:
    """The PDF's language once opened with the password; it is refused without it."""
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(pdf))
    with pikepdf.open(io.BytesIO(pdf), password=password) as document:
        return str(document.Root.Lang)


def leaflet_text(pdf: bytes, password: str) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    reader.decrypt(password)
    return " ".join(page.extract_text() for page in reader.pages)


# --- one message, each leaflet its own locked PDF ---------------------------------------------------------

@pytest.mark.slow
def test_two_leaflets_are_one_message_each_its_own_pdf_with_one_password(root, mail, workers, storage):
    configure(root, mail, storage)
    sent = send_leaflets(root, [AFTERCARE, PRE_TREATMENT_TR], patient=AYSE, to=ADDRESS, reference="P-SET-1",
                         staff="desk-1", password=MAKE_PASSWORD, now=NOW, consent=True)
    assert sent.status == "queued" and PASSWORD_PATTERN.fullmatch(sent.password)
    workers.start(root, mail.environment())
    [received] = mail.wait_for(1, DEADLINE)
    wait_for_status(root, sent.id, "sent")
    quiet(root, workers)
    assert len(mail.received()) == 1, "one message for the two leaflets"

    message = received.message
    assert received.rcpt_tos == [ADDRESS]
    assert message["Subject"] == labels("en")["email_subject_several"]
    body = message.get_body(("plain",)).get_content()
    assert labels("en")["email_body_several"] in body and labels("en")["email_locked_several"] in body
    attachments = list(message.iter_attachments())
    names = [part.get_filename() for part in attachments]
    assert names == [f"{BRAND}-leaflet-aftercare-en.pdf", f"{BRAND}-leaflet-pre-treatment-tr.pdf"]
    for shown in [str(message["Subject"]), *names]:
        for secret in PERSONAL + TREATMENT_WORDS + ("ayse", "yilmaz", "facial"):
            assert secret.lower() not in shown.lower(), (secret, shown)

    # Each opens with the one password, and is the leaflet it should be, in its language, for Ayşe.
    pdfs = [part.get_content() for part in attachments]
    assert [language(pdf, sent.password) for pdf in pdfs] == ["en", "tr"]
    texts = [leaflet_text(pdf, sent.password) for pdf in pdfs]
    assert "BTX-FL-AC" in texts[0] and "BTX-FL-PT" not in texts[0]
    assert "BTX-FL-PT" in texts[1] and "BTX-FL-AC" not in texts[1]
    assert all("Ayşe Yılmaz" in text for text in texts)

    # Delivered: an entry for each leaflet, of this one send, so a recall of either finds the patient.
    entries = register_entries(root)
    assert sorted((e.channel, e.code, e.lang, e.reference, e.staff) for e in entries) == [
        ("email", "BTX-FL-AC", "en", "P-SET-1", "desk-1"), ("email", "BTX-FL-PT", "tr", "P-SET-1", "desk-1")]
    outbox = outbox_of(root)
    with outbox.db.transaction() as tx:
        assert tx.rows("select distinct send_id from handouts where namespace = ?", tx.namespace) == [(sent.id,)]
        assert tx.one("select count(*) from messages where namespace = ?", tx.namespace)[0] == 0
    state = outbox.status(sent.id)
    assert leaflet_names(state) == ["BTX-FL-AC v1 · en", "BTX-FL-PT v1 · tr"]

    listed = run_cli("--project", str(root), "outbox", "--all", "--json", cwd=root)
    assert listed.returncode == 0, listed.stderr
    [shown] = json.loads(listed.stdout)["sends"]
    assert [(x["code"], x["lang"]) for x in shown["leaflets"]] == [("BTX-FL-AC", "en"), ("BTX-FL-PT", "tr")]
    lines = run_cli("--project", str(root), "outbox", "--all", cwd=root).stdout
    assert "BTX-FL-AC v1 · en + BTX-FL-PT v1 · tr" in lines
    for output in (listed.stdout, lines):
        assert ADDRESS not in output and "Ayşe" not in output


# --- the same set once, a different set another message -----------------------------------------------------

def test_the_same_set_is_one_send_in_any_order_and_another_set_is_another(root, made):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls",
                                          "sender": "leaflets@harbourskin.example"})

    def queue(choices, **options):
        return send_leaflets(root, choices, made=[made[c] for c in choices], patient=AYSE, to=ADDRESS, now=NOW,
                             consent=True, **options)

    first = queue([AFTERCARE, PRE_TREATMENT], reference="P-2")
    assert first.status == "queued"
    again = queue([PRE_TREATMENT, AFTERCARE], reference="P-2", password=MAKE_PASSWORD)
    assert (again.id, again.status, again.password) == (first.id, "already queued", None)
    alone = queue([AFTERCARE], reference="P-2")
    languages = queue([AFTERCARE, AFTERCARE_TR], reference="P-2")
    assert alone.status == languages.status == "queued"
    assert len({first.id, alone.id, languages.id}) == 3, "a different set is a different message"

    # Without a reference, one desk form: a double click sends once, another set from it is another message.
    on_form = queue([AFTERCARE, PRE_TREATMENT], key="form-1")
    assert queue([AFTERCARE, PRE_TREATMENT], key="form-1").id == on_form.id
    english, turkish = queue([AFTERCARE], key="form-1"), queue([AFTERCARE_TR], key="form-1")
    assert len({on_form.id, english.id, turkish.id}) == 3
    assert len(outbox_of(root).sends()) == 6
    assert register_entries(root) == []            # registered when delivered, not before


def test_a_set_is_refused_whole_before_anything_is_queued(root):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls",
                                          "sender": "leaflets@harbourskin.example"})
    wording = root / "leaflets" / "treatments" / TREATMENT / "tr.yaml"
    text = wording.read_text("utf-8")
    changed = text.replace("toksini: tedaviden sonra", "toksini: tedaviniz bittikten sonra")
    assert changed != text
    wording.write_text(changed, "utf-8")        # the Turkish wording changed since it was approved
    with pytest.raises(HandoutError) as refused:
        send_leaflets(root, [AFTERCARE, AFTERCARE_TR], patient=AYSE, to=ADDRESS, reference="P-3", now=NOW,
                      consent=True)
    assert "BTX-FL-AC" in str(refused.value) and "cannot be given to a patient" in str(refused.value)
    for choices, said in (([AFTERCARE, AFTERCARE], "named twice"),
                          ([AFTERCARE, replace(AFTERCARE, brand="maple")], "one clinic"),
                          ([AFTERCARE, PRE_TREATMENT, AFTERCARE_TR, PRE_TREATMENT_TR,
                            replace(AFTERCARE, large_print=True)], "1 to 4 leaflets"),
                          ([], "1 to 4 leaflets")):
        with pytest.raises(HandoutError, match=said):
            check_leaflets(choices)
        with pytest.raises(HandoutError, match=said):
            send_leaflets(root, choices, patient=AYSE, to=ADDRESS, now=NOW, consent=True)
    with pytest.raises(HandoutError, match="consent"):
        send_leaflets(root, [AFTERCARE, PRE_TREATMENT], patient=AYSE, to=ADDRESS, now=NOW)
    assert outbox_of(root).sends() == [] and register_entries(root) == []


# --- the API ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_api_sends_several_leaflets_in_one_email_once(root, mail, workers, monkeypatch):
    configure(root, mail)
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    request = {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en", "reference": "REF-SET-2",
               "to": ADDRESS, "consent": True, "lock": True, "also": [{"treatment": TREATMENT,
                                                                       "kind": "pre-treatment", "lang": "en"}],
               "patient": {"treated": f"{today_in_london()} 10:00", "name": "Zeynep Kaya"}}
    with TestClient(create_app(Project(root))) as client:
        document = client.get("/api/openapi.json").json()["components"]["schemas"]
        also = document["SendRequest"]["properties"]["also"]
        assert also["maxItems"] == 3 and also["items"] == {"$ref": "#/components/schemas/AlsoLeaflet"}
        assert document["AlsoLeaflet"]["properties"]["lang"]["enum"] == ["en", "tr"]
        assert "brand" not in document["AlsoLeaflet"]["properties"]
        assert "leaflets" in document["SendStatus"]["required"]

        other = request["also"][0]
        for wrong in ([other] * 4, [other | {"brand": BRAND}], [other | {"kind": "aftercare"}]):
            refused = client.post("/api/sends", json=request | {"also": wrong}, headers=AUTH)
            assert refused.status_code == 422, (wrong, refused.text)
            assert "Zeynep" not in refused.text
        assert outbox_of(root).sends() == []

        queued = client.post("/api/sends", json=request, headers=AUTH)
        assert queued.status_code == 202, queued.text
        send_id, password = queued.json()["id"], queued.json()["password"]
        assert queued.json()["status"] == "queued" and PASSWORD_PATTERN.fullmatch(password)
        repeated = client.post("/api/sends", json=request, headers=AUTH)
        assert repeated.json() == {"id": send_id, "status": "already queued", "password": None}

        workers.start(root, mail.environment())
        [received] = mail.wait_for(1, DEADLINE)
        wait_for_status(root, send_id, "sent")
        after = client.post("/api/sends", json=request, headers=AUTH)
        assert after.json() == {"id": send_id, "status": "already sent", "password": None}
        status = client.get(f"/api/sends/{send_id}", headers=AUTH).json()
        assert [(x["code"], x["lang"]) for x in status["leaflets"]] == [("BTX-FL-AC", "en"), ("BTX-FL-PT", "en")]
        assert status["code"] == "BTX-FL-AC" and status["status"] == "sent"
        found = client.post("/api/register/search", json={"reference": "REF-SET-2"}, headers=AUTH).json()
        assert sorted((e["channel"], e["code"]) for e in found) == [("email", "BTX-FL-AC"), ("email", "BTX-FL-PT")]
        recalled = client.post("/api/register/search", json={"code": "BTX-FL-PT"}, headers=AUTH).json()
        assert [e["reference"] for e in recalled] == ["REF-SET-2"]
    quiet(root, workers)
    assert len(mail.received()) == 1, "the repeated requests sent nothing"
    pdfs = [part.get_content() for part in received.message.iter_attachments()]
    texts = [leaflet_text(pdf, password) for pdf in pdfs]
    assert len(pdfs) == 2 and "BTX-FL-AC" in texts[0] and "BTX-FL-PT" in texts[1]
    assert all("Zeynep Kaya" in text for text in texts)


# --- the desk's "Email both" ------------------------------------------------------------------------------

def test_email_both_from_the_desk_is_one_send_naming_both_leaflets(root):
    configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls",
                                          "sender": "leaflets@harbourskin.example"})
    address = "pat.person@example.com"
    with TestClient(create_app(Project(root)), follow_redirects=False) as client:
        token = csrf_of(client.get("/", params={k: v for k, v in SHOWN.items() if k != "shown"}).text)
        form = {**SHOWN, "csrf": token, "treated": f"{today_in_london()} 10:00", "name": "Pat Person",
                "email": address, "email_again": address, "consent": "1", "lock": "1", "form_key": "desk-form-1"}
        unchosen = client.post("/handout", data=form | {"action": "email_both"})
        assert unchosen.status_code == 400 and "Choose which other leaflet to email" in unchosen.text
        assert "Pat Person" in unchosen.text, "what was typed is kept"

        both = form | {"action": "email_both", "also": "kind:pre-treatment"}
        sent = client.post("/handout", data=both)
        assert sent.status_code == 303, sent.text
        status = sent.headers["location"]
        page = client.get(status).text
        assert "BTX-FL-AC v1 · en, BTX-FL-PT v1 · en (one email, 2 PDFs)" in page
        assert "The PDFs are locked with this password" in page and PASSWORD_PATTERN.search(page)
        assert address not in page and "Pat Person" not in page
        assert 'value="email_both"' in client.get("/", params={k: v for k, v in SHOWN.items() if k != "shown"}).text

        twice = client.post("/handout", data=both)
        assert twice.headers["location"] == f"{status}?already=1", "a double click sends once"
        assert "These leaflets were already emailed" in client.get(twice.headers["location"]).text
        alone = client.post("/handout", data=form | {"action": "email"})
        assert alone.status_code == 303 and alone.headers["location"] != status, "one leaflet is another message"
        today = client.get("/today").text
        assert "BTX-FL-AC · en, BTX-FL-PT · en" in today
    sends = outbox_of(root).sends()
    assert [len(leaflet_names(s)) for s in sends] == [2, 1]


class NoRenders:
    """Renders nothing: a request that cannot be sent is refused before any leaflet is made."""

    async def handout(self, *args, **kwargs):
        raise AssertionError("nothing should be rendered here")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("change, said", [
    ({"also": [{"treatment": TREATMENT, "kind": "aftercare", "lang": "en"}]}, "named twice"),
    ({"to": "not-an-address"}, "not a valid address"),
    ({}, "no email settings"),
])
def test_the_api_refuses_what_cannot_be_sent_before_rendering_anything(root, monkeypatch, change, said):
    if said != "no email settings":
        configure(root, None, email_settings={"host": "localhost", "port": 2525, "security": "starttls",
                                              "sender": "leaflets@harbourskin.example"})
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    request = {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en", "to": ADDRESS,
               "consent": True, "also": [{"treatment": TREATMENT, "kind": "pre-treatment", "lang": "tr"}],
               "patient": {"treated": f"{today_in_london()} 10:00"}} | change
    with TestClient(create_app(Project(root), renderer=NoRenders())) as client:
        refused = client.post("/api/sends", json=request, headers=AUTH)
    assert refused.status_code == 422 and said in refused.json()["detail"], refused.text
    assert outbox_of(root).sends() == []
