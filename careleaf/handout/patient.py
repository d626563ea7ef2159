"""What staff type about one patient: the fields of a personalised leaflet, and their checks.

These fields are health data. They are checked here, once, whichever way they
arrive (the command line, a day's list, the front desk, the API), and a problem
is reported by the field's name and what is wrong, never by echoing what was
typed: error messages end up in terminals, logs and screenshots.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, make_dataclass
from typing import Mapping
from zoneinfo import ZoneInfo

from careleaf.errors import HandoutError

# Characters that reorder text invisibly (an Arabic name may carry the plain marks U+200E/U+200F, not these).
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$")
_UNITS = re.compile(r"^\d{1,4}(\.\d{1,2})?$")
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?$")
# The shape each field must have, where it has one, for the API's published model (checked here all the same).
SHAPES = {"treated": r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}$", "review": _DATE_TIME.pattern, "session": r"^[1-9][0-9]?$",
          "batch": _BATCH.pattern, "units": _UNITS.pattern}
FURTHEST_DAYS = 366            # a date further from today than this is a typing mistake, not an appointment


@dataclass(frozen=True)
class PatientField:
    """One thing staff may type about a patient. Each is declared once, below: the command line's options,
    the API's model and the desk's form are built from these declarations."""

    name: str                   # the option (--name), a day's list's column, the form's and the API's field
    label: str                  # on the desk's form
    help: str                   # in the command line's help and the API's description
    limit: int                  # its longest sensible length, in characters
    kind: str = "text"          # text, moment (a date, with or without a time), number, or note (several lines)
    required: bool = False
    record: bool = False        # part of the treatment record, printed on the aftercare leaflet
    autofill: bool = True       # False for what names a patient: a browser must not offer it for the next one
    example: str = ""


PATIENT_FIELDS = (
    PatientField("name", "Name, as it should be printed (optional)",
                 "the patient's name as it should be printed (optional)", 100, autofill=False),
    PatientField("treated", "Treatment date and time",
                 "treatment date and time, YYYY-MM-DD HH:MM, in the clinic's time zone", 16, kind="moment",
                 required=True, example="2026-12-01 14:30"),
    PatientField("review", "Booked review visit (optional)",
                 "a booked review visit, YYYY-MM-DD or YYYY-MM-DD HH:MM (optional)", 16, kind="moment"),
    PatientField("session", "Session of a course (optional)",
                 "for a treatment given as a course: which session this was, for example 2 (optional)", 2,
                 kind="number", example="2"),
    PatientField("areas", "Areas treated", "areas treated", 200, record=True),
    PatientField("product", "Product", "product given", 100, record=True),
    PatientField("batch", "Batch or lot number", "batch or lot number", 40, record=True),
    PatientField("units", "Units", "units given", 10, kind="number", record=True),
    PatientField("practitioner", "Treated by", "who gave the treatment", 100, record=True),
    PatientField("note", "Note", "a short note", 500, kind="note", record=True),
)
# Not a patient field but typed beside them: the clinic's own record number, kept in the register.
REFERENCE = PatientField("reference", "Patient reference, for the register (optional)",
                         "the clinic's own patient reference (record number), for the register", 40, autofill=False)

REFERENCE_SHAPE = rf"^[A-Za-z0-9][A-Za-z0-9._/-]{{0,{REFERENCE.limit - 1}}}$"
# Not about the patient either: who handed the leaflet out, kept in the register and shown in its listings.
STAFF = PatientField("staff", "Handed out by", "who handed the leaflet out, for the register", 60)

# The same names are used by the command line (--name), a day's list (its column headings) and the desk's form.
LIMITS = {field.name: field.limit for field in PATIENT_FIELDS}
FIELDS = tuple(LIMITS)
RECORD = tuple(field.name for field in PATIENT_FIELDS if field.record)

# A class built from the declarations, so that a new record field is declared in one place only.
TreatmentRecord = make_dataclass(
    "TreatmentRecord", [(name, str, dataclasses.field(default="")) for name in RECORD], frozen=True,
    namespace={"__module__": __name__, "__bool__": lambda self: any(dataclasses.astuple(self)),
               "__doc__": "What was done, printed in a box on the aftercare leaflet (the batch number is what a "
                          "report needs)."})


@dataclass(frozen=True)
class Patient:
    """One patient's leaflet: who it is for, when they were (or will be) treated, and what was done."""

    treated: dt.datetime                    # aware, in the clinic's time zone
    name: str = ""
    review: dt.datetime | None = None       # a booked review visit, aware
    review_time_known: bool = False         # booked for a time of day, not only a date
    record: TreatmentRecord = TreatmentRecord()
    session: int | None = None              # which session of a course this was


def read_patient(given: Mapping[str, str | None], time_zone: str, today: dt.date) -> Patient:
    """A Patient from typed fields, or HandoutError listing every field that cannot be used."""
    problems: list[str] = []
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        problems.append(f"unknown fields: {', '.join(safe_name(name) for name in unknown)} "
                        f"(the fields are {', '.join(FIELDS)})")
    text = {field.name: _text(field, given.get(field.name), problems) for field in PATIENT_FIELDS}
    zone = ZoneInfo(time_zone)
    treated = review = None
    if not text["treated"]:
        problems.append("treated: the treatment date and time are needed, as YYYY-MM-DD HH:MM")
    else:
        treated, _ = _moment("treated", text["treated"], zone, today, problems, time_needed=True)
    review_time_known = False
    if text["review"]:
        review, review_time_known = _moment("review", text["review"], zone, today, problems, time_needed=False)
        if review and treated and review.date() <= treated.date():
            problems.append("review: the review visit should be after the treatment date")
    if text["batch"] and not _BATCH.match(text["batch"]):
        problems.append("batch: use only letters, digits, spaces and . / - (as printed on the product)")
    if text["session"] and not re.fullmatch(r"[1-9][0-9]?", text["session"]):
        problems.append("session: write which session this was as a number, for example 2")
    if text["units"] and not _UNITS.match(text["units"]):
        problems.append("units: write a number, for example 20 or 2.5")
    if problems:
        raise HandoutError(problems)
    record = TreatmentRecord(**{name: text[name] for name in RECORD})
    return Patient(treated, text["name"], review, review_time_known, record,
                   int(text["session"]) if text["session"] else None)


def _text(field: PatientField, value: str | None, problems: list[str]) -> str:
    name = field.name
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{name}: should be text")
        return ""
    value = unicodedata.normalize("NFC", value.strip())
    if len(value) > field.limit:
        problems.append(f"{name}: too long (at most {field.limit} characters)")
    allowed_breaks = "\n" if field.kind == "note" else ""
    if any(unicodedata.category(c) == "Cs" for c in value):
        problems.append(f"{name}: contains characters that are not text")
    if any(unicodedata.category(c) == "Cc" and c not in allowed_breaks for c in value):
        problems.append(f"{name}: contains control characters (such as a tab or a line break)")
    if any(c in _BIDI_CONTROLS for c in value):
        problems.append(f"{name}: contains invisible characters that reverse the text's direction")
    if field.kind != "note" and name != "batch" and any(c in "<>{}" for c in value):   # the batch has its own pattern
        problems.append(f"{name}: contains < > {{ or }}, which a {name.replace('_', ' ')} does not need")
    return value


def checked_text(field: PatientField, value: str | None) -> str:
    """One typed field (a patient's, or the staff name beside them), checked as the desk checks it; HandoutError
    naming the field and what is wrong, never what was typed."""
    problems: list[str] = []
    text = _text(field, value, problems)
    if problems:
        raise HandoutError(problems)
    return text


def _moment(name: str, value: str, zone: ZoneInfo, today: dt.date, problems: list[str], *,
            time_needed: bool) -> tuple[dt.datetime | None, bool]:
    """An aware datetime in the clinic's zone from 'YYYY-MM-DD HH:MM' (or a date alone, when allowed)."""
    match = _DATE_TIME.match(value)
    form = "YYYY-MM-DD HH:MM" if time_needed else "YYYY-MM-DD or YYYY-MM-DD HH:MM"
    if not match or (time_needed and not match[2]):
        problems.append(f"{name}: not a date and time; write it as {form}, for example 2026-12-01 14:30")
        return None, False
    try:
        date = dt.date.fromisoformat(match[1])
        hours, minutes = (int(part) for part in (match[2] or "12:00").split(":"))
        wall = dt.datetime.combine(date, dt.time(hours, minutes), tzinfo=zone)
    except ValueError:
        problems.append(f"{name}: there is no such date or time; write it as {form}")
        return None, False
    if abs((date - today).days) > FURTHEST_DAYS:
        problems.append(f"{name}: more than a year from today; check the year")
        return None, False
    if wall.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        problems.append(f"{name}: that time does not exist in {zone.key} (the clocks go forward then)")
        return None, False
    return wall, bool(match[2])


def safe_name(name: str) -> str:
    """A name as typed (a field, a column, a brand), shown only when it is plainly a name of that kind:
    a value pasted in the wrong place (a patient's name in the brand column) is never repeated."""
    return f"'{name}'" if re.match(r"^[a-z0-9][a-z0-9_-]{0,39}$", str(name)) else "(what was given)"


def check_reference(reference: str | None) -> str:
    """The clinic's patient reference (its own record number), checked; never a name."""
    if not reference:
        return ""
    if not re.fullmatch(REFERENCE_SHAPE, reference):     # fullmatch: '$' alone lets a final line break by
        raise HandoutError([f"reference: use the clinic's record number (letters, digits, . _ / -, at most "
                            f"{REFERENCE.limit}), not a name"])
    return reference
