"""`careleaf approve CODE`: a clinician signs off a leaflet's wording, in one language or all of them.

The approval is written under the leaflet's ``approvals:`` in its treatment.yaml,
one line a language: who approved it, when, which version, and the fingerprint of
what the leaflet prints (``governance.approved_items``), so any later change to
that wording makes the leaflet *awaiting re-approval* again. Nothing else in the
file moves: the lines are edited where the loader found them.

Before writing, it shows the sign-off sheet: what changed, word by word, since
the last approval, from the record of every wording approved, kept beside the
treatment (``approved/<kind>.<lang>.json``, written here, by fingerprint; editors
never touch it). The register's `superseded` reads it for the words a patient got.
Approving changed wording raises the version in the same step, so a version
number always means one approved wording.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from careleaf.build.output import write_atomically
from careleaf.content.catalog import Catalog, TreatmentEntry, load_catalog
from careleaf.content.governance import APPROVED_FILES, today as clinic_today
from careleaf.content.items import Key
from careleaf.content import model
from careleaf.errors import HandoutError, display_path
from careleaf.leaflet.assemble import Leaflet, assemble, jobs
from careleaf.content.load import MAX_FILE_BYTES
from careleaf.project import Project, Refused, read_own
from careleaf.review.changes import Change, change_text, field_changes, item_fields

RECORDS = "approved"      # in a treatment's folder: the approved items of each leaflet and language


@dataclass
class SignOff:
    """One language of one leaflet, as the clinician signs it."""

    code: str
    treatment: str
    kind: str
    lang: str
    leaflet: Leaflet
    before: model.Approval | None
    changes: list[Change] | None            # None: no record of the earlier approval's wording
    problems: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return self.before is not None and self.before.content == self.leaflet.approval_fingerprint

    @property
    def wording_changed(self) -> bool:
        """Approved before, and what it prints differs now: the version must go up."""
        return self.before is not None and not self.unchanged


RECORD_BYTES = 50_000_000     # a leaflet's record of approved wording grows with each approval


def approved_record(project: Project, treatment: str, kind: str, lang: str) -> Path:
    return project.content / "treatments" / treatment / RECORDS / f"{kind}.{lang}.json"


def item_texts(leaflet: Leaflet) -> dict[Key, dict[str, str]]:
    """What an approval covers, item by item, as text (the sign-off sheet compares these)."""
    return {key: item_fields(value) for key, value in leaflet.printed.items() if key.file.startswith(APPROVED_FILES)}


def approved_wording(project: Project, job, fingerprint: str) -> dict[Key, dict[str, str]] | None:
    """The wording approved under ``fingerprint`` for a job's leaflet and language, item by item; None when
    it is not on record. The register's handouts carry the same fingerprint, so a patient's words are found too."""
    try:
        data = json.loads(read_own(approved_record(project, job.treatment, job.kind, job.lang), limit=RECORD_BYTES))
        items = data["approvals"][fingerprint]["items"]
        return {Key(*item["key"]): dict(item["fields"]) for item in items}
    except (OSError, Refused, ValueError, KeyError, TypeError):
        return None


def _write_record(path: Path, leaflet: Leaflet, approval: model.Approval) -> None:
    """Add this approval's wording to the record of every wording approved for the leaflet in its language."""
    try:
        data = json.loads(read_own(path, limit=RECORD_BYTES))
        data["approvals"].items()
    except (OSError, Refused, ValueError, KeyError, AttributeError):
        data = {"approvals": {}}
    items = [{"key": [key.file, key.group, key.name], "fields": fields}
             for key, fields in sorted(item_texts(leaflet).items())]
    data["approvals"][approval.content] = {"version": approval.version, "by": approval.by,
                                           "on": approval.on.isoformat(), "items": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))


def changed_since_approval(project: Project, catalog: Catalog, leaflet: Leaflet) -> list[Change] | None:
    """The items that changed since the leaflet's last approval in its language; None when not on record."""
    before = leaflet.definition.approvals.get(leaflet.lang)
    then = approved_wording(project, leaflet.job, before.content) if before else None
    return None if then is None else field_changes(catalog, then, item_texts(leaflet))


def find_leaflet(catalog: Catalog, code: str) -> tuple[TreatmentEntry, int, model.LeafletDefinition]:
    for entry in catalog.treatments.values():
        for index, definition in enumerate(entry.facts.leaflets):
            if definition.code == code:
                return entry, index, definition
    codes = sorted(d.code for e in catalog.treatments.values() for d in e.facts.leaflets)
    raise HandoutError([f"there is no leaflet {code}; the codes are {', '.join(codes)}"])


def sign_offs(project: Project, code: str, lang: str | None = None, today: dt.date | None = None) -> list[SignOff]:
    """The sheet for each language of leaflet ``code`` (or ``lang`` alone), with what stops its approval."""
    catalog = load_catalog(project)
    entry, _, definition = find_leaflet(catalog, code)
    mine = [job for job in jobs(catalog, large_print=False) if (job.treatment, job.kind) == (entry.id, definition.kind)]
    languages = sorted({job.lang for job in mine})
    if lang is not None and lang not in languages:
        raise HandoutError([f"--lang: {code} is not offered in {lang}; it is offered in {', '.join(languages)}"])
    sheets = []
    for language in [lang] if lang else languages:
        job = next(j for j in mine if j.lang == language)
        leaflet = assemble(catalog, job, today or clinic_today())
        sheets.append(SignOff(code, entry.id, definition.kind, language, leaflet, definition.approvals.get(language),
                              changed_since_approval(project, catalog, leaflet),
                              _problems(catalog, leaflet)))
    return sheets


def _problems(catalog: Catalog, leaflet: Leaflet) -> list[str]:
    """What must be settled before a clinician can approve it: items still marked, translations awaiting review."""
    found = [f"{display_path(catalog.items[key].where.path)}:{catalog.items[key].where.line}: {key.item} is still "
             "marked needs_approval: true (delete that line once this wording is approved)"
             for key, value in leaflet.printed.items() if getattr(value, "needs_approval", False)]
    found += [f"{display_path(catalog.items[key].where.path)}:{catalog.items[key].where.line}: {key.item} awaits "
              "a translator's review (careleaf translations)" for key in leaflet.stale]
    return found


def new_version(definition: model.LeafletDefinition, sheets: list[SignOff]) -> int:
    """The version the approval is for: one higher when approved wording changed and the version was not raised."""
    changed = [s.before.version for s in sheets if s.wording_changed]
    return definition.version + 1 if changed and definition.version <= max(changed) else definition.version


def approve(project: Project, code: str, *, by: str, lang: str | None = None,
            today: dt.date | None = None) -> tuple[list[SignOff], int]:
    """Approve leaflet ``code`` (in ``lang``, else in every language it is offered in) as it prints now.

    Returns the sheets and the version approved. Raises HandoutError, writing nothing, when something still
    awaits approval or a translator, or when ``by`` is empty."""
    by = " ".join(by.split())
    if not by:
        raise HandoutError(["--by: give the approving clinician's name, for example --by \"Dr A. Example\""])
    today = today or clinic_today()
    sheets = sign_offs(project, code, lang, today)
    problems = [problem for sheet in sheets for problem in sheet.problems]
    if problems:
        raise HandoutError([f"{code} cannot be approved yet: {p}" for p in problems])
    catalog = load_catalog(project)
    entry, index, definition = find_leaflet(catalog, code)
    version = new_version(definition, sheets)
    approvals = dict(definition.approvals)
    for sheet in sheets:
        approvals[sheet.lang] = model.Approval(by, today, version, sheet.leaflet.approval_fingerprint)
    path = entry.facts_doc.path
    before = read_own(path, limit=MAX_FILE_BYTES).decode("utf-8")   # read and checked as the catalog was
    write_atomically(path, edit_definition(before, entry, index, version, approvals).encode("utf-8"))
    try:
        check_written(project, code, [sheet.lang for sheet in sheets])
    except Exception:
        write_atomically(path, before.encode("utf-8"))     # never leave a half-made approval behind
        raise
    for sheet in sheets:
        _write_record(approved_record(project, sheet.treatment, sheet.kind, sheet.lang), sheet.leaflet,
                      approvals[sheet.lang])
    return sheets, version


def check_written(project: Project, code: str, languages: list[str]) -> None:
    catalog = load_catalog(project)
    entry, _, definition = find_leaflet(catalog, code)
    for job in jobs(catalog, large_print=False):
        if (job.treatment, job.kind) == (entry.id, definition.kind) and job.lang in languages:
            reason = assemble(catalog, job, clinic_today()).not_approved
            if reason:
                raise HandoutError([f"{code} ({job.lang}): the approval could not be written: {reason}"])


# --- editing treatment.yaml in place ---------------------------------------------------------

def edit_definition(text: str, entry: TreatmentEntry, index: int, version: int,
                    approvals: dict[str, model.Approval]) -> str:
    """``text`` with the leaflet's version and its approvals block replaced; every other line as it was."""
    doc = entry.facts_doc
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    here = ("leaflets", index)
    line, column = doc.value_at[(*here, "version")]
    old = lines[line - 1]
    lines[line - 1] = old[:column - 1] + re.sub(r"^(['\"]?)\d+\1", str(version), old[column - 1:], count=1)
    indent = " " * (doc.key_at[(*here, "kind")][1] - 1)
    block = [f"{indent}approvals:{newline}"] + [f"{indent}  {lang}: {_flow(approval)}{newline}"
                                                 for lang, approval in sorted(approvals.items())]
    # Edited from the bottom of the file up, so the lines found by the loader stay where they were.
    edits = [(line, line, block)]          # just after the version line, unless there is a block already
    if (*here, "approvals") in doc.key_at:
        start = doc.key_at[(*here, "approvals")][0] - 1
        edits = [(start, _block_end(lines, start), block)]
    # The approval before approvals were bound to wording is replaced by this one: one record of who approved.
    edits += [(doc.key_at[(*here, name)][0] - 1, doc.key_at[(*here, name)][0], [])
              for name in ("approved_by", "approved_on") if (*here, name) in doc.key_at]
    for start, end, new in sorted(edits, key=lambda e: e[:2], reverse=True):
        lines[start:end] = new
    return "".join(lines)


def _block_end(lines: list[str], start: int) -> int:
    """The line after a key's block: the first line below it indented no deeper than the key."""
    depth = len(lines[start]) - len(lines[start].lstrip(" "))
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > depth):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():     # blank lines after it stay where they were
        end -= 1
    return end


def _flow(approval: model.Approval) -> str:
    return (f"{{by: {json.dumps(approval.by, ensure_ascii=False)}, on: {approval.on.isoformat()}, "
            f"version: {approval.version}, content: {approval.content}}}")


# --- the sheet, as the clinician reads it ---------------------------------------------------

def sheet_text(sheet: SignOff, version: int | None = None) -> str:
    head = f"{sheet.code} ({sheet.treatment} {sheet.kind}), in {sheet.lang}"
    lines = [head, "=" * len(head)]
    if sheet.before is None:
        lines.append("Not approved before: the whole leaflet, as it prints now, is for sign-off "
                     "(build it, or preview it at the front desk, to read it).")
    else:
        lines.append(f"Last approved: version {sheet.before.version}, by {sheet.before.by} on "
                     f"{sheet.before.on.isoformat()}.")
        if sheet.unchanged:
            lines.append("Nothing it prints has changed since.")
        elif sheet.changes is None:
            lines.append("Its wording has changed since, but the approved wording is not on record: read the "
                         "whole leaflet.")
        else:
            lines.append("Changed since then:")
            lines += [_changed(change) for change in sheet.changes]
    for problem in sheet.problems:
        lines.append(f"Cannot be approved yet: {problem}")
    if version is not None:
        lines.append(f"Approved as version {version}.")
    return "\n".join(lines)


def _changed(change: Change) -> str:
    """One changed item, word by word, as the `changes` sheet shows it (without the leaflets it reaches: this one)."""
    return "\n".join(change_text(change).split("\n")[:-1])
