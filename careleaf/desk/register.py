"""The register: which version of which leaflet was given to whom, and how (printed, emailed, exported).

Consent practice asks which version of a leaflet a patient was given, and a careful
clinic wants to contact again the patients who received a version that has since
changed. Every handout is recorded here, in the desk's database (careleaf.desk.database: an SQLite file in
the project's data folder, readable by its owner only, or the clinic group's PostgreSQL), beside the outbox,
so that an email's delivery and its entry are one transaction. A record holds the clinic's own patient
reference when one was given, never a name or an address: the register can be
read, exported and shared without revealing anyone's health.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import unicodedata
from dataclasses import dataclass, fields
from pathlib import Path

from careleaf.content.catalog import load_catalog
from careleaf.content.governance import today as clinic_today
from careleaf.content.settings import load_settings
from careleaf.desk.database import DATABASE_FILE, LOCAL, Database, open_database
from careleaf.errors import RevisionError
from careleaf.handout.handouts import HandoutRecord
from careleaf.handout.patient import STAFF, check_reference, checked_text
from careleaf.leaflet.assemble import Job, Leaflet, assemble
from careleaf.review.approve import approved_wording, item_texts
from careleaf.review.changes import compare, field_changes
from careleaf.review.git import current_revision

REGISTER_FILE = DATABASE_FILE      # one machine's register: a table of the desk's SQLite file, beside the outbox
CHANNELS = ("print", "email", "eml")


@dataclass(frozen=True)
class Entry:
    """One handout as the register keeps it."""

    at: str                 # UTC, ISO 8601
    channel: str            # print, email or eml
    code: str
    version: int
    lang: str
    large_print: bool
    content_fingerprint: str
    brand: str
    treatment: str
    kind: str
    staff: str
    reference: str          # the clinic's own patient reference, or ''
    revision: str           # the project's git commit when it was made, or '' (for `superseded` to say what changed)


COLUMNS = tuple(f.name for f in fields(Entry))


def project_register(project, settings=None) -> "Register":
    """The project's register, in the desk's database (careleaf.yaml's ``data:`` or the group's PostgreSQL)."""
    return Register(open_database(project, settings or load_settings(project)))


def register_handout(project, record: HandoutRecord, *, channel: str, staff: str, reference: str = "",
                     settings=None, revision: str | None = None) -> Entry | None:
    """Record one handout in the project's register, with the project's git commit now (unless given).

    A training copy (a draft, marked DRAFT) is not recorded: it was never a patient's leaflet, and
    `superseded` would otherwise list it among the patients to contact again.
    """
    if record.draft:
        return None
    revision = current_revision(project.root) if revision is None else revision
    return project_register(project, settings).add(record, channel=channel, staff=staff, reference=reference,
                                                   revision=revision)


def _entry(record: dict, *, channel: str) -> Entry:
    return Entry(record["made_at"], channel, record["code"], record["version"], record["lang"],
                 bool(record["large_print"]), record["content_fingerprint"], record["brand"], record["treatment"],
                 record["kind"], checked_text(STAFF, record.get("staff") or ""),
                 check_reference(record.get("reference") or ""), record.get("revision") or "")


def insert_entry(tx, record: dict, *, channel: str, send_id: str = "") -> Entry | None:
    """Add one entry inside the caller's transaction (the outbox's, for a delivered email). ``record``: a
    HandoutRecord as JSON with staff, reference and revision."""
    if record.get("draft"):
        return None
    entry = _entry(record, channel=channel)
    tx.run(f"insert into handouts (namespace, {', '.join(COLUMNS)}, send_id) values (?, "
           f"{', '.join('?' for _ in COLUMNS)}, ?)", tx.namespace, *[getattr(entry, name) for name in COLUMNS],
           send_id)
    return entry


class Register:
    """The register's table in the desk's database, for this project's namespace."""

    def __init__(self, database: Database | Path):
        """``database``: the desk's, or the path of an SQLite file of its own (a copy, a test's)."""
        if isinstance(database, Path):
            if not database.exists():       # created private: the register is about patients' treatments
                os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
            database = Database("sqlite", str(database), LOCAL, str(database))
        self.db = database

    def add(self, record: HandoutRecord, *, channel: str, staff: str, reference: str = "", revision: str = "") -> Entry:
        with self.db.transaction() as tx:
            return insert_entry(tx, record.as_json() | {"staff": staff, "reference": reference,
                                                        "revision": revision}, channel=channel)

    def find(self, *, reference: str | None = None, code: str | None = None, since: dt.date | None = None,
             until: dt.date | None = None) -> list[Entry]:
        """Entries matching every filter given, oldest first. Dates are days in UTC, as the times are kept."""
        where, values = ["namespace = ?"], [self.db.namespace]
        for column, value in (("reference", reference), ("code", code)):
            if value:
                where.append(f"{column} = ?")
                values.append(value)
        if since:
            where.append("at >= ?")
            values.append(since.isoformat())
        if until:       # compared by day, so that the last day there is (9999-12-31) needs no day after it
            where.append("substr(at, 1, 10) <= ?")
            values.append(until.isoformat())
        query = f"select {', '.join(COLUMNS)} from handouts where {' and '.join(where)}"
        with self.db.transaction() as tx:
            rows = tx.rows(query + " order by at, code, lang, reference", *values)
        return [Entry(*row[:5], bool(row[5]), *row[6:]) for row in rows]


def as_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([_cell(getattr(entry, name)) for name in COLUMNS])
    return out.getvalue()


def as_lines(entries: list[Entry]) -> str:
    """The register as `careleaf register` prints it: one line per handout, then how many."""
    lines = []
    for e in entries:
        size = " large print" if e.large_print else ""
        lines.append(printable(f"{e.at[:16]}  {e.channel:<5}  {e.code} v{e.version} {e.lang}{size}  "
                               f"{e.reference or '-'}  by {e.staff}"))
    lines.append(f"{len(entries)} handout{'s' if len(entries) != 1 else ''}")
    return "\n".join(lines)


# A cell starting with one of these is a formula to a spreadsheet (a tab or return before one is made printable).
_FORMULA_STARTS = ("=", "+", "-", "@")


def _cell(value):
    """A value a spreadsheet shows as text: one typed as '=…' (a staff name from the API) is not a formula."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return f"'{value}" if value[:1] in _FORMULA_STARTS else value


def printable(text: str) -> str:
    """Text as a terminal or a spreadsheet shows it, one line: a control or format character (a line break,
    an escape, a direction override) in a stored value becomes U+FFFD, so it cannot forge a line or a colour.
    Records made before staff names were checked may hold them."""
    return "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


# --- handouts of leaflets that have changed since ---------------------------------------

@dataclass
class Superseded:
    """Handouts of one leaflet, in one language and version, whose wording has changed since, and what changed."""

    code: str
    version_given: int
    version_now: int | None                 # None: the leaflet is no longer in the catalog
    entries: list[Entry]
    changes: list | None = None             # changes.Change items: the words that changed; None when not known
    note: str = ""
    lang: str = ""

    def as_json(self) -> dict:
        return {"code": self.code, "lang": self.lang, "version_given": self.version_given,
                "version_now": self.version_now, "handouts": [e.__dict__ for e in self.entries], "note": self.note,
                "changes": None if self.changes is None else [c.as_json() for c in self.changes]}


def superseded(project, register: Register) -> list[Superseded]:
    """Every handout whose wording differs from what the leaflet prints now (or whose leaflet is gone),
    whatever its version says, grouped by leaflet, language and the wording given, with the words changed
    since: from the record of approved wording, else from git at the revision it was made from.

    Decided by the fingerprint of the approved wording each patient got (``Entry.content_fingerprint``),
    never by the version: a patient who already has the current wording is never listed."""
    catalog = load_catalog(project)
    today = clinic_today()
    current: dict[Job, Leaflet | None] = {}
    groups: dict[tuple, Superseded] = {}
    for entry in register.find():
        job = Job(entry.brand, entry.lang, entry.treatment, entry.kind, entry.large_print)
        if job not in current:
            current[job] = _current(catalog, job, today)
        leaflet = current[job]
        if leaflet is not None and entry.content_fingerprint in (leaflet.approval_fingerprint,
                                                                  leaflet.content_fingerprint):
            continue
        version_now = leaflet.definition.version if leaflet else None
        group = groups.setdefault((entry.code, entry.lang, entry.version, entry.content_fingerprint),
                                  Superseded(entry.code, entry.version, version_now, [], lang=entry.lang))
        group.entries.append(entry)
    comparisons: dict[str, object] = {}
    for (_, _, _, given), group in groups.items():
        leaflet = current[_job_of(group.entries[0])]
        then = approved_wording(project, leaflet.job, given) if leaflet else None
        if then is not None:
            group.changes = field_changes(catalog, then, item_texts(leaflet))
        else:
            _changes_from_git(project, group, comparisons)
    return sorted(groups.values(), key=lambda g: (g.code, g.lang, g.version_given))


def _job_of(entry: Entry) -> Job:
    return Job(entry.brand, entry.lang, entry.treatment, entry.kind, entry.large_print)


def _current(catalog, job: Job, today) -> Leaflet | None:
    """The leaflet as the catalog prints it now, or None when it is no longer offered."""
    if job.treatment not in catalog.treatments or job.brand not in catalog.brands or \
            job.kind not in [d.kind for d in catalog.treatments[job.treatment].facts.leaflets] or \
            job.lang not in catalog.brands[job.brand].languages:
        return None
    return assemble(catalog, job, today)


def _changes_from_git(project, group: Superseded, comparisons: dict[str, object]) -> None:
    """The changes since the git revision the handouts were made from, reaching this leaflet in their language."""
    revision = next((e.revision for e in group.entries if e.revision), "")
    if not revision:
        group.note = "what changed is not known: no git revision was recorded with these handouts"
        return
    if revision not in comparisons:
        try:
            comparisons[revision] = compare(project, revision)
        except RevisionError as error:
            comparisons[revision] = error
    found = comparisons[revision]
    if isinstance(found, RevisionError):
        group.note = f"what changed is not known: {found}"
        return
    group.changes = [c for c in found.changes
                     if any(code == group.code and group.lang in langs for (code, _), langs in c.reaches.items())]
