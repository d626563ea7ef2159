"""The desk at a busy counter, and its guards: a PDF only for the leaflet shown, an expired form shown again with
what was typed, a time typed alone, sign-in throttling that slows a guesser but never locks a colleague out,
X-Forwarded-For believed only from the proxies careleaf.yaml lists, sessions ended on the server, HSTS, the
API's rate limit, and the member of staff recorded.

The app runs in-process (Starlette's TestClient) with a stand-in renderer where no PDF is needed; the
X-Forwarded-For test runs the real ``careleaf serve`` (uvicorn reads that header, not the app).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from careleaf.desk.register import project_register
from careleaf.project import Project
from careleaf.web.app import create_app
from careleaf.web.renderer import Preview
from careleaf.web.security import LoginLimiter, password_hash

from conftest import approved_project
from webserver import WebServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"
AFTERCARE = {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en"}
SHOWN = {**AFTERCARE, "shown": f"{BRAND}/{TREATMENT}/aftercare/en/standard"}
ACCOUNT, PASSWORD = "reception", "correct horse battery"
NAME = "Ayşe Yılmaz"
TOKEN = "pms-token-counter-1"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def today_in_london() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/London")).date()


class Stand:
    """A renderer whose previews and handouts are made at once (one blank page; a fixed PDF), recording each."""

    def __init__(self):
        self.handouts: list[tuple] = []

    async def preview(self, choice, patient=None, **kwargs):
        return Preview((b"\x89PNG",), ("page text",), "BTX-FL-AC" if choice.kind == "aftercare" else "BTX-FL-PT", 1, ())

    async def handout(self, choice, patient, **kwargs):
        from careleaf.handout.handouts import Handout, HandoutRecord

        self.handouts.append((choice, dict(patient)))
        record = HandoutRecord("BTX-FL-AC", 1, choice.lang, False, choice.brand, choice.treatment, choice.kind,
                               "0" * 64, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), False)
        return Handout(b"%PDF-1.7 (test)", record, f"{choice.brand}-leaflet.pdf")

    def close(self) -> None:
        pass


def settings(root: Path, **sections) -> Path:
    (root / "careleaf.yaml").write_text(yaml.safe_dump(sections, sort_keys=False), "utf-8")
    return root


@pytest.fixture()
def project(tmp_path) -> Path:
    return approved_project(tmp_path / "project")


@pytest.fixture()
def accounts(project) -> Path:
    return settings(project, desk={"accounts": [{"name": ACCOUNT, "password_hash": password_hash(PASSWORD)}]})


def sign_in(client, name: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token}, follow_redirects=False)


# --- what you print is what you see -------------------------------------------------------------------

def test_a_pdf_is_made_only_for_the_leaflet_the_page_showed(project):
    stand = Stand()
    with TestClient(create_app(Project(project), renderer=stand)) as client:
        token = csrf_of(client.get("/", params=AFTERCARE).text)
        typed = {"csrf": token, "name": NAME, "treated": f"{today_in_london()} 10:00", "action": "print"}
        shown_pre = f"{BRAND}/{TREATMENT}/pre-treatment/en/standard"
        for shown in ({"shown": shown_pre}, {}, {"shown": SHOWN["shown"].replace("/en/", "/tr/")}):
            refused = client.post("/handout", data={**AFTERCARE, **typed, **shown})
            assert refused.status_code == 409 and not refused.content.startswith(b"%PDF")
            assert "was not the one shown" in refused.text
            assert f'name="shown" value="{SHOWN["shown"]}"' in refused.text, "the leaflet chosen is shown now"
            assert f'value="{NAME}"' in refused.text, "what was typed is kept"
        assert stand.handouts == []
        printed = client.post("/handout", data={**SHOWN, **typed})
        assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
        [(choice, _)] = stand.handouts
        assert (choice.kind, choice.lang) == ("aftercare", "en")


def test_buttons_name_the_leaflet_and_showing_another_keeps_the_details(project):
    with TestClient(create_app(Project(project), renderer=Stand()), follow_redirects=False) as client:
        token = csrf_of(client.get("/", params=AFTERCARE).text)
        shown = client.post("/handout", data={**AFTERCARE, "lang": "tr", "csrf": token, "name": NAME,
                                              "batch": "C1", "action": "show"})
        assert shown.status_code == 200
        assert "Print BTX-FL-AC · Türkçe</button>" in shown.text and "Email BTX-FL-AC · Türkçe</button>" in shown.text
        assert f'value="{NAME}"' in shown.text and 'value="C1"' in shown.text
        # Nothing typed: showing is a plain address (no patient detail), so the page can be bookmarked.
        empty = client.post("/handout", data={**AFTERCARE, "csrf": token, "action": "show"})
        assert empty.status_code == 303 and empty.headers["location"] == (
            f"/?brand={BRAND}&treatment={TREATMENT}&kind=aftercare&lang=en")


def test_an_expired_form_is_shown_again_with_what_was_typed(project):
    stand = Stand()
    with TestClient(create_app(Project(project), renderer=stand)) as client:
        client.get("/")
        answer = client.post("/handout", data={**SHOWN, "csrf": "from-an-old-session", "name": NAME,
                                               "treated": f"{today_in_london()} 10:00", "action": "print"})
        assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
        assert "nothing was done" in answer.text and f'value="{NAME}"' in answer.text
        assert stand.handouts == []
        again = client.post("/handout", data={**SHOWN, "csrf": csrf_of(answer.text), "name": NAME,
                                              "treated": f"{today_in_london()} 10:00", "action": "print"})
        assert again.status_code == 200 and again.content.startswith(b"%PDF"), "its new token works"


def test_a_time_typed_alone_is_today_in_the_clinics_time_zone(project):
    stand = Stand()
    with TestClient(create_app(Project(project), renderer=stand)) as client:
        token = csrf_of(client.get("/", params=AFTERCARE).text)
        client.post("/handout", data={**SHOWN, "csrf": token, "treated": "9:45", "action": "print"})
        [(_, patient)] = stand.handouts
        assert patient["treated"] == f"{today_in_london().isoformat()} 9:45"


# --- sign-in: slowed, never locked out -------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_sign_ins_slow_the_guesser_but_never_lock_a_colleague_out(accounts):
    clock = Clock()
    app = create_app(Project(accounts), renderer=Stand())
    with TestClient(app, follow_redirects=False) as guesser, \
            TestClient(app, follow_redirects=False, client=("10.0.0.7", 50000)) as colleague:
        app.state.limiter = LoginLimiter(clock=clock)
        for attempt in range(5):
            assert sign_in(guesser, ACCOUNT, f"guess {attempt}").status_code == 401
        slowed = sign_in(guesser, ACCOUNT, PASSWORD)
        assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"
        assert "Try again in 1 seconds" in slowed.text
        # The account is not locked: a colleague at another computer signs in with the right password.
        assert sign_in(colleague, ACCOUNT, PASSWORD).status_code == 303
        # Each failure from the guesser's address doubles its wait (1, 2, 4 … 60 s at most).
        waits = []
        for attempt in range(8):
            clock.now += 61
            assert sign_in(guesser, ACCOUNT, f"again {attempt}").status_code == 401
            waits.append(int(sign_in(guesser, ACCOUNT, "x").headers["retry-after"]))
        assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
        assert app.state.limiter.pause(ACCOUNT) <= 3, "a short pause for the account, never a refusal"
        out = sign_in(colleague, ACCOUNT, PASSWORD)
        assert out.status_code == 303, "13 failures later, the colleague still signs in"
        clock.now += 61
        assert sign_in(guesser, ACCOUNT, PASSWORD).status_code == 303, "after the wait, the right password works"


def test_x_forwarded_for_is_believed_only_from_listed_proxies(project):
    """The per-address limit cannot be dodged by naming a new address in X-Forwarded-For for each guess (uvicorn's
    own default believes it from 127.0.0.1)."""
    root = settings(project, desk={"accounts": [{"name": ACCOUNT, "password_hash": password_hash(PASSWORD)}]})
    with WebServer(root) as server, httpx.Client(base_url=server.url, timeout=60) as web:
        answers = []
        for attempt in range(16):
            token = csrf_of(web.get("/login").text)
            answers.append(web.post("/login", headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
                                    data={"name": f"guess-{attempt}", "password": "wrong", "csrf": token}).status_code)
        assert 429 in answers, answers
        assert "203.0.113." not in server.log(), "the forged address is not what the server saw"


# --- sessions, HSTS, staff ---------------------------------------------------------------------------------

def test_signing_out_ends_the_session_on_the_server_and_a_changed_password_too(accounts):
    app = create_app(Project(accounts), renderer=Stand())
    with TestClient(app, follow_redirects=False) as client:
        assert sign_in(client, ACCOUNT, PASSWORD).status_code == 303
        copied = dict(client.cookies)
        desk = client.get("/")
        assert desk.status_code == 200
        assert client.post("/logout", data={"csrf": csrf_of(desk.text)}).status_code == 303
    with TestClient(app, follow_redirects=False, cookies=copied) as thief:
        assert thief.get("/").status_code == 303, "a copy of the cookie is no use after signing out"
    with TestClient(app, follow_redirects=False) as client:
        assert sign_in(client, ACCOUNT, PASSWORD).status_code == 303
        [account] = app.state.settings.desk.accounts
        object.__setattr__(account, "password_hash", password_hash("a new password"))   # careleaf.yaml changed
        assert client.get("/").status_code == 303, "a session from before the password changed has ended"


def test_hsts_only_over_https(project):
    with TestClient(create_app(Project(project), renderer=Stand())) as client:
        assert "strict-transport-security" not in client.get("/login").headers
    root = settings(project, desk={"https": True})
    with TestClient(create_app(Project(root), renderer=Stand()), base_url="https://testserver") as client:
        assert client.get("/login").headers["strict-transport-security"] == "max-age=31536000"


def test_the_staff_recorded_without_accounts_is_careleaf_staff(project, monkeypatch):
    monkeypatch.setenv("CARELEAF_STAFF", "Jo at reception")
    with TestClient(create_app(Project(project), renderer=Stand())) as client:
        token = csrf_of(client.get("/", params=AFTERCARE).text)
        client.post("/handout", data={**SHOWN, "csrf": token, "treated": f"{today_in_london()} 10:00",
                                      "reference": "MRN-77", "action": "print"})
    [entry] = project_register(Project(project)).find(reference="MRN-77")
    assert entry.staff == "Jo at reception"


# --- the API's rate limit --------------------------------------------------------------------------------

def test_api_tokens_are_rate_limited_with_retry_after(project, monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    root = settings(project, desk={"api_requests_per_minute": 5})
    with TestClient(create_app(Project(root), renderer=Stand())) as client:
        answers = [client.get("/api/leaflets", headers={"Authorization": f"Bearer {TOKEN}"}) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "Too many API requests" in answers[-1].json()["detail"]


# --- the desk first ------------------------------------------------------------------------------------

def test_the_apis_renders_have_workers_of_their_own_that_yield_to_the_desks(project):
    import asyncio
    import os

    from careleaf.web.renderer import API, API_NICE, DESK, Renderer

    async def niceness() -> tuple[int, int, bool]:
        renderer = Renderer(project, workers=2, timeout=60)
        try:
            desk = await renderer._run(DESK, os.nice, 0)
            before = renderer.api_pool is None
            api = await asyncio.gather(*(renderer._run(API, os.nice, 0) for _ in range(3)))
            assert len(set(api)) == 1
            return desk, api[0], before
        finally:
            renderer.close()

    desk, api, started_on_demand = asyncio.run(niceness())
    assert started_on_demand, "no API workers until the API renders"
    assert api == min(desk + API_NICE, 19), "the API's workers yield the processors to the desk's"


# --- errors that keep the work -----------------------------------------------------------------------------

def test_a_browsers_errors_are_pages_in_words_and_the_apis_stay_json(project, monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    with TestClient(create_app(Project(project), renderer=Stand()), follow_redirects=False) as client:
        for path in ("/no-such-page", "/sends/" + "0" * 32):
            missing = client.get(path)
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
            assert "Page not found" in missing.text and 'href="/"' in missing.text
        expired = client.post("/day/done", data={"row": "1", "csrf": "old"})
        assert expired.status_code == 403 and "nothing was done" in expired.text
        large = client.post("/handout", content=b"a" * 70_000,
                            headers={"content-type": "application/x-www-form-urlencoded"})
        assert large.status_code == 413 and large.headers["content-type"].startswith("text/html")
        api = client.get("/api/sends/" + "0" * 32, headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 404 and api.headers["content-type"] == "application/json"


def test_the_password_page_survives_a_reload_and_is_shown_to_that_browser_only(project):
    """A locked PDF's password: the email POST redirects to the status page, which shows it to the browser that sent
    it, again on a reload, until staff say it was told (a new request never sends a second email)."""
    root = settings(project, email={"host": "127.0.0.1", "port": 9, "security": "none",
                                    "sender": "leaflets@harbourskin.example"})
    with TestClient(create_app(Project(root)), follow_redirects=False) as client:
        token = csrf_of(client.get("/", params=AFTERCARE).text)
        sent = client.post("/handout", data={**SHOWN, "csrf": token, "treated": f"{today_in_london()} 10:00",
                                             "email": "patient@example.com", "email_again": "patient@example.com",
                                             "consent": "1", "lock": "1", "action": "email"})
        assert sent.status_code == 303 and re.fullmatch(r"/sends/[0-9a-f]{32}", sent.headers["location"])
        status = client.get(sent.headers["location"])
        password = re.search(r'class="secret"><strong>([^<]+)</strong>', status.text)[1]
        reloaded = client.get(sent.headers["location"])
        assert password in reloaded.text, "a reload keeps the password"
        with TestClient(client.app) as other:
            assert password not in other.get(sent.headers["location"]).text, "another browser never sees it"
        told = client.post(sent.headers["location"] + "/told", data={"csrf": token})
        assert told.status_code == 303
        assert password not in client.get(sent.headers["location"]).text, "told: forgotten"
