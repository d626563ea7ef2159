"""Dates, times and numbers as a reader in each country expects them, for every language × country careleaf has.

The languages are those the theme has template words for; the countries those of the theme's country table.
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from babel import Locale, localedata
from babel.dates import format_date

from careleaf.content.locales import locale_problem, reader_locale
from careleaf.handout.dates import Writer
from careleaf.project import TEMPLATES, THEME

LANGUAGES = sorted(path.stem for path in (THEME / TEMPLATES / "labels").glob("*.yaml"))
COUNTRIES = sorted(yaml.safe_load((THEME / TEMPLATES / "countries.yaml").read_text("utf-8")))
DAY = dt.date(2026, 12, 7)
MOMENT = dt.datetime(2026, 12, 7, 10, 30)

# What a reader of each language expects, wherever the clinic is (the US is English's exception, below).
EXPECTED = {"en": ("7 December 2026", "10:30"), "tr": ("7 Aralık 2026", "10:30"),
            "ar": ("7 ديسمبر 2026", "10:30 ص")}
AMERICAN = ("December 7, 2026", "10:30\u202fAM")


def test_the_table_covers_careleafs_languages_and_countries():
    assert {"en", "tr", "ar"} <= set(LANGUAGES)
    assert {"GB", "US", "TR", "DE", "IE"} <= set(COUNTRIES)


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_in_every_country_reads_as_its_readers_expect(lang, country):
    locale = reader_locale(lang, country)
    assert localedata.exists(locale), locale
    assert Locale.parse(locale).language == lang
    date, time = AMERICAN if (lang, country) == ("en", "US") else EXPECTED[lang]
    writer = Writer(locale)
    assert format_date(DAY, "long", locale=locale) == date
    assert writer.time(MOMENT).replace(" ", "\u202f") == time.replace(" ", "\u202f")


def test_regional_data_is_used_where_babel_has_it():
    assert reader_locale("en", "GB") == "en_GB"
    assert reader_locale("en", "IE") == "en_IE"
    assert reader_locale("tr", "TR") == "tr_TR"
    # No English-in-Turkey data: English as written in Europe, not plain (American) English.
    assert reader_locale("en", "TR") == "en_150"
    assert Writer(reader_locale("en", "TR")).day(DAY) == "Monday 7 December"


def test_a_brand_chooses_another_locale():
    assert reader_locale("en", "TR", {"en": "en_US"}) == "en_US"
    assert reader_locale("tr", "TR", {"en": "en_US"}) == "tr_TR"
    assert Writer(reader_locale("en", "TR", {"en": "en_US"})).time(MOMENT).endswith("AM")


@pytest.mark.parametrize("lang, locale, said", [
    ("en", "en_XX", "not a locale careleaf knows"),
    ("en", "tr_TR", "writes the language 'tr', not 'en'"),
    ("en", "klingon", "not a locale careleaf knows"),
])
def test_a_wrong_choice_is_named(lang, locale, said):
    assert said in locale_problem(lang, locale)
    assert locale_problem("en", "en_US") is None
