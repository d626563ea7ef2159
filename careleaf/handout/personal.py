"""A leaflet for one patient: the dates and words the templates print when a leaflet is personalised.

The templates ask ``leaflet.personal`` (None on a catalog leaflet) for each date in
the leaflet's language: a timeline milestone ("Friday 5 December – Saturday 6
December"), an aftercare window ("until 18:30 today"), the review visit (the booked
one, or "around" a day the clinic is open). Every date comes from the treatment's
own timeline and the treatment time, through careleaf.handout.dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from careleaf.content import model
from careleaf.leaflet.assemble import MilestoneView
from careleaf.handout.dates import Writer, first_open_day, later, span
from careleaf.handout.patient import Patient
from careleaf.content.fields import Duration


@dataclass(frozen=True)
class Personal:
    """One patient's details and dates, as one leaflet prints them."""

    patient: Patient
    brand: model.Brand
    country: model.CountryFacts | None
    words: dict[str, str]
    writer: Writer
    made_on: dt.date          # the clinic's date when the leaflet is made: "today" means this day
    visit: Duration | None    # when the timeline's review visit is due, if it has one
    course: model.Course | None = None    # a course of sessions: the visit is its next session
    product: str = "medicine"             # what was given: where to report a side effect follows it

    @property
    def name(self) -> str:
        return self.patient.name

    @property
    def record(self):
        return self.patient.record

    @property
    def reporting(self) -> model.Reporting | None:
        """Where the patient may report a side effect of what was given, when the country table knows."""
        return self.country.reporting_for(self.product) if self.country else None

    def for_name(self) -> str:
        return self._say("personal_for", name=self.patient.name)

    def treatment(self) -> str:
        """'Your treatment: Monday 1 December 2025 at 14:30'."""
        return self._say("personal_treatment", when=self._say(
            "personal_date_time", date=self.treatment_day(), time=self.writer.time(self.patient.treated)))

    def treatment_day(self) -> str:
        """'Monday 1 December 2025', for the treatment record."""
        return self.writer.day_with_year(self.patient.treated.date())

    def milestone(self, milestone: MilestoneView, *, short: bool = False) -> str:
        """When a milestone falls: a day or days, months for what is months away; '' after repeat treatments."""
        if milestone.after_repeat:
            return ""      # depends on treatments not yet given
        if milestone.visit:
            return "" if self.last_session else self.review_date(short=short)
        when = span(self.patient.treated, milestone.when)
        first, last = when.start.date(), when.end.date()
        if milestone.when.unit == "months":
            months = self.writer.months(first, last)
            return self._say("personal_wears_off", date=months) if milestone.wears_off else months
        return self.writer.short_days(first, last) if short else self.writer.days(first, last)

    def window(self, window: Duration) -> str:
        """The end of an aftercare window: 'until 18:30 today', 'until Thursday 4 December'."""
        end = later(self.patient.treated, window.high, window.unit)
        if window.unit != "hours":
            return self._say("personal_until", date=self.writer.day(end.date()))
        time = self.writer.until_time(end)
        if end.date() == self.made_on == self.patient.treated.date():
            return self._say("personal_until_today", time=time)
        if end.date() - dt.timedelta(days=1) == self.made_on == self.patient.treated.date():
            return self._say("personal_until_tomorrow", time=time)
        return self._say("personal_until_time", time=time, date=self.writer.day(end.date()))

    def review_date(self, *, short: bool = False) -> str:
        """The booked review visit, or 'around' the first open day when it is due."""
        booked = self.patient.review
        if booked:
            day = self.writer.short_days(booked.date(), booked.date()) if short else self.writer.day(booked.date())
            return f"{day}, {self.writer.time(booked)}" if self.patient.review_time_known else day
        due = self._suggested_review()
        if due is None:
            return ""
        day = self.writer.short_days(due, due) if short else self.writer.day(due)
        return self._say("personal_around", date=day)

    def before(self, window: Duration) -> str:
        """When a step before treatment starts: 'from Wednesday 2 December'."""
        start = later(self.patient.treated, -window.high, window.unit)
        if window.unit == "hours":
            return self._say("personal_from", date=self._date_time(start))
        return self._say("personal_from", date=self.writer.day(start.date()))

    @property
    def last_session(self) -> bool:
        """This was the course's last session: there is no next one to date."""
        return bool(self.course and self.patient.session and self.patient.session >= self.course.most)

    def next_session_sentence(self) -> str:
        """Which session this was, and when the next one is (booked, or around an open day)."""
        said = []
        if self.course and self.patient.session:
            word = "personal_last_session" if self.last_session else "personal_session_of"
            said.append(self._say(word, number=str(self.patient.session), sessions=self.course.sessions_text))
        if self.last_session:
            return " ".join(said)
        if self.patient.review:
            when = (self._date_time(self.patient.review) if self.patient.review_time_known
                    else self.writer.day(self.patient.review.date()))
            said.append(self._say("personal_next_booked", when=when))
        else:
            due = self._suggested_review()
            if due:
                said.append(self._say("personal_next_around", date=self.writer.day(due)))
        return " ".join(said)

    def review_sentence(self) -> str:
        """The review visit box's sentence, or '' when the timeline has no visit."""
        if self.patient.review:
            when = (self._date_time(self.patient.review) if self.patient.review_time_known
                    else self.writer.day(self.patient.review.date()))
            return self._say("personal_review_booked", when=when)
        due = self._suggested_review()
        return self._say("personal_review_around", date=self.writer.day(due)) if due else ""

    def _suggested_review(self) -> dt.date | None:
        """The first day the clinic is open on or after the day the visit is due: never before it (a review
        before the treatment has taken full effect sees nothing), whatever the visit's window."""
        if self.visit is None:
            return None
        return first_open_day(span(self.patient.treated, self.visit).start.date(), self._open)

    def _open(self, day: dt.date) -> bool:
        return model.WEEKDAYS[day.weekday()] in self.brand.opening_days and day not in self.brand.closed_dates

    def _date_time(self, moment: dt.datetime) -> str:
        return self._say("personal_date_time", date=self.writer.day(moment.date()), time=self.writer.time(moment))

    def _say(self, word: str, **values: str) -> str:
        text = self.words[word]
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text

