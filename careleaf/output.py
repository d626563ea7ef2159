"""Stage 6: write results safely, and remember what was built from what.

* Every file is written to a temporary name in its folder and renamed into
  place, so a reader (or a crash) never sees half a PDF, and a failed render
  never touches the good PDF from an earlier build.
* The manifest records, for each PDF, the fingerprint of everything it was made
  from, so the next build can skip leaflets that did not change.
* A lock keeps two builds from writing the same output folder at once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import RenderError

MANIFEST = ".careleaf-manifest.json"
_UMASK = os.umask(0)
os.umask(_UMASK)
LOCK = ".careleaf.lock"


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step; on any failure the old file stays as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # mkstemp makes private files; leaflets are for sharing
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_manifest(out: Path) -> dict[str, str]:
    """Output path → fingerprint, for PDFs that exist; an unreadable manifest means "rebuild all"."""
    try:
        entries = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {name: value for name, value in entries.items()
            if isinstance(value, str) and (out / name).is_file()}


def write_manifest(out: Path, entries: dict[str, str]) -> None:
    text = json.dumps(dict(sorted(entries.items())), indent=1) + "\n"
    write_atomically(out / MANIFEST, text.encode("utf-8"))


def remove_quietly(path: Path) -> None:
    path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break


def clean_partials(out: Path) -> None:
    """Temporary files left by a build that was killed."""
    for partial in out.glob("**/.*.partial"):
        partial.unlink(missing_ok=True)


class Busy(RenderError):
    """Another build is writing to the same output folder."""


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder's lock for the length of a build."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise Busy(f"another build is writing to {out} right now; "
                           "wait for it to finish and try again") from None
            raise
        yield
