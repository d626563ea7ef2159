"""`generate.py check`: findings at the right line, readability scores, exit status.

Every test works on a copy in tmp_path; none renders a PDF or reaches the network.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from careleaf.content import standards
from careleaf.review import check
from careleaf.review import readability
from careleaf.cli.main import main
from careleaf.content.schemas import schema_texts
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from careleaf.errors import InputError

from conftest import ROOT, copy_project, mini_project, replace_in, run_cli

TODAY = {"CARELEAF_TODAY": "2026-03-01"}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Findings name files relative to the working folder."""
    monkeypatch.chdir(tmp_path)


def codes(report: check.Report, code: str) -> list[check.Finding]:
    return [f for f in report.findings if f.code == code]


# --- the sample catalog ----------------------------------------------------------------

def test_sample_passes_and_every_answer_and_intro_is_scored(tmp_path):
    root = copy_project(tmp_path / "project")
    result = run_cli("check", "--json", cwd=root, env=TODAY)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["level"] == "error"]

    catalog = load_catalog(Project(root))
    expected = {(f"{t}/{name}", lang) for t, entry in catalog.treatments.items()
                for lang, wording in entry.wording.items() for name in wording.sections}
    expected |= {(f"{t}/{kind} intro", lang) for t, entry in catalog.treatments.items()
                 for lang, wording in entry.wording.items() for kind in wording.leaflets}
    expected |= {(f"shared/{name}", lang) for lang, (shared, _) in catalog.shared.items() for name in shared.sections}
    assert {(s["section"], s["lang"]) for s in report["scores"]} == expected
    for score in report["scores"]:
        assert score["words"] > 0 and score["sentences"] > 0 and score["line"] > 0
        wanted = {"reading_ease", "grade"} if score["lang"] == "en" else {"atesman"}
        assert wanted <= score.keys(), score


def test_sample_meets_its_own_targets(tmp_path):
    """The sample wording is the example editors copy: no hard-to-read section, long sentence or hard word."""
    report = check.run(Project(copy_project(tmp_path / "project")))
    assert not [str(f) for f in report.findings if f.code in ("hard-to-read", "long-sentence", "jargon")]
    assert report.ok


def test_human_output_groups_findings_then_scores_then_summary(tmp_path):
    root = copy_project(tmp_path / "project")
    result = run_cli("check", cwd=root, env=TODAY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("leaflets/treatments/botox-facial-lines/treatment.yaml:") and ": info: " in line
               and "BTX-FL-PT" in line for line in lines)
    assert any(line.startswith("section ") and "Ateşman" in line for line in lines)
    assert any(line.startswith("shared/is-it-approved ") for line in lines)
    assert lines[-1].startswith("check: 0 errors, ")
    assert "lowest reading ease" in lines[-1] and "lowest Ateşman" in lines[-1]


def test_check_renders_nothing_and_never_loads_the_pdf_renderer(tmp_path):
    root = copy_project(tmp_path / "project")
    code = ("import sys, io, contextlib\nfrom careleaf.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    status = main(['--project', {str(root)!r}, 'check'])\n"
            "print(status, 'weasyprint' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["0", "False"], result.stderr
    assert not (root / "out").exists()


def test_overdue_review_is_an_error_and_one_due_soon_a_warning(tmp_path):
    root = copy_project(tmp_path / "project")
    facts = root / "leaflets/treatments/botox-facial-lines/treatment.yaml"
    replace_in(facts, "    code: BTX-FL-AC\n    version: 1\n", "    code: BTX-FL-AC\n    version: 1\n    review_by: 2026-02-27\n")
    replace_in(facts, "    code: BTX-FL-PT\n    version: 1\n", "    code: BTX-FL-PT\n    version: 1\n    review_by: 2026-03-20\n")
    result = run_cli("check", "--json", cwd=root, env=TODAY)
    assert result.returncode == 1, result.stdout
    findings = json.loads(result.stdout)["findings"]
    line_of = {text.strip(): number for number, text in enumerate(facts.read_text().splitlines(), start=1)}
    overdue = [f for f in findings if f["code"] == "review-overdue"]
    assert overdue == [{"file": "leaflets/treatments/botox-facial-lines/treatment.yaml",
                        "line": line_of["review_by: 2026-02-27"], "level": "error", "code": "review-overdue",
                        "message": "BTX-FL-AC (botox-facial-lines aftercare) was due for review by 2026-02-27; "
                                   "review it and set a new review_by (the build refuses it until then)"}]
    soon = [f for f in findings if f["code"] == "review-due-soon"]
    assert [(f["line"], f["level"]) for f in soon] == [(line_of["review_by: 2026-03-20"], "warning")]
    assert "in 19 days" in soon[0]["message"]
    assert {f["message"].split()[0] for f in findings if f["code"] == "no-review-date"} == {"BTX-UA-PT", "BTX-UA-AC"}


def test_invalid_content_is_reported_as_located_errors(tmp_path):
    root = mini_project(tmp_path / "project")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.", "    anser: It is a demo.")
    report = check.run(Project(root))
    assert not report.ok and not report.scores
    assert "project/leaflets/treatments/demo/en.yaml:11: error: unknown key 'anser'; did you mean 'answer'?" \
        in [str(f) for f in report.findings]


def test_unused_section_and_stale_translation_are_warnings(tmp_path):
    root = copy_project(tmp_path / "project")
    wording = root / "leaflets/treatments/botox-facial-lines/en.yaml"
    replace_in(wording, "sections:\n", "sections:\n  spare:\n    question: Is this used?\n    answer: No, it is not.\n\n")
    replace_in(root / "leaflets/shared/en.yaml", "Botulinum toxin is not snake poison.", "It is not snake venom.")
    report = check.run(Project(root))
    unused = codes(report, "unused-section")
    assert [(f.file, f.line) for f in unused] == [("project/leaflets/treatments/botox-facial-lines/en.yaml", 20)]
    assert "'spare'" in unused[0].message
    stale = {f.file: f for f in codes(report, "stale-translation")}
    assert stale.keys() == {"project/leaflets/shared/tr.yaml", "project/leaflets/treatments/botox-facial-lines/tr.yaml"}
    changed = stale["project/leaflets/shared/tr.yaml"]
    assert changed.level == "warning" and changed.message.startswith("the English wording of 'sections/is-it-a-poison'")
    assert stale["project/leaflets/treatments/botox-facial-lines/tr.yaml"].message == \
        "'sections/spare' is in the English wording but not translated here yet; once it is, run " \
        "'careleaf translations --reviewed project/leaflets/treatments/botox-facial-lines/tr.yaml'"
    assert "then run 'careleaf translations --reviewed project/leaflets/shared/tr.yaml'" in changed.message
    assert report.ok


def test_a_new_translation_file_is_one_message_naming_the_command(tmp_path):
    """A translation never recorded as reviewed is new, not changed: one warning for the file, and the command
    it names writes a block that names the same command."""
    root = copy_project(tmp_path / "project")
    wording = root / "leaflets/treatments/botox-facial-lines/tr.yaml"
    text = wording.read_text("utf-8")
    wording.write_text(text[:text.index("translated_from:")], "utf-8")
    report = check.run(Project(root))
    translation = ("new-translation", "stale-translation")
    found = [f for f in report.findings if f.file == "project/leaflets/treatments/botox-facial-lines/tr.yaml"
             and f.code in translation]
    assert [(f.code, f.line) for f in found] == [("new-translation", 1)]
    command = "careleaf translations --reviewed project/leaflets/treatments/botox-facial-lines/tr.yaml"
    assert f"run '{command}'" in found[0].message
    assert main(["--project", str(root), "translations", "--reviewed", str(wording)]) == 0
    assert "# Written by 'careleaf translations --reviewed'; do not edit by hand." in wording.read_text("utf-8")
    after = check.run(Project(root))
    assert not [f for f in after.findings if f.file.endswith("botox-facial-lines/tr.yaml") and f.code in translation]


# --- hard words and long sentences, on a small catalog ----------------------------------

SETTINGS = """\
max_sentence_words: 12
en:
  min_reading_ease: 60
  max_grade: 8
  jargon:
    - word: haematoma
      say: bruise
    - word: prior to
      say: before
"""


def test_jargon_and_long_sentences_are_found_at_their_line(tmp_path):
    root = mini_project(tmp_path / "project")
    (root / "leaflets/check.yaml").write_text(SETTINGS, encoding="utf-8")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.\n",
               "    answer: |\n      You may get a small haematoma.\n\n"
               "      - Prior to the visit, rest.\n"
               "      - We will check the area, answer your questions and book your next visit with you today.\n")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: Some redness.",
               "    answer: Haematomas, or bruises, fade.")
    report = check.run(Project(root))
    file = "project/leaflets/treatments/demo/en.yaml"
    assert [str(f) for f in codes(report, "jargon")] == [
        f"{file}:12: warning: 'haematoma': say 'bruise'",
        f"{file}:14: warning: 'Prior to': say 'before'",
    ]  # 'Haematomas, or bruises' explains the word, so it is not reported
    assert [str(f) for f in codes(report, "long-sentence")] == [
        f"{file}:15: warning: this sentence has 16 words (keep to 12 or fewer): "
        "\"We will check the area, answer your questions …\"; split it in two"]


def test_a_section_past_the_targets_is_hard_to_read(tmp_path):
    root = mini_project(tmp_path / "project")
    (root / "leaflets/check.yaml").write_text(SETTINGS, encoding="utf-8")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.",
               "    answer: Pharmacological intervention necessitates comprehensive consideration of "
               "individual physiological characteristics.")
    report = check.run(Project(root))
    hard = codes(report, "hard-to-read")
    assert [(f.line, f.level) for f in hard] == [(9, "warning")]
    assert hard[0].message.startswith("'demo/what-is-it' is hard to read: Flesch Reading Ease -")
    assert "(aim for 60 or more) and grade " in hard[0].message


# --- the settings file ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("en:\n  min_reading_eas: 60\n", "check.yaml:2: error: unknown key 'min_reading_eas'; did you mean 'min_reading_ease'?"),
    ("max_sentence_words: twenty\n", "check.yaml:1: error: 'max_sentence_words': 'twenty' is not a number"),
    ("tr:\n  jargon:\n    - word: ödem\n      sya: şişlik\n",
     "check.yaml:4: error: unknown key 'sya'; did you mean 'say'?"),
    ("en:\n  jargon:\n    - word: oedema\n      say: swelling\n    - word: Oedema\n      say: puffiness\n",
     "check.yaml:5: error: 'Oedema' is listed twice (items 1 and 2); keep one"),
    ("page_budget:\n  aftercar: 2\n",
     "check.yaml:2: error: 'aftercar' should be one of 'pre-treatment', 'aftercare'; did you mean 'aftercare'?"),
    ("page_budget:\n  aftercare: two\n", "check.yaml:2: error: 'aftercare': 'two' is not a number"),
])
def test_settings_errors_are_located(tmp_path, text, expected):
    root = mini_project(tmp_path / "project")
    (root / "leaflets/check.yaml").write_text(text, encoding="utf-8")
    report = check.run(Project(root))
    assert f"project/leaflets/{expected}" in [str(f) for f in report.findings]
    assert not report.ok and not report.scores


def test_without_a_settings_file_the_defaults_apply(tmp_path):
    settings, problems = standards.load_check_settings(tmp_path)
    assert problems == [] and settings.max_sentence_words == 25 and settings.en.min_reading_ease == 60


def test_the_settings_schema_is_written_for_editors():
    schema = json.loads(schema_texts()["check.schema.json"])
    assert schema["properties"]["en"]["properties"]["jargon"]["items"]["required"] == ["word", "say"]
    assert "min_atesman" in schema["properties"]["tr"]["properties"]


# --- readability ---------------------------------------------------------------------------

def test_atesman_by_hand():
    # Işıklı (3) odada (3) İpek (2) kitap (2) okudu (3): 13 syllables, 5 words, 1 sentence.
    # 198.825 - 40.175 * 13/5 - 2.610 * 5/1 = 198.825 - 104.455 - 13.05 = 81.32
    assert [readability.turkish_syllables(w) for w in "Işıklı odada İpek kitap okudu".split()] == [3, 3, 2, 2, 3]
    score = readability.score("Işıklı odada İpek kitap okudu.", "tr")
    assert (score.words, score.sentences, score.atesman) == (5, 1, 81.3)
    assert readability.atesman(13, 5, 1) == pytest.approx(81.32)


def test_list_items_are_sentences_and_bold_marks_are_dropped():
    text = "Kediler **süt** içer:\n\n- köpekler kemik sever\n- kuşlar uçar"
    assert readability.sentences(text) == ["Kediler süt içer:", "köpekler kemik sever", "kuşlar uçar"]
    # Kediler 3 süt 1 içer 2, köpekler 3 kemik 2 sever 2, kuşlar 2 uçar 2: 17 syllables, 8 words, 3 sentences
    # 198.825 - 40.175 * 17/8 - 2.610 * 8/3 = 198.825 - 85.372 - 6.96 = 106.49
    assert readability.score(text, "tr").atesman == 106.5


def test_abbreviations_do_not_end_sentences():
    assert readability.sentences("Ask Dr. Smith, e.g. at the visit. Take vitamin E. Then rest.") == [
        "Ask Dr. Smith, e.g. at the visit.", "Take vitamin E.", "Then rest."]


def test_english_scores_come_from_textstat():
    import textstat

    text = "Botulinum toxin is a medicine. Many people call it Botox."
    score = readability.score(text, "en")
    assert score.reading_ease == round(textstat.flesch_reading_ease(text), 1)
    assert score.grade == round(textstat.flesch_kincaid_grade(text), 1)
    assert readability.score(text, "ar") is None


def test_scoring_never_reaches_the_network():
    """textstat must find its syllable dictionary locally (see pyproject.toml)."""
    code = ("import socket\n"
            "def refuse(*args, **kwargs):\n    raise OSError('tried to reach the network')\n"
            "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
            "from careleaf.review.readability import score\n"
            "print(score('Botulinum toxin is a medicine that relaxes muscles.', 'en').reading_ease)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 0


def test_jargon_matches_endings_and_phrases_but_not_explained_words():
    jargon = {"haematoma": "bruise", "in the event of": "if", "ödem": "şişlik"}
    assert readability.find_jargon("Two haematomas formed.", jargon) == [("haematomas", "bruise")]
    assert readability.find_jargon("In the  event of pain, call.", jargon) == [("In the  event of", "if")]
    assert readability.find_jargon("A haematoma is a bruise.", jargon) == []
    assert readability.find_jargon("Ödemi olan hastalar", jargon) == [("Ödemi", "şişlik")]
    assert readability.find_jargon("No hard words here.", jargon) == []


# --- numbers print as typed ------------------------------------------------------------

RLO, RLM, ZWSP = "\u202e", "\u200f", "\u200b"


@pytest.mark.parametrize("field, written, line, column", [
    ("urgent_phone", f'urgent_phone: "020 7946 {RLO}0001"', 8, 15),
    ("phone", f"phone: 020{ZWSP} 7946 0000", 7, 8),
    ("address", f"  - {RLM}1 Test Street", 10, 5),
    ("website", f"website: https://clinic.example/{RLO}x", 12, 10),
])
def test_an_invisible_character_in_a_number_address_or_link_is_refused_at_its_place(tmp_path, field, written,
                                                                                     line, column):
    root = mini_project(tmp_path / "project")
    brand = root / "leaflets/brands/clinic.yaml"
    lines = brand.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = written
    brand.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check.run(Project(root))
    refused = [f for f in codes(report, "invalid") if f.file == "project/leaflets/brands/clinic.yaml"]
    assert [(f.line, f.level) for f in refused] == [(line, "error")]
    assert "U+" in refused[0].message and "invisible character" in refused[0].message
    with pytest.raises(InputError) as error:     # the build's message: file:line:column
        load_catalog(Project(root))
    assert [(p.line, p.column) for p in error.value.problems] == [(line, column)]
    result = run_cli("check", cwd=root, env=TODAY)
    assert result.returncode == 1
    assert f"leaflets/brands/clinic.yaml:{line}: error: " in result.stdout and f"'{field}': contains U+" in result.stdout


def test_a_right_to_left_override_in_the_urgent_number_stops_the_build(tmp_path):
    root = mini_project(tmp_path / "project")
    replace_in(root / "leaflets/brands/clinic.yaml", "urgent_phone: 020 7946 0001",
               f'urgent_phone: "020 7946 {RLO}0001"')
    result = run_cli("build", cwd=root, env=TODAY)
    assert result.returncode != 0
    assert "leaflets/brands/clinic.yaml:8:15: 'urgent_phone': contains U+202E (RIGHT-TO-LEFT OVERRIDE)" \
        in result.stdout + result.stderr
    assert not list(root.glob("out/**/*.pdf"))


def test_an_invisible_character_in_prose_is_a_warning_at_its_line(tmp_path):
    root = mini_project(tmp_path / "project")
    replace_in(root / "leaflets/treatments/demo/en.yaml", "    answer: It is a demo.",
               f"    answer: It is a {RLM}demo.")
    report = check.run(Project(root))
    unseen = codes(report, "invisible-character")
    assert [(f.file, f.line, f.level) for f in unseen] == [("project/leaflets/treatments/demo/en.yaml", 11, "warning")]
    assert "U+200F (RIGHT-TO-LEFT MARK)" in unseen[0].message
    assert report.ok
