"""A leaflet for one patient, from the same approved source as the printed catalog.

``handout(...)`` is the one way a personalised leaflet is made: the command line
(``careleaf handout``, ``careleaf handouts``), email and the front desk all call it.

A personalised leaflet is health data, so this module keeps it in memory: it
returns the PDF's bytes and writes nothing itself (no file under ``out/``, no
cache, no log line). Only approved, current wording reaches a named patient: a
draft, overdue or awaiting-translation leaflet is refused unless ``allow_draft``
asks for a training copy, which is marked DRAFT as usual.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from careleaf.content.catalog import Catalog, brand_file, load_catalog
from careleaf.content.governance import today as clinic_today
from careleaf.errors import HandoutError, InputError, Problem, RenderError
from careleaf.handout.choice import Choice, check_choice
from careleaf.handout.dates import Writer
from careleaf.handout.patient import FIELDS, REFERENCE, Patient, check_reference, read_patient, safe_name
from careleaf.handout.personal import Personal
from careleaf.leaflet.assemble import Leaflet, assemble
from careleaf.pdf.render import render_pdf
from careleaf.project import Project

UTC = dt.timezone.utc
CHOICES = tuple(field.name for field in dataclasses.fields(Choice))  # which leaflet: the columns of a day's list
COLUMNS = CHOICES + (REFERENCE.name,) + FIELDS                       # and the register's patient reference
LARGE_PRINT = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False, "": False}


@dataclass(frozen=True)
class HandoutRecord:
    """What was handed out, without who to: for consent forms and the register of handouts."""

    code: str
    version: int
    lang: str
    large_print: bool
    brand: str
    treatment: str
    kind: str
    content_fingerprint: str      # the approved wording it printed (Leaflet.approval_fingerprint), for `superseded`
    made_at: str                  # UTC, ISO 8601
    draft: bool                   # a training copy (allow_draft), marked DRAFT

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Handout:
    pdf: bytes
    record: HandoutRecord
    file_name: str                # names the clinic only: never the patient or the treatment


def file_name(brand: str) -> str:
    """A handout's file name: the clinic's only ('harbour-skin-leaflet.pdf'), as the patient's own copy carries it."""
    return f"{brand}-leaflet.pdf"


def handout(project: Project | str | Path, choice: Choice | None = None, *, patient: Mapping[str, str | None],
            allow_draft: bool = False, now: dt.datetime | None = None, catalog: Catalog | None = None,
            **chosen) -> Handout:
    """One patient's leaflet as PDF bytes, with its record.

    ``choice`` (or brand=, treatment=, kind=, lang=, large_print=) says which leaflet;
    ``patient`` holds the typed fields (careleaf.handout.patient.FIELDS). Raises HandoutError
    for a wrong choice or field, or a leaflet not approved for patients; InputError
    when the project's content is invalid; RenderError when the PDF cannot be made.
    """
    project = project if isinstance(project, Project) else Project(Path(project))
    choice = choice or Choice(**chosen)
    catalog = catalog or load_catalog(project)
    now = now or dt.datetime.now(UTC)
    leaflet = personalise(catalog, choice, patient, allow_draft=allow_draft, now=now)
    return Handout(render_personal(project, leaflet), record(leaflet, now), file_name(choice.brand))


def render_personal(project: Project, leaflet: Leaflet) -> bytes:
    """A patient's leaflet as PDF. A failure is named by its kind only: a library's own message could quote
    the patient's text, and it ends up on screens and in logs (the catalog's build gives the details)."""
    # Here, not at the top: the leaflet's HTML needs jinja2, markdown-it and harfbuzz, which the register
    # (careleaf register, superseded) does without: it uses this module for its records only.
    from careleaf.leaflet.html import render_leaflet

    code = leaflet.definition.code
    try:
        return render_pdf(render_leaflet(project, leaflet), project.asset_folders, large_print=leaflet.job.large_print,
                          source=f"{code} for a patient")
    except Exception as error:
        raise RenderError(f"{code} for a patient could not be rendered ({type(error).__name__}); "
                          "`careleaf build` shows what is wrong with the leaflet itself") from None


def personalise(catalog: Catalog, choice: Choice, patient: Mapping[str, str | None] | Patient, *,
                allow_draft: bool, now: dt.datetime) -> Leaflet:
    """The chosen leaflet, assembled, refused if not for patients, with the patient's details and dates."""
    from careleaf.leaflet.html import locale_of     # here: see render_personal

    check_choice(catalog, choice)
    brand = catalog.brands[choice.brand]
    if not brand.time_zone:
        country = catalog.countries.get(brand.country or "")
        example = country.time_zone if country and country.time_zone else "Europe/London"
        raise HandoutError([f"{brand_file(choice.brand)} has no time_zone, so a patient's dates cannot be worked "
                            f"out; add one, for example 'time_zone: {example}'"])
    today = clinic_today(brand.time_zone, now=now)
    if not isinstance(patient, Patient):
        patient = read_patient(patient, brand.time_zone, today)
    leaflet = assemble(catalog, choice.job(), today)
    reasons = not_for_patients(leaflet)
    if reasons and not allow_draft:
        raise HandoutError([f"{leaflet.definition.code} ({choice.treatment} {choice.kind}) cannot be given to a "
                            f"patient: {'; '.join(reasons)}. A training copy, marked DRAFT, can be made with "
                            "--allow-draft"])
    visit = leaflet.review_visit.when if leaflet.review_visit else None
    personal = Personal(patient, brand, catalog.countries.get(brand.country or ""), leaflet.words,
                        Writer(locale_of(leaflet)), today, visit, leaflet.course, leaflet.product)
    return dataclasses.replace(leaflet, personal=personal)


def catalog_leaflet(catalog: Catalog, choice: Choice) -> Leaflet:
    """The chosen leaflet as the catalog prints it (no patient), as of today in the clinic."""
    check_choice(catalog, choice)
    return assemble(catalog, choice.job(), clinic_today(catalog.brands[choice.brand].time_zone))


def not_for_patients(leaflet: Leaflet) -> list[str]:
    """Why a leaflet may not be given to a named patient, in plain words; empty when it may."""
    reasons = []
    if leaflet.not_approved:
        # The one plain reason staff pass on: never approved, or changed since a clinician approved it.
        reasons.append(f"it is a draft, {leaflet.not_approved}" if not leaflet.not_approved.startswith("awaiting")
                       else f"it is {leaflet.not_approved}")
    elif leaflet.needs_approval:
        reasons.append("it is a draft: it prints wording still marked needs_approval")
    if leaflet.overdue:
        reasons.append(f"it was due for review by {leaflet.definition.review_by.isoformat()}")
    if leaflet.stale:
        reasons.append("parts of its translation await review")
    return reasons


def record(leaflet: Leaflet, now: dt.datetime) -> HandoutRecord:
    job = leaflet.job
    return HandoutRecord(leaflet.definition.code, leaflet.definition.version, job.lang, job.large_print, job.brand,
                         job.treatment, job.kind, leaflet.approval_fingerprint,
                         now.astimezone(UTC).isoformat(timespec="seconds"), bool(not_for_patients(leaflet)))


# --- a day's list ------------------------------------------------------------------------

def read_day_list(text: str, path: Path) -> list[tuple[int, tuple[Choice, dict[str, str], str] | str | None]]:
    """Each row of a day's list (CSV with a heading row) as (line, (which leaflet, patient fields, reference)).

    The columns are brand, treatment, kind, lang, large_print (yes/no), reference (the
    clinic's patient reference, for the register) and the patient fields; a column left
    out is empty. Only the layout is checked here; each row's fields are checked when its leaflet is made (``check_day_list``).
    """
    reader = csv.DictReader(io.StringIO(text, newline=None))     # a lone CR ends a line too (old spreadsheets)
    try:
        columns = reader.fieldnames or []
    except csv.Error as error:      # a NUL byte in the heading row: the line, not a crash
        raise InputError([Problem(path, 1, 1, f"the heading row cannot be read as CSV ({error})")]) from None
    unknown = [c for c in columns if c not in COLUMNS]
    required = [c for c in ("brand", "treatment", "kind", "lang", "treated") if c not in columns]
    problems = []
    if unknown:
        hint = "" if set(columns) & set(COLUMNS) else " (is the heading row missing?)"
        problems.append(Problem(path, 1, 1, f"unknown columns: {', '.join(safe_name(c) for c in unknown)}{hint}; "
                                            f"the columns are {', '.join(COLUMNS)}"))
    if required:
        problems.append(Problem(path, 1, 1, f"missing columns: {', '.join(required)}"))
    if problems:
        raise InputError(problems)
    rows = []
    try:
        for row in reader:
            if None in row:
                row.pop(None)   # extra cells are reported below, by line, without their contents
                rows.append((reader.line_num, None))
                continue
            size = (row.pop("large_print", "") or "").strip().lower()
            if size not in LARGE_PRINT:
                rows.append((reader.line_num, "large_print: write yes or no"))
                continue
            choice = Choice(*((row.pop(name, "") or "").strip() for name in ("brand", "treatment", "kind", "lang")),
                            large_print=LARGE_PRINT[size])
            reference = (row.pop("reference", "") or "").strip()
            rows.append((reader.line_num, (choice, {name: value for name, value in row.items() if value}, reference)))
    except csv.Error as error:      # a stray quote, a NUL byte: the line, not a crash
        raise InputError([Problem(path, reader.line_num, 1, f"this line cannot be read as CSV ({error})")]) from None
    return rows


def check_day_list(catalog: Catalog, rows, path: Path, *, allow_draft: bool, now: dt.datetime) -> list[Leaflet]:
    """Every row's leaflet, personalised, or InputError naming each bad row by its line (and never its contents)."""
    problems, leaflets = [], []
    for line, row in rows:
        if row is None or isinstance(row, str):
            problems.append(Problem(path, line, 1, row or "this row has more cells than there are columns"))
            continue
        choice, fields, reference = row
        try:
            check_reference(reference)
            leaflets.append(personalise(catalog, choice, fields, allow_draft=allow_draft, now=now))
        except HandoutError as error:
            problems += [Problem(path, line, 1, problem) for problem in error.problems]
    if problems:
        raise InputError(problems)
    if not leaflets:
        raise InputError([Problem(path, 1, 1, "the list has no patients in it")])
    return leaflets


def handouts(project: Project | str | Path, list_file: Path, *, allow_draft: bool = False,
             now: dt.datetime | None = None,
             progress: Callable[[int, int], None] | None = None) -> tuple[bytes, list[HandoutRecord], list[str]]:
    """One print-ready PDF of every patient's leaflet in a day's list, in the list's order, each keeping its
    tags; the record of each handout, and each row's patient reference (for the register).

    Every row is checked before anything is rendered: a bad row fails the whole list.
    """
    from careleaf.pdf.merge import merge_tagged     # here, not at the top: pikepdf, for a day's list only

    project = project if isinstance(project, Project) else Project(Path(project))
    catalog = load_catalog(project)
    now = now or dt.datetime.now(UTC)
    try:
        text = list_file.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text: save it as 'CSV UTF-8'"
        raise InputError([Problem(list_file, 1, 1, f"the list cannot be read: {reason}")]) from None
    rows = read_day_list(text, list_file)
    leaflets = check_day_list(catalog, rows, list_file, allow_draft=allow_draft, now=now)
    documents = []
    for done, leaflet in enumerate(leaflets, start=1):
        documents.append(render_personal(project, leaflet))
        if progress:
            progress(done, len(leaflets))
    first = leaflets[0]
    merged = merge_tagged(documents, title=f"{first.brand.name}: {len(leaflets)} leaflets", lang=first.lang)
    return merged, [record(leaflet, now) for leaflet in leaflets], [row[2] for _, row in rows]
