"""What both benchmarks share: the source snapshot, the CPU sampler, the measured launcher, the machine's
versions, calibration.

bench/run.py and bench/desk.py import this module; it imports neither of them (and no careleaf code at import
time: careleaf is imported from the frozen copy, once ``freeze_sources`` has put it first on ``sys.path``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PYTHON = sys.executable
SOURCE = REPO          # where careleaf and the sample project are read from; a frozen copy once freeze_sources() ran
FORKSERVER = b"multiprocessing.forkserver"  # in the command line of the forkserver and the workers it forks


# --- small helpers -----------------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def p90(values):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def calibrate() -> float:
    """A fixed chunk of pure-Python work; compared at start and end to spot a busy machine."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def stage_time(stats: dict, function, rounds: int = 1) -> float:
    """Cumulative seconds of ``function`` in cProfile stats (0 if it never ran)."""
    function = getattr(function, "__wrapped__", function)
    code = getattr(function, "__code__", None) or function.__func__.__code__
    key = (code.co_filename, code.co_firstlineno, code.co_name)
    return stats[key][3] / rounds if key in stats else 0.0


# --- machine and versions ----------------------------------------------------------------------

def c_version(library: str, function: str) -> str:
    """The version a C library reports about itself (Pango, HarfBuzz), by calling ``function`` in it."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library(library) or library)
        fn = getattr(lib, function)
        fn.restype = ctypes.c_char_p
        return fn().decode()
    except Exception as error:  # noqa: BLE001 - a version we cannot read is reported as such
        return f"unknown ({error})"


def machine() -> dict:
    """The date of the run, and the machine it runs on: cores, CPU model, memory, kernel, Python."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "memory": f"{int(memory.group(1)) / 1024 / 1024:.1f} GiB" if memory else "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


# --- the CPU sampler ---------------------------------------------------------------------------

class CpuSampler(threading.Thread):
    """Once a second, the CPU time of every process, split into ours (descendants of this
    benchmark) and other (everything else: other developers' tests, the system)."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")
        self.interval = interval
        self.me = os.getpid()
        self.last: dict[int, float] = {}
        self.samples: list[tuple[float, float, float]] = []   # (time, ours cumulative, other cumulative)
        self.ours = self.other = 0.0
        self.done = threading.Event()
        self.boot_started = time.time() - float(Path("/proc/uptime").read_text().split()[0])

    def _read(self) -> dict[int, tuple[int, float, float]]:
        table = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            # fields[1] = ppid, [11] utime, [12] stime, [19] starttime (ticks since boot)
            table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick,
                                 int(fields[19]) / self.tick)
        return table

    def sample(self) -> None:
        now = time.perf_counter()
        table = self._read()
        since = (time.time() - self.boot_started) - (now - self.samples[-1][0]) if self.samples else None
        ours_cache: dict[int, bool] = {}

        def is_ours(pid: int) -> bool:
            chain = []
            while pid > 1 and pid not in ours_cache:
                if pid == self.me:
                    ours_cache[pid] = True
                    break
                chain.append(pid)
                pid = table.get(pid, (0,))[0]
            verdict_ = ours_cache.get(pid, False)
            for link in chain:
                ours_cache[link] = verdict_
            return verdict_

        current = {}
        for pid, (_, cpu, started) in table.items():
            current[pid] = cpu
            if pid in self.last:
                delta = cpu - self.last[pid]
            elif since is not None and started >= since:
                delta = cpu                      # born since the last sample
            else:
                delta = 0.0                      # first sight: only count from now on
            if delta > 0:
                if is_ours(pid):
                    self.ours += delta
                else:
                    self.other += delta
        self.last = current
        self.samples.append((now, self.ours, self.other))

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()

    def start_phase(self):
        self.sample()
        return time.perf_counter(), len(self.samples) - 1

    def end_phase(self, mark) -> dict:
        self.sample()
        started, index = mark
        wall = time.perf_counter() - started
        _, ours0, other0 = self.samples[index]
        _, ours1, other1 = self.samples[-1]
        return {"wall": wall, "ours_cpu": ours1 - ours0, "other_cpu": other1 - other0,
                "other_cores": (other1 - other0) / wall if wall else 0.0, "load": os.getloadavg()[0]}


# --- the source snapshot -----------------------------------------------------------------------

# careleaf's code (its theme, careleaf/theme/, included), the CLI script, and what a project is: leaflets/,
# and its own styles/ (logos; stylesheets and fonts replacing the theme's) and templates/ when it has them.
SNAPSHOT = ("careleaf", "generate.py", "leaflets")
PROJECT_OPTIONAL = ("styles", "templates")
PROJECT_PARTS = ("leaflets", *PROJECT_OPTIONAL)


def snapshot_sources(dest: Path, worktree: bool, ref: str = "HEAD") -> str:
    """Freeze careleaf's code and the sample project for the whole run, and say what was frozen.

    By default the last commit (git HEAD): others may be half-way through editing the working tree,
    and a careleaf/ file changing mid-run changes every leaflet's fingerprint. --worktree takes the
    working tree as it is at the start instead (to measure uncommitted changes)."""
    dest.mkdir(parents=True)
    describe = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    if worktree:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in SNAPSHOT + tuple(n for n in PROJECT_OPTIONAL if (REPO / n).exists()):
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, dest / name, ignore=ignore)
            else:
                shutil.copy2(source, dest / name)
        return f"working tree at the start of the run (git {describe})"
    committed = set(subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", ref], capture_output=True,
                                   text=True, check=True).stdout.split("\n"))
    names = SNAPSHOT + tuple(n for n in PROJECT_OPTIONAL if n in committed)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, *names],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest)
    head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s", ref], capture_output=True,
                          text=True).stdout.strip()
    dirty = " (the working tree has uncommitted changes, not measured; use --worktree)" if "dirty" in describe else ""
    if len(head) > 90:
        head = head[:head.rfind(" ", 0, 88)] + "…"
    return f"git {ref} {head}{dirty}"


def freeze_sources(dest: Path, worktree: bool, ref: str = "HEAD") -> str:
    """Freeze careleaf and the sample into ``dest`` (see snapshot_sources), make this process and every process
    it starts import careleaf from there, pin today's date for the whole run; say what was frozen."""
    global SOURCE
    SOURCE = dest
    description = snapshot_sources(dest, worktree, ref)
    sys.path.insert(0, str(dest))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(dest), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("CARELEAF_TODAY", datetime.now().date().isoformat())   # same dates all run long
    import careleaf  # only now: from the copy just put first on sys.path

    assert Path(careleaf.__file__).resolve().is_relative_to(dest.resolve()), careleaf.__file__
    return description


# --- running a measured process and watching its memory ----------------------------------------

class TreeWatcher(threading.Thread):
    """Samples VmHWM/VmRSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, launcher: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.launcher = launcher      # the launcher's only child is the measured process (the root)
        self.root: int | None = None
        self.interval = interval
        self.hwm: dict[int, int] = {}
        self.kind: dict[int, str] = {}
        self.seen: dict[int, int] = {}
        self.cpu: dict[int, float] = {}        # last utime + stime seen, per process
        self.tick = os.sysconf("SC_CLK_TCK")
        self.tree_rss_peak = 0
        self.root_cmdline = b""
        self.done = threading.Event()

    def _children(self, pid: int) -> list[int]:
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def _sample(self) -> None:
        if self.root is None:
            children = self._children(self.launcher)
            if not children:
                return
            self.root = children[0]
        pending, total = [(self.root, 0)], 0
        while pending:
            pid, parent = pending.pop()
            pending += [(child, pid) for child in self._children(pid)]
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self.tick
            hwm = re.search(r"^VmHWM:\s*(\d+)", status, re.M)
            rss = re.search(r"^VmRSS:\s*(\d+)", status, re.M)
            if not hwm:
                continue
            if pid == self.root:
                self.root_cmdline = self.root_cmdline or cmdline
                self.kind[pid] = "main"
            elif parent == self.root and cmdline == self.root_cmdline:
                # A pool worker: a fork of the main process, its direct child, same command line.
                self.kind[pid] = "worker"
            elif FORKSERVER in cmdline:
                # careleaf.build.workers: the forkserver (WeasyPrint preloaded) and the workers forked from it,
                # which keep its command line.
                self.kind[pid] = "worker" if self.kind.get(parent) == "forkserver" else "forkserver"
            else:
                # Anything else: ldconfig/gcc/ld run by ctypes.util.find_library (and the brief fork
                # before their exec), the multiprocessing resource tracker, a browser's processes.
                self.kind[pid] = "helper"
            self.hwm[pid] = max(self.hwm.get(pid, 0), int(hwm.group(1)))
            self.seen[pid] = self.seen.get(pid, 0) + 1
            total += int(rss.group(1)) if rss else 0
        self.tree_rss_peak = max(self.tree_rss_peak, total)

    @property
    def tree_cpu(self) -> float:
        return sum(self.cpu.values())

    @property
    def helpers(self) -> int:
        return sum(kind == "helper" for kind in self.kind.values())

    @property
    def forkserver_hwm(self) -> int:
        return max((kb for pid, kb in self.hwm.items() if self.kind.get(pid) == "forkserver"), default=0)

    def run(self) -> None:
        while not self.done.is_set():
            self._sample()
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()

    @property
    def main_hwm(self) -> int:
        return self.hwm.get(self.root, 0) if self.root else 0

    @property
    def worker_hwms(self) -> list[int]:
        # Seen at least twice: a fork of the main about to exec a helper (ctypes.util.find_library in the
        # main process) shares its command line for a few milliseconds.
        return [kb for pid, kb in self.hwm.items() if self.kind.get(pid) == "worker" and self.seen[pid] >= 2]


@dataclass
class Run:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_kb: int                # exact: the largest process of the tree (os.wait4 rusage)
    main_hwm_kb: int              # sampled
    worker_hwm_kb: list[int] = field(default_factory=list)   # sampled, one per worker process
    tree_rss_peak_kb: int = 0     # sampled: sum of RSS over the whole tree at its largest
    helpers: int = 0              # non-worker child processes seen (e.g. gcc/ld from ctypes.util.find_library)
    forkserver_hwm_kb: int = 0    # sampled: the forkserver the workers are forked from (WeasyPrint preloaded)
    cpu: float = 0.0              # user + system CPU seconds of the process and its reaped children
    tree_cpu: float = 0.0         # sampled: user + system CPU of every process seen in the tree (last reading)

    @property
    def built(self) -> int:
        found = re.search(r"(\d+) built", self.stdout)
        return int(found.group(1)) if found else -1


# Runs the command given and reports its wall time and os.wait4 rusage. Measured processes are started
# through this small launcher, not straight from the bench: a child started by vfork/posix_spawn keeps
# its parent's RSS high-water mark across exec in ru_maxrss, so a build started from the (large) bench
# process would report the bench's memory. The launcher is small, so ru_maxrss is the build's own.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump([time.perf_counter() - started, os.waitstatus_to_exitcode(status), usage.ru_maxrss,
               usage.ru_utime + usage.ru_stime], report)
"""


def run_measured(command: list[str], watch: bool = True) -> Run:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as measured:
        # Not the repository as working folder: `python -c` would import careleaf from there, not the snapshot.
        launcher = subprocess.Popen([PYTHON, "-c", LAUNCHER, measured.name, *map(str, command)],
                                    stdout=out, stderr=err, cwd=SOURCE.parent)
        watcher = TreeWatcher(launcher.pid) if watch else None
        if watcher:
            watcher.start()
        launcher.wait()
        if watcher:
            watcher.stop()
        out.seek(0)
        err.seek(0)
        try:
            wall, returncode, maxrss, cpu = json.loads(Path(measured.name).read_text() or "null")
        except (TypeError, ValueError):
            raise RuntimeError(f"the launcher failed for {' '.join(map(str, command))}:\n{err.read()[-3000:]}")
        run = Run(wall, returncode, out.read(), err.read(), maxrss,
                  watcher.main_hwm if watcher else 0, watcher.worker_hwms if watcher else [],
                  watcher.tree_rss_peak if watcher else 0, watcher.helpers if watcher else 0,
                  watcher.forkserver_hwm if watcher else 0, cpu, watcher.tree_cpu if watcher else 0.0)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run
