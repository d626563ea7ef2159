"""The register of handouts (careleaf.desk.register; `careleaf register`, `careleaf superseded`).

What clinics rely on: every leaflet a patient was given is recorded once, however it was
given (printed with `handout`, emailed and delivered with `send`, exported with `send --eml`),
with which version of which leaflet, in which language and size, its content fingerprint, who
gave it and the clinic's own patient reference; it can be searched by reference, code and date
and exported as CSV, and it never holds a name or an address. And when a leaflet's wording
changes and its version is raised, `superseded` lists the patients given the old version, with
what changed (from git), so the clinic can contact them again.

Commands run as staff run them (`python generate.py --project DIR ...`, real clock); an email is
delivered by a real `careleaf worker` to the test mail server (tests/mailserver.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice
from careleaf.desk.register import COLUMNS, REGISTER_FILE, Register
from careleaf.desk.send import send

from conftest import GENERATE, approved_project, replace_in, run_cli, wait_until

BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"
AYSE = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30", "batch": "C3920C3"}
ADDRESS = "ayse.yilmaz@example.com"
PERSONAL = ("Ayşe", "Yılmaz", "C3920C3", ADDRESS)
DEADLINE = 30


@pytest.fixture
def root(tmp_path) -> Path:
    return approved_project(tmp_path / "clinic")




def leaflet(kind: str = "aftercare", lang: str = "en") -> list[str]:
    return ["--brand", BRAND, "--treatment", TREATMENT, "--kind", kind, "--lang", lang]


def desk(root: Path, *args: str, fields: dict | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """A desk command as staff run it; patient fields (and the address) as JSON on standard input."""
    if fields is None:
        return run_cli("--project", str(root), *args, cwd=root, env=env)
    return subprocess.run([sys.executable, str(GENERATE), "--project", str(root), *args, "--fields", "-"],
                          input=json.dumps(fields), capture_output=True, text=True, cwd=root, timeout=120,
                          env={**os.environ, **(env or {})})


def listed(root: Path, *filters: str) -> list[dict[str, str]]:
    """`careleaf register --csv` with these filters, as rows."""
    done = desk(root, "register", *filters, "--csv")
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def register_bytes(root: Path) -> bytes:
    """The register's file and its write-ahead log, read by another process (see test_email.stored_bytes)."""
    paths = sorted(str(p) for p in (root / "data").glob(f"{REGISTER_FILE}*"))
    return subprocess.run(["cat", *paths], capture_output=True, check=True).stdout


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "-c", "commit.gpgsign=false", *args],
                          cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- 7. every handout, once, without who it was for ---------------------------------------------------------

@pytest.mark.slow
def test_every_handout_printed_emailed_or_exported_is_registered_once(root, tmp_path, mail, workers):
    (root / "careleaf.yaml").write_text(yaml.safe_dump({"email": mail.settings(),
                                                        "outbox": {"retry_delay": 1, "lease": 1}}), "utf-8")
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    # Printed: the member of staff named with --staff (over $CARELEAF_STAFF).
    printed = desk(root, "handout", *leaflet(), "--out", str(tmp_path / "ayse.pdf"), "--reference", "P-1",
                   "--staff", "Nurse Kim", fields=AYSE, env={"CARELEAF_STAFF": "desk-9"})
    assert printed.returncode == 0, printed.stderr
    printed_record = json.loads(printed.stdout)
    assert [e.channel for e in Register(root / "data" / REGISTER_FILE).find()] == ["print"]

    # Emailed: recorded when the mail server has it, not when it is queued; staff from $CARELEAF_STAFF.
    queued = desk(root, "send", *leaflet("pre-treatment"), "--large-print", "--reference", "P-1", "--consent",
                  fields=AYSE | {"to": ADDRESS}, env={"CARELEAF_STAFF": "desk-2"})
    assert queued.returncode == 0, queued.stderr
    assert len(listed(root)) == 1
    workers.start(root, mail.environment())
    mail.wait_for(1, DEADLINE)
    wait_until(lambda: len(listed(root)) == 2, DEADLINE, what="the delivered email to be registered")

    # Exported for the clinic's own mail program.
    exported = desk(root, "send", *leaflet(lang="tr"), "--reference", "P-2", "--eml", str(tmp_path / "ayse.eml"),
                    fields=AYSE | {"to": ADDRESS}, env={"CARELEAF_STAFF": "desk-3"})
    assert exported.returncode == 0, exported.stderr

    rows = listed(root)
    expected = [("print", "BTX-FL-AC", "1", "en", "False", "Nurse Kim", "P-1"),
                ("email", "BTX-FL-PT", "1", "en", "True", "desk-2", "P-1"),
                ("eml", "BTX-FL-AC", "1", "tr", "False", "desk-3", "P-2")]
    assert [(r["channel"], r["code"], r["version"], r["lang"], r["large_print"], r["staff"], r["reference"])
            for r in rows] == expected
    finished = dt.datetime.now(dt.timezone.utc)
    for row in rows:
        at = dt.datetime.fromisoformat(row["at"])
        assert at.utcoffset() == dt.timedelta(0) and started <= at <= finished, row["at"]
        assert re.fullmatch(r"[0-9a-f]{64}", row["content_fingerprint"])
        assert (row["brand"], row["treatment"]) == (BRAND, TREATMENT)
    assert rows[0]["content_fingerprint"] == printed_record["content_fingerprint"]
    assert len({r["content_fingerprint"] for r in rows}) == 3          # three different leaflets

    # Searching: by reference, by code, by date (the days are UTC days, as the times are).
    assert [r["channel"] for r in listed(root, "--reference", "P-1")] == ["print", "email"]
    assert [r["reference"] for r in listed(root, "--reference", "P-2")] == ["P-2"]
    assert listed(root, "--reference", "P-3") == []
    assert [r["channel"] for r in listed(root, "--code", "BTX-FL-AC")] == ["print", "eml"]
    assert [r["channel"] for r in listed(root, "--code", "BTX-FL-PT", "--reference", "P-1")] == ["email"]
    day = dt.date.fromisoformat(rows[0]["at"][:10])
    assert len(listed(root, "--since", str(day), "--until", str(day))) == 3
    assert len(listed(root, "--since", str(rows[1]["at"][:10]))) >= 2
    assert listed(root, "--since", str(day + dt.timedelta(days=1))) == []
    assert listed(root, "--until", str(day - dt.timedelta(days=1))) == []
    shown = desk(root, "register", "--reference", "P-1")
    assert shown.returncode == 0 and shown.stdout.rstrip().endswith("2 handouts")

    # The CSV has its heading row; nothing in it, or in the register's file, says who the patients are.
    exported_csv = desk(root, "register", "--csv")
    assert exported_csv.stdout.splitlines()[0] == ",".join(COLUMNS)
    stored = register_bytes(root)
    for secret in PERSONAL + ("Ayse", "ayse"):
        assert secret not in exported_csv.stdout
        assert secret.encode() not in stored
    assert stat.S_IMODE((root / "data" / REGISTER_FILE).stat().st_mode) == 0o600


def test_a_reference_that_looks_like_a_name_is_refused_and_not_echoed(root, tmp_path):
    with pytest.raises(HandoutError) as refused:
        send(root, Choice(BRAND, TREATMENT, "aftercare", "en"), patient=AYSE, to=ADDRESS, reference="Ayse Yilmaz",
             eml=tmp_path / "x.eml")
    assert str(refused.value).startswith("reference:") and "Ayse" not in str(refused.value)
    assert not (tmp_path / "x.eml").exists()
    with pytest.raises(HandoutError):
        Register(tmp_path / "register.sqlite3").add(_record(), channel="print", staff="desk-1", reference="Ayse Yilmaz")
    assert Register(tmp_path / "register.sqlite3").find() == []


@pytest.mark.slow
def test_command_refuses_a_reference_that_looks_like_a_name_without_registering_it(root, tmp_path):
    done = desk(root, "handout", *leaflet(), "--out", str(tmp_path / "ayse.pdf"), "--reference", "Ayse Yilmaz",
                fields=AYSE)
    assert done.returncode == 2
    assert "Error: reference:" in done.stderr and "Ayse" not in done.stderr
    assert listed(root) == []


@pytest.mark.slow
def test_a_refused_reference_leaves_no_unregistered_leaflet_behind(root, tmp_path):
    target = tmp_path / "ayse.pdf"
    done = desk(root, "handout", *leaflet(), "--out", str(target), "--reference", "Ayse Yilmaz", fields=AYSE)
    assert done.returncode == 2
    assert not target.exists(), "the leaflet was written although the command failed and did not register it"


def _record():
    from careleaf.handout.handouts import HandoutRecord

    return HandoutRecord("BTX-FL-AC", 1, "en", False, BRAND, TREATMENT, "aftercare", "0" * 64,
                         "2026-12-01T15:00:00+00:00", False)


# --- 8. the patients to contact again when a leaflet changes ----------------------------------------------------

DAY_LIST = """\
brand,treatment,kind,lang,large_print,reference,name,treated
{brand},{treatment},aftercare,en,no,P-1,Ayşe Yılmaz,2026-12-01 14:30
{brand},{treatment},aftercare,en,yes,P-2,İsmail Işık,2026-12-01 15:00
{brand},{treatment},aftercare,en,no,P-3,Maryam Ali,2026-12-01 16:00
{brand},{treatment},pre-treatment,en,no,P-5,Sam Example,2026-12-08 10:00
"""
OLD_ANSWER = "You may have some redness and swelling where the needle went in. This is short-lived."
NEW_ANSWER = "You may have some redness, swelling or tenderness where the needle went in. This is short-lived."


@pytest.mark.slow
def test_superseded_lists_exactly_the_patients_whose_wording_changed_whatever_the_version(root, tmp_path):
    day = tmp_path / "day.csv"
    day.write_text(DAY_LIST.format(brand=BRAND, treatment=TREATMENT), "utf-8")
    made = desk(root, "handouts", "--from", str(day), "--out", str(tmp_path / "day.pdf"), "--staff", "desk-1")
    assert made.returncode == 0, made.stderr
    entries = Register(root / "data" / REGISTER_FILE).find()
    assert [(e.code, e.version, e.reference) for e in entries] == \
        [("BTX-FL-AC", 1, "P-1"), ("BTX-FL-AC", 1, "P-2"), ("BTX-FL-AC", 1, "P-3"), ("BTX-FL-PT", 1, "P-5")]

    def superseded() -> list[dict]:
        done = desk(root, "superseded", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def words_of(group: dict) -> dict:
        [change] = [c for c in group["changes"] if c["item"] == "sections/what-is-normal-afterwards"]
        assert change["file"].endswith(f"treatments/{TREATMENT}/en.yaml")
        [answer] = [f for f in change["fields"] if f["field"] == "answer"]
        return answer

    assert superseded() == []

    # New wording the aftercare leaflet prints, version not raised (and not yet approved): the three who have
    # the old wording are listed already, with the words that changed; the pre-treatment patient is not.
    replace_in(root / "leaflets/treatments" / TREATMENT / "en.yaml", OLD_ANSWER, NEW_ANSWER)
    [group] = superseded()
    assert (group["code"], group["lang"], group["version_given"], group["version_now"]) == ("BTX-FL-AC", "en", 1, 1)
    assert [h["reference"] for h in group["handouts"]] == ["P-1", "P-2", "P-3"]
    answer = words_of(group)
    assert OLD_ANSWER in answer["old"] and NEW_ANSWER in answer["new"]
    assert "redness[- and-]{+,+} swelling{+ or tenderness+}" in answer["diff"]

    # Approved (the version goes up to 2), a fourth patient gets the new wording: still the same three.
    approved = run_cli("approve", "BTX-FL-AC", "--lang", "en", "--by", "Dr New Signer", cwd=root)
    assert approved.returncode == 0, approved.stderr
    given = desk(root, "handout", *leaflet(), "--out", str(tmp_path / "p4.pdf"), "--reference", "P-4",
                 fields={"treated": "2026-12-02 10:00"})
    assert given.returncode == 0, given.stderr
    [group] = superseded()
    assert (group["version_given"], group["version_now"]) == (1, 2)
    assert [h["reference"] for h in group["handouts"]] == ["P-1", "P-2", "P-3"]
    assert NEW_ANSWER in words_of(group)["new"]
    for secret in ("Ayşe", "İsmail", "Maryam"):
        assert secret not in json.dumps(group, ensure_ascii=False)

    shown = desk(root, "superseded")
    assert shown.returncode == 0, shown.stderr
    assert "BTX-FL-AC version 1 in en (now version 2; its wording has changed since): 3 handout(s)" in shown.stdout
    assert "P-1: phone them, or give them a print" in shown.stdout
    assert "P-4" not in shown.stdout and "P-5" not in shown.stdout and "BTX-FL-PT" not in shown.stdout
