"""A leaflet for one named patient (careleaf.handout.handouts, `careleaf handout`, `careleaf handouts`).

What staff and patients rely on: the leaflet prints the patient's own dates, worked out in the
clinic's time zone and written the local way; only approved, current wording reaches a patient;
a field typed wrongly is refused without its value being echoed; and the patient's details stay
in the PDF's printed text only: never in its metadata, its file name, the project, a temporary
file, a log line or the catalog.

The leaflets are made from one approved copy of the sample catalog (approved_project), with a
fixed "now" (Tuesday 1 December 2026, 14:40 in London) so every date is known. Renders are shared
by module-scoped fixtures where tests only read the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import stat
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest

from careleaf.build.run import build
from careleaf.content.catalog import load_catalog
from careleaf.errors import HandoutError, InputError
from careleaf.handout.handouts import Choice, file_name, handout, handouts, personalise
from careleaf.handout.patient import PATIENT_FIELDS, REFERENCE
from careleaf.project import Project
from careleaf.review.approve import approve
from careleaf.web.api import HandoutRequest

from conftest import GENERATE, approved_project, normalise, pdf_pages_text, qpdf_check, replace_in, run_cli, small_project

NOW = dt.datetime(2026, 12, 1, 14, 40, tzinfo=dt.timezone.utc)   # Tuesday 1 December 2026, 14:40 in London
LONDON = ZoneInfo("Europe/London")
BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"
AFTERCARE = Choice(BRAND, TREATMENT, "aftercare", "en")
CHOICE_OPTIONS = ["--brand", BRAND, "--treatment", TREATMENT, "--kind", "aftercare", "--lang", "en"]

# The English aftercare leaflet of the brief: treated Tuesday 1 December at 14:30, review booked.
AYSE = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30", "review": "2026-12-16 10:30",
        "areas": "Forehead and frown lines", "product": "Botox", "batch": "C3920C3", "units": "24",
        "practitioner": "Dr Jane Smith"}
# The three rows of the day's list; each is also made on its own, with exactly these fields.
AYSE_ROW = {"name": "Ayşe Yılmaz", "treated": "2026-12-01 14:30", "batch": "C3920C3"}
ISMAIL = {"name": "İsmail Işık", "treated": "2026-12-01 14:30", "batch": "TR5521A"}
# Treated on Friday 11 December: the review is due two weeks later, on Christmas Day, when the clinic is closed.
MARYAM = {"name": "مريم العلي", "treated": "2026-12-11 10:00"}
OPEN_DAYS = range(6)                     # Monday to Saturday
CLOSED = {dt.date(2026, 12, 25), dt.date(2026, 12, 26), dt.date(2026, 12, 28), dt.date(2027, 1, 1)}


# --- reading PDFs -------------------------------------------------------------------------------

def _saved(pdf: bytes, folder: Path) -> Path:
    """The PDF written to a file named by its content (pdf_pages_text caches by path)."""
    path = folder / f"{hashlib.sha256(pdf).hexdigest()[:20]}.pdf"
    if not path.exists():
        path.write_bytes(pdf)
    return path


def raw_pages(pdf: bytes, folder: Path) -> list[str]:
    """Each page's text in drawing order (pdftotext -raw), dashes and white space normalised."""
    return [normalise(page) for page in pdf_pages_text(_saved(pdf, folder))]


def readable_pages(pdf: bytes, folder: Path) -> list[str]:
    """Each page's text in reading order (pdftotext's default mode, which puts right-to-left words in logical
    order), without the embedding marks it adds around them and with Arabic presentation forms folded."""
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(_saved(pdf, folder)), "-"],
                            capture_output=True, text=True, check=True)
    pages = result.stdout.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [" ".join(unicodedata.normalize("NFKC", re.sub("[\u202a-\u202e]", "", page)).split()) for page in pages]


def metadata_text(pdf: bytes) -> str:
    """Everything a PDF says about itself: its Info dictionary and its XMP packet (decoded)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    info = " ".join(f"{key}={value}" for key, value in (reader.metadata or {}).items())
    stream = reader.trailer["/Root"].get("/Metadata")
    xmp = stream.get_object().get_data().decode("utf-8") if stream is not None else ""
    return info + "\n" + xmp


def page_count(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def main(argv: list[str]) -> int:
    """The command line, in this process (imported when used: the commands' module may be mid-change)."""
    from careleaf.cli.main import main as cli_main

    return cli_main(argv)


def _en_day(day: dt.date) -> str:
    """'Thursday 24 December', independently of the code under test."""
    return f"{day:%A} {day.day} {day:%B}"


def _is_open(day: dt.date) -> bool:
    return day.weekday() in OPEN_DAYS and day not in CLOSED


def _files(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` with its modification time."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


# --- shared renders -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The sample catalog, signed off, with English and Turkish."""
    return approved_project(tmp_path_factory.mktemp("handout") / "p")


@pytest.fixture(scope="module")
def pdf_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("handout-pdfs")


@pytest.fixture(scope="module")
def ayse(project):
    return handout(project, AFTERCARE, patient=AYSE, now=NOW)


@pytest.fixture(scope="module")
def ayse_text(ayse, pdf_folder) -> str:
    return " ".join(raw_pages(ayse.pdf, pdf_folder))


@pytest.fixture(scope="module")
def ismail(project):
    """Turkish; "now" given in Istanbul's time zone (the record must still say it in UTC)."""
    return handout(project, Choice(BRAND, TREATMENT, "aftercare", "tr"), patient=ISMAIL,
                   now=NOW.astimezone(ZoneInfo("Europe/Istanbul")))


@pytest.fixture(scope="module")
def maryam(project):
    """Large print, English, an Arabic name, review not booked."""
    return handout(project, Choice(BRAND, TREATMENT, "aftercare", "en", large_print=True), patient=MARYAM, now=NOW)


@pytest.fixture(scope="module")
def ayse_row(project):
    """The English row of the day's list on its own: the same leaflet as `ayse`, for fewer patient details."""
    return handout(project, AFTERCARE, patient=AYSE_ROW, now=NOW)


# --- 1. the patient's own dates and record --------------------------------------------------------

@pytest.mark.parametrize("expected", [
    "Prepared for Ayşe Yılmaz",
    "Your treatment: Tuesday, 1 December 2026 at 14:30",
    # The timeline's dates, from 14:30 on Tuesday 1 December.
    "Effect starts 48-72 hours Thursday 3 December - Friday 4 December",
    "Full effect 10-14 days Friday 11 December - Tuesday 15 December",
    "Effect lasts 4.5-6 months April - June 2027",         # 16 April (4.5 months) to 1 June: months, not days
    # The booked review visit, in the timeline and in its own box.
    "Review visit 2 weeks Wednesday 16 December, 10:30",
    "Your review visit is booked for Wednesday 16 December at 10:30.",
    # The aftercare checklist's windows end at real times.
    "In the first 4 hours: until 18:30 today",
    "In the first 24 hours: until 14:30 tomorrow",
    "In the first 2 weeks: until Tuesday 15 December",
    # The treatment record, and how to report a side effect in Britain.
    "Your treatment record",
    "Areas treated Forehead and frown lines",
    "Product Botox",
    "Batch number C3920C3",
    "Units 24",
    "Treated by Dr Jane Smith",
    "report it yourself to MHRA Yellow Card: https://yellowcard.mhra.gov.uk/",
    "Give the product and batch number from your treatment record.",
])
def test_aftercare_leaflet_prints_the_patients_dates_and_record(ayse_text, expected):
    assert expected in ayse_text


def test_booked_review_is_not_replaced_by_a_suggestion_and_repeat_effects_get_no_date(ayse_text):
    assert "around" not in ayse_text
    assert "Please come back to see us" not in ayse_text
    # "After repeat treatments" depends on treatments not yet given: its date cell stays empty.
    assert "after repeat treatments 8-10 months Your review visit" in ayse_text


# --- 2. a review visit that is not booked -----------------------------------------------------

def test_unbooked_review_suggests_the_first_open_day_on_or_after_it_is_due(maryam, pdf_folder):
    text = " ".join(raw_pages(maryam.pdf, pdf_folder))
    # Due on Friday 25 December (closed); the 26th, 27th and 28th are closed too: Tuesday the 29th, never the
    # 24th, which is before the treatment has taken its full effect.
    assert "Please come back to see us around Tuesday 29 December, so we can check the result." in text
    assert "Review visit 2 weeks around Tuesday 29 December" in text
    assert "Your review visit is booked" not in text
    assert "so we can check the result. To book, call 020 7946 0321." in text
    for early_or_closed in ("Thursday 24 December", "Friday 25 December", "Saturday 26 December",
                            "Monday 28 December", "Sunday 27 December"):
        assert f"around {early_or_closed}" not in text


def test_suggested_review_is_never_before_it_is_due_nor_a_day_the_clinic_is_closed(project):
    """Every treatment day from late November to early February: the suggestion is the day the review is due
    (two weeks later) if the clinic is open then, else the first open day after it."""
    catalog = load_catalog(Project(project))
    for offset in range(70):
        treated = dt.date(2026, 11, 25) + dt.timedelta(days=offset)
        due = treated + dt.timedelta(weeks=2)
        expected = next(due + dt.timedelta(days=k) for k in range(0, 20) if _is_open(due + dt.timedelta(days=k)))
        leaflet = personalise(catalog, AFTERCARE, {"treated": f"{treated} 10:00"}, allow_draft=False, now=NOW)
        sentence = leaflet.personal.review_sentence()
        assert f"around {_en_day(expected)}," in sentence, (treated, sentence)
        assert _is_open(expected) and expected >= due


def test_suggested_review_says_around_in_every_language(project):
    catalog = load_catalog(Project(project))
    for lang, word in (("en", "around"), ("tr", "civarında")):
        leaflet = personalise(catalog, Choice(BRAND, TREATMENT, "aftercare", lang), {"treated": "2026-12-11 10:00"},
                              allow_draft=False, now=NOW)
        visit = next(m for m in leaflet.timeline if m.visit)
        for said in (leaflet.personal.review_sentence(), leaflet.personal.milestone(visit),
                     leaflet.personal.milestone(visit, short=True)):
            assert word in said, (lang, said)


# --- 3. other languages and scripts ----------------------------------------------------------------

@pytest.mark.parametrize("expected", [
    "İsmail Işık için hazırlanmıştır",
    "Tedaviniz: 1 Aralık 2026 Salı, saat 14:30",
    "bugün saat 18.30'a kadar",
    "yarın saat 14.30'a kadar",
    "15 Aralık Salı gününe kadar",
    "Seri numarası TR5521A",
])
def test_turkish_leaflet_has_turkish_dates_and_the_name_exactly(ismail, pdf_folder, expected):
    assert expected in " ".join(raw_pages(ismail.pdf, pdf_folder))


def test_arabic_name_in_an_english_leaflet_is_extracted_as_typed(maryam, pdf_folder):
    text = " ".join(readable_pages(maryam.pdf, pdf_folder))
    assert f"Prepared for {MARYAM['name']}" in text


# --- 4. large print -------------------------------------------------------------------------------

def test_large_print_leaflet_has_the_name_and_dates(maryam, ayse, pdf_folder):
    text = " ".join(raw_pages(maryam.pdf, pdf_folder))
    assert "Your treatment: Friday, 11 December 2026 at 10:00" in text
    assert "Sunday 13 December - Monday 14 December" in text          # effect starts, 48-72 hours after
    assert "In the first 4 hours: until 14:00 on Friday 11 December" in text    # not "today": made before
    assert "In the first 24 hours: until 10:00 on Saturday 12 December" in text
    assert MARYAM["name"] in " ".join(readable_pages(maryam.pdf, pdf_folder))
    assert maryam.record.large_print is True
    # Larger type takes more pages, though this leaflet has no treatment record box and the standard one has.
    assert page_count(maryam.pdf) > page_count(ayse.pdf)


# --- 5. refusals ------------------------------------------------------------------------------------

def test_draft_is_refused_and_a_training_copy_is_marked_draft(tmp_path):
    root = small_project(tmp_path / "draft")       # the sample catalog: wording still marked needs_approval
    with pytest.raises(HandoutError) as refused:
        handout(root, AFTERCARE, patient={"treated": "2026-12-01 14:30"}, now=NOW)
    message = str(refused.value)
    assert "BTX-FL-AC" in message and "draft" in message and "--allow-draft" in message

    made = handout(root, AFTERCARE, patient={"name": "Trainee Example", "treated": "2026-12-01 14:30"},
                   allow_draft=True, now=NOW)
    assert made.record.draft is True
    text = " ".join(raw_pages(made.pdf, tmp_path))
    assert "DRAFT - not approved for patient use" in text
    assert "Prepared for Trainee Example" in text


def test_overdue_leaflet_is_refused(tmp_path):
    root = approved_project(tmp_path / "p", languages="en")
    path = root / "leaflets/treatments" / TREATMENT / "treatment.yaml"
    path.write_text(path.read_text("utf-8").replace("review_by: 2099-01-05", "review_by: 2026-06-01"), "utf-8")
    with pytest.raises(HandoutError) as refused:
        handout(root, AFTERCARE, patient={"treated": "2026-12-01 14:30"}, now=NOW)
    assert "BTX-FL-AC" in str(refused.value)
    assert "due for review by 2026-06-01" in str(refused.value)


def test_brand_without_time_zone_is_refused_naming_its_file(tmp_path):
    root = approved_project(tmp_path / "p", languages="en")
    replace_in(root / "leaflets/brands/harbour-skin.yaml", "time_zone: Europe/London\n", "")
    with pytest.raises(HandoutError) as refused:
        handout(root, AFTERCARE, patient={"treated": "2026-12-01 14:30"}, now=NOW)
    assert "leaflets/brands/harbour-skin.yaml" in str(refused.value)
    assert "time_zone" in str(refused.value)


@pytest.mark.parametrize("choice, expected", [
    (Choice("harbour", TREATMENT, "aftercare", "en"), "brand: there is no 'harbour'; choose one of harbour-skin"),
    (Choice(BRAND, "botox", "aftercare", "en"), "treatment: there is no 'botox'; choose one of botox-facial-lines"),
    (Choice(BRAND, TREATMENT, "aftercare", "fr"), "lang: there is no 'fr'; choose one of en, tr"),
    (Choice(BRAND, TREATMENT, "after", "en"), "kind: there is no 'after'; choose one of aftercare, pre-treatment"),
])
def test_unknown_choice_lists_the_choices(project, choice, expected):
    with pytest.raises(HandoutError) as refused:
        handout(project, choice, patient={"treated": "2026-12-01 14:30"}, now=NOW)
    assert refused.value.problems == [expected]


# --- 6. fields are checked, and their values never echoed --------------------------------------

LONG_NAME = ("Ayşe Yılmaz Kaya " * 7)[:101]


@pytest.mark.parametrize("given, field", [
    ({"name": "Ayşe\x07Yılmaz"}, "name"),
    ({"name": "Ayşe \u202eYılmaz"}, "name"),
    ({"name": LONG_NAME}, "name"),
    ({"treated": "2026-02-30 10:00"}, "treated"),
    ({"treated": "tomorrow"}, "treated"),
    ({"treated": "2030-01-01 10:00"}, "treated"),
    ({"treated": "2026-03-29 01:30"}, "treated"),          # the clocks go forward at 01:00 in London
    ({"batch": "<script>alert(1)</script>"}, "batch"),
    ({"units": "lots"}, "units"),
    ({"review": "2026-11-30 09:15"}, "review"),           # before the treatment
    ({"colour": "blue"}, "colour"),                        # an unknown field is named, its value is not
], ids=["control", "bidi", "too-long", "no-such-date", "not-a-date", "years-away", "clocks-skip", "batch-markup",
        "units-text", "review-before", "unknown-field"])
def test_wrong_field_is_refused_by_name_without_echoing_it(project, given, field):
    fields = {"treated": "2026-12-01 14:30", **given}
    with pytest.raises(HandoutError) as refused:
        handout(project, AFTERCARE, patient=fields, now=NOW)
    problems = refused.value.problems
    assert problems and any(field in problem for problem in problems), problems
    value = next(iter(given.values()))
    pieces = [value] + [piece for piece in re.split(r"[\s\x07\u202e<>()/]+", value) if len(piece) >= 3]
    for problem in problems + [str(refused.value)]:
        for piece in pieces:
            assert piece not in problem, (piece, problem)


def test_name_with_a_lone_surrogate_is_a_field_error(project):
    with pytest.raises(HandoutError) as refused:
        handout(project, AFTERCARE, patient={"treated": "2026-12-01 14:30", "name": "Ay\ud800se"}, now=NOW)
    assert refused.value.problems[0].startswith("name:")


def test_unknown_field_named_like_a_value_is_not_echoed(project):
    with pytest.raises(HandoutError) as refused:
        handout(project, AFTERCARE, patient={"treated": "2026-12-01 14:30", "Ayşe Yılmaz": "x"}, now=NOW)
    assert "unknown fields" in str(refused.value)
    assert "Ayşe" not in str(refused.value)


def test_command_line_reports_a_wrong_field_by_name_and_exits_2(project, capsys):
    code = main(["--project", str(project), "handout", *CHOICE_OPTIONS, "--treated", "2026-12-01 14:30",
                 "--name", "Ayşe\x07Yılmaz", "--units", "lots", "--out", str(project.parent / "never.pdf")])
    captured = capsys.readouterr()
    assert code == 2
    assert "Error: name: contains control characters" in captured.err
    assert "Error: units: write a number" in captured.err
    assert "Ayşe" not in captured.err + captured.out and "lots" not in captured.err + captured.out
    assert not (project.parent / "never.pdf").exists()


def test_the_api_takes_exactly_the_fields_the_command_line_and_the_desk_take():
    """One declaration of the patient fields: the API's model has each, with its limit and description."""
    schema = HandoutRequest.model_json_schema()
    patient = schema["$defs"]["PatientFields"]
    assert list(patient["properties"]) == [field.name for field in PATIENT_FIELDS]
    assert patient["required"] == [field.name for field in PATIENT_FIELDS if field.required] == ["treated"]
    assert patient["additionalProperties"] is False
    for field in PATIENT_FIELDS:
        described = patient["properties"][field.name]
        limits = [described.get("maxLength")] + [kind.get("maxLength") for kind in described.get("anyOf", [])]
        assert described["description"] == field.help and field.limit in limits, field.name
    reference = schema["properties"]["reference"]
    assert reference["maxLength"] == REFERENCE.limit and reference["description"] == REFERENCE.help


# --- 7. privacy ------------------------------------------------------------------------------------

def test_name_and_batch_are_not_in_the_pdfs_metadata(ayse, ismail):
    for made, fields in ((ayse, AYSE), (ismail, ISMAIL)):
        described = metadata_text(made.pdf)
        assert "Harbour Skin Clinic" in described and "dc:title" in described     # the metadata and XMP were read
        for value in (fields["name"], fields["batch"], fields["name"].split()[0]):
            assert value not in described
        assert fields["name"].encode() not in made.pdf                 # nor anywhere uncompressed in the file


def test_file_name_names_the_clinic_only(ayse, ismail, maryam):
    assert {ayse.file_name, ismail.file_name, maryam.file_name} == {"harbour-skin-leaflet.pdf"}
    assert file_name("maple-aesthetics") == "maple-aesthetics-leaflet.pdf"


def test_handout_writes_nothing_under_the_project_or_in_the_temporary_folder(project, ayse, tmp_path, monkeypatch):
    # `ayse` made a leaflet in this process already: the renderer's one-off set-up (fonts) is done.
    before = _files(project)
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert tempfile.gettempdir() == str(private)
    made = handout(project, AFTERCARE, patient={"name": "Zofia Nowak", "treated": "2026-12-01 09:00",
                                                "batch": "ZN4471B"}, now=NOW)
    assert made.pdf.startswith(b"%PDF")
    assert sorted(private.rglob("*")) == []
    assert _files(project) == before


def test_handout_logs_nothing_about_the_patient(project, ayse, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    created: list[logging.LogRecord] = []
    original = logging.Logger.handle

    def handle(self, record):       # every record any logger passes on, whether or not it reaches the root
        created.append(record)
        return original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", handle)
    handout(project, AFTERCARE, patient={"name": "Zofia Nowak", "treated": "2026-12-01 09:00", "batch": "ZN4471B",
                                         "note": "Nowak allergy note"}, now=NOW)
    assert created, "the logging hook saw nothing: the test would prove nothing"
    for record in created + list(caplog.records):
        said = record.getMessage() + repr(record.args)
        for value in ("Zofia", "Nowak", "ZN4471B"):
            assert value not in said, (record.name, said[:200])


@pytest.mark.slow
def test_command_writes_an_owner_only_file_and_leaves_nothing_behind(project, tmp_path):
    temporary = tmp_path / "tmpdir"
    temporary.mkdir()
    target = tmp_path / "for-patient.pdf"
    today = dt.datetime.now(LONDON).date()
    result = run_cli("--project", ".", "handout", *CHOICE_OPTIONS, "--name", "Zofia Nowak", "--treated",
                     f"{today} 09:00", "--batch", "ZN4471B", "--out", str(target),
                     cwd=project, env={"TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(temporary.rglob("*")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["for-patient.pdf", "tmpdir"]    # no partial file left
    for value in ("Zofia", "Nowak", "ZN4471B"):
        assert value not in result.stdout and value not in result.stderr
    record = json.loads(result.stdout)
    assert record["code"] == "BTX-FL-AC" and record["draft"] is False
    assert "Prepared for Zofia Nowak" in " ".join(raw_pages(target.read_bytes(), tmp_path))


@pytest.mark.slow
def test_command_reads_fields_from_stdin_and_writes_the_pdf_to_a_pipe(project, tmp_path):
    today = dt.datetime.now(LONDON).date()
    fields = {"name": "Zeynep Kaya", "treated": f"{today} 09:00", "batch": "ZK88"}
    before = sorted(project.rglob("*.pdf"))
    result = subprocess.run([sys.executable, str(GENERATE), "--project", ".", "handout", *CHOICE_OPTIONS,
                             "--fields", "-"], cwd=project, input=json.dumps(fields).encode(), capture_output=True,
                            timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"%PDF")
    assert b"Zeynep" not in result.stderr and b"ZK88" not in result.stderr
    assert "Prepared for Zeynep Kaya" in " ".join(raw_pages(result.stdout, tmp_path))
    assert sorted(project.rglob("*.pdf")) == before      # the PDF went to the pipe: no harbour-skin-leaflet.pdf here


def test_command_refuses_to_write_into_the_catalogs_out_folder(project, capsys):
    out = project / "out"
    out.mkdir(exist_ok=True)
    (out / "catalog.pdf").write_bytes(b"%PDF-catalog")
    before = _files(out)
    code = main(["--project", str(project), "handout", *CHOICE_OPTIONS, "--treated", "2026-12-01 14:30",
                 "--out", str(out / "patient.pdf")])
    assert code == 2
    assert "Error: --out:" in capsys.readouterr().err
    assert _files(out) == before


def test_missing_fields_file_is_a_plain_error(project, tmp_path, capsys):
    code = main(["--project", str(project), "handout", *CHOICE_OPTIONS, "--fields", str(tmp_path / "typo.json"),
                 "--out", str(tmp_path / "x.pdf")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Error: --fields" in err and "Internal error" not in err


# --- 8. the record --------------------------------------------------------------------------------

def test_record_says_what_was_handed_out_and_when(ayse, ismail, maryam):
    assert ayse.record.as_json() == {
        "code": "BTX-FL-AC", "version": 1, "lang": "en", "large_print": False, "brand": BRAND,
        "treatment": TREATMENT, "kind": "aftercare", "content_fingerprint": ayse.record.content_fingerprint,
        "made_at": "2026-12-01T14:40:00+00:00", "draft": False}
    assert re.fullmatch(r"[0-9a-f]{64}", ayse.record.content_fingerprint)
    assert (ismail.record.lang, ismail.record.made_at) == ("tr", "2026-12-01T14:40:00+00:00")   # "now" was in Istanbul
    assert (maryam.record.large_print, maryam.record.draft) == (True, False)
    for made, fields in ((ayse, AYSE), (ismail, ISMAIL), (maryam, MARYAM)):
        assert fields["name"] not in json.dumps(made.record.as_json(), ensure_ascii=False)


def test_fingerprint_is_the_leaflets_not_the_patients(ayse, ayse_row, ismail):
    assert ayse_row.record.content_fingerprint == ayse.record.content_fingerprint
    assert ismail.record.content_fingerprint != ayse.record.content_fingerprint


def test_fingerprint_changes_with_the_wording(ayse, tmp_path):
    root = approved_project(tmp_path / "p", languages="en")
    replace_in(root / "leaflets/treatments" / TREATMENT / "en.yaml", "No. Your lines will not get worse when you stop.",
               "No. Your lines will not get any worse when you stop.")
    with pytest.raises(HandoutError, match="awaiting re-approval"):     # changed wording is not handed out as approved
        handout(root, AFTERCARE, patient=AYSE, now=NOW)
    approve(Project(root), "BTX-FL-AC", by="Dr Test Person", lang="en", today=NOW.date())
    changed = handout(root, AFTERCARE, patient=AYSE, now=NOW)
    assert changed.record.content_fingerprint != ayse.record.content_fingerprint
    assert (changed.record.code, changed.record.version) == ("BTX-FL-AC", 2)


# --- 9. deterministic -------------------------------------------------------------------------------

def test_same_inputs_give_the_same_bytes(project, ayse):
    again = handout(project, AFTERCARE, patient=dict(AYSE), now=NOW)
    assert again.pdf == ayse.pdf
    assert again.record == ayse.record


# --- 10. the catalog never sees a patient ------------------------------------------------------------

@pytest.mark.slow
def test_catalog_built_after_handouts_has_no_patient_in_it(project, ayse, ismail, tmp_path):
    summary = build(Project(project), tmp_path / "out", large_print=False, jobs=2)
    assert not summary.failed
    pdfs = sorted((tmp_path / "out").rglob("*.pdf"))    # the web pages' copies in out/site/ are read too
    assert len([p for p in pdfs if "site" not in p.relative_to(tmp_path / "out").parts]) == 4   # en, tr; before, after
    for pdf in pdfs:
        text = normalise("\n".join(pdf_pages_text(pdf)))
        assert "Botulinum toxin" in text or "botulinum" in text
        for value in (AYSE["name"], AYSE["batch"], ISMAIL["name"], ISMAIL["batch"], "Prepared for", "hazırlanmıştır",
                      "Your treatment record", "Tedavi kaydınız"):
            assert value not in text, (pdf, value)


# --- 11. a day's list -----------------------------------------------------------------------------

HEADER = "brand,treatment,kind,lang,large_print,name,treated,batch"


def _row(lang: str, large_print: str, fields: dict[str, str]) -> str:
    return ",".join([BRAND, TREATMENT, "aftercare", lang, large_print,
                     fields["name"], fields["treated"], fields.get("batch", "")])


@pytest.fixture(scope="module")
def day_list(project, tmp_path_factory):
    folder = tmp_path_factory.mktemp("day")
    path = folder / "day.csv"
    path.write_text("\n".join([HEADER, _row("en", "no", AYSE_ROW), _row("tr", "no", ISMAIL),
                               _row("en", "yes", MARYAM)]) + "\n", "utf-8")
    pdf, records = handouts(project, path, now=NOW)[:2]       # (then each row's register reference)
    return pdf, records, folder


@pytest.mark.slow
def test_day_list_is_one_pdf_of_every_leaflet_in_order(day_list, ayse_row, ismail, maryam):
    pdf, records, folder = day_list
    singles = [ayse_row, ismail, maryam]
    counts = [page_count(made.pdf) for made in singles]
    assert page_count(pdf) == sum(counts)
    pages = readable_pages(pdf, folder)
    first_pages = [sum(counts[:i]) for i in range(3)]
    for start, count, fields in zip(first_pages, counts, (AYSE_ROW, ISMAIL, MARYAM)):
        assert fields["name"] in pages[start]                                      # each leaflet begins with its patient
        assert all(fields["name"] not in page for page in pages[:start] + pages[start + count:])
    assert [(r.lang, r.large_print, r.code) for r in records] == [("en", False, "BTX-FL-AC"), ("tr", False, "BTX-FL-AC"),
                                                                   ("en", True, "BTX-FL-AC")]
    assert [r.content_fingerprint for r in records] == [made.record.content_fingerprint for made in singles]


@pytest.mark.slow
def test_day_list_pdf_is_valid_and_tagged_with_each_leaflets_language(day_list):
    pdf, _, folder = day_list
    checked = qpdf_check(_saved(pdf, folder))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    tree = root["/StructTreeRoot"].get_object()
    document = tree["/K"][0].get_object()
    assert document["/S"] == "/Document"
    languages = {str(kid.get_object().get("/Lang")) for kid in document["/K"]}
    assert {"en", "tr"} <= languages
    described = metadata_text(pdf)
    for fields in (AYSE_ROW, ISMAIL, MARYAM):
        for name in ("name", "batch"):
            assert fields.get(name, "(none)") not in described


def test_bad_row_fails_the_whole_list_by_its_line_without_its_values(project, tmp_path, capsys):
    path = tmp_path / "day.csv"
    bad = {"name": "Selin Demir", "treated": "2026-02-30 10:00", "batch": "SD7070"}
    path.write_text("\n".join([HEADER, _row("en", "no", AYSE_ROW), _row("en", "no", bad), _row("tr", "no", ISMAIL)])
                    + "\n", "utf-8")
    target = tmp_path / "print-run.pdf"
    code = main(["--project", str(project), "handouts", "--from", str(path), "--out", str(target)])
    captured = capsys.readouterr()
    assert code == 2
    assert re.search(r"day\.csv:3:\d+: treated:", captured.err), captured.err
    for fields in (AYSE_ROW, bad, ISMAIL):
        for value in fields.values():
            assert value not in captured.err and value not in captured.out
    assert "Selin" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv"]


def test_unknown_column_is_named(project, tmp_path):
    path = tmp_path / "day.csv"
    path.write_text(HEADER + ",colour\n" + _row("en", "no", AYSE_ROW) + ",blue\n", "utf-8")
    with pytest.raises(InputError) as refused:
        handouts(project, path, now=NOW)
    assert "unknown columns: 'colour'" in str(refused.value)
    assert "blue" not in str(refused.value)


def test_short_row_is_reported_by_its_line(project, tmp_path):
    """A row with cells missing at its end (csv gives them as None) is a problem on its line, not a crash."""
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "\n" + _row("en", "no", AYSE_ROW) + "\n" + f"{BRAND},{TREATMENT},aftercare\n", "utf-8")
    with pytest.raises(InputError) as refused:
        handouts(project, path, now=NOW)
    assert "day.csv:3:" in str(refused.value)
    assert "day.csv:2:" not in str(refused.value)


def test_list_without_heading_row_does_not_echo_the_first_patient(project, tmp_path):
    path = tmp_path / "day.csv"
    path.write_text(_row("en", "no", AYSE_ROW) + "\n" + _row("tr", "no", ISMAIL) + "\n", "utf-8")
    with pytest.raises(InputError) as refused:
        handouts(project, path, now=NOW)
    for value in AYSE_ROW.values():
        assert value not in str(refused.value)
