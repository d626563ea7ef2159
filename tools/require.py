#!/usr/bin/env python3
"""Make sure this machine has the system packages careleaf needs, before anything else runs.

    python3 tools/require.py build   # what building leaflets needs (`make leaflets` runs this)
    python3 tools/require.py test    # that, plus what the tests need (`make test` runs this)

The packages are listed once, in system-packages.txt at the top of the repository (its header says
the format). The check asks no package manager, so it takes a few milliseconds when nothing is
missing, and prints nothing. When something is missing:

* on a machine with apt-get where we are root (or `sudo -n` works), it runs one `apt-get update`
  and one `apt-get install` of everything missing, printing each command first;
* otherwise, or with CARELEAF_NO_INSTALL=1, it prints why each missing package is needed and the
  command that installs them (apt-get, and brew where Homebrew has them), and exits with 1.

For `test` it then installs the tests' npm packages with `npm ci` from package-lock.json, when
node_modules/ is missing or older than the lock file. Standard library only: it runs before the
virtualenv exists.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
LIST = TOP / "system-packages.txt"
NEEDS = {"build": {"build"}, "test": {"build", "test"}}
# Where Homebrew puts libraries (Apple silicon, then Intel): the macOS loader does not look in the first.
BREW_LIB_DIRS = ("/opt/homebrew/lib", "/usr/local/lib")


@dataclass(frozen=True)
class Package:
    debian: str
    need: str      # "build" or "test"
    detect: str    # e.g. "cmd:pdftotext" or "lib:libharfbuzz-subset.so.0|file:/x"; any one will do
    brew: str      # Homebrew formula, "-" where there is none
    reason: str


def read_list(path: Path = LIST) -> list[Package]:
    packages = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(None, 4)
        if len(fields) < 5 or fields[1] not in ("build", "test"):
            raise SystemExit(f"{path.name}:{number}: expected 'debian build|test detect brew reason', got {line!r}")
        packages.append(Package(*fields))
    return packages


def is_present(detect: str) -> bool:
    return any(_found(alternative) for alternative in detect.split("|"))


def _found(check: str) -> bool:
    kind, _, what = check.partition(":")
    if kind == "cmd":
        return shutil.which(what) is not None
    if kind == "file":
        return bool(glob.glob(what))
    if kind == "py":
        return importlib.util.find_spec(what) is not None
    if kind == "lib":
        return _loads(what)
    raise ValueError(f"unknown detection {check!r} in {LIST.name}")


def _loads(soname: str) -> bool:
    """Whether the dynamic loader can open the library, as WeasyPrint will (cheap: no subprocess)."""
    names = [soname]
    if sys.platform == "darwin":  # libpango-1.0.so.0 is libpango-1.0.0.dylib there
        dylib = soname.replace(".so.", ".") + ".dylib"
        names = [dylib] + [os.path.join(d, dylib) for d in BREW_LIB_DIRS]
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            pass
    return False


def install_command() -> list[str] | None:
    """The prefix that runs apt-get as root here, or None where we can't (or mustn't) install."""
    if os.environ.get("CARELEAF_NO_INSTALL") == "1" or not shutil.which("apt-get"):
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, cwd=TOP)
    if result.returncode:
        sys.exit(result.returncode)


def explain(missing: list[Package], goal: str) -> str:
    width = max(len(p.debian) for p in missing)
    lines = [f"careleaf: these system packages are missing (needed for `{goal}`):"]
    lines += [f"  {p.debian:<{width}}  {p.need:<5}  {p.reason}" for p in missing]
    sudo = "" if os.geteuid() == 0 else "sudo "
    lines += ["Install them, then run this again:",
              f"  Debian/Ubuntu:  {sudo}apt-get install -y {' '.join(p.debian for p in missing)}"]
    brew = list(dict.fromkeys(p.brew for p in missing if p.brew != "-"))
    if brew:
        lines.append(f"  macOS:          brew install {' '.join(brew)}")
    if no_brew := [p.debian for p in missing if p.brew == "-"]:
        lines.append(f"  (Homebrew has no package for: {', '.join(no_brew)})")
    return "\n".join(lines)


def require_system(goal: str) -> None:
    packages = [p for p in read_list() if p.need in NEEDS[goal]]
    missing = [p for p in packages if not is_present(p.detect)]
    if not missing:
        return
    prefix = install_command()
    if prefix is None:
        print(explain(missing, goal), file=sys.stderr)
        sys.exit(1)
    # env rather than an exported variable, so that it reaches apt-get through sudo too.
    apt = prefix + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    run(apt + ["update", "-qq"])
    run(apt + ["install", "-y", "--no-install-recommends"] + [p.debian for p in missing])
    # A wrong detection or an install that did nothing should stop us here, not in the tests.
    if still := [p for p in missing if not is_present(p.detect)]:
        print(explain(still, goal), file=sys.stderr)
        sys.exit(1)


def require_npm() -> None:
    """node_modules/ as package-lock.json pins it; `npm ci` only when it is missing or older."""
    lock, modules = TOP / "package-lock.json", TOP / "node_modules"
    if modules.is_dir() and modules.stat().st_mtime >= lock.stat().st_mtime:
        return
    if os.environ.get("CARELEAF_NO_INSTALL") == "1":
        sys.exit("careleaf: node_modules/ is missing or older than package-lock.json: run `npm ci`")
    run(["npm", "ci", "--no-audit", "--no-fund"])
    modules.touch()  # npm keeps the folder if it can; its time is our "installed from this lock" mark


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in NEEDS:
        sys.exit("usage: python3 tools/require.py build|test")
    require_system(argv[0])
    if argv[0] == "test":
        require_npm()


if __name__ == "__main__":
    main(sys.argv[1:])
