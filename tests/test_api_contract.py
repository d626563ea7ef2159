"""The JSON API keeps the contract it publishes (careleaf.web.api, security, app): the token is checked before
the body is read, every error (the 500 included) carries the security headers and the declared body, the
OpenAPI document names the bearer scheme, the error bodies and the catalog's own values, and what staff type
beside a patient's details is checked like them. The register's listings cannot be forged by what was stored.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import warnings
from pathlib import Path

import pytest

from careleaf.desk.register import COLUMNS, REGISTER_FILE, Register
from careleaf.project import Project
from careleaf.web import api
from careleaf.web.app import create_app
from careleaf.web.security import SECURITY_HEADERS

from conftest import approved_project, run_cli

with warnings.catch_warnings():     # Starlette's TestClient warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "contract-token-5d2e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADERS = {name.decode() for name, _ in SECURITY_HEADERS}


class NoRenders:
    """Renders nothing: these tests are about what the API answers before any leaflet is made."""

    async def handout(self, *args, **kwargs):
        raise AssertionError("nothing should be rendered here")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return approved_project(tmp_path_factory.mktemp("contract") / "project")


@pytest.fixture()
def client(root, monkeypatch):
    monkeypatch.setenv("CARELEAF_API_TOKENS", TOKEN)
    with TestClient(create_app(Project(root), renderer=NoRenders()), raise_server_exceptions=False) as client:
        yield client


CHOICE = {"brand": "harbour-skin", "treatment": "botox-facial-lines", "kind": "aftercare", "lang": "en",
          "patient": {"treated": "2026-12-01 14:30"}}


def test_the_register_search_reaches_the_last_day_there_is(client):
    answer = client.post("/api/register/search", json={"until": "9999-12-31"}, headers=AUTH)
    assert answer.status_code == 200 and answer.json() == []


def test_a_500_carries_the_security_headers_and_a_plain_body(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("/secret/path in a traceback")

    monkeypatch.setattr(api, "project_register", broken)
    answer = client.post("/api/register/search", json={}, headers=AUTH)
    assert answer.status_code == 500
    assert HEADERS <= set(answer.headers), set(answer.headers)
    assert answer.json() == {"detail": "Something went wrong on the server; try again."}


@pytest.mark.parametrize("body", [b"{not json", b'{"brand": ', b"\xff\xfe"])
def test_the_token_is_checked_before_the_body_is_read(client, body):
    sent = {"content": body, "headers": {"Content-Type": "application/json"}}
    refused = client.post("/api/handouts", **sent)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json() == {"detail": api.NO_TOKEN} and HEADERS <= set(refused.headers)
    with_token = client.post("/api/handouts", content=body, headers={**sent["headers"], **AUTH})
    assert with_token.status_code in (400, 422)        # now the body is read, and refused for what it is


@pytest.mark.parametrize("change, field", [
    ({"large_print": 0}, "large_print"),
    ({"large_print": "true"}, "large_print"),
    ({"staff": "Mallory\n2026-01-01 00:00  print  FAKE-1 v1"}, "staff"),
    ({"staff": "Mallory\u202e"}, "staff"),
    ({"staff": "Mallory\x00"}, "staff"),
    ({"reference": "Ayşe Yılmaz"}, "reference"),
])
def test_staff_references_and_booleans_are_checked_before_anything_is_made(client, change, field):
    answer = client.post("/api/handouts", json={**CHOICE, **change}, headers=AUTH)
    assert answer.status_code == 422
    problems = answer.json()["detail"]
    assert [p["field"] for p in problems] == [f"body.{field}"], problems
    assert "Mallory" not in answer.text and "Ayşe" not in answer.text      # never echoed


def test_the_published_document_is_the_contract(client):
    document = client.get("/api/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer", "description": api.BEARER.model.description}
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            for status in ("400", "401", "413", "422"):
                assert status in operation["responses"], (method, path, status)
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in schemas
    assert document["paths"]["/api/sends/{send_id}"]["get"]["responses"]["404"]["content"]["application/json"] == \
        {"schema": {"$ref": "#/components/schemas/Problem"}}
    request = schemas["HandoutRequest"]["properties"]
    assert request["brand"]["enum"] == ["harbour-skin"]
    assert request["treatment"]["enum"] == ["botox-facial-lines"]
    assert request["lang"]["enum"] == ["en", "tr"]
    assert request["large_print"]["type"] == "boolean"
    query = schemas["RegisterQuery"]["properties"]
    assert {"type": "string", "format": "date"} in query["until"]["anyOf"]


# --- the register's listings --------------------------------------------------------------------------------

FORGED = "Mallory\n2026-01-01 00:00  print  FAKE-1 v1 en  -  by Eve"


def stored_before_checks(root: Path, staff: str) -> None:
    """A record as an older careleaf might have stored it, before staff names were checked."""
    (root / "data").mkdir(exist_ok=True)
    path = root / "data" / REGISTER_FILE
    Register(path)
    row = {name: "" for name in COLUMNS} | {"at": "2026-03-01T10:00:00+00:00", "channel": "print",
                                             "code": "BTX-FL-AC", "version": 1, "lang": "en", "large_print": 0,
                                             "staff": staff, "reference": "R-1"}
    with sqlite3.connect(path) as db:
        db.execute(f"insert into handouts (namespace, {', '.join(COLUMNS)}) values ('local', "
                   f"{', '.join('?' for _ in COLUMNS)})", [row[c] for c in COLUMNS])


def test_a_line_break_in_a_stored_staff_name_cannot_forge_a_register_line(tmp_path):
    root = approved_project(tmp_path / "project")
    stored_before_checks(root, FORGED)
    listing = run_cli("--project", str(root), "register", cwd=root)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and lines[1] == "1 handout", lines
    assert "FAKE-1" in lines[0] and "\ufffd" in lines[0]


@pytest.mark.parametrize("staff, shown", [
    ("=HYPERLINK(\"https://evil.example\")", "'=HYPERLINK(\"https://evil.example\")"),
    ("\t=1+1", "\ufffd=1+1"),      # a tab before a formula is no longer a tab
    (FORGED, FORGED.replace("\n", "\ufffd")),
    ("Eve\u202eevE", "Eve\ufffdevE"),
])
def test_the_csv_export_neutralises_formulas_and_control_characters(tmp_path, staff, shown):
    root = approved_project(tmp_path / "project")
    stored_before_checks(root, staff)
    exported = run_cli("--project", str(root), "register", "--csv", cwd=root)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["staff"] for row in rows] == [shown]
