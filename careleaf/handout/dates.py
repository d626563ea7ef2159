"""Real dates for a patient's own leaflet: calendar arithmetic in the clinic's time zone, written the local way.

Two kinds of "later" are meant by a leaflet's times, and the difference shows on
the nights the clocks change:

- **hours are elapsed time.** "Stay upright for 4 hours" after a treatment at
  23:30 on the night the clocks go forward ends at 04:30, four real hours later.
- **days, weeks and months are calendar steps** that keep the time of day: two
  weeks after 10:00 is 10:00, whatever the clocks did in between; a month after
  31 January is the last day of February.

Dates are written with Babel in the leaflet's language as spoken in the clinic's
country, with full day and month names: "Friday 5 December" in Britain,
"Friday, December 5" in the US, "5 Aralık Cuma" in Turkey.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from babel import Locale
from babel.dates import format_date, format_interval, format_skeleton, format_time, match_skeleton

from careleaf.content.fields import Duration

UTC = dt.timezone.utc
DAYS_IN_MONTH = 365.25 / 12      # for the part of a month after the whole ones: 4.5 months is 4 months and 15 days


def later(start: dt.datetime, amount: float, unit: str) -> dt.datetime:
    """The moment ``amount`` ``unit``s after ``start`` (an aware datetime), in its time zone."""
    if unit == "hours":
        return _elapsed(start, amount)
    if unit == "months":
        whole = int(amount)
        date = add_months(start.date(), whole) + dt.timedelta(days=round((amount - whole) * DAYS_IN_MONTH))
        return on_date(date, start)
    days = amount * (7 if unit == "weeks" else 1)
    whole = int(days)
    return _elapsed(on_date(start.date() + dt.timedelta(days=whole), start), (days - whole) * 24)


def _elapsed(start: dt.datetime, hours: float) -> dt.datetime:
    if not hours:
        return start
    return (start.astimezone(UTC) + dt.timedelta(hours=hours)).astimezone(start.tzinfo)


def on_date(date: dt.date, like: dt.datetime) -> dt.datetime:
    """``date`` at ``like``'s time of day and zone; a time the clocks skip that day is moved past the gap."""
    wall = dt.datetime.combine(date, like.timetz().replace(fold=0))
    return wall.astimezone(UTC).astimezone(like.tzinfo)


def add_months(date: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it is shorter (31 January + 1 = 28 February)."""
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    return date.replace(year=year, month=month + 1, day=min(date.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Span:
    """When something happens: from ``start`` to ``end`` (the same moment for a point)."""

    start: dt.datetime
    end: dt.datetime


def span(treated: dt.datetime, duration: Duration) -> Span:
    """The moments a timeline duration ("48-72 hours", "2 weeks") covers after a treatment."""
    return Span(later(treated, duration.low, duration.unit), later(treated, duration.high, duration.unit))


def first_open_day(date: dt.date, is_open: Callable[[dt.date], bool]) -> dt.date:
    """``date``, or the first day after it the clinic is open; ``date`` if none is within two months (a clinic
    with no opening days)."""
    for distance in range(0, 62):
        candidate = date + dt.timedelta(days=distance)
        if is_open(candidate):
            return candidate
    return date


# --- writing dates the local way --------------------------------------------------------

class Writer:
    """Dates and times in one locale ('en_GB', 'tr_TR', 'ar')."""

    def __init__(self, locale: str):
        self.locale = locale

    def day(self, date: dt.date) -> str:
        """'Friday 5 December'."""
        return format_date(date, _pattern(self.locale, "MMMMEd", wide=True), locale=self.locale)

    def day_with_year(self, date: dt.date) -> str:
        """'Thursday 3 December 2026': the treatment's own date, which the patient keeps for years."""
        return format_date(date, "full", locale=self.locale)

    def days(self, first: dt.date, last: dt.date) -> str:
        """'Friday 5 December – Saturday 6 December', or one day when they are the same."""
        if first == last:
            return self.day(first)
        if first.year != last.year:     # across a new year: each end with its year, in the locale's long form
            return f"{format_date(first, 'long', locale=self.locale)} – {format_date(last, 'long', locale=self.locale)}"
        start, end = _interval_patterns(self.locale)
        return format_date(first, start, locale=self.locale) + format_date(last, end, locale=self.locale)

    def short_days(self, first: dt.date, last: dt.date) -> str:
        """'Fri 5 – Sat 6 Dec': for the timeline picture, where room is short."""
        if first == last:
            return format_skeleton("MMMEd", first, locale=self.locale)
        return format_interval(first, last, "MMMEd", locale=self.locale)

    def months(self, first: dt.date, last: dt.date) -> str:
        """'April – June 2027': months away, a day would be a false promise."""
        if (first.year, first.month) == (last.year, last.month):
            return format_skeleton("yMMMM", first, locale=self.locale)
        return format_interval(first, last, "yMMMM", locale=self.locale)

    def time(self, moment: dt.datetime) -> str:
        """'18:30' in Britain and Turkey, '6:30 PM' in the US."""
        return format_time(moment, "short", locale=self.locale)

    def until_time(self, moment: dt.datetime) -> str:
        """The time as 'until' needs it: Turkish writes '18.30'a (kadar)', its ending following the spoken number;
        other languages take the time as it is."""
        if not self.locale.startswith("tr"):
            return self.time(moment)
        return f"{moment.hour:02d}.{moment.minute:02d}'{_turkish_dative(moment.minute or moment.hour)}"


_TR_ONES = ("sıfır", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz")
_TR_TENS = ("", "on", "yirmi", "otuz", "kırk", "elli")


def _turkish_dative(number: int) -> str:
    """The dative ending of a number as spoken ('otuz' → 'a', 'yirmi' → 'ye'): by the last vowel of its last
    word, with a 'y' after a vowel."""
    word = _TR_ONES[number % 10] if number % 10 or number == 0 else _TR_TENS[number // 10]
    vowel = next(c for c in reversed(word) if c in "aıoueiöü")
    ending = "a" if vowel in "aıou" else "e"
    return ("y" + ending) if word[-1] in "aıoueiöü" else ending


@lru_cache(maxsize=None)
def _pattern(locale: str, skeleton: str, *, wide: bool) -> str:
    skeletons = Locale.parse(locale).datetime_skeletons
    pattern = skeletons[skeleton if skeleton in skeletons else match_skeleton(skeleton, skeletons)].pattern
    return _widen(pattern) if wide else pattern


@lru_cache(maxsize=None)
def _interval_patterns(locale: str) -> tuple[str, str]:
    """The two halves of the locale's own 'date – date' pattern, with full day and month names.

    CLDR's interval patterns abbreviate names ('Fri 5 Dec – Sat 6 Dec'); older readers
    read the full ones more easily, so each field is widened but the order kept.
    """
    parts = Locale.parse(locale).interval_formats["MMMEd"]["M"]     # the form for different months: both named
    return _widen(parts[0]), _widen(parts[1])


def _widen(pattern: str) -> str:
    """E, EE, EEE -> EEEE and MMM -> MMMM, outside quoted literal text."""
    pieces = re.split(r"('[^']*')", pattern)
    return "".join(piece if piece.startswith("'") else
                   re.sub(r"(?<!M)M{3}(?!M)", "MMMM", re.sub(r"(?<!E)E{1,3}(?!E)", "EEEE", piece))
                   for piece in pieces)
