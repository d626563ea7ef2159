"""The build's render workers: started from a small preloaded process, warmed once, and kept small.

* The workers are forked from multiprocessing's *forkserver*, which imports WeasyPrint (and careleaf's
  drawing stage: careleaf.build.preload) once. Each worker therefore starts with them loaded, as a fork of the main
  process would, but without a copy of the main process's catalog: a worker's memory does not grow
  with the size of the catalog, and the main process never loads WeasyPrint at all.
* Each worker prepares the fonts and stylesheets (careleaf.pdf.render's renderer) as it starts, before its
  first leaflet, so the first render is not slower than the others.
* WeasyPrint finds Pango, HarfBuzz and fontconfig by trying several names per library through
  cffi, which asks ``ctypes.util.find_library`` about every name that is not a file name. On Linux
  each such question runs ``ldconfig -p`` and, for the names that do not exist (Windows and macOS
  names, the optional harfbuzz-vector), ``gcc`` and ``ld`` too: about a quarter of a second, spent in
  every process that imports WeasyPrint. While WeasyPrint is imported here, those questions are
  answered from one reading of the linker cache and ``LD_LIBRARY_PATH`` instead; the answers are the
  ones ldconfig gives, and WeasyPrint still fails plainly when a library it needs is missing.

As with any start method but plain fork, each worker imports the main module of the program that
runs the build: a script calling ``careleaf.build.run.build`` must keep its own work under
``if __name__ == "__main__":`` (generate.py and the ``careleaf`` command do).
"""

from __future__ import annotations

import ctypes.util
import os
import re
import subprocess
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

PRELOADED = "careleaf.build.preload"   # what the forkserver imports before it forks any worker


def import_weasyprint() -> None:
    """Import WeasyPrint without the slow library probing (see the module's notes)."""
    with _quick_library_lookup():
        import weasyprint  # noqa: F401


# The forkserver listens on a Unix socket in the temporary folder; a socket's path may not be longer than
# this (108 bytes on Linux, less elsewhere), and multiprocessing adds about 35 characters of its own.
SOCKET_PATH_ROOM = 100 - 35


def context():
    """The multiprocessing context workers are started with: a forkserver that has WeasyPrint loaded, or,
    where the temporary folder's path is too long for its socket (a deep TMPDIR), fresh processes."""
    import multiprocessing
    import tempfile

    if len(os.fsencode(tempfile.gettempdir())) > SOCKET_PATH_ROOM:
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload([PRELOADED])
    return forkserver


def warm(folders: tuple[Path, ...]) -> None:
    """Run in each worker as it starts: prepare fonts and stylesheets before the first leaflet.

    A problem here (a missing font) is left for the render itself to report, with the leaflet's name.
    """
    from careleaf.errors import RenderError
    from careleaf.pdf.render import _renderer

    try:
        _renderer(tuple(Path(folder).resolve() for folder in folders))
    except RenderError:
        pass


@contextmanager
def _quick_library_lookup() -> Iterator[None]:
    original = ctypes.util.find_library
    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = original


def find_library(name: str) -> str | None:
    """``ctypes.util.find_library`` for Linux as ldconfig answers it, without running gcc or ld.

    A library in a folder of LD_LIBRARY_PATH comes first, as the dynamic linker looks there first.
    """
    pattern = re.compile(rf"^lib{re.escape(name)}\.so(\.[0-9.]+)?$")
    for folder in filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)):
        try:
            found = sorted(entry for entry in os.listdir(folder) if pattern.match(entry))
        except OSError:
            continue
        if found:
            return found[0]
    return _linker_cache().get(name)


@lru_cache(maxsize=1)
def _linker_cache() -> dict[str, str]:
    """Library name → soname, from one run of ``ldconfig -p`` (what find_library runs for every name)."""
    try:
        listing = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True,
                                 env={**os.environ, "LC_ALL": "C", "LANG": "C"}, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    names: dict[str, str] = {}
    for line in listing.splitlines():
        found = re.match(rf"^\s+lib(\S+?)\.so(\.[0-9.]+)?\s+\({re.escape(_abi())}", line)
        if found:
            names.setdefault(found.group(1), line.split()[0])
    return names


def _abi() -> str:
    """The linker cache's word for this machine's libraries, as ctypes.util matches it ("libc6,x86-64")."""
    import platform
    import struct

    machine = f"{os.uname().machine}-{8 * struct.calcsize('P')}"
    return {"x86_64-64": "libc6,x86-64", "ppc64-64": "libc6,64bit", "sparc64-64": "libc6,64bit",
            "s390x-64": "libc6,64bit", "ia64-64": "libc6,IA-64", "aarch64-64": "libc6,AArch64"}.get(
                machine, "libc6") if platform.system() == "Linux" else "libc6"

