"""The front desk's web app and JSON API (careleaf.web): routes, tokens, sign-in, CSRF, headers, limits,
and the promise that a patient's details never reach a URL, a log line or a file.

Most tests talk to one real server (``careleaf serve`` in a subprocess, tests/webserver.py) on an
approved copy of the sample catalog, shared by the module, so its render pool starts (each worker's
first render imports WeasyPrint) once for the module. Tests that need a different configuration
(staff accounts, a draft catalog) or that must prove nothing was rendered use Starlette's
TestClient on an app of their own; where no render is wanted, the app is given a renderer that
only records that it was asked.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import quote, quote_plus
from zoneinfo import ZoneInfo

import httpx
import pypdf
import pytest
import yaml
from fastapi.routing import APIRoute

from careleaf.errors import HandoutError
from careleaf.desk.outbox import Outbox
from careleaf.project import Project
from careleaf.desk.register import REGISTER_FILE
from careleaf.content.settings import Account, DeskSettings, load_settings
from careleaf.web.api import router as api_router
from careleaf.web.app import create_app
from careleaf.web.security import MAX_BODY, CannotListen, check_can_listen, password_hash, password_matches

from conftest import GENERATE, approved_project, repeat_until, small_project, wait_until
from webserver import WebServer, children, free_port, render_workers, status_kb

with warnings.catch_warnings():     # Starlette's TestClient warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"
AFTERCARE = {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en"}
# The desk's form carries the leaflet its page showed: a PDF is made only for that one.
SHOWN = {**AFTERCARE, "shown": f"{BRAND}/{TREATMENT}/aftercare/en/standard"}
TOKEN, OTHER_TOKEN = "pms-token-8f1c2a", "second-token-77d0"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACCOUNT, PASSWORD = "reception", "correct horse battery"
NAME, BATCH = "Ayşe Yılmaz", "C3920C3"
LONDON = ZoneInfo("Europe/London")


def treated_today(at: str = "10:00") -> str:
    """A treatment time today in the clinic's time zone: always within the year a patient's dates may be in."""
    return f"{dt.datetime.now(LONDON).date().isoformat()} {at}"


# --- projects and servers ----------------------------------------------------------------------

def write_settings(root: Path, **sections) -> Path:
    (root / "careleaf.yaml").write_text(yaml.safe_dump(sections, sort_keys=False), "utf-8")
    return root


def email_settings() -> dict:
    """A mail relay on this machine that nothing listens on: sends are queued, never delivered."""
    return {"host": "127.0.0.1", "port": free_port(), "security": "none", "sender": "leaflets@harbourskin.example"}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """An approved catalog with email settings, shared by the module's real server."""
    root = approved_project(tmp_path_factory.mktemp("web") / "project")
    return write_settings(root, email=email_settings(), desk={"render_workers": 2, "render_timeout": 60})


@pytest.fixture(scope="module")
def live(root) -> WebServer:
    """``careleaf serve`` on a free loopback port, with API tokens in its environment; stopped after the module."""
    with WebServer(root, env={"CARELEAF_API_TOKENS": f"{TOKEN},{OTHER_TOKEN}"}) as server:
        yield server


@pytest.fixture()
def api(live) -> httpx.Client:
    with httpx.Client(base_url=live.url, headers=AUTH, timeout=120) as client:
        yield client


class NoRenders:
    """A renderer that records what it was asked and renders nothing (a HandoutError, as for a refused leaflet)."""

    def __init__(self):
        self.calls: list[str] = []

    async def handout(self, *args, **kwargs):
        self.calls.append("handout")
        raise HandoutError(["(test) nothing is rendered here"])

    async def preview(self, *args, **kwargs):
        self.calls.append("preview")
        raise HandoutError(["(test) nothing is rendered here"])

    def close(self) -> None:
        pass


def api_routes() -> set[tuple[str, str]]:
    """Every (method, path) of the JSON API: the API router's routes, which the app serves under /api."""
    return {(method, "/api" + route.path) for route in api_router.routes if isinstance(route, APIRoute)
            for method in route.methods}


def pdf_text(pdf: bytes) -> str:
    """The PDF's text (pypdf), white space collapsed."""
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def forms_of(value: str) -> list[bytes]:
    """How a value may sit in a file or a log: as UTF-8, JSON-escaped, or URL-encoded (form or path style)."""
    return sorted({value.encode(), json.dumps(value)[1:-1].encode(), quote_plus(value).encode(), quote(value).encode()})


# --- 1. every API route, and the OpenAPI document ------------------------------------------------

def test_openapi_document_lists_every_api_route(live):
    document = httpx.get(f"{live.url}/api/openapi.json", timeout=30).json()
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    routes = api_routes()
    assert len(routes) == 6, routes
    assert documented == routes
    # Only the API is described: the desk's pages and the sign-in are not in it.
    assert all(path.startswith("/api/") for path in document["paths"])


def test_every_api_route_answers(root, live, api):
    """One call to each route, in the order a practice-management system uses them; every route is called."""
    called: set[tuple[str, str]] = set()

    def call(method: str, template: str, **params) -> httpx.Response:
        called.add((method, template))
        return api.request(method, template.format(**params.pop("path", {})), **params)

    leaflets = call("GET", "/api/leaflets")
    assert leaflets.status_code == 200
    found = {(x["kind"], x["lang"]): x for x in leaflets.json()}
    assert set(found) == {(kind, lang) for kind in ("pre-treatment", "aftercare") for lang in ("en", "tr")}
    assert found[("aftercare", "en")]["code"] == "BTX-FL-AC" and found[("pre-treatment", "tr")]["code"] == "BTX-FL-PT"
    assert all(x["state"] == "approved" and x["reasons"] == [] for x in found.values())

    made = call("POST", "/api/handouts", json={**AFTERCARE, "reference": "REF-API-1", "patient": {
        "treated": treated_today(), "name": "Zeynep Kaya", "batch": "ZK11"}})
    assert made.status_code == 200, made.text
    assert made.headers["content-type"] == "application/pdf"
    assert made.content.startswith(b"%PDF")
    assert "Zeynep Kaya" in pdf_text(made.content)
    assert "Zeynep" not in made.headers["content-disposition"]

    registered = call("POST", "/api/register/search", json={"reference": "REF-API-1"})
    assert registered.status_code == 200
    [entry] = registered.json()
    assert (entry["channel"], entry["code"], entry["lang"], entry["kind"], entry["staff"]) == \
        ("print", "BTX-FL-AC", "en", "aftercare", "api")

    sending = {**AFTERCARE, "reference": "REF-API-2", "to": "zeynep@example.com",
               "patient": {"treated": treated_today(), "name": "Zeynep Kaya"}}
    for without in ({}, {"consent": False}):         # nothing is emailed unless the patient agreed
        assert call("POST", "/api/sends", json=sending | without).status_code == 422
    queued = call("POST", "/api/sends", json=sending | {"consent": True})
    assert queued.status_code == 202, queued.text
    assert Outbox(Project(root), load_settings(Project(root))).status(queued.json()["id"])["consent"]
    send_id = queued.json()["id"]
    assert queued.json()["status"] == "queued" and queued.json()["password"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", send_id)
    # In the outbox (no mail server is needed to queue), and not in the register until it is delivered.
    project = Project(root)
    assert Outbox(project, load_settings(project)).status(send_id)["status"] == "queued"
    assert call("POST", "/api/register/search", json={"reference": "REF-API-2"}).json() == []

    status = call("GET", "/api/sends/{send_id}", path={"send_id": send_id})
    assert status.status_code == 200
    assert status.json()["status"] == "queued" and status.json()["code"] == "BTX-FL-AC"
    assert "zeynep" not in status.text.lower()
    assert call("GET", "/api/sends/{send_id}", path={"send_id": "0" * 32}).status_code == 404
    assert call("GET", "/api/sends/{send_id}", path={"send_id": "not-an-id"}).status_code == 404

    by_code = call("POST", "/api/register/search", json={"code": "BTX-FL-AC", "since": dt.date.today().isoformat()})
    assert any(e["reference"] == "REF-API-1" for e in by_code.json())

    row = f"{BRAND},{TREATMENT},aftercare,en,MRN-9,Zeynep Kaya,{treated_today()}"
    listed = call("POST", "/api/day-list", json={"csv": f"brand,treatment,kind,lang,reference,name,treated\n{row}\n"})
    assert listed.status_code == 200 and listed.json() == {"patients": 1}
    wrong = call("POST", "/api/day-list", json={"csv": f"brand,treatment,kind,lang,treated\n{BRAND},{TREATMENT},x,en,\n"})
    assert wrong.status_code == 422 and "the day's list:2:" in wrong.text and "Zeynep" not in wrong.text

    assert called == api_routes()


def test_api_refuses_requests_without_a_valid_token(root, monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", f"{TOKEN},{OTHER_TOKEN}")
    renderer = NoRenders()
    app = create_app(Project(root), renderer=renderer)
    routes = api_routes()
    wrong = [{}, {"Authorization": "Bearer not-the-token"}, {"Authorization": f"Bearer {TOKEN}x"},
             {"Authorization": "Bearer "}, {"Authorization": f"Basic {base64.b64encode(TOKEN.encode()).decode()}"},
             {"Authorization": TOKEN}, {"X-Api-Token": TOKEN}]
    with TestClient(app) as client:
        for method, path in sorted(routes):
            url = path.replace("{send_id}", "0" * 32)
            for headers in wrong:
                body = {"json": {}} if method == "POST" else {}
                answer = client.request(method, url, headers=headers, **body)
                assert answer.status_code == 401, (method, path, headers, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
            # The second configured token is as good as the first.
            good = client.request(method, url, headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
                                  **({"json": {}} if method == "POST" else {}))
            assert good.status_code != 401, (method, path)
    assert renderer.calls == [], "refused before anything was rendered (and the good token's empty bodies are 422s)"


def test_api_without_configured_tokens_lets_nobody_in(root, monkeypatch):
    monkeypatch.delenv("CARELEAF_API_TOKENS", raising=False)
    with TestClient(create_app(Project(root), renderer=NoRenders())) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer ,"}, AUTH):
            assert client.get("/api/leaflets", headers=headers).status_code == 401


# --- 2. validation errors never echo what was sent --------------------------------------------------

ECHO_CASES = {
    "a name of 150 characters": ({"name": "Q" * 150}, "Q" * 101),
    "a name with a right-to-left override": ({"name": "Mallory\u202eyrollaM"}, "Mallory"),
    "an unknown field": ({"favourite_colour": "Ayşe Yılmaz"}, "Ayşe Yılmaz"),
    "a date that does not exist": ({"treated": "2026-02-30 25:61"}, "2026-02-30"),
    "a date that is not one": ({"treated": "next Tuesday Ayşe"}, "next Tuesday"),
    "a batch with a quote": ({"batch": "C39'Ayşe"}, "C39'"),
}


@pytest.mark.parametrize("case", list(ECHO_CASES))
def test_validation_errors_never_echo_the_value(api, case):
    fields, value = ECHO_CASES[case]
    patient = {"treated": treated_today(), "name": "Ok Name"} | fields
    answer = api.post("/api/handouts", json={**AFTERCARE, "patient": patient})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"], "a 422 says what is wrong"
    for form in forms_of(value):
        assert form not in answer.content, (case, answer.text)


def test_validation_errors_in_register_search_never_echo_the_value(api):
    for body, value in [({"since": "2026-02-30"}, "2026-02-30"), ({"until": "Ayşe Yılmaz"}, "Ayşe Yılmaz"),
                        ({"reference": "R" * 60}, "R" * 41), ({"patient_name": "Ayşe Yılmaz"}, "Ayşe Yılmaz")]:
        answer = api.post("/api/register/search", json=body)
        assert answer.status_code == 422, (body, answer.text)
        for form in forms_of(value):
            assert form not in answer.content, (body, answer.text)
    broken = api.post("/api/register/search", content='{"reference": "Ayşe Yılm'.encode(),
                      headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "Ayşe".encode() not in broken.content


def test_validation_errors_never_echo_an_unknown_fields_name(api):
    answer = api.post("/api/handouts", json={**AFTERCARE, "patient": {"treated": treated_today(), "Ayşe Yılmaz": "x"}})
    assert answer.status_code == 422
    assert "Ayşe Yılmaz" not in answer.text


# --- 3. security headers and the request size limit --------------------------------------------------

def assert_secured(response: httpx.Response) -> None:
    headers = response.headers
    policy = dict((d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in headers["content-security-policy"].split(";"))
                  if d)
    script = policy.get("script-src", policy.get("default-src", ""))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, headers["content-security-policy"]
    assert script.strip() == "'self'"
    assert policy.get("object-src") == "'none'"
    assert policy.get("frame-ancestors") == "'none'" and headers.get("x-frame-options") == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert "no-store" in headers["cache-control"]
    assert headers.get("referrer-policy") == "no-referrer"
    assert "server" not in headers, "the server does not announce itself"


def test_security_headers_on_pages_api_errors_and_files(live):
    with httpx.Client(base_url=live.url, timeout=60) as web:
        answers = {
            "the desk": web.get("/"),
            "the sign-in page": web.get("/login"),
            "the editor": web.get("/editor"),
            "a missing page": web.get("/no-such-page"),
            "a missing send": web.get("/sends/" + "0" * 32),
            "a style sheet": web.get("/static/desk.css"),
            "the OpenAPI document": web.get("/api/openapi.json"),
            "the API": web.get("/api/leaflets", headers=AUTH),
            "the API without a token": web.get("/api/leaflets"),
            "the API's validation error": web.post("/api/handouts", headers=AUTH, json={"brand": 1}),
            "a form without its token": web.post("/handout", data={"action": "print"}),
        }
    expected = {"the desk": 200, "the sign-in page": 200, "the editor": 200, "a missing page": 404,
                "a missing send": 404, "a style sheet": 200, "the OpenAPI document": 200, "the API": 200,
                "the API without a token": 401, "the API's validation error": 422, "a form without its token": 403}
    for what, answer in answers.items():
        assert answer.status_code == expected[what], (what, answer.status_code, answer.text[:200])
        assert_secured(answer)


def _chunks(size: int, chunk: int = 8192):
    sent = 0
    while sent < size:
        yield b"a" * min(chunk, size - sent)
        sent += chunk


TOO_LARGE = [("/handout", "application/x-www-form-urlencoded"), ("/api/handouts", "application/json"),
             ("/login", "application/x-www-form-urlencoded"), ("/api/register/search", "application/json")]


@pytest.mark.parametrize("path, kind", TOO_LARGE)
def test_requests_over_64_kb_with_a_length_are_refused_unread(live, path, kind):
    answer = httpx.post(live.url + path, content=b"a" * (MAX_BODY + 1), headers={"content-type": kind, **AUTH},
                        timeout=60)
    assert answer.status_code == 413
    # Just under the limit is read (and then refused for what it is, not for its size).
    under = httpx.post(live.url + path, content=b"a" * (MAX_BODY - 10), headers={"content-type": kind, **AUTH},
                       timeout=60)
    assert under.status_code != 413


def test_chunked_form_over_64_kb_is_refused(live):
    answer = httpx.post(live.url + "/handout", content=_chunks(MAX_BODY + 50_000),
                        headers={"content-type": "application/x-www-form-urlencoded"}, timeout=60)
    assert "content-length" not in answer.request.headers and answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 413


@pytest.mark.parametrize("path, kind", [("/api/handouts", "application/json"), ("/login", "application/x-www-form-urlencoded")])
def test_chunked_api_and_login_requests_over_64_kb_are_413(live, path, kind):
    answer = httpx.post(live.url + path, content=_chunks(MAX_BODY + 50_000), headers={"content-type": kind, **AUTH},
                        timeout=60)
    assert answer.status_code == 413


def test_the_413_answer_has_the_security_headers(live):
    answer = httpx.post(live.url + "/handout", content=b"a" * (MAX_BODY + 1), timeout=60,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413
    assert_secured(answer)


# --- 4. CSRF and the session cookie --------------------------------------------------------------------

def test_forms_without_the_csrf_token_are_refused_and_nothing_is_rendered(tmp_path):
    root = write_settings(approved_project(tmp_path / "project"), email=email_settings())
    renderer = NoRenders()
    with TestClient(create_app(Project(root), renderer=renderer)) as client:
        token = csrf_of(client.get("/login").text)
        form = {**SHOWN, "name": "Ayşe Yılmaz", "treated": treated_today(), "email": "ayse@example.com"}
        for action in ("print", "email", "preview"):
            for csrf in ({}, {"csrf": ""}, {"csrf": "not-the-token"}, {"csrf": token + "x"}):
                answer = client.post("/handout", data={**form, "action": action, **csrf})
                assert answer.status_code == 403, (action, csrf)
                # Nothing made: the form is shown again (tests/test_desk_form.py: with what was typed).
                assert b"%PDF" not in answer.content and answer.headers["content-type"].startswith("text/html")
        assert client.post("/logout", data={}).status_code == 403
        assert client.post("/login", data={"name": ACCOUNT, "password": PASSWORD}).status_code == 403
        assert "handout" not in renderer.calls, "a refused form must not reach the renderer"
        assert not (root / "data" / REGISTER_FILE).exists()
        # Another browser's session has another token: a token is no good outside its own session.
        with TestClient(create_app(Project(root), renderer=renderer)) as stranger:
            stranger.get("/login")
            assert stranger.post("/handout", data={**form, "action": "print", "csrf": token}).status_code == 403
        assert "handout" not in renderer.calls
        # The same form with its token does reach the renderer (so the refusals above were the token's doing).
        assert client.post("/handout", data={**form, "action": "print", "csrf": token}).status_code == 400
        assert "handout" in renderer.calls


def test_a_csrf_token_with_non_ascii_characters_is_refused_not_a_crash(tmp_path):
    root = approved_project(tmp_path / "project")
    with TestClient(create_app(Project(root), renderer=NoRenders()), raise_server_exceptions=False) as client:
        client.get("/login")
        assert client.post("/login", data={"name": ACCOUNT, "password": PASSWORD, "csrf": "ğ"}).status_code == 403
        assert client.post("/handout", data={**SHOWN, "action": "print", "csrf": "é"}).status_code == 403


class MadeHandout(NoRenders):
    """A renderer whose handouts are made at once: a fixed small PDF and its record (no WeasyPrint)."""

    async def handout(self, choice, patient, **kwargs):
        from careleaf.handout.handouts import Handout, HandoutRecord

        self.calls.append("handout")
        record = HandoutRecord("BTX-FL-AC", 1, choice.lang, False, choice.brand, choice.treatment, choice.kind,
                               "0" * 64, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), False)
        return Handout(b"%PDF-1.7 (test)", record, f"{choice.brand}-leaflet.pdf")


def test_print_with_a_name_in_the_reference_field_is_a_400_page_not_a_crash(tmp_path):
    root = approved_project(tmp_path / "project")
    renderer = MadeHandout()
    with TestClient(create_app(Project(root), renderer=renderer), raise_server_exceptions=False) as client:
        token = csrf_of(client.get("/login").text)
        good = client.post("/handout", data={**SHOWN, "action": "print", "csrf": token, "treated": treated_today(),
                                             "reference": "MRN-1001"})
        assert good.status_code == 200 and good.content.startswith(b"%PDF")      # the renderer stands in properly
        typed = client.post("/handout", data={**SHOWN, "action": "print", "csrf": token, "treated": treated_today(),
                                              "reference": NAME})
        assert typed.status_code == 400, typed.status_code
        assert "reference" in typed.text


def test_session_cookie_is_httponly_and_samesite_strict(tmp_path):
    root = approved_project(tmp_path / "project")
    with TestClient(create_app(Project(root), renderer=NoRenders())) as client:
        cookie = client.get("/").headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("careleaf_session=")
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes          # served over plain HTTP on this machine
    write_settings(root, desk={"https": True})
    with TestClient(create_app(Project(root), renderer=NoRenders()), base_url="https://testserver") as client:
        secured = [part.strip().lower() for part in client.get("/").headers["set-cookie"].split(";")]
    assert "secure" in secured and "httponly" in secured and "samesite=strict" in secured


# --- 5. staff accounts, sign-in, and where the server may listen ----------------------------------------

@pytest.fixture()
def accounts_root(tmp_path) -> Path:
    root = approved_project(tmp_path / "project")
    return write_settings(root, desk={"accounts": [{"name": ACCOUNT, "password_hash": password_hash(PASSWORD)}]})


def _sign_in(client, name: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token}, follow_redirects=False)


def test_pages_need_a_signed_in_member_of_staff(accounts_root):
    renderer = NoRenders()
    with TestClient(create_app(Project(accounts_root), renderer=renderer), follow_redirects=False) as client:
        for path in ("/", "/?brand=harbour-skin&treatment=botox-facial-lines&kind=aftercare&lang=en", "/editor",
                     "/sends/" + "0" * 32, "/preview/harbour-skin/en/botox-facial-lines/aftercare/standard/1.png",
                     "/editor/events"):
            answer = client.get(path)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
        token = csrf_of(client.get("/login").text)
        refused = client.post("/handout", data={**SHOWN, "action": "print", "csrf": token, "treated": treated_today()})
        assert (refused.status_code, refused.headers.get("location")) == (303, "/login")
        assert renderer.calls == []

        assert _sign_in(client, ACCOUNT, "wrong password").status_code == 401
        assert _sign_in(client, "nobody", PASSWORD).status_code == 401
        signed = _sign_in(client, ACCOUNT, PASSWORD)
        assert (signed.status_code, signed.headers["location"]) == (303, "/")
        desk = client.get("/")
        assert desk.status_code == 200 and f"Signed in as {ACCOUNT}" in desk.text
        # Signing in gives a new form token; signing out ends the session.
        assert csrf_of(desk.text) != token
        out = client.post("/logout", data={"csrf": csrf_of(desk.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert client.get("/").status_code == 303


def test_failed_sign_ins_are_slowed(accounts_root):
    """(tests/test_desk_counter.py shows the wait doubling, and a colleague never locked out.)"""
    app = create_app(Project(accounts_root), renderer=NoRenders())
    with TestClient(app, follow_redirects=False) as client:
        for attempt in range(5):
            failed = _sign_in(client, ACCOUNT, f"guess number {attempt}")
            assert failed.status_code == 401 and "do not match" in failed.text
        blocked = _sign_in(client, ACCOUNT, PASSWORD)
        assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
        assert blocked.headers["retry-after"] == "1"
        assert client.get("/").status_code == 303, "a refused sign-in signs nobody in"
        app.state.limiter = type(app.state.limiter)()         # a fresh limiter (after the window has passed)
        assert _sign_in(client, ACCOUNT, PASSWORD).status_code == 303
        assert client.get("/").status_code == 200


def test_check_can_listen(monkeypatch):
    for name in ("CARELEAF_API_TOKENS", "CARELEAF_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    bare = DeskSettings()
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_can_listen(host, bare)
    for host in ("0.0.0.0", "::", "192.168.1.20", "desk.clinic.example"):
        with pytest.raises(CannotListen) as refusal:
            check_can_listen(host, bare)
        said = str(refusal.value)
        assert "staff accounts" in said and "CARELEAF_API_TOKENS" in said and "CARELEAF_SECRET_KEY" in said

    with_accounts = DeskSettings(accounts=[Account(ACCOUNT, password_hash(PASSWORD))])
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    with pytest.raises(CannotListen, match="CARELEAF_SECRET_KEY"):
        check_can_listen("0.0.0.0", with_accounts)
    monkeypatch.setenv("CARELEAF_SECRET_KEY", "k" * 40)
    with pytest.raises(CannotListen, match="staff accounts"):
        check_can_listen("0.0.0.0", bare)
    check_can_listen("0.0.0.0", with_accounts)          # accounts, tokens and a key: it may
    monkeypatch.setenv("CARELEAF_API_TOKENS", " , ")
    with pytest.raises(CannotListen, match="CARELEAF_API_TOKENS"):
        check_can_listen("0.0.0.0", with_accounts)


def test_serve_beyond_this_machine_without_accounts_refuses_to_start(tmp_path):
    root = approved_project(tmp_path / "project")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CARELEAF_API_TOKENS", "CARELEAF_SECRET_KEY")}
    done = subprocess.run([sys.executable, str(GENERATE), "--project", str(root), "serve", "--host", "0.0.0.0",
                           "--port", str(port)], capture_output=True, text=True, timeout=60, env=env, cwd=root)
    assert done.returncode == 2, done.stderr
    assert "beyond this machine" in done.stderr and "staff accounts" in done.stderr
    assert "front desk is at" not in done.stderr + done.stdout and "Uvicorn running" not in done.stderr + done.stdout
    with socket.socket() as probe:      # the port was never taken
        probe.bind(("0.0.0.0", port))


def test_password_hash_reads_standard_input_and_prints_a_hash_that_verifies(tmp_path):
    root = approved_project(tmp_path / "project")
    command = [sys.executable, str(GENERATE), "--project", str(root), "password-hash"]
    done = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("$argon2id$") and "\n" not in printed
    assert password_matches(printed, PASSWORD) and not password_matches(printed, PASSWORD + "!")
    assert PASSWORD not in done.stdout + done.stderr
    short = subprocess.run(command, input="short\n", capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "$argon2" not in short.stdout


# --- 6. no patient data in URLs, logs or files --------------------------------------------------------------

def test_desk_flow_leaves_no_patient_detail_in_urls_logs_or_files(root, live):
    choice = {**SHOWN}
    answered = b'"POST /handout HTTP/1.1" 200'
    answered_before = live.log_bytes().count(answered)      # the server is the module's: other tests used it
    with httpx.Client(base_url=live.url, timeout=120) as web:
        desk = web.get("/", params=choice)
        assert desk.status_code == 200 and "Approved for patients" in desk.text
        form = {**choice, "csrf": csrf_of(desk.text), "name": NAME, "treated": "2026-12-01T14:30", "batch": BATCH,
                "reference": "REF-DESK-1"}
        preview = web.post("/handout", data={**form, "action": "preview"})
        assert preview.status_code == 200, preview.text[-2000:]
        # The patient's own pages are inline images: never at an address of their own.
        personal = preview.text[preview.text.index("The patient's leaflet"):]
        assert re.findall(r'<img src="([^"]{0,30})', personal) and \
            all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img src="([^"]{0,30})', personal))
        printed = web.post("/handout", data={**form, "action": "print"})
        assert printed.status_code == 200, printed.text[-2000:]
        assert printed.headers["content-type"] == "application/pdf" and printed.content.startswith(b"%PDF")
        assert printed.headers["content-disposition"] == 'inline; filename="harbour-skin-leaflet.pdf"'
        text = pdf_text(printed.content)
        assert NAME in text and BATCH in text
        urls = [str(r.url) for r in (desk, preview, printed, *desk.history, *preview.history, *printed.history)]
    for url in urls:
        for value in (NAME, BATCH, "Ay%C5%9Fe", "Ayşe"):
            assert value not in url

    # The server logs a request once it has answered it: wait for the lines of this test's preview and print.
    def both_logged() -> bytes | None:
        log = live.log_bytes()
        return log if log.count(answered) >= answered_before + 2 else None

    log = wait_until(both_logged, 10, what="the server's log lines of the preview and the print (is its log captured?)")
    for value in (NAME, BATCH, "Ayşe", "Yılmaz"):
        for form in forms_of(value):
            assert form not in log, (value, form)

    checked = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        content = path.read_bytes()
        checked.append(path.relative_to(root).as_posix())
        for value in (NAME, BATCH, "Yılmaz"):
            for form in forms_of(value):
                assert form not in content, (path, value)
    assert f"data/{REGISTER_FILE}" in checked, "the register (in data/) is among the files checked"
    register = httpx.post(f"{live.url}/api/register/search", headers=AUTH, timeout=30,
                          json={"reference": "REF-DESK-1"}).json()
    assert [(e["channel"], e["staff"]) for e in register] == [("print", "desk")]


# --- 7. a leaflet that is not approved ------------------------------------------------------------------------

def test_draft_leaflet_is_shown_as_not_for_patients_and_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    root = small_project(tmp_path / "project")
    with TestClient(create_app(Project(root))) as client:
        leaflets = client.get("/api/leaflets", headers=AUTH).json()
        assert leaflets and all(x["state"] == "not for patients" and x["reasons"] for x in leaflets)
        assert all(any("draft" in reason for reason in x["reasons"]) for x in leaflets)

        desk = client.get("/", params=AFTERCARE)
        assert desk.status_code == 200
        assert "Not for patients." in desk.text and "it is a draft" in desk.text
        assert "/preview/harbour-skin/en/botox-facial-lines/aftercare/standard/1.png" in desk.text, \
            "staff still see the leaflet's pages"
        for button in ('value="print"', 'value="email"', 'value="preview"', 'name="shown"'):
            assert button not in desk.text, button

        token = csrf_of(client.get("/login").text)      # an old tab's form, from before the leaflet was withdrawn
        refused = client.post("/handout", data={**SHOWN, "action": "print", "csrf": token, "name": NAME,
                                                "treated": treated_today()})
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("text/html") and not refused.content.startswith(b"%PDF")
        # It says why: the leaflet's own refusal box, with the reason.
        assert "Not for patients." in refused.text and "cannot be printed or emailed for a patient" in refused.text
        assert "it is a draft" in refused.text
        assert NAME not in refused.text, "the refusal does not repeat the patient's name"
        emailed = client.post("/handout", data={**SHOWN, "action": "email", "csrf": token, "email": "a@example.com",
                                                "treated": treated_today()})
        assert emailed.status_code == 400 and "it is a draft" in emailed.text
    assert not (root / "data" / REGISTER_FILE).exists()


def test_training_mode_prints_drafts_marked_draft_and_emails_nothing(tmp_path, monkeypatch):
    """``careleaf serve --training``: the desk prints drafts, marked DRAFT; nothing is emailed; the API is unchanged."""
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    root = write_settings(small_project(tmp_path / "project"), email=email_settings())
    with TestClient(create_app(Project(root), training=True)) as client:
        desk = client.get("/", params=AFTERCARE)
        assert "Training mode." in desk.text and "Not for patients." in desk.text
        assert 'value="print"' in desk.text and 'value="email"' not in desk.text
        form = {**SHOWN, "csrf": csrf_of(desk.text), "name": "Trainee Patient", "treated": treated_today(),
                "email": "trainee@example.com"}
        printed = client.post("/handout", data={**form, "action": "print"})
        assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
        text = pdf_text(printed.content)
        assert "Trainee Patient" in text and "DRAFT" in text
        emailed = client.post("/handout", data={**form, "action": "email"})
        assert emailed.status_code == 400 and "nothing is emailed" in emailed.text
        project = Project(root)
        assert not (root / "data" / "outbox.sqlite3").exists() or Outbox(project, load_settings(project)).sends() == []
        api = client.post("/api/handouts", headers=AUTH, json={**AFTERCARE, "patient": {"treated": treated_today()}})
        assert api.status_code == 422 and "cannot be given to a patient" in api.text


# --- the email page, and the editor's event stream ------------------------------------------------------------

def test_the_queued_email_page_updates_itself(live):
    with httpx.Client(base_url=live.url, timeout=120) as web:
        desk = web.get("/", params=AFTERCARE)
        form = {**SHOWN, "csrf": csrf_of(desk.text), "action": "email", "treated": treated_today(),
                "email": "patient@example.com"}
        for unchecked in ({"email_again": "patient@example.org", "consent": "1"}, {"email_again": "patient@example.com"}):
            refused = web.post("/handout", data=form | unchecked)         # a typo in the address, or no consent
            assert refused.status_code == 400 and ("differ" in refused.text or "agreed" in refused.text)
        answer = web.post("/handout", data=form | {"email_again": "Patient@example.com", "consent": "1"},
                          follow_redirects=True)
        state = web.get(f"{answer.url.path}/state")
    assert answer.status_code == 200 and "Email queued" in answer.text
    # It follows the send with a small script (no timed refresh: axe counts that as critical), at a plain address.
    assert answer.history and "data-follow=" in answer.text and 'http-equiv="refresh"' not in answer.text
    assert state.status_code == 200 and state.json()["status"] in ("queued", "sending", "retrying", "sent", "failed")


@pytest.mark.slow
def test_serve_stops_on_sigterm_while_an_editor_page_is_open(tmp_path):
    root = approved_project(tmp_path / "project")
    with WebServer(root) as server:
        opened = threading.Event()

        def listen():
            try:
                with httpx.stream("GET", server.url + "/editor/events", timeout=60) as events:
                    for line in events.iter_lines():
                        if line.startswith("retry:"):
                            opened.set()
            except httpx.HTTPError:
                pass

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened.wait(20), "the event stream opened"
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pass
        stopped = server.process.poll() is not None
        server.stop(grace=0)
    assert stopped, "careleaf serve was still running 8 s after SIGTERM"


@pytest.mark.slow
def test_editor_events_stream_a_change(tmp_path):
    """The editor's event stream says 'changed' after a good save and 'problem' (with path:line) after a bad one."""
    root = approved_project(tmp_path / "project")
    wording = root / "leaflets/treatments/botox-facial-lines/en.yaml"
    lines: list[str] = []
    with WebServer(root) as server:
        def listen():
            try:
                with httpx.stream("GET", server.url + "/editor/events", timeout=60) as events:
                    assert events.headers["content-type"].startswith("text/event-stream")
                    for line in events.iter_lines():
                        lines.append(line)
            except httpx.HTTPError:
                pass

        threading.Thread(target=listen, daemon=True).start()
        wait_until(lambda: "retry: 2000" in lines, 20, what="the event stream's first line")
        # The server starts watching files just after that line, and says nothing when it has: a save made in
        # that moment goes unseen, so the test saves again (the same file) until the stream reports it.
        good = wording.read_text("utf-8").replace("This goes away by itself.", "It fades by itself.")
        repeat_until(lambda: wording.write_text(good, "utf-8"), lambda: "event: changed" in lines, 30,
                     what="'event: changed' after a good save")
        assert "event: problem" not in lines, lines
        bad = good.replace("    question: What is normal after my treatment?\n", "    question:\n")
        assert bad != good
        wording.write_text(bad, "utf-8")
        wait_until(lambda: "event: problem" in lines, 20, what="'event: problem' after a bad save")
        problem = json.loads(lines[lines.index("event: problem") + 1].removeprefix("data: "))
        assert re.search(r"leaflets/treatments/botox-facial-lines/en\.yaml:\d+", problem), problem
        server.stop(grace=1)        # the stream is still open (see the SIGTERM test above)


# --- 8. under load ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fifty_concurrent_handouts_render_within_bounded_memory(root, live):
    workers = load_settings(Project(root)).desk.render_workers
    assert workers == 2
    names = [f"Patient {chr(65 + n // 26)}{chr(97 + n % 26)}{chr(97 + (n * 7) % 26)}" for n in range(50)]
    samples: list[tuple[int, int]] = []       # (render processes, total RSS in kB)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            family = [live.pid, *children(live.pid)]
            samples.append((len(render_workers(live.pid)), sum(status_kb(pid, "VmRSS") for pid in family)))
            stop.wait(0.05)         # a sample every 50 ms until the burst is over

    async def one(client: httpx.AsyncClient, name: str) -> tuple[str, float, httpx.Response]:
        started = time.perf_counter()
        answer = await client.post("/api/handouts", json={**AFTERCARE, "patient": {
            "treated": treated_today("14:30"), "name": name, "batch": "LD42"}})
        return name, time.perf_counter() - started, answer

    async def burst():
        limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
        async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=300, limits=limits) as client:
            return await asyncio.gather(*(one(client, name) for name in names))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    try:
        results = asyncio.run(burst())
    finally:
        stop.set()
        sampler.join(5)
    took = time.perf_counter() - began

    for name, _, answer in results:
        assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
        assert answer.content.startswith(b"%PDF")
        assert name in pdf_text(answer.content), name
    family_peak_kb = status_kb(live.pid, "VmHWM") + sum(status_kb(pid, "VmHWM") for pid in children(live.pid))
    latencies = sorted(t for _, t, _ in results)
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))]
    most_processes, most_rss = max(p for p, _ in samples), max(r for _, r in samples)
    print(f"\n50 concurrent handouts in {took:.1f} s: p50 {p50:.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s; "
          f"render processes at most {most_processes}; total RSS at most {most_rss / 1024:.0f} MB; "
          f"peak (VmHWM, server + workers) {family_peak_kb / 1024:.0f} MB; {len(samples)} samples")
    # The API's render workers, beside the desk's (which wait, idle, for a patient at the counter): never more.
    assert samples and most_processes == 2 * workers, "two render processes for the API, two for the desk"
    assert len(render_workers(live.pid)) <= 2 * workers
    assert most_rss < 1.5 * 1024 * 1024 and family_peak_kb < 1.5 * 1024 * 1024
