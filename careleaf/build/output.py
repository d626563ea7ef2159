"""Stage 6: write results safely, and remember what was built from what.

* Every file is written to a temporary name in its folder and renamed into
  place, so a reader (or a crash) never sees half a PDF, and a failed render
  never touches the good PDF from an earlier build.
* The manifest records, for each PDF, the fingerprint of everything it was made
  from, so the next build can skip leaflets that did not change.
* A lock keeps two builds from writing the same output folder at once.
* A folder that cannot be written (a full disk, a read-only share) is reported
  in plain words, naming the file, rather than as a system error.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from careleaf.errors import RenderError
from careleaf.project import Refused, read_regular

MANIFEST = ".careleaf-manifest.json"
_UMASK = os.umask(0)
os.umask(_UMASK)
LOCK = ".careleaf.lock"


class WriteError(RenderError):
    """The output folder cannot be written: the disk is full, it is read-only, or similar."""


# What each system error means to someone running a build.
_WHY = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk or folder is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EEXIST: "a file of that name is in the way of a folder",
    errno.ENOTDIR: "a file of that name is in the way of a folder",
    errno.EISDIR: "a folder of that name is in the way",
}


@contextmanager
def _plainly(path: Path) -> Iterator[None]:
    """Turn a system error while writing ``path`` into a message the person running the build can act on."""
    try:
        yield
    except OSError as error:
        why = _WHY.get(error.errno) or error.strerror or str(error)
        raise WriteError(f"cannot write to {path}: {why}. Fix that and build again; "
                         "the PDFs not yet rebuilt are as they were") from error


def write_atomically(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data`` in one step; on any failure the old file stays as it was.

    A ``private`` file (a patient's leaflet) is readable by its owner only."""
    with _plainly(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            try:
                if not private:   # mkstemp makes private files; the catalog's leaflets are for sharing
                    os.fchmod(handle, 0o666 & ~_UMASK)
                _write_all(handle, data)
                os.fsync(handle)  # the bytes are on disk before the name points at them
            finally:
                os.close(handle)
            os.replace(temporary, path)
        except BaseException:
            with suppress(OSError):  # on a read-only disk this fails too; the next build cleans up
                Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(path.parent)


def _write_all(handle: int, data: bytes) -> None:
    """os.write may write less than asked (a signal, a nearly full disk): carry on until all is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot sync a folder, and then it is done anyway."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(descriptor)


# --- previews (build --html) -------------------------------------------------------------------

PREVIEW_ASSETS = "_assets"                 # in the output folder, beside the brands' folders
# The stylesheets the renderer hands to WeasyPrint after the document's own <style> (careleaf.pdf.render's renderer).
PREVIEW_STYLESHEETS = {False: ("leaflet.css",), True: ("leaflet.css", "large-print.css")}
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def preview_html(html: str, name: Path, *, large_print: bool) -> str:
    """A leaflet's HTML as a browser opens it from ``out/<name>``: a <base> pointing at the assets
    copied into the output folder (publish_preview_assets), so the logo and fonts resolve, and
    links to the stylesheets the renderer gives WeasyPrint, after the document's own <style>, in
    the same order. Only the written preview changes; the HTML WeasyPrint renders does not."""
    opened, closed = _HEAD.search(html), html.find("</head>")
    if not opened or closed < opened.end():
        return html   # not a leaflet's page (a template copied into the project and changed); left as it is
    base = f'<base href="{"../" * (len(Path(name).parts) - 1)}{PREVIEW_ASSETS}/">'
    links = "".join(f'<link rel="stylesheet" href="{sheet}">\n' for sheet in PREVIEW_STYLESHEETS[large_print])
    return html[:opened.end()] + "\n" + base + html[opened.end():closed] + links + html[closed:]


def publish_preview_assets(out: Path, folders: tuple[Path, ...]) -> None:
    """Copy what the renderer reads (stylesheets, fonts, logos) into ``out/_assets``, once: the asset
    folders laid over one another as the renderer looks files up, the first folder's file winning.
    A file already there with the same bytes is left alone; a file that links out of its folder,
    which the renderer refuses, is not copied."""
    from careleaf.content.settings import Limits   # only when previews are asked for: a no-change build stays lean

    chosen: dict[Path, Path] = {}
    for folder in reversed(folders):
        if folder.is_dir():
            chosen |= {path.relative_to(folder): path for path in sorted(folder.rglob("*"))
                       if path.is_file() and path.resolve().is_relative_to(folder.resolve())}
    target = out / PREVIEW_ASSETS
    for relative, source in sorted(chosen.items()):
        try:
            data = read_regular(source, within=folders, limit=Limits().asset_bytes)
        except Refused:
            continue    # a pipe, a link out of its folder, or too large: the renderer refuses it, by name
        copy = target / relative
        if not (copy.is_file() and copy.stat().st_size == len(data) and copy.read_bytes() == data):
            write_atomically(copy, data)


# --- the manifest -------------------------------------------------------------------------------

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
    with _plainly(path):
        path.unlink(missing_ok=True)
    for folder in (path.parent, path.parent.parent):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            break


def clean_partials(out: Path) -> None:
    """Temporary files left by a build that was killed."""
    for partial in out.glob("**/.*.partial"):
        with _plainly(partial):
            partial.unlink(missing_ok=True)


class Busy(RenderError):
    """Another build is writing to the same output folder."""


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder's lock for the length of a build."""
    with _plainly(out):  # a folder that cannot be made or written is said plainly; the build's own errors are not
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / LOCK, "a+")  # noqa: SIM115 - closed by the 'with' below
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise Busy(f"another build is writing to {out} right now; "
                           "wait for it to finish and try again") from None
            raise
        yield
