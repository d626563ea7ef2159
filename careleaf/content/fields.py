"""What a field of the content model may hold: each kind of text value, how it is read, and how it is described.

The model in ``model.py`` declares each field with one of these kinds (``Text``,
``Duration``, ``Colour`` …) and ``field()``'s one line of help. Each kind parses
the text an editor wrote and says, in plain words, what was expected when it
cannot; the same table gives its JSON Schema, so the validator (``validate.py``)
and editors' completion can never disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import typing
import unicodedata
from dataclasses import MISSING, dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Invalid(ValueError):
    """A scalar did not parse; the message is shown to the editor as it is."""


@dataclass(frozen=True)
class Scalar:
    """A kind of text value: how to parse it and how to describe it in JSON Schema."""

    parse: Callable[[str], Any]
    json: dict[str, Any]


def field(doc: str, default: Any = MISSING, **kwargs: Any) -> Any:
    """A model field with the one-line help text editors see in completion."""
    if isinstance(default, (list, dict)):
        # Each object gets its own copy of a mutable default.
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"doc": doc}, **kwargs)
    return dataclasses.field(default=default, metadata={"doc": doc}, **kwargs)


# --- scalar kinds -----------------------------------------------------------------

def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid("is empty; write the text, or remove the line")
    hidden = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\t"), None)
    if hidden:  # written as an escape such as "\x0b" inside quotes: invisible in print, so never meant
        raise Invalid(f"contains an invisible control character (U+{ord(hidden):04X}); delete it")
    return value


# Characters that print nothing yet change what a reader sees: the direction controls and marks reorder the
# digits around them (U+202E prints 020 7946 0999 as 9990 6497 020), and the zero-width ones split or join a
# number, address or link invisibly. Every format character (Unicode category Cf) is one; so are the letters
# that print as blanks.
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def unseen_character(value: str) -> str | None:
    """The first character in a value that reorders the text or prints as nothing, if any."""
    return next((c for c in value if unicodedata.category(c) == "Cf" or c in _BLANK_LETTERS), None)


def describe_character(character: str) -> str:
    """'U+202E (RIGHT-TO-LEFT OVERRIDE)': how an editor can find a character no editor shows."""
    return f"U+{ord(character):04X} ({unicodedata.name(character, 'unnamed')})"


def _verbatim(value: str) -> str:
    """A phone number, address line or email address: printed as typed, so nothing in it may move or hide."""
    value = _line_of_text(value)
    unseen = unseen_character(value)
    if unseen:
        raise Invalid(f"contains {describe_character(unseen)}, an invisible character that changes how the "
                      "characters around it print (a number can come out backwards); delete it, or type the "
                      "value again")
    return value


MAX_LINE_OF_TEXT = 1_000  # the longest heading or list item in print is about 300 characters


def _line_of_text(value: str) -> str:
    """A heading, name or list item: one line, so a whole pasted page here is a mistake."""
    value = _text(value)
    if len(value) > MAX_LINE_OF_TEXT:
        raise Invalid(f"is {len(value):,} characters long; text here should be under {MAX_LINE_OF_TEXT:,}. "
                      "Check that nothing was pasted in by mistake, or move the long text into an answer")
    return value


_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _id(value: str) -> str:
    if not _ID.match(value):
        raise Invalid(f"'{shortened(value)}' is not a valid name: use lower-case letters, digits and single hyphens, "
                      "for example 'after-the-treatment'")
    return value


def _reference(value: str) -> str:
    if " - " in value and all(_REFERENCE.match(part) for part in value.split(" - ")):
        # A '- name' line indented further than the one above reads as that line going on.
        raise Invalid(f"'{shortened(value)}' is two names run together: line up the '-' on the line below "
                      "with this one")
    if not _REFERENCE.match(value):
        raise Invalid(f"'{shortened(value)}' is not a section name: use lower-case letters, digits and single "
                      "hyphens, with 'shared/' in front for a shared section")
    return value


_REFERENCE = re.compile(r"^(shared/)?[a-z0-9]+(-[a-z0-9]+)*$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _number(value: str) -> float:
    text = value.strip()
    if re.match(r"^\d+,\d+$", text):
        raise Invalid(f"'{text}' uses a comma; write the number with a point, for example {text.replace(',', '.')}")
    if not _NUMBER.match(text):
        raise Invalid(f"'{shortened(text)}' is not a number")
    if len(text) > 1 and text[0] == "0" and text[1] != ".":
        raise Invalid(f"'{text}' starts with 0; write {text.lstrip('0') or '0'}")
    number = float(text)
    return int(number) if number.is_integer() else number


def _whole_number(value: str) -> int:
    number = _number(value)
    if not isinstance(number, int) or number < 1:
        raise Invalid(f"'{shortened(value)}' should be a whole number of 1 or more")
    return number


def _positive_number(value: str) -> float:
    number = _number(value)
    if number <= 0:
        raise Invalid(f"'{shortened(value)}' should be a number more than 0")
    return float(number)


def _boolean(value: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    if value.lower() in ("true", "false"):
        raise Invalid(f"'{shortened(value)}' should be written in small letters: {value.lower()}")
    raise Invalid(f"'{shortened(value)}' should be true or false")


def _date(value: str) -> dt.date:
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"'{shortened(value)}' is not a date; write it as year-month-day, "
                      "for example 2026-03-31") from None


_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _colour(value: str) -> str:
    if not _COLOUR.match(value.strip()):
        raise Invalid(f"'{shortened(value)}' is not a colour; write it as # and six hex digits, for example #0b5563")
    return value.strip().lower()


def _url(value: str) -> str:
    unseen = unseen_character(value)
    if unseen:
        raise Invalid(f"contains {describe_character(unseen)}, an invisible character that changes how a "
                      "link prints or where it leads; delete it, or type the address again")
    if not re.match(r"^https://[a-zA-Z0-9.-]+(/[^\s\"'<>()\\]*)?$", value.strip()):
        raise Invalid(f"'{shortened(value)}' is not a web address; write it in full, starting with https://")
    return value.strip()


def _code(value: str) -> str:
    if not re.match(r"^[A-Z0-9]+(-[A-Z0-9]+)*$", value):
        raise Invalid(f"'{shortened(value)}' is not a leaflet code: use capital letters, digits and hyphens, "
                      "for example BTX-FL-AC")
    return value


def _language(value: str) -> str:
    if not re.match(r"^[a-z]{2}$", value):
        raise Invalid(f"'{shortened(value)}' is not a language code; use two letters such as en, tr or ar")
    return value


def _country(value: str) -> str:
    if not re.match(r"^[A-Z]{2}$", value):
        raise Invalid(f"'{shortened(value)}' is not a country code; use two capital letters such as GB, US or TR")
    return value


def _time_zone(value: str) -> str:
    try:
        if "/" not in value or value.startswith(("/", ".")) or ".." in value:
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise Invalid(f"'{shortened(value)}' is not a time zone; write it as Region/City, "
                      "for example Europe/London, America/New_York or Europe/Istanbul") from None
    return value


def _clock(value: str) -> str:
    match = re.match(r"^([01]\d|2[0-3])[:.]([0-5]\d)$", value.strip())
    if not match:
        raise Invalid(f"'{shortened(value)}' is not a time of day; write it as 24-hour HH:MM in quotes, "
                      "for example '08:00' or '20:30'")
    return f"{match[1]}:{match[2]}"


def _file_name(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.svg$", value) or ".." in value:
        raise Invalid(f"'{shortened(value)}' should be the name of an SVG file in the brand's folder, "
                      "for example logo.svg")
    return value


_SINGULAR = {"hour": "hours", "day": "days", "week": "weeks", "month": "months"}
_DURATION = re.compile(r"^(?P<low>[\d.,]+)(\s*(-|–|—|to)\s*(?P<high>[\d.,]+))?\s+(?P<unit>[A-Za-z]+)$")


# Hours in each unit of time; a month is a twelfth of an average year (365.25 days).
HOURS_IN = {"hours": 1, "days": 24, "weeks": 24 * 7, "months": 365.25 * 24 / 12}


UNITS = tuple(HOURS_IN)


@dataclass(frozen=True)
class Duration:
    """A time after treatment, or a range of them: ``48-72 hours``, ``2 weeks``."""

    low: float
    high: float
    unit: str

    @property
    def is_range(self) -> bool:
        return self.low != self.high

    @property
    def low_hours(self) -> float:
        return self.low * HOURS_IN[self.unit]

    @property
    def high_hours(self) -> float:
        return self.high * HOURS_IN[self.unit]


def _duration(value: str) -> Duration:
    match = _DURATION.match(value.strip())
    if not match:
        raise Invalid(f"'{shortened(value)}' is not a time; write a number or a range and a unit, "
                      "for example '48-72 hours' or '2 weeks'")
    unit = _SINGULAR.get(match["unit"], match["unit"])
    if unit not in UNITS:
        suggestion = closest(unit, UNITS)
        hint = f"; did you mean '{suggestion[0]}'?" if suggestion else f"; use one of {', '.join(UNITS)}"
        raise Invalid(f"'{match['unit']}' is not a unit of time{hint}")
    low = _number(match["low"])
    high = _number(match["high"]) if match["high"] else low
    if high < low:
        raise Invalid(f"the range '{shortened(value)}' runs backwards; write the smaller number first")
    return Duration(low, high, unit)


# What each declared type means; the model refers to these by name.
Text = typing.NewType("Text", str)            # one line of wording
Verbatim = typing.NewType("Verbatim", str)    # one line printed exactly as typed: a phone number, an address line
Markup = typing.NewType("Markup", str)        # wording with light formatting (paragraphs, **bold**, lists)
Id = typing.NewType("Id", str)
Reference = typing.NewType("Reference", str)  # a section name, 'shared/name' or a block name
Code = typing.NewType("Code", str)
Colour = typing.NewType("Colour", str)
Url = typing.NewType("Url", str)
Language = typing.NewType("Language", str)
Country = typing.NewType("Country", str)
TimeZone = typing.NewType("TimeZone", str)
Clock = typing.NewType("Clock", str)          # a time of day, 24-hour HH:MM
SvgFile = typing.NewType("SvgFile", str)

SCALARS: dict[Any, Scalar] = {
    Text: Scalar(_line_of_text, {"type": "string", "minLength": 1}),
    Verbatim: Scalar(_verbatim, {"type": "string", "minLength": 1,
                                 "pattern": "^[^\\u00ad\\u061c\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]+$"}),
    Markup: Scalar(_text, {"type": "string", "minLength": 1}),
    Id: Scalar(_id, {"type": "string", "pattern": _ID.pattern}),
    Reference: Scalar(_reference, {"type": "string", "pattern": _REFERENCE.pattern}),
    Code: Scalar(_code, {"type": "string", "pattern": "^[A-Z0-9]+(-[A-Z0-9]+)*$"}),
    Colour: Scalar(_colour, {"type": "string", "pattern": _COLOUR.pattern}),
    Url: Scalar(_url, {"type": "string", "pattern": "^https://"}),
    Language: Scalar(_language, {"type": "string", "pattern": "^[a-z]{2}$"}),
    Country: Scalar(_country, {"type": "string", "pattern": "^[A-Z]{2}$"}),
    TimeZone: Scalar(_time_zone, {"type": "string", "pattern": r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)+$"}),
    Clock: Scalar(_clock, {"type": "string", "pattern": r"^([01]\d|2[0-3])[:.][0-5]\d$"}),
    SvgFile: Scalar(_file_name, {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.svg$"}),
    int: Scalar(_whole_number, {"type": ["integer", "string"], "pattern": r"^[1-9]\d*$", "minimum": 1}),
    float: Scalar(_positive_number, {"type": ["number", "string"], "pattern": r"^\d+(\.\d+)?$",
                                     "exclusiveMinimum": 0}),
    bool: Scalar(_boolean, {"type": ["boolean", "string"], "enum": [True, False, "true", "false"]}),
    dt.date: Scalar(_date, {"type": "string", "format": "date"}),
    Duration: Scalar(_duration, {"type": "string",
                                 "pattern": r"^[\d.]+(\s*(-|–|—|to)\s*[\d.]+)?\s+(hours?|days?|weeks?|months?)$"}),
}


def closest(value: str, options) -> list[str]:
    """'a4' → 'A4', 'tell us' → 'tell-us': case and spacing are the usual slips."""
    loose = {o.lower().replace("-", " "): o for o in options}
    if value.strip().lower().replace("-", " ") in loose:
        return [loose[value.strip().lower().replace("-", " ")]]
    return difflib.get_close_matches(value, list(options), n=1)


def shortened(text: str, limit: int = 40) -> str:
    """Enough of a value to recognise it; a whole pasted answer would drown the message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"
