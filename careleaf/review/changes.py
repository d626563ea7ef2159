"""`careleaf changes REV`: the sheet a clinician signs before new PDFs go out.

It compares the project now with the project at a git revision (the one the
PDFs in use were built from) and lists:

* every item whose wording or facts changed, word by word, in git's
  ``[-old-]{+new+}`` style: questions and answers, leaflet titles and intros,
  the words of timeline steps, side effects, contraindications and aftercare
  steps, the urgent-help box, the facts in ``treatment.yaml`` (a timeline
  figure, a frequency, which sections a leaflet holds), the brand's details
  (an urgent number, an address) and the template words ("Common: may affect up
  to 1 in 10 people");
* translations that fell out of date because their English changed: their
  leaflets will carry the "awaiting translation review" note;
* the leaflets and PDFs each change reaches. A change reaches a leaflet when
  the leaflet prints the item (``Leaflet.printed``, the same record the build
  fingerprints), so a change to English wording reaches English PDFs only;
* the leaflets among those whose version number was not raised: the code and
  version printed on a leaflet are what a consent form refers to, so changed
  wording under an old version would make the form point at the wrong text.

Approval flags, approval and review dates and sources are not wording, so they
are left out: approving a leaflet is not a change a clinician signs for twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careleaf.content.catalog import Catalog, load_catalog, stale_keys
from careleaf.content.governance import today as current_date
from careleaf.content.items import Key, file_items, model_of
from careleaf.content.fields import Duration
from careleaf.content.validate import origin
from careleaf.errors import display_path
from careleaf.leaflet.assemble import Job, assemble, jobs
from careleaf.project import OUT, Project
from careleaf.review.git import Git, files_at

# Not wording: whether something still awaits approval, the approval record itself, the version
# (compared separately) and the evidence kept on record.
NOT_WORDING = {"id", "kind", "needs_approval", "version", "approved_by", "approved_on", "approvals", "review_by", "sources"}

# Fields that are lists of short lines, shown with their neighbours.
LISTS = ("contents", "symptoms", "address")

STALE = "awaiting translation review"   # the status of a translation whose English changed


@dataclass(frozen=True)
class FieldChange:
    """One changed field of an item, as old text, new text and a word-by-word diff."""

    field: str        # "answer", "when", … ("" for an item that is a single piece of text)
    old: str
    new: str

    @property
    def diff(self) -> str:
        # In a list of names (a leaflet's contents) the neighbours show where an item went.
        return word_diff(self.old, self.new, around=1 if self.field in LISTS else 0)


@dataclass
class Change:
    """An item whose wording or facts changed, and the leaflets it reaches."""

    key: Key
    file: str                       # as the editor finds it, relative to the working folder
    line: int
    status: str                     # "changed", "added", "removed" or STALE
    fields: list[FieldChange]
    reaches: dict[tuple[str, str], set[str]] = field(default_factory=dict)   # (code, kind) → languages

    @property
    def item(self) -> str:
        return self.key.item

    @property
    def leaflets(self) -> list[dict[str, Any]]:
        return [{"code": code, "kind": kind, "languages": sorted(langs)}
                for (code, kind), langs in sorted(self.reaches.items())]

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "item": self.item, "status": self.status,
                "fields": [{"field": f.field, "old": f.old, "new": f.new, "diff": f.diff} for f in self.fields],
                "leaflets": self.leaflets}


@dataclass
class Reached:
    """A leaflet some change reaches, its version then and now, and its PDFs."""

    code: str
    treatment: str
    kind: str
    version: int
    version_then: int | None        # None: the leaflet did not exist at the revision
    version_at: str                 # file:line of its version, to raise it
    pdfs: list[str] = field(default_factory=list)
    wording_changed: bool = False   # not only a translation falling out of date

    @property
    def needs_bump(self) -> bool:
        return self.wording_changed and self.version_then is not None and self.version_then >= self.version

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "treatment": self.treatment, "kind": self.kind, "version": self.version,
                "version_then": self.version_then, "needs_version_bump": self.needs_bump, "pdfs": self.pdfs}


@dataclass
class Comparison:
    """The sheet: what changed since a revision, the leaflets it reaches, and notes on files unreadable then."""

    revision: str
    commit: str
    changes: list[Change]
    leaflets: list[Reached]
    notes: list[str]

    @property
    def needs_bump(self) -> list[Reached]:
        return [r for r in self.leaflets if r.needs_bump]

    def as_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "commit": self.commit,
                "changes": [c.as_json() for c in self.changes],
                "leaflets": [r.as_json() for r in self.leaflets], "notes": self.notes}


def compare(project: Project, revision: str, out: Path = Path(OUT), today: dt.date | None = None) -> Comparison:
    """What changed since ``revision``. Raises InputError (content now invalid) or RevisionError.

    ``out`` is where the PDFs are, as the sheet names them (by default out/, relative to where it is run)."""
    catalog = load_catalog(project)
    git = Git(project.root)
    commit = git.commit(revision)
    notes: list[str] = []
    then = files_at(git, commit, catalog, revision, notes)
    then_items = {key: item.value for file, (value, doc) in then.items()
                  for key, item in file_items(file, value, doc).items()}
    changes = _changes(catalog, then_items)
    changes += _newly_stale(catalog, stale_keys({file: value for file, (value, _) in then.items()}))
    changes.sort(key=lambda c: (c.file, c.line, c.item))   # in the order an editor meets them
    reached = _reach(catalog, changes, then, out, today or current_date())
    return Comparison(revision, commit[:12], changes, reached, notes)


# --- what changed ------------------------------------------------------------------------

def item_fields(value: Any) -> dict[str, str]:
    """An item as text, field by field, the way an editor wrote it (what the sign-off sheets compare)."""
    if not dataclasses.is_dataclass(value):
        return {"": as_text(value)}
    return {f.name: as_text(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in NOT_WORDING}


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        span = _number(value.low) if not value.is_range else f"{_number(value.low)}-{_number(value.high)}"
        return f"{span} {value.unit}"
    if isinstance(value, list):
        return "\n".join(f"- {as_text(v)}" for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):      # a brand's colours
        return ", ".join(f"{name}: {text}" for name, text in item_fields(value).items())
    return str(value).strip()


def _number(value: float) -> str:
    return f"{value:g}"


def _same(old: str, new: str) -> bool:
    """Equal as printed: re-wrapping a paragraph changes no wording."""
    return old.split() == new.split()


def _changes(catalog: Catalog, then: dict[Key, Any]) -> list[Change]:
    now = {key: item.value for key, item in catalog.items.items() if model_of(key.file)}
    return field_changes(catalog, {key: item_fields(value) for key, value in then.items()},
                         {key: item_fields(value) for key, value in now.items()})


def field_changes(catalog: Catalog, then: dict[Key, dict[str, str]], now: dict[Key, dict[str, str]]) -> list[Change]:
    """Items whose fields (``item_fields``) differ between two records, word by word, placed in the catalog."""
    found = []
    for key in sorted(set(then) | set(now)):
        old_fields, new_fields = then.get(key, {}), now.get(key, {})
        status = "added" if key not in then else "removed" if key not in now else "changed"
        fields = [FieldChange(name, old_fields.get(name, ""), new_fields.get(name, ""))
                  for name in dict.fromkeys([*old_fields, *new_fields])
                  if not _same(old_fields.get(name, ""), new_fields.get(name, ""))]
        if fields:
            found.append(Change(key, *_place(catalog, key), status, fields))
    return found


def _newly_stale(catalog: Catalog, stale_then: set[Key]) -> list[Change]:
    """Translations that were up to date at the revision and are not now: their English changed."""
    return [Change(key, *_place(catalog, key), STALE, []) for key in sorted(catalog.stale - stale_then)]


def _place(catalog: Catalog, key: Key) -> tuple[str, int]:
    """The file and line of an item now (for one no longer there, of its group)."""
    if key in catalog.items:
        where = catalog.items[key].where
        return display_path(where.path), where.line
    doc = catalog.documents.get(key.file)
    if doc is None:
        return display_path(catalog.project.root / key.file), 1
    return display_path(doc.path), doc.problem((key.group,), "", at_key=True).line


# --- which leaflets and PDFs a change reaches ------------------------------------------------

def _reaches(change: Change, printed: dict[Key, Any]) -> bool:
    """A leaflet prints the item; an item no longer there reached the leaflets that print its group."""
    if change.status == "removed":
        return any((key.file, key.group) == (change.key.file, change.key.group) for key in printed)
    return change.key in printed


def _reach(catalog: Catalog, changes: list[Change], then: dict[str, tuple], out: Path,
           today: dt.date) -> list[Reached]:
    reached: dict[tuple[str, str], Reached] = {}
    for job in jobs(catalog, large_print=True):
        printed = assemble(catalog, job, today).printed
        hits = [c for c in changes if _reaches(c, printed)]
        if not hits:
            continue
        leaflet = reached.get((job.treatment, job.kind)) or _reached(catalog, job, then)
        reached[(job.treatment, job.kind)] = leaflet
        leaflet.pdfs.append((out / job.output).as_posix())
        leaflet.wording_changed |= any(c.status != STALE for c in hits)
        for change in hits:
            change.reaches.setdefault((leaflet.code, job.kind), set()).add(job.lang)
    return sorted(reached.values(), key=lambda r: r.code)


def _reached(catalog: Catalog, job: Job, then: dict[str, tuple]) -> Reached:
    entry = catalog.treatments[job.treatment]
    definition = entry.leaflet(job.kind)
    old_facts = then.get(entry.facts_file, (None,))[0]
    old = next((d for d in old_facts.leaflets if d.kind == job.kind), None) if old_facts else None
    return Reached(definition.code, entry.id, job.kind, definition.version, old.version if old else None,
                   origin(definition).place("version"))


# --- word-by-word differences --------------------------------------------------------------

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str, *, context: bool = True, around: int = 0) -> str:
    """``old`` turned into ``new`` as git's --word-diff shows it: [-removed-]{+added+}.

    With ``context``, only the lines (paragraphs, list items) holding a change are
    kept, and ``around`` lines either side, with '…' where others were left out.
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    opcodes = _joined(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes(), a)
    segments = [[a[i1:i2], [] if op == "equal" else b[j1:j2], op == "equal"] for op, i1, i2, j1, j2 in opcodes]
    merged = []
    for removed, added, same in _whole_lines(segments):
        if same:
            merged.append("".join(removed))
        elif removed and added:
            merged.append(f"[-{''.join(removed)}-]{{+{''.join(added)}+}}")
        else:
            merged.append(_marked(removed or added, "[-", "-]") if removed else _marked(added, "{+", "+}"))
    text = "".join(merged)
    return _changed_lines(text, around) if context else text


def _marked(tokens: list[str], start: str, end: str) -> str:
    """A whole line added or removed is marked without its line break, so the marks stay on its line."""
    if len(tokens) > 1 and "\n" in tokens[-1]:
        return f"{start}{''.join(tokens[:-1])}{end}{tokens[-1]}"
    return f"{start}{''.join(tokens)}{end}"


def _whole_lines(segments: list[list]) -> list[list]:
    """A line added or removed is shown as that line, not as a change straddling two.

    difflib may mark a removed list item as '- [-b\\n- -]c': the same change slid
    along the text, where the tokens either side of it are equal, reads '[-- b\\n-]- c'.
    """
    for index, (removed, added, same) in enumerate(segments[1:-1], start=1):
        change = added if not removed else removed if not added else None
        before, after = segments[index - 1][0], segments[index + 1][0]
        if same or change is None or not any("\n" in token for token in change):
            continue
        while before and before[-1] == change[-1]:     # as far back as it goes…
            change.insert(0, before.pop())
            after.insert(0, change.pop())
        while after and change[0] == after[0] and before and "\n" not in before[-1]:   # …then on to a line start
            before.append(change.pop(0))
            change.append(after.pop(0))
    return segments


def _joined(opcodes: list[tuple], a: list[str]) -> list[tuple]:
    """Changes with only a space between them become one: '[-short time-]{+little while+}'
    reads better than '[-short-]{+little+} [-time-]{+while+}'."""
    joined: list[list] = []
    for op, i1, i2, j1, j2 in opcodes:
        space_between = op == "equal" and "".join(a[i1:i2]).isspace() and "\n" not in "".join(a[i1:i2])
        if joined and joined[-1][0] != "equal" and (op != "equal" or space_between):
            joined[-1][0], joined[-1][2], joined[-1][4] = "replace", i2, j2
        else:
            joined.append([op, i1, i2, j1, j2])
    return [tuple(item) for item in joined]


def _changed_lines(text: str, around: int = 0) -> str:
    """The lines holding a change (and ``around`` lines either side), '…' standing for the rest."""
    lines = text.split("\n")
    changed, open_marks = [], 0
    for line in lines:
        marks = line.count("[-") + line.count("{+")
        changed.append(bool(marks or open_marks))
        open_marks += marks - line.count("-]") - line.count("+}")
    near = [any(changed[max(0, i - around):i + around + 1]) for i in range(len(lines))]
    kept: list[str] = []
    for line, keep in zip(lines, near):
        if keep:
            kept.append(line)
        elif line.strip() and kept[-1:] != ["…"]:
            kept.append("…")
    return "\n".join(kept)


# --- the sheet, as people read it ---------------------------------------------------------

def text(result: Comparison) -> str:
    head = f"Wording and facts changed since {result.revision} (commit {result.commit[:8]})"
    if not result.changes:
        return "\n".join([f"No wording or facts changed since {result.revision} (commit {result.commit[:8]}).",
                          *result.notes])
    parts = [head + ":", *(change_text(c) for c in result.changes)]
    if result.leaflets:
        parts.append("Leaflets these changes reach, and their PDFs:\n" + "\n".join(_reached_text(r)
                                                                               for r in result.leaflets))
    parts += result.notes
    parts.append(summary(result))
    parts.append("Checked and approved by: ______________________________  Date: ______________")
    return "\n\n".join(parts)


def change_text(change: Change) -> str:
    lines = [f"{change.file}:{change.line}: {change.item} ({change.status})"]
    if change.status == STALE:
        lines.append("    the English wording changed after this was translated")
    for item in change.fields:
        diff = item.diff.split("\n")
        label = f"{item.field}: " if item.field else ""
        lines.append(f"    {label}{diff[0]}")
        lines += [f"    {' ' * len(label)}{line}" for line in diff[1:]]
    reach = ", ".join(f"{r['code']} {r['kind']} ({', '.join(r['languages'])})" for r in change.leaflets)
    lines.append(f"    reaches: {reach or 'no leaflet prints this now'}")
    return "\n".join(lines)


def _reached_text(leaflet: Reached) -> str:
    if leaflet.version_then is None:
        version = f"version {leaflet.version} (new leaflet)"
    elif leaflet.needs_bump:
        version = (f"version {leaflet.version}, was {leaflet.version_then}: NEEDS A VERSION BUMP - raise "
                   f"'version' at {leaflet.version_at}")
    else:
        version = f"version {leaflet.version}, was {leaflet.version_then}"
    head = f"  {leaflet.code} ({leaflet.treatment} {leaflet.kind}): {version}"
    return "\n".join([head, *(f"      {pdf}" for pdf in leaflet.pdfs)])


def summary(result: Comparison) -> str:
    files = len({c.file for c in result.changes})
    pdfs = sum(len(r.pdfs) for r in result.leaflets)
    line = (f"changes: {_count(len(result.changes), 'item')} changed in {_count(files, 'file')}, reaching "
            f"{_count(len(result.leaflets), 'leaflet')} ({_count(pdfs, 'PDF')})")
    late = result.needs_bump
    if not result.leaflets:
        return line + "."
    if late:
        return line + f"; {_count(len(late), 'leaflet')} need{'s' if len(late) == 1 else ''} a version bump: " \
            + ", ".join(r.code for r in late) + "."
    return line + "; every changed leaflet has a new version number."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"
