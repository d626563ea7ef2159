"""`generate.py changes REV`: the sheet a clinician signs before new PDFs go out.

It compares the wording and facts now with those at a git revision (the one the
PDFs in use were built from) and lists:

* every item whose wording or facts changed, word by word, in git's
  ``[-old-]{+new+}`` style: questions and answers, leaflet titles and intros,
  the words of timeline steps, side effects, contraindications and aftercare
  steps, the urgent-help box, and the facts in ``treatment.yaml`` (a timeline
  figure, a frequency, which sections a leaflet holds);
* the leaflets and PDFs each change reaches, worked out the way the build puts
  a leaflet together, so a change to English wording reaches English PDFs only
  (and other languages only where they fall back to English);
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
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import model
from .assemble import Job, jobs
from .build import Project, check as check_inputs
from .catalog import Catalog
from .errors import RevisionError, display_path
from .load import Document, LoadError, load
from .schema import Duration, read
from .translation import items as wording_items

FACT_GROUPS = ("timeline", "side_effects", "contraindications", "aftercare_checklist")

# Built-in blocks and the group of items each prints (see assemble.py).
BLOCK_GROUPS = {"timeline": "timeline", "review-visit": "timeline", "side-effects": "side_effects",
                "contraindications": "contraindications", "aftercare-checklist": "aftercare_checklist"}

# Not wording: whether something still awaits approval, the approval record itself, the version
# (compared separately) and the evidence kept on record.
NOT_WORDING = {"id", "kind", "needs_approval", "version", "approved_by", "approved_on", "review_by", "sources"}

# Fields that are lists of short lines, shown with their neighbours.
LISTS = ("contents", "symptoms")

Key = tuple[str, str, str]   # (file inside leaflets/, group, name): ("shared/en.yaml", "sections", "is-it-a-poison")



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

    file: str
    line: int
    item: str                       # "sections/will-my-face-swell", "timeline/effect-starts", "name"
    status: str                     # "changed", "added" or "removed"
    fields: list[FieldChange]
    key: Key
    reaches: dict[tuple[str, str], set[str]] = field(default_factory=dict)   # (code, kind) → languages

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

    @property
    def needs_bump(self) -> bool:
        return self.version_then is not None and self.version_then >= self.version

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "treatment": self.treatment, "kind": self.kind, "version": self.version,
                "version_then": self.version_then, "needs_version_bump": self.needs_bump, "pdfs": self.pdfs}


@dataclass
class Comparison:
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


def compare(project: Project, revision: str, out: Path = Path("out")) -> Comparison:
    """What changed since ``revision``. Raises InputError (content now invalid) or RevisionError."""
    catalog = check_inputs(project)
    git = _Git(project.root)
    commit = git.commit(revision)
    notes: list[str] = []
    then = _content_at(git, commit, project, revision, notes)
    now, docs = _content_now(catalog)
    changes = _changes(then, now, docs, project.content)
    reached = _reach(catalog, changes, then, out)
    return Comparison(revision, commit[:12], changes, reached, notes)


# --- reading the content then and now --------------------------------------------------

class _Git:
    """git, run in the project folder; every failure becomes a plain RevisionError."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args: str) -> bytes:
        try:
            done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, timeout=60)
        except FileNotFoundError:
            raise RevisionError("git is not installed, so there is no earlier version to compare with") from None
        if done.returncode != 0:
            raise RevisionError(done.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
        return done.stdout

    def commit(self, revision: str) -> str:
        try:
            self.run("rev-parse", "--show-toplevel")
        except RevisionError:
            raise RevisionError(f"{self.root} is not in a git repository, so there is no earlier version "
                                "of the wording to compare with") from None
        if revision.startswith("-"):
            raise RevisionError(f"'{revision}' is not a revision; give a commit, tag or branch, for example HEAD~1")
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
        except RevisionError:
            raise RevisionError(f"git does not know the revision '{revision}'; give a commit, tag or branch, "
                                "for example HEAD~1 (see 'git log --oneline')") from None

    def files(self, commit: str, folder: str) -> list[str]:
        listed = self.run("ls-tree", "-r", "-z", "--name-only", commit, "--", folder)
        return [name for name in listed.decode("utf-8").split("\0") if name]

    def show(self, commit: str, path: str) -> bytes:
        return self.run("show", f"{commit}:./{path}")


def _model_of(relative: PurePosixPath) -> type | None:
    """Which model a content file holds, by where it is (brands are not wording and are left out)."""
    parts = relative.parts
    if len(parts) == 2 and parts[0] == "shared" and re.fullmatch(r"[a-z]{2}\.yaml", parts[1]):
        return model.SharedWording
    if len(parts) == 3 and parts[0] == "treatments":
        if parts[2] == "treatment.yaml":
            return model.Treatment
        if re.fullmatch(r"[a-z]{2}\.yaml", parts[2]):
            return model.TreatmentWording
    return None


def _content_at(git: _Git, commit: str, project: Project, revision: str, notes: list[str]) -> dict[str, Any]:
    """Every wording and facts file at the revision, read with the same loader and schema as now."""
    folder = project.content.relative_to(project.root).as_posix()
    found = {}
    with tempfile.TemporaryDirectory(prefix="careleaf-changes-") as scratch:
        for name in git.files(commit, folder):
            relative = PurePosixPath(name).relative_to(folder)
            cls = _model_of(relative)
            if cls is None:
                continue
            value = _read_old(Path(scratch) / relative, git.show(commit, name), cls)
            if value is None:
                notes.append(f"{folder}/{relative} could not be read at {revision} (it was not valid then), "
                             "so all of its wording is listed as new")
            else:
                found[str(relative)] = value
    return found


def _read_old(path: Path, data: bytes, cls: type) -> Any:
    # load.py reads files, not text, so the old version is written to a scratch file first.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        value, problems = read(load(path), cls)
    except LoadError:
        return None
    return None if problems else value


def _content_now(catalog: Catalog) -> tuple[dict[str, Any], dict[str, Document]]:
    content: dict[str, Any] = {}
    docs: dict[str, Document] = {}
    for entry in catalog.treatments.values():
        content[f"treatments/{entry.id}/treatment.yaml"] = entry.facts
        docs[f"treatments/{entry.id}/treatment.yaml"] = entry.facts_doc
        for lang, wording in entry.wording.items():
            content[f"treatments/{entry.id}/{lang}.yaml"] = wording
            docs[f"treatments/{entry.id}/{lang}.yaml"] = entry.wording_docs[lang]
    for lang, (shared, doc) in catalog.shared.items():
        content[f"shared/{lang}.yaml"] = shared
        docs[f"shared/{lang}.yaml"] = doc
    return content, docs


# --- what changed ------------------------------------------------------------------------

def _items(value: Any) -> dict[tuple[str, str], Any]:
    """A file's items by (group, name): each fact, leaflet definition or piece of wording."""
    if isinstance(value, model.Treatment):
        found = {(group, item.id): item for group in FACT_GROUPS for item in getattr(value, group)}
        found.update({("leaflets", d.kind): d for d in value.leaflets})
        return found
    return {(group, name): item for group, name, item in wording_items(value)}


def _fields(value: Any) -> dict[str, str]:
    """An item as text, field by field, the way an editor wrote it."""
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
    return str(value).strip()


def _number(value: float) -> str:
    return f"{value:g}"


def _same(old: str, new: str) -> bool:
    """Equal as printed: re-wrapping a paragraph changes no wording."""
    return old.split() == new.split()


def _changes(then: dict[str, Any], now: dict[str, Any], docs: dict[str, Document], content: Path) -> list[Change]:
    found = []
    for file in sorted(set(then) | set(now)):
        old_items = _items(then[file]) if file in then else {}
        new_items = _items(now[file]) if file in now else {}
        for key in sorted(set(old_items) | set(new_items)):
            change = _compare_item(file, key, old_items.get(key), new_items.get(key))
            if change:
                change.file, change.line = _place(file, key, now.get(file), docs.get(file), content)
                found.append(change)
    return sorted(found, key=lambda c: (c.file, c.line, c.item))   # in the order an editor meets them


def _compare_item(file: str, key: tuple[str, str], old: Any, new: Any) -> Change | None:
    old_fields = _fields(old) if old is not None else {}
    new_fields = _fields(new) if new is not None else {}
    status = "added" if old is None else "removed" if new is None else "changed"
    fields = [FieldChange(name, old_fields.get(name, ""), new_fields.get(name, ""))
              for name in dict.fromkeys([*old_fields, *new_fields])
              if not _same(old_fields.get(name, ""), new_fields.get(name, ""))]
    if not fields:
        return None
    group, name = key
    item = group if group == "name" else f"{group}/{name}"
    return Change("", 0, item, status, fields, (file, group, name))


def _place(file: str, key: tuple[str, str], value: Any, doc: Document | None, content: Path) -> tuple[str, int]:
    """The file and line of an item now (for a removed item, of its group)."""
    if doc is None:
        return display_path(content / file), 1
    group, name = key
    if isinstance(value, model.Treatment):
        listed = value.leaflets if group == "leaflets" else getattr(value, group)
        ids = [d.kind if group == "leaflets" else d.id for d in listed]
        where = (group, ids.index(name)) if name in ids else (group,)
        return display_path(doc.path), doc.problem(where, "").line
    where = {"name": ("name",), "urgent_help": ("urgent_help",)}.get(group, (group, name))
    return display_path(doc.path), doc.problem(where, "", at_key=True).line


# --- which leaflets and PDFs a change reaches ------------------------------------------------

def printed(catalog: Catalog, job: Job) -> set[Key]:
    """The items a leaflet prints, as assemble.py chooses them ('*': every item of that group)."""
    entry = catalog.treatments[job.treatment]
    definition = entry.leaflet(job.kind)
    facts, own = f"treatments/{entry.id}/treatment.yaml", f"treatments/{entry.id}/{job.lang}.yaml"
    fallback = catalog.fallback(job.lang)
    keys = {(own, "name", "name"), (own, "leaflets", job.kind), (facts, "leaflets", job.kind)}
    for reference in definition.contents:
        if reference in BLOCK_GROUPS:
            keys |= {(facts, BLOCK_GROUPS[reference], "*"), (own, BLOCK_GROUPS[reference], "*")}
        elif reference == "urgent-help":
            keys.add((f"shared/{job.lang}.yaml", "urgent_help", "*"))
        elif reference.startswith("shared/"):
            name = reference.removeprefix("shared/")
            lang = job.lang if name in catalog.shared[job.lang][0].sections else fallback
            keys.add((f"shared/{lang}.yaml", "sections", name))
        elif reference not in model.COMPONENTS:
            lang = job.lang if reference in entry.wording[job.lang].sections else fallback
            keys.add((f"treatments/{entry.id}/{lang}.yaml", "sections", reference))
    return keys


def _reaches(change: Change, keys: set[Key]) -> bool:
    file, group, _ = change.key
    return change.key in keys or (file, group, "*") in keys


def _reach(catalog: Catalog, changes: list[Change], then: dict[str, Any], out: Path) -> list[Reached]:
    reached: dict[tuple[str, str], Reached] = {}
    for job in jobs(catalog, large_print=True):
        keys = printed(catalog, job)
        hits = [c for c in changes if _reaches(c, keys)]
        if not hits:
            continue
        leaflet = reached.get((job.treatment, job.kind)) or _reached(catalog, job, then)
        reached[(job.treatment, job.kind)] = leaflet
        leaflet.pdfs.append((out / job.output).as_posix())
        for change in hits:
            change.reaches.setdefault((leaflet.code, job.kind), set()).add(job.lang)
    return sorted(reached.values(), key=lambda r: r.code)


def _reached(catalog: Catalog, job: Job, then: dict[str, Any]) -> Reached:
    entry = catalog.treatments[job.treatment]
    index = next(i for i, d in enumerate(entry.facts.leaflets) if d.kind == job.kind)
    definition = entry.facts.leaflets[index]
    old_facts = then.get(f"treatments/{entry.id}/treatment.yaml")
    old = next((d for d in old_facts.leaflets if d.kind == job.kind), None) if old_facts else None
    place = entry.facts_doc.problem(("leaflets", index, "version"), "")
    return Reached(definition.code, entry.id, job.kind, definition.version, old.version if old else None,
                   f"{display_path(place.path)}:{place.line}")


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
    parts = [head + ":", *(_change_text(c) for c in result.changes)]
    if result.leaflets:
        parts.append("Leaflets these changes reach, and their PDFs:\n" + "\n".join(_reached_text(r)
                                                                               for r in result.leaflets))
    parts += result.notes
    parts.append(summary(result))
    parts.append("Checked and approved by: ______________________________  Date: ______________")
    return "\n\n".join(parts)


def _change_text(change: Change) -> str:
    lines = [f"{change.file}:{change.line}: {change.item} ({change.status})"]
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
