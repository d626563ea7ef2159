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
from test_email import configure, outbox_of

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


def failed(page: str) -> str | None:
    return page if "failed:" in page else None


def outbox_page(client: TestClient) -> str:
    answer = client.get("/outbox")
    assert answer.status_code == 200
    return answer.text


@pytest.mark.slow
def test_the_outbox_page_lists_by_reference_and_retries_cancels_and_resumes(root, mail, workers):
    """A busy server past the retry days fails the email, kept for staff: the Outbox page lists it by reference, and
    its Retry (a POST with the form token) queues it again; a pause is shown with Resume; Cancel stops a waiting
    email."""
    mail.refuse("451 4.3.0 try again later", times=5)
    configure(root, mail, retry_days=0.0001)   # about 9 s: the fifth try (after 15 s) gives up
    with TestClient(create_app(Project(root)), follow_redirects=False) as client:
        status = email_from_desk(client)
        send_id = status.rsplit("/", 1)[1]
        workers.start(root, mail.environment())
        listed = wait_until(lambda: failed(outbox_page(client)), 60, what="the Outbox page to list the failed email")
        assert "P-77" in listed and MASKED in listed and ADDRESS not in listed and "Pat Person" not in listed
        token = csrf_of(listed)
        assert client.post(f"/outbox/{send_id}/retry", data={"csrf": "wrong"}).status_code == 403
        retried = client.post(f"/outbox/{send_id}/retry", data={"csrf": token})
        assert retried.status_code == 303 and retried.headers["location"] == "/outbox?done=retried"
        mail.wait_for(1, 30)
        wait_until(lambda: "Nothing waiting" in outbox_page(client), 60, what="the retried email to be delivered")
        workers.stop_all()

        waiting = email_from_desk_again(client)
        outbox = outbox_of(root)
        with outbox.db.transaction() as tx:
            tx.run("insert into outbox_pause (namespace, since, reason) values (?, ?, ?)", tx.namespace,
                   "2026-12-07T02:10:00.000+00:00", "the mail server refused the sign-in")
        paused = outbox_page(client)
        assert "The outbox is paused" in paused and "refused the sign-in" in paused and "Resume sending" in paused
        assert "No email worker is running" in paused
        assert client.post("/outbox/resume", data={"csrf": token}).headers["location"] == "/outbox?done=resumed"
        assert "The outbox is paused" not in outbox_page(client)
        cancelled = client.post(f"/outbox/{waiting}/cancel", data={"csrf": token})
        assert cancelled.status_code == 303
        assert outbox.status(waiting)["status"] == "cancelled" and "Nothing waiting" in outbox_page(client)
        assert client.post(f"/outbox/{waiting}/cancel", data={"csrf": token}).status_code == 409


def email_from_desk_again(client: TestClient) -> str:
    """A second email (another reference, so not the same send); its id."""
    token = csrf_of(client.get("/", params={k: v for k, v in SHOWN.items() if k != "shown"}).text)
    sent = client.post("/handout", data={**SHOWN, "csrf": token, "treated": f"{today_in_london()} 10:00",
                                         "name": "Pat Person", "reference": "P-78", "email": ADDRESS,
                                         "email_again": ADDRESS, "consent": "1", "action": "email"})
    assert sent.status_code == 303, sent.text
    return sent.headers["location"].rsplit("/", 1)[1]
