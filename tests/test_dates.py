"""A patient's dates: calendar arithmetic in the clinic's time zone, and how the dates are written.

Hours after a treatment are elapsed time; days, weeks and months are calendar
steps that keep the time of day. Both must hold across the nights the clocks
change and at the ends of months, in every clinic's time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from careleaf.content.governance import today
from careleaf.handout.dates import Writer, add_months, first_open_day, later, on_date, span
from careleaf.content.fields import Duration

LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")
UTC = dt.timezone.utc


def hours_between(start: dt.datetime, end: dt.datetime) -> float:
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600


def exists(wall: dt.datetime) -> bool:
    """Whether a wall-clock time happens at all in its zone (not skipped when the clocks go forward)."""
    return wall.astimezone(UTC).astimezone(wall.tzinfo).replace(tzinfo=None) == wall.replace(tzinfo=None)


# --- the nights the clocks change ------------------------------------------------------

@pytest.mark.parametrize("zone, night", [(LONDON, dt.date(2026, 3, 28)), (NEW_YORK, dt.date(2026, 3, 7))])
def test_hours_after_a_treatment_at_2330_the_night_the_clocks_go_forward_are_real_hours(zone, night):
    treated = dt.datetime.combine(night, dt.time(23, 30), tzinfo=zone)
    four_hours = later(treated, 4, "hours")
    assert hours_between(treated, four_hours) == 4
    assert (four_hours.date(), four_hours.time()) == (night + dt.timedelta(days=1), dt.time(4, 30))  # not 03:30


@pytest.mark.parametrize("zone, night", [(LONDON, dt.date(2026, 10, 24)), (NEW_YORK, dt.date(2026, 10, 31))])
def test_hours_after_a_treatment_at_2330_the_night_the_clocks_go_back_are_real_hours(zone, night):
    treated = dt.datetime.combine(night, dt.time(23, 30), tzinfo=zone)
    four_hours = later(treated, 4, "hours")
    assert hours_between(treated, four_hours) == 4
    assert four_hours.time() == dt.time(2, 30)      # an hour is lived twice: 4 real hours reach 02:30, not 03:30


@pytest.mark.parametrize("night", [dt.date(2026, 3, 28), dt.date(2026, 10, 24)])
def test_days_and_weeks_across_a_clock_change_keep_the_time_of_day(night):
    treated = dt.datetime.combine(night, dt.time(23, 30), tzinfo=LONDON)
    assert later(treated, 1, "days").replace(tzinfo=None) == dt.datetime.combine(night + dt.timedelta(days=1),
                                                                                 dt.time(23, 30))
    two_weeks = later(treated, 2, "weeks")
    assert (two_weeks.date(), two_weeks.time()) == (night + dt.timedelta(days=14), dt.time(23, 30))
    assert hours_between(treated, two_weeks) in (14 * 24 - 1, 14 * 24 + 1)   # the hour the clocks moved


def test_a_time_the_clocks_skip_lands_just_after_the_gap():
    assert on_date(dt.date(2026, 3, 29), dt.datetime(2026, 3, 28, 1, 30, tzinfo=LONDON)).time() == dt.time(2, 30)


# --- month ends -----------------------------------------------------------------------

@pytest.mark.parametrize("start, months, expected", [
    (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
    (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),     # a leap year
    (dt.date(2026, 8, 31), 1, dt.date(2026, 9, 30)),
    (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),    # into the next year
    (dt.date(2026, 10, 31), 4, dt.date(2027, 2, 28)),
    (dt.date(2026, 3, 31), 12, dt.date(2027, 3, 31)),
])
def test_months_are_calendar_months_ending_on_the_last_day_of_a_shorter_month(start, months, expected):
    assert add_months(start, months) == expected


def test_half_months_are_added_as_days_after_the_whole_months():
    treated = dt.datetime(2026, 12, 1, 14, 30, tzinfo=LONDON)
    assert later(treated, 4.5, "months").date() == dt.date(2027, 4, 16)
    assert later(treated, 6, "months").date() == dt.date(2027, 6, 1)


def test_a_range_of_hours_spans_the_days_it_touches():
    treated = dt.datetime(2026, 12, 1, 14, 30, tzinfo=LONDON)
    when = span(treated, Duration(48, 72, "hours"))
    assert (when.start.date(), when.end.date()) == (dt.date(2026, 12, 3), dt.date(2026, 12, 4))


# --- properties over a year of treatment times, in both clinics' zones --------------------

treatment_times = st.builds(
    lambda zone, minutes: dt.datetime.combine(dt.date(2026, 1, 1), dt.time(), tzinfo=zone)
    + dt.timedelta(minutes=minutes),
    st.sampled_from([LONDON, NEW_YORK]), st.integers(0, 366 * 24 * 60))
durations = st.builds(
    lambda unit, low, extra: Duration(low, low + extra, unit),
    st.sampled_from(["hours", "days", "weeks", "months"]),
    st.sampled_from([0.5, 1, 2, 4, 4.5, 10, 24, 48]), st.sampled_from([0, 0.5, 1, 2, 24]))


def as_wall_clock(moment: dt.datetime) -> dt.datetime:
    """The aware datetime normalised through UTC, as a clock on the clinic's wall shows it."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


@settings(max_examples=400, deadline=None)
@given(treated=treatment_times, duration=durations)
def test_no_date_before_treatment_and_no_range_that_runs_backwards(treated, duration):
    treated = as_wall_clock(treated)
    when = span(treated, duration)
    assert when.start.astimezone(UTC) >= treated.astimezone(UTC)
    assert when.end.astimezone(UTC) >= when.start.astimezone(UTC)
    assert when.end.date() >= when.start.date() >= treated.date()


@settings(max_examples=400, deadline=None)
@given(treated=treatment_times, amount=st.sampled_from([1, 2, 4, 24, 48, 72]))
def test_hours_are_exactly_that_many_real_hours_later(treated, amount):
    treated = as_wall_clock(treated)
    assert hours_between(treated, later(treated, amount, "hours")) == amount


@settings(max_examples=400, deadline=None)
@given(treated=treatment_times, amount=st.integers(1, 30), unit=st.sampled_from(["days", "weeks"]))
def test_days_and_weeks_never_shift_the_time_of_day_across_a_clock_change(treated, amount, unit):
    treated = as_wall_clock(treated)
    result = later(treated, amount, unit)
    days = amount * (7 if unit == "weeks" else 1)
    assert result.date() == treated.date() + dt.timedelta(days=days)
    target = dt.datetime.combine(result.date(), treated.time(), tzinfo=treated.tzinfo)
    if exists(target):
        assert result.time() == treated.time()
    else:   # the time of day does not exist that day: the first moment after the gap, within the hour
        assert dt.timedelta(0) < result.replace(tzinfo=None) - target.replace(tzinfo=None) <= dt.timedelta(hours=1)


@settings(max_examples=300, deadline=None)
@given(start=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)), months=st.integers(0, 24))
def test_months_land_in_the_right_month_on_the_same_day_or_the_months_last(start, months):
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == start.day or (result.day < start.day and (result + dt.timedelta(days=1)).day == 1)


# --- open days ----------------------------------------------------------------------------

def test_the_first_open_day_is_the_day_itself_or_the_first_open_one_after_it_never_before():
    closed = {dt.date(2026, 12, 25), dt.date(2026, 12, 26), dt.date(2026, 12, 28)}

    def is_open(day: dt.date) -> bool:
        return day.weekday() < 6 and day not in closed   # Monday to Saturday

    assert first_open_day(dt.date(2026, 12, 25), is_open) == dt.date(2026, 12, 29)    # not the 24th, before it
    assert first_open_day(dt.date(2026, 12, 27), is_open) == dt.date(2026, 12, 29)
    assert first_open_day(dt.date(2026, 12, 2), is_open) == dt.date(2026, 12, 2)
    assert first_open_day(dt.date(2026, 12, 6), lambda day: day.weekday() in (0, 5)) == dt.date(2026, 12, 7)
    assert first_open_day(dt.date(2026, 12, 6), lambda day: False) == dt.date(2026, 12, 6)


# --- how dates are written ------------------------------------------------------------------

FRIDAY, SATURDAY = dt.date(2026, 12, 4), dt.date(2026, 12, 5)


@pytest.mark.parametrize("locale, day, days", [
    ("en_GB", "Friday 4 December", "Friday 4 December – Saturday 5 December"),
    ("en_US", "Friday, December 4", "Friday, December 4 – Saturday, December 5"),
    ("tr_TR", "4 Aralık Cuma", "4 Aralık Cuma – 5 Aralık Cumartesi"),
    ("ar", "الجمعة، 4 ديسمبر", "الجمعة، 4 ديسمبر – السبت، 5 ديسمبر"),
])
def test_days_are_written_in_full_the_way_the_clinics_country_writes_them(locale, day, days):
    writer = Writer(locale)
    assert writer.day(FRIDAY) == day
    assert " ".join(writer.days(FRIDAY, SATURDAY).split()) == days     # CLDR puts thin spaces round the dash
    assert writer.days(FRIDAY, FRIDAY) == day


def test_months_away_are_written_as_months_and_short_dates_for_the_picture():
    writer = Writer("en_GB")
    assert " ".join(writer.months(dt.date(2027, 4, 16), dt.date(2027, 6, 1)).split()) == "April – June 2027"
    assert writer.months(dt.date(2027, 4, 1), dt.date(2027, 4, 30)) == "April 2027"
    assert " ".join(writer.short_days(FRIDAY, SATURDAY).split()) == "Fri 4 Dec – Sat 5 Dec"
    assert writer.time(dt.datetime(2026, 12, 4, 18, 30)) == "18:30"
    assert Writer("en_US").time(dt.datetime(2026, 12, 4, 18, 30)).replace("\u202f", " ") == "6:30 PM"


# --- the clinic's date -------------------------------------------------------------------

def test_today_is_the_date_in_the_clinics_own_time_zone(monkeypatch):
    monkeypatch.delenv("CARELEAF_TODAY", raising=False)
    late = dt.datetime(2026, 12, 1, 23, 30, tzinfo=UTC)     # already 2 December in Istanbul, still 1 December in New York
    assert today("Europe/Istanbul", now=late) == dt.date(2026, 12, 2)
    assert today("America/New_York", now=late) == dt.date(2026, 12, 1)
    assert today("Europe/London", now=late) == dt.date(2026, 12, 1)


def test_a_pinned_date_stands_for_the_clock_only(monkeypatch):
    """CARELEAF_TODAY pins what the clock would say; a moment given (a patient's leaflet's "now") is kept."""
    monkeypatch.setenv("CARELEAF_TODAY", "2026-03-01")
    assert today() == today("Pacific/Kiritimati") == dt.date(2026, 3, 1)
    assert today("Europe/London", now=dt.datetime(2026, 12, 1, 12, tzinfo=UTC)) == dt.date(2026, 12, 1)
