"""File stamps: tell, without reading the catalog, that nothing a build depends on has changed.

A build that finishes with every leaflet built records, in ``out/.careleaf-stamps.json``, a stamp
of every file it could have read (the project's leaflets/, templates/ and styles/, careleaf's own
code and theme, WeasyPrint's version file): its size, modification and change times, inode and
SHA-256, taken *before* the build read anything. The next build compares stamps first; when
all match, it has nothing to do and reads no YAML at all.

The rule, chosen so that a stamp never hides an edit:

* a file whose size, mtime, ctime or inode differs is read and its SHA-256 compared: the same
  bytes (a ``touch``, a checkout that rewrote the file) still count as unchanged;
* a file changed less than ``RACY_SECONDS`` before its stamp was taken is always read and
  compared, because a second edit within the file system's clock tick could leave all its
  times as they were. The change time (ctime) is used for this: no program can set it back, so
  an edit that restores the old mtime (``touch -d``, ``cp -p``, an editor keeping times) still
  moves it. (This compares the file system's clock with this machine's: on a network share whose
  clock runs more than RACY_SECONDS behind, build with a full check.);
* any file added or removed anywhere in those folders, different build options, a leaflet
  reaching its review date, or a manifest that no longer matches the PDFs on disk means a full
  build (read and check everything; only changed leaflets are rendered);
* stamps are only written by a build that built every leaflet it wanted, and name the manifest
  they go with: after a build that failed or was killed part-way, either the manifest or the
  input files no longer match them, and the next build checks everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from careleaf.build.output import write_atomically
from careleaf.project import THEME, Refused, hash_regular, own_folders

STAMPS = ".careleaf-stamps.json"
FORMAT = 1
RACY_SECONDS = 2.0      # coarser than any local file system's clock tick (FAT's is 2 s)
PACKAGE = Path(__file__).resolve().parents[1]     # careleaf itself: its code and its theme


@dataclass(frozen=True)
class Stamp:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str

    def same_file(self, stat: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


@dataclass(frozen=True)
class Inputs:
    """Every file a build could read, stamped at one moment."""

    taken_ns: int
    files: dict[str, Stamp]


def input_files(project) -> list[Path]:
    """Every file a build of ``project`` could read: the project's own folders and careleaf with its theme."""
    folders = (*project.folders, PACKAGE)
    found = [path for folder in folders if folder.is_dir()
             for path in folder.rglob("*") if "__pycache__" not in path.parts and path.is_file()]
    renderer = importlib.util.find_spec("weasyprint")    # its version file, as the tools fingerprint reads it
    if renderer and renderer.origin:
        found.append(Path(renderer.origin))
    return sorted(found, key=str)


def stamp_inputs(project) -> Inputs:
    """Stamp every input file now, before the build reads any of them."""
    taken = time.time_ns()
    return Inputs(taken, {str(path): _stamp(path) for path in input_files(project)})


def _stamp(path: Path) -> Stamp:
    stat = path.stat()              # before reading: an edit after this moment moves the ctime
    return Stamp(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, _sha256(path))


def _sha256(path: Path) -> str:
    """The file's SHA-256, read as any project file is (careleaf.project.read_regular): a link out of the
    project, a pipe or a device is never read here; it gets a stamp of its own, and the build's checks,
    which run next, report it."""
    digest = hashlib.sha256()
    try:
        hash_regular(path, within=(*own_folders(path), PACKAGE), digest=digest)
    except Refused as refused:
        return f"refused: {refused.reason}"
    return digest.hexdigest()


@dataclass(frozen=True)
class Record:
    """What the last complete build left: its inputs, options and outcome."""

    inputs: Inputs
    options: dict
    manifest: str                    # digest of the manifest it wrote
    overdue_from: str | None         # the first day a leaflet it built becomes overdue
    wanted: list[str]                # the PDFs it was asked for, all built or unchanged
    drafts: list[str]
    stale: list[str]


def save(out: Path, record: Record) -> None:
    data = {"format": FORMAT, "taken_ns": record.inputs.taken_ns, "options": record.options,
            "manifest": record.manifest, "overdue_from": record.overdue_from, "wanted": record.wanted, "drafts": record.drafts,
            "stale": record.stale,
            "files": {name: [s.size, s.mtime_ns, s.ctime_ns, s.inode, s.sha256]
                      for name, s in record.inputs.files.items()}}
    write_atomically(out / STAMPS, json.dumps(data, separators=(",", ":")).encode("utf-8"))


def load(out: Path) -> Record | None:
    """The last complete build's record, or None (none, unreadable, or of another format)."""
    try:
        data = json.loads((out / STAMPS).read_text("utf-8"))
        if data.get("format") != FORMAT:
            return None
        files = {name: Stamp(*values) for name, values in data["files"].items()}
        return Record(Inputs(data["taken_ns"], files), data["options"], data["manifest"], data["overdue_from"],
                      data["wanted"], data["drafts"], data["stale"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def manifest_digest(manifest: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(manifest.items())).encode("utf-8")).hexdigest()


def unchanged_since(record: Record, project) -> Inputs | None:
    """The inputs as they are now if every file is as ``record`` stamped it (see the module's rule), else None.

    When every stamp could be trusted, that is ``record.inputs`` itself; when some files had to be read,
    new stamps, taken now (save them, so that those files are trusted next time)."""
    paths = input_files(project)
    if [str(path) for path in paths] != sorted(record.inputs.files):
        return None
    taken = time.time_ns()
    trusted_before = record.inputs.taken_ns - int(RACY_SECONDS * 1e9)
    now: dict[str, Stamp] = {}
    read = False
    for path in paths:
        recorded = record.inputs.files[str(path)]
        try:
            stat = path.stat()
        except OSError:
            return None
        if recorded.same_file(stat) and recorded.ctime_ns < trusted_before:
            now[str(path)] = recorded
            continue
        current = _stamp(path)
        if current.sha256 != recorded.sha256:
            return None
        now[str(path)] = current
        read = True
    return Inputs(taken, now) if read else record.inputs


def files_version(project) -> str:
    """A short name for the files a leaflet is drawn from as they are now: the project's leaflets/, templates/
    and styles/, and careleaf's theme. Any file added, removed or saved gives a new one.

    Cheaper than a build's stamps (no file is read, only listed): long-lived processes (the web app and its
    render workers) take one for each page and each leaflet they make, and forget what they kept of the
    files when it changes (careleaf.build.caches).
    """
    found = []
    for folder in (*project.folders, THEME):
        for path in sorted(folder.rglob("*")):
            if path.name.startswith(".") or path.name.endswith("~") or "__pycache__" in path.parts:
                continue    # an editor's swap and backup files
            try:
                status = path.stat()
            except OSError:
                continue    # deleted since it was listed (an editor saving by renaming)
            if S_ISREG(status.st_mode):
                found.append((str(path), status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino))
    return hashlib.sha256(repr(found).encode("utf-8")).hexdigest()


def overdue_from(review_dates: list[dt.date | None]) -> str | None:
    """The first day on which one of these leaflets is past its review date (overdue: review_by < today)."""
    dates = [day for day in review_dates if day is not None]
    return (min(dates) + dt.timedelta(days=1)).isoformat() if dates else None


def still_current(record: Record, today: dt.date) -> bool:
    return record.overdue_from is None or today < dt.date.fromisoformat(record.overdue_from)
