"""WeasyPrint imported without the slow search for its libraries.

WeasyPrint finds Pango, HarfBuzz and fontconfig by trying several names per library through cffi, which
asks ``ctypes.util.find_library`` about every name that is not a file name. On Linux each such question
runs ``ldconfig -p`` and, for the names that do not exist (Windows and macOS names, the optional
harfbuzz-vector), ``gcc`` and ``ld`` too: about a quarter of a second, spent in every process that imports
WeasyPrint. While WeasyPrint is imported here, those questions are answered from one reading of the
linker cache and ``LD_LIBRARY_PATH`` instead; the answers are the ones ldconfig gives, and WeasyPrint
still fails plainly when a library it needs is missing.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
import re
import struct
import subprocess
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator


def import_weasyprint() -> None:
    """Import WeasyPrint without the slow library probing (see the module's notes)."""
    with _quick_library_lookup():
        import weasyprint  # noqa: F401  (here only: importing it is what this function is for)


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
    machine = f"{os.uname().machine}-{8 * struct.calcsize('P')}"
    return {"x86_64-64": "libc6,x86-64", "ppc64-64": "libc6,64bit", "sparc64-64": "libc6,64bit",
            "s390x-64": "libc6,64bit", "ia64-64": "libc6,IA-64", "aarch64-64": "libc6,AArch64"}.get(
                machine, "libc6") if platform.system() == "Linux" else "libc6"
