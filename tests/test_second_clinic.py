"""A second clinic, not the sample: a project made by `careleaf new` for a clinic in Izmir (TR, Turkish and English,
A4), with a treatment given as a course (a glycolic-acid peel, tests/fixtures/izmir-peel) written as the docs
describe. It passes `check` with no warning it does not deserve, builds, prints its English the way an English
reader outside the US expects ("7 December 2026", "10:30"), and a patient's own copy dates the next session.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from careleaf.cli.main import main
from careleaf.content import model
from careleaf.handout.handouts import handout
from careleaf.project import THEME, Project
from careleaf.review import check

from conftest import FIXTURES, pdf_pages_text, replace_in

PEEL = FIXTURES / "izmir-peel"
BRAND = "ege-cilt-klinigi"
BRAND_PHONE = "0232 000 10 20"             # the clinic's own number, in place of careleaf new's example
TODAY = "2026-12-07"                       # the clinic's date for every command: approvals carry it
TREATED = dt.datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Istanbul"))


def careleaf(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The `careleaf` command, as the clinic's technical person runs it from the project folder."""
    command = Path(sys.executable).with_name("careleaf")
    return subprocess.run([str(command), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "CARELEAF_TODAY": TODAY, "HOME": str(cwd)})


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """The Izmir clinic's project: made by `careleaf new`, its example replaced by the peel, the translation
    recorded as reviewed, both leaflets approved by its clinician, and built."""
    root = tmp_path_factory.mktemp("izmir") / "ege-leaflets"
    assert main(["new", str(root), "--name", "Ege Cilt Kliniği", "--country", "TR", "--languages", "tr,en"]) == 0
    shutil.rmtree(root / "leaflets/treatments/example-treatment")
    peel = root / "leaflets/treatments/glycolic-peel"
    peel.mkdir()
    for name in ("treatment.yaml", "en.yaml", "tr.yaml"):
        shutil.copy(PEEL / name, peel / name)
    # The clinic's own numbers in place of the examples, as the brand file's first lines ask, and who answers
    # outside the urgent line's hours (Türkiye has no line such as NHS 111 for careleaf to print).
    brand = root / f"leaflets/brands/{BRAND}.yaml"
    replace_in(brand, 'phone: "000 000 0000"', f'phone: "{BRAND_PHONE}"')
    replace_in(brand, 'urgent_phone: "000 000 0001"', 'urgent_phone: "0532 000 10 21"')
    replace_in(brand, '# out_of_hours_phone: ""', 'out_of_hours_phone: "0532 000 10 22"')
    return root


@pytest.fixture(scope="module")
def built(clinic):
    """The project once its translation is recorded, a clinician has read and approved it, and it is built."""
    first = check.run(Project(clinic), today=dt.date.fromisoformat(TODAY))
    recorded = careleaf("translations", "--reviewed", "leaflets/treatments/glycolic-peel/tr.yaml", cwd=clinic)
    assert recorded.returncode == 0, recorded.stderr
    for lang in ("en", "tr"):     # the clinician has read the urgent-help wording careleaf new wrote
        replace_in(clinic / f"leaflets/shared/{lang}.yaml", "needs_approval: true", "needs_approval: false")
    for code in ("GLY-PT", "GLY-AC"):
        approved = careleaf("approve", code, "--by", "Dr Ayşe Yılmaz", cwd=clinic)
        assert approved.returncode == 0, approved.stdout + approved.stderr
    build = careleaf("build", cwd=clinic)
    assert build.returncode == 0, build.stdout + build.stderr
    return first, build


def test_careleaf_new_writes_the_clinics_own_project(clinic):
    brand = (clinic / f"leaflets/brands/{BRAND}.yaml").read_text("utf-8")
    for name in ("name: \"Ege Cilt Kliniği\"", "country: \"TR\"", "time_zone: \"Europe/Istanbul\"",
                 "languages: [\"tr\", \"en\"]", "page_size: \"A4\""):
        assert name in brand
    # Every brand field is there to be seen, each with its help above it.
    for spec in model.Brand.__dataclass_fields__.values():
        assert f"\n{spec.name}:" in brand or f"\n# {spec.name}:" in brand, spec.name
    assert (clinic / "leaflets/check.yaml").read_text("utf-8").count("page_budget:") == 1
    assert (clinic / f"styles/brands/{BRAND}/logo.svg").is_file()


def test_a_new_translation_is_one_message_and_then_check_has_nothing_to_say(clinic, built):
    first, _ = built
    warnings = [f for f in first.findings if f.level != "info"]
    assert [(f.file.rsplit("/", 1)[-1], f.code) for f in warnings] == [("tr.yaml", "new-translation")]
    assert "careleaf translations --reviewed" in warnings[0].message
    after = check.run(Project(clinic), today=dt.date.fromisoformat(TODAY))
    assert after.ok and [str(f) for f in after.findings if f.level != "info"] == []


# What the peel covers of the leaflet standard with sections of its own; the other topics its built-in blocks cover.
OWN_SECTIONS = {"what-it-is": "what-is-it", "appointment": "at-the-appointment", "alternatives": "other-choices"}


def test_the_peel_is_told_which_topics_it_lacks_and_passes_once_it_covers_them(clinic, built, tmp_path):
    """The treatment as first written from docs/editors/add-treatment.md (its own questions, the blocks, no
    'covers:' and no about block): `careleaf check` names every topic of the standard it lacks, leaflet by
    leaflet, and fails; the fixture as the clinic finished it (above) passes."""
    root = tmp_path / "project"
    for folder in ("leaflets", "styles"):
        shutil.copytree(clinic / folder, root / folder)
    peel = root / "leaflets/treatments/glycolic-peel"
    finished = {name: (peel / name).read_text("utf-8") for name in ("treatment.yaml", "en.yaml")}
    facts = finished["treatment.yaml"]
    for section in ("at-the-appointment", "other-choices", "about-this-leaflet"):
        facts = facts.replace(f"      - {section}\n", "")
    (peel / "treatment.yaml").write_text(facts, "utf-8")
    replace_in(peel / "en.yaml", "    covers: [what-it-is]\n", "")
    first = careleaf("check", cwd=root)
    assert first.returncode != 0
    missing = sorted(re.findall(r"(GLY-\w+) \(glycolic-peel [\w-]+\) does not cover the topic '([\w-]+)'",
                                first.stdout + first.stderr))
    assert missing == sorted([("GLY-PT", topic) for topic in (*OWN_SECTIONS, "sources-and-review", "feedback")]
                             + [("GLY-AC", "sources-and-review"), ("GLY-AC", "feedback")])

    for name, text in finished.items():
        (peel / name).write_text(text, "utf-8")
    for topic, section in OWN_SECTIONS.items():
        assert f"  {section}:\n    question:" in finished["en.yaml"] and f"covers: [{topic}]" in finished["en.yaml"]
    passed = careleaf("check", cwd=root)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "does not cover" not in passed.stdout + passed.stderr


def test_it_builds_with_nothing_to_warn_about(built):
    _, build = built
    assert "8 built" in build.stdout, build.stdout
    assert "Note:" not in build.stdout and "Drafts" not in build.stdout, build.stdout


def test_english_prints_dates_as_an_english_reader_outside_the_us_expects(clinic, built):
    text = " ".join(pdf_pages_text(clinic / f"out/{BRAND}/en/glycolic-peel-aftercare.pdf"))
    assert "approved 7 December 2026" in text and "next review 30 June 2028" in text
    assert "December 7" not in text
    turkish = " ".join(pdf_pages_text(clinic / f"out/{BRAND}/tr/glycolic-peel-aftercare.pdf"))
    assert "7 Aralık 2026" in turkish


def test_the_course_is_drawn_and_its_visit_is_the_next_session(clinic, built):
    text = " ".join(pdf_pages_text(clinic / f"out/{BRAND}/en/glycolic-peel-aftercare.pdf"))
    assert "Your next session" in text and "Your review visit" not in text
    assert "course of 4–6 sessions, about 2 weeks apart" in text
    assert "Full result of the course" in text
    before = " ".join(pdf_pages_text(clinic / f"out/{BRAND}/en/glycolic-peel-pre-treatment.pdf"))
    assert "Getting ready for your treatment" in before and "Stop retinoids 5 days before each session" in before


@pytest.mark.parametrize("lang, said", [
    ("en", ["Your treatment: Monday, 7 December 2026 at 10:30", "This was session 2 of 4–6.",
            "Please come back for your next session around Monday 21 December."]),
    ("tr", ["7 Aralık 2026 Pazartesi, saat 10:30", "Bu, 4–6 seansın 2. seansıydı.", "21 Aralık Pazartesi civarında"]),
])
def test_a_personal_copy_dates_the_next_session_and_says_which_this_was(clinic, built, lang, said):
    copy = handout(clinic, brand=BRAND, treatment="glycolic-peel", kind="aftercare", lang=lang,
                   patient={"treated": "2026-12-07 10:30", "session": "2"}, now=TREATED)
    path = clinic / f"personal-{lang}.pdf"
    path.write_bytes(copy.pdf)
    pages = [" ".join(page.split()) for page in pdf_pages_text(path)]
    text = " ".join(pages)
    for words in said:
        assert words in text
    # The danger signs are on its first page, and its last page is never the contact box alone: the about block
    # follows it.
    urgent, about = {"en": ("Get urgent help", "About this leaflet"), "tr": ("Acil yardım alın", "Bu broşür hakkında")}[lang]
    assert f"{urgent} " in pages[0] and about in pages[-1]
    assert "AM" not in text
    # A peel is a cosmetic procedure: the country table's route for everything that is not a medicine or a
    # device is printed (TİTCK's cosmetic vigilance), never the medicines' pharmacovigilance centre.
    assert "TÜFAM" not in text


def test_the_last_session_of_a_course_has_no_next_one(clinic, built):
    copy = handout(clinic, brand=BRAND, treatment="glycolic-peel", kind="aftercare", lang="en",
                   patient={"treated": "2026-12-07 10:30", "session": "6"}, now=TREATED)
    path = clinic / "personal-last.pdf"
    path.write_bytes(copy.pdf)
    text = " ".join(" ".join(page.split()) for page in pdf_pages_text(path))
    assert "This was session 6, the last of your course." in text
    assert "next session around" not in text


def test_a_personal_copy_dates_the_steps_before_treatment(clinic, built):
    copy = handout(clinic, brand=BRAND, treatment="glycolic-peel", kind="pre-treatment", lang="en",
                   patient={"treated": "2026-12-07 10:30"}, now=TREATED)
    path = clinic / "personal-before.pdf"
    path.write_bytes(copy.pdf)
    text = " ".join(" ".join(page.split()) for page in pdf_pages_text(path))
    assert "5 days before: from Wednesday 2 December" in text
    assert "1 week before: from Monday 30 November" in text


def test_a_retyped_figure_is_matched_to_its_own_fact_only(clinic, built, tmp_path):
    """'5 days' is both the retinoid stop and the no-picking window: the sentence about retinoids is told to
    refer to the retinoid fact, never to the checklist's."""
    root = tmp_path / "project"
    shutil.copytree(clinic / "leaflets", root / "leaflets")
    shutil.copytree(clinic / "styles", root / "styles")
    wording = root / "leaflets/treatments/glycolic-peel/en.yaml"
    replace_in(wording, "{before_treatment.stop-retinoids.before}", "5 days")
    found = [f for f in check.run(Project(root), today=dt.date.fromisoformat(TODAY)).findings
             if f.code == "retyped-figure"]
    assert [f.message.split("; ")[1] for f in found] == [
        "write {before_treatment.stop-retinoids.before} so that it is written once and changes with the data"]
    # Without the retinoid fact, the same figure is not the checklist's either: nothing is suggested.
    replace_in(root / "leaflets/treatments/glycolic-peel/treatment.yaml", "    before: 5 days", "    before: 4 days")
    assert not [f for f in check.run(Project(root), today=dt.date.fromisoformat(TODAY)).findings
                if f.code == "retyped-figure"]


def test_a_last_page_holding_only_the_contact_box_is_warned_about(clinic, built, tmp_path):
    """With the about block listed before the contact box, and the contact details stacked label above value (as
    large print once had them), the English large-print pre-treatment leaflet ends on a page holding the contact
    box alone: the build says so."""
    root = tmp_path / "project"
    for folder in ("leaflets", "styles"):
        shutil.copytree(clinic / folder, root / folder)
    facts = root / "leaflets/treatments/glycolic-peel/treatment.yaml"
    facts.write_text(facts.read_text("utf-8").replace("      - contact\n      - about-this-leaflet\n",
                                                      "      - about-this-leaflet\n      - contact\n"), "utf-8")
    stacked = ".contact li { display: block; }\n.contact .detail { display: block; margin-top: 1mm; }\n"
    (root / "styles/large-print.css").write_text((THEME / "styles/large-print.css").read_text("utf-8") + stacked)
    build = careleaf("build", "--quiet", cwd=root)
    assert build.returncode == 0, build.stderr
    assert ("Note: ege-cilt-klinigi/en/glycolic-peel-pre-treatment-large-print: page 5, the last, holds only the "
            "contact box") in build.stdout, build.stdout
