"""The schema (declared once in model.py): what editors are told, word for word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from careleaf.content import model
from careleaf.content import validate
from careleaf.content.schemas import schema_texts
from careleaf.content.load import load
from careleaf.content.fields import Duration



@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Messages name files relative to the working folder, so work in tmp_path."""
    monkeypatch.chdir(tmp_path)


def read(text: str, cls: type, name: str = "file.yaml"):
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return validate.read(load(path), cls)


def problems(text: str, cls: type, name: str = "file.yaml") -> list[str]:
    value, found = read(text, cls, name)
    assert found, f"expected problems, got {value!r}"
    return [str(p) for p in found]


def value(text: str, cls: type):
    result, found = read(text, cls)
    assert not found, [str(p) for p in found]
    return result


FREQUENCIES = "'very-common', 'common', 'uncommon', 'rare', 'very-rare', 'not-known'"
LEAFLET = "kind: aftercare\ncode: DEMO-AC\nversion: {version}\ncontents: [timeline]\napproved_on: {date}\n"
BRAND = """\
name: Test Clinic
logo: {logo}
colours:
  primary: "{primary}"
  tint: "#eef6f9"
phone: 020 7946 0000
urgent_phone: 020 7946 0001
address: [1 Test Street]
website: {website}
page_size: {page_size}
languages: [{language}]
"""


def brand(**changes: str) -> str:
    fields = {"logo": "logo.svg", "primary": "#0b4a66", "website": "https://clinic.example/",
              "page_size": "A4", "language": "en"}
    return BRAND.format(**{**fields, **changes})


# --- keys ----------------------------------------------------------------------------

def test_mistyped_key_suggests_the_right_one_and_the_field_is_missing():
    assert problems("question: Q\nanwser: A\n", model.Section, "en.yaml") == [
        "en.yaml:2:1: unknown key 'anwser'; did you mean 'answer'?",
        "en.yaml:1:1: 'answer' is missing here "
        "(The answer: short paragraphs; **bold**, and lists with '- ' at the start of a line)",
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    assert problems("question: Q\nanswer: A\nfootnote: B\n", model.Section) == [
        "file.yaml:3:1: unknown key 'footnote'; the keys allowed here are: question, answer, covers, needs_approval"]


def test_missing_required_field_is_located_at_its_block():
    text = "timeline:\n  - id: starts\n    visit: true\n"
    found = problems(text, model.Treatment)
    assert "file.yaml:2:5: 'when' is missing here (When it happens after treatment, for example " \
           "'48-72 hours' or '4.5-6 months')" in found


def test_every_problem_in_a_file_is_reported():
    text = "id: Redness\nfrequency: comon\nlasts: 2 dayz\nneeds_approval: yes\n"
    assert problems(text, model.SideEffect) == [
        "file.yaml:1:5: 'id': 'Redness' is not a valid name: use lower-case letters, digits and single hyphens, "
        "for example 'after-the-treatment'",
        f"file.yaml:2:12: 'frequency' should be one of {FREQUENCIES}, not 'comon'; did you mean 'common'?",
        "file.yaml:3:8: 'lasts': 'dayz' is not a unit of time; did you mean 'days'?",
        "file.yaml:4:17: 'needs_approval': 'yes' should be true or false",
    ]


# --- shapes and empty values ---------------------------------------------------------

def test_list_where_text_is_expected():
    assert problems("question: Q\nanswer:\n  - one\n", model.Section) == [
        "file.yaml:3:3: 'answer' should be a single value, not a list"]


def test_block_where_text_is_expected():
    assert problems("question:\n  text: Q\n  more: R\nanswer: A\n", model.Section) == [
        "file.yaml:2:3: 'question' should be a single value, not a set of keys"]


def test_text_with_a_colon_read_as_a_block_gets_a_hint():
    assert problems("question: Q\nanswer:\n  Note: call us first\n", model.Section) == [
        "file.yaml:3:3: 'answer' should be a single value, not a set of keys. "
        "If it is text with ': ' in it, put the whole text in double quotes"]


def test_text_where_a_list_is_expected():
    assert problems(LEAFLET.format(version=1, date="2026-01-01").replace("[timeline]", "timeline"),
                    model.LeafletDefinition) == [
        "file.yaml:4:11: 'contents' should be a list (lines starting with '- '), not 'timeline'"]


def test_text_where_a_block_is_expected():
    text = brand().replace('colours:\n  primary: "#0b4a66"\n  tint: "#eef6f9"\n', "colours: blue\n")
    assert problems(text, model.Brand) == [
        "file.yaml:3:10: 'colours' should be a set of 'key: value' lines, not 'blue'"]


def test_file_that_is_a_list():
    assert problems("- question: Q\n", model.Section) == [
        "file.yaml:1:1: this file should be a set of 'key: value' lines, not a list"]


def test_item_of_a_list_is_named_by_its_position():
    assert problems(brand(language="en, English"), model.Brand) == [
        "file.yaml:11:17: item 2 of 'languages': 'English' is not a language code; "
        "use two letters such as en, tr or ar"]


def test_blank_value():
    assert problems("question: Q\nanswer:\n", model.Section) == ["file.yaml:2:8: 'answer' is empty; fill it in"]


@pytest.mark.parametrize("written", ['""', "'   '"])
def test_empty_text(written):
    assert problems(f"question: Q\nanswer: {written}\n", model.Section) == [
        "file.yaml:2:9: 'answer': is empty; write the text, or remove the line"]


def test_blank_optional_value_is_allowed():
    assert value("effect: Redness\nwhat_to_do: Wait.\n", model.SideEffectWording).effect == "Redness"
    assert value("id: redness\nfrequency: common\nlasts:\n", model.SideEffect).lasts is None


def test_text_is_trimmed():
    assert value("question: '  Q  '\nanswer: A\n", model.Section).question == "Q"


def test_boolean_needs_true_or_false():
    assert problems("question: Q\nanswer: A\nneeds_approval: no\n", model.Section) == [
        "file.yaml:3:17: 'needs_approval': 'no' should be true or false"]
    assert value("question: Q\nanswer: A\nneeds_approval: true\n", model.Section).needs_approval is True


def test_names_of_entries_must_be_ids():
    text = "sections:\n  After Care:\n    question: Q\n    answer: A\n"
    assert problems(text, model.SharedWording) == [
        "file.yaml:2:3: 'After Care' is not a valid name: use lower-case letters, digits and single hyphens, "
        "for example 'after-the-treatment'"]


# --- durations -----------------------------------------------------------------------

def milestone(when: str) -> str:
    return f"id: starts\nwhen: {when}\n"


def test_misspelt_unit_suggests_the_right_one():
    assert problems(milestone("48-72 hourz"), model.Milestone, "treatment.yaml") == [
        "treatment.yaml:2:7: 'when': 'hourz' is not a unit of time; did you mean 'hours'?"]


def test_unknown_unit_lists_the_units():
    assert problems(milestone("3 fortnights"), model.Milestone) == [
        "file.yaml:2:7: 'when': 'fortnights' is not a unit of time; use one of hours, days, weeks, months"]


def test_backwards_range():
    assert problems(milestone("72-48 hours"), model.Milestone) == [
        "file.yaml:2:7: 'when': the range '72-48 hours' runs backwards; write the smaller number first"]


@pytest.mark.parametrize("when", ["4,5 months", "4,5-6 months"])
def test_decimal_comma(when):
    assert problems(milestone(when), model.Milestone) == [
        "file.yaml:2:7: 'when': '4,5' uses a comma; write the number with a point, for example 4.5"]


def test_leading_zero_in_a_duration():
    assert problems(milestone("012 days"), model.Milestone) == ["file.yaml:2:7: 'when': '012' starts with 0; write 12"]


def test_not_a_time():
    assert problems(milestone("soon"), model.Milestone) == [
        "file.yaml:2:7: 'when': 'soon' is not a time; write a number or a range and a unit, "
        "for example '48-72 hours' or '2 weeks'"]


@pytest.mark.parametrize("when, expected", [
    ("48-72 hours", Duration(48, 72, "hours")),
    ("48–72 hours", Duration(48, 72, "hours")),
    ("48 to 72 hours", Duration(48, 72, "hours")),
    ("4.5-6 months", Duration(4.5, 6, "months")),
    ("2 weeks", Duration(2, 2, "weeks")),
    ("1 day", Duration(1, 1, "days")),
    ("1 month", Duration(1, 1, "months")),
])
def test_durations_that_are_read(when, expected):
    assert value(milestone(when), model.Milestone).when == expected


def test_a_single_time_is_not_a_range_and_a_range_is():
    assert not value(milestone("2 weeks"), model.Milestone).when.is_range
    assert value(milestone("10-14 days"), model.Milestone).when.is_range


# --- numbers, dates, colours and other kinds of text ----------------------------------

def test_leading_zero_in_a_whole_number():
    assert problems(LEAFLET.format(version="012", date="2026-01-01"), model.LeafletDefinition) == [
        "file.yaml:3:10: 'version': '012' starts with 0; write 12"]


@pytest.mark.parametrize("version", ["1.5", "0"])
def test_version_must_be_a_whole_number_from_one(version):
    assert problems(LEAFLET.format(version=version, date="2026-01-01"), model.LeafletDefinition) == [
        f"file.yaml:3:10: 'version': '{version}' should be a whole number of 1 or more"]


def test_version_with_a_comma():
    assert problems(LEAFLET.format(version="1,5", date="2026-01-01"), model.LeafletDefinition) == [
        "file.yaml:3:10: 'version': '1,5' uses a comma; write the number with a point, for example 1.5"]


@pytest.mark.parametrize("date", ["2026-02-30", "31/03/2026", "2026-1-5", "next spring"])
def test_invalid_date(date):
    assert problems(LEAFLET.format(version=1, date=date), model.LeafletDefinition) == [
        f"file.yaml:5:14: 'approved_on': '{date}' is not a date; write it as year-month-day, for example 2026-03-31"]


def test_valid_date_is_read():
    import datetime as dt
    assert value(LEAFLET.format(version=1, date="2024-02-29"), model.LeafletDefinition).approved_on == \
        dt.date(2024, 2, 29)


@pytest.mark.parametrize("colour", ["#0b4a6", "blue", "#0b4a6g", "0b4a66"])
def test_invalid_colour(colour):
    assert problems(brand(primary=colour), model.Brand) == [
        f"file.yaml:4:12: 'primary': '{colour}' is not a colour; write it as # and six hex digits, "
        "for example #0b5563"]


def test_colour_in_capitals_is_read_in_lower_case():
    assert value(brand(primary="#0B4A66"), model.Brand).colours.primary == "#0b4a66"


def test_choice_suggests_the_closest_option():
    assert problems("id: redness\nfrequency: comon\n", model.SideEffect) == [
        f"file.yaml:2:12: 'frequency' should be one of {FREQUENCIES}, not 'comon'; did you mean 'common'?"]


def test_choice_without_a_close_option():
    assert problems("id: redness\nfrequency: sometimes\n", model.SideEffect) == [
        f"file.yaml:2:12: 'frequency' should be one of {FREQUENCIES}, not 'sometimes'"]


def test_page_size_choice():
    assert problems(brand(page_size="Leter"), model.Brand) == [
        "file.yaml:10:12: 'page_size' should be one of 'A4', 'Letter', 'A5', not 'Leter'; did you mean 'Letter'?"]


def test_choice_given_a_list_says_so_in_plain_words():
    """Editors are told "not a list" elsewhere; a Python list's repr is jargon to them."""
    assert problems("id: redness\nfrequency:\n  - common\n", model.SideEffect) == [
        f"file.yaml:3:3: 'frequency' should be one of {FREQUENCIES}, not a list"]


def test_leaflet_code():
    text = LEAFLET.format(version=1, date="2026-01-01").replace("DEMO-AC", "demo_ac")
    assert problems(text, model.LeafletDefinition) == [
        "file.yaml:2:7: 'code': 'demo_ac' is not a leaflet code: use capital letters, digits and hyphens, "
        "for example BTX-FL-AC"]


def test_section_reference():
    text = LEAFLET.format(version=1, date="2026-01-01").replace("[timeline]", "[timeline, Shared/faq]")
    assert problems(text, model.LeafletDefinition) == [
        "file.yaml:4:22: item 2 of 'contents': 'Shared/faq' is not a section name: use lower-case letters, digits "
        "and single hyphens, with 'shared/' in front for a shared section"]


@pytest.mark.parametrize("website", ["clinic.example", "http://clinic.example/", "https://clinic example/"])
def test_website_must_be_a_full_https_address(website):
    assert problems(brand(website=f'"{website}"'), model.Brand) == [
        f"file.yaml:9:10: 'website': '{website}' is not a web address; write it in full, starting with https://"]


@pytest.mark.parametrize("logo", ["logo.png", "../other/logo.svg", "/etc/logo.svg"])
def test_logo_must_be_an_svg_file_in_the_brand_folder(logo):
    assert problems(brand(logo=logo), model.Brand) == [
        f"file.yaml:2:7: 'logo': '{logo}' should be the name of an SVG file in the brand's folder, "
        "for example logo.svg"]


def test_language_code():
    assert problems(brand(language="english"), model.Brand) == [
        "file.yaml:11:13: item 1 of 'languages': 'english' is not a language code; "
        "use two letters such as en, tr or ar"]


def test_valid_brand_is_read_with_defaults():
    result = value(brand(), model.Brand)
    assert (result.name, result.page_size, result.languages, result.email) == ("Test Clinic", "A4", ["en"], None)


# --- the JSON Schema editors' tools use ------------------------------------------------

def test_json_schema_requires_what_the_validator_requires():
    generated = json.loads(schema_texts()["brand.schema.json"])
    missing_name = brand().replace("name: Test Clinic\n", "")
    assert "name" in generated["required"]
    assert problems(missing_name, model.Brand) == [
        "file.yaml:1:1: 'name' is missing here (The clinic's name, printed in the header)"]
    assert generated["additionalProperties"] is False
