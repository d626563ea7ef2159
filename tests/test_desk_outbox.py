"""The desk's email status page, against a real mail server (aiosmtpd with TLS) and real `careleaf worker`
processes: staff see to whom (masked), why it waits and when it is tried next, and whether any worker is running."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from careleaf.project import Project
from careleaf.web.app import create_app

from conftest import approved_project, wait_until
from test_desk_counter import SHOWN, csrf_of, today_in_london
from test_email import configure

ADDRESS = "patient.person@example.com"
MASKED = "p•••@example.com"


@pytest.fixture
def root(tmp_path):
    return approved_project(tmp_path / "clinic")


def email_from_desk(client: TestClient) -> str:
    """Email the English aftercare leaflet from the desk form, as staff do; the status page's address."""
    token = csrf_of(client.get("/", params={k: v for k, v in SHOWN.items() if k != "shown"}).text)
    sent = client.post("/handout", data={**SHOWN, "csrf": token, "treated": f"{today_in_london()} 10:00",
                                         "name": "Pat Person", "reference": "P-77", "email": ADDRESS,
                                         "email_again": ADDRESS, "consent": "1", "action": "email"})
    assert sent.status_code == 303 and re.fullmatch(r"/sends/[0-9a-f]{32}", sent.headers["location"]), sent.text
    return sent.headers["location"]


def retrying(page: str) -> str | None:
    return page if "retrying:" in page else None


@pytest.mark.slow
def test_a_retrying_email_says_why_since_when_and_the_next_try_with_the_address_masked(root, mail, workers):
    mail.stop()
    configure(root, mail)
    with TestClient(create_app(Project(root)), follow_redirects=False) as client:
        status = email_from_desk(client)
        workers.start(root, mail.environment())
        page = wait_until(lambda: retrying(client.get(status).text), 30, what="the page to say it is being retried")
        assert re.search(r"retrying: could not reach the mail server: ConnectionRefusedError.* since \d\d:\d\d UTC, "
                         r"next try \d\d:\d\d UTC", page), page
        assert MASKED in page and ADDRESS not in page and "Pat Person" not in page
        assert "No email worker is running" not in page
        mail.start()
        mail.wait_for(1, 30)
        wait_until(lambda: "Delivered to the patient's mail server" in client.get(status).text, 30,
                   what="the page to say the email was delivered")


def test_without_a_worker_the_page_says_emails_wait_until_one_is_started(root, mail):
    configure(root, mail)
    with TestClient(create_app(Project(root)), follow_redirects=False) as client:
        page = client.get(email_from_desk(client)).text
    assert "No email worker is running: emails wait until it is started" in page
    assert "careleaf worker" in page and MASKED in page and ADDRESS not in page
