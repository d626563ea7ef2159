"""Which Babel locale writes a leaflet's dates, times and numbers: its language as read in the clinic's country.

Babel (CLDR) has regional data for many pairs (en_GB, tr_TR, en_IE) but not for
all (en_TR, ar_GB, tr_DE). Where a pair has none, the plain language is not the
answer: plain ``en`` is American English ("December 7, 2026", "10:30 AM"), which
an English reader in Izmir or Berlin does not expect. So a missing pair falls back
to the nearest region that has data: for English, ``en_150`` (English as used in
Europe: "7 December 2026", "10:30"); for the other languages the language's own
default region (``tr`` is Turkey's Turkish, ``ar`` Modern Standard Arabic). A brand
chooses another with ``locales: {en: en_US}``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from babel import Locale, UnknownLocaleError, localedata

# Where a language has no data for the clinic's country: the region that writes it as such a reader expects.
NEAREST = {"en": "en_150"}


def reader_locale(lang: str, country: str | None, chosen: Mapping[str, str] | None = None) -> str:
    """The Babel locale for leaflets in ``lang`` from a clinic in ``country``, or the brand's own choice."""
    if chosen and lang in chosen:
        return chosen[lang]
    return _regional(lang, country)


@lru_cache(maxsize=None)
def _regional(lang: str, country: str | None) -> str:
    if not country:
        return lang
    regional = f"{lang}_{country}"
    if localedata.exists(regional):
        return regional
    return NEAREST.get(lang, lang)


def locale_problem(lang: str, locale: str) -> str | None:
    """Why ``locale`` cannot write leaflets in ``lang`` ('en_XX' is unknown, 'tr_TR' is not English), or None."""
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return (f"'{locale}' is not a locale careleaf knows; use a language and region such as "
                f"{lang}_{'GB' if lang == 'en' else lang.upper()}")
    if parsed.language != lang:
        return f"'{locale}' writes the language '{parsed.language}', not '{lang}'"
    if not localedata.exists(locale):
        return f"'{locale}' should be written with an underscore, for example {lang}_GB"
    return None
