#!/usr/bin/env python3
"""careleaf front-desk benchmark: one patient's handout, a day's list, 1,000 queued emails delivered by
`careleaf worker` processes from the outbox on SQLite and on PostgreSQL, and the web API under a burst of requests.
Everything measured in one run, on one machine.

    .venv/bin/python bench/desk.py [--quick] [--worktree] [--keep] [--results FILE]

Like bench/run.py, it works in a temporary folder: careleaf's code and the repository's own project (the
sample) are frozen from git HEAD (or, with --worktree, from the working tree) and every process imports careleaf
from that copy. Nothing is written in the repository except the report, bench/DESK-RESULTS.md. See the
"Front-desk benchmark" section of bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

import common          # bench/common.py: common.SOURCE is the frozen copy once main() has made it
from common import (BENCH, PYTHON, PROJECT_PARTS, REPO, CpuSampler, c_version, calibrate, freeze_sources, log, machine,
                    median, p90, run_measured, stage_time)

# careleaf, and the libraries it and the desk use (WeasyPrint, pikepdf, psycopg, aiosmtpd, httpx), are imported
# inside the functions that use them: careleaf must come from the frozen copy main() puts first on sys.path, never
# from the working tree, and part 1's cold call must be the first to import WeasyPrint in this process.

# The outbox's fault table, written by bench/faults.py into the same report and kept when this one rewrites it.
FAULTS_SECTION = re.compile(r"<!-- faults -->.*<!-- /faults -->", re.S)

BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"      # the English aftercare leaflet: BTX-FL-AC
SENDER = "leaflets@harbourskin.example"
RECIPIENT_DOMAIN = "patients.example"
API_TOKEN = "bench-token"
RECIPIENT = re.compile(rb"patient\d{5}@" + re.escape(RECIPIENT_DOMAIN.encode()))

# outbox_rounds: how often each (storage, workers) pair of part 3 runs (see outbox_order); each is 1,000 sends.
FULL = {"handouts": 30, "large": 10, "rows": 100, "sends": 1000, "outbox_rounds": 1, "requests": 50}
QUICK = {"handouts": 10, "large": 3, "rows": 20, "sends": 100, "outbox_rounds": 1, "requests": 10}

FIRST = ["Ayşe", "İsmail", "Maryam", "John", "Zeynep", "Oliver", "Emre", "Sophie", "Mehmet", "Grace"]
LAST = ["Yılmaz", "Işık", "Smith", "Demir", "Jones", "Kaya", "Brown", "Çelik", "Taylor", "Öztürk"]


# --- small helpers -----------------------------------------------------------------------------

def p95(values):
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def sec(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def mib(kb: float) -> str:
    return f"{kb / 1024:.0f} MiB"


def kib(n_bytes: float) -> str:
    return f"{n_bytes / 1024:.0f} KiB" if n_bytes < 1024 * 1024 else f"{n_bytes / 1024 / 1024:.1f} MiB"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def patient_name(i: int) -> str:
    """A different name for each i (Turkish and Arabic-script-free Latin names, with diacritics)."""
    return f"{FIRST[i % 10]} {chr(65 + (i // 100) % 26)}. {LAST[(i // 10) % 10]}"


def treated_today() -> str:
    """Today at 09:30 in the clinic's time zone: always within a year of the day the bench runs."""
    return f"{dt.datetime.now(ZoneInfo('Europe/London')).date().isoformat()} 09:30"


def patient(i: int) -> dict[str, str]:
    return {"name": patient_name(i), "treated": treated_today(), "areas": "Forehead and frown lines",
            "product": "Botox", "batch": "C3920C3", "units": "24", "practitioner": "Dr Jane Smith"}


def page_count(pdf: bytes | Path) -> int:
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf) as document:
        return len(document.pages)


def wait_until(condition, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- processes: memory sampling and stopping -----------------------------------------------------

def _proc(pid: int) -> tuple[str, bytes, str] | None:
    try:
        return (Path(f"/proc/{pid}/status").read_text(), Path(f"/proc/{pid}/cmdline").read_bytes(),
                Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    """Children started by any thread of the process (a thread pool may start them, as pebble's does)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


class ProcWatcher(threading.Thread):
    """VmHWM of the watched processes and all their descendants, every ``interval`` seconds, kept per pid
    with each one's parent, command line and start time (to stop leftovers safely, and only ours)."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.lock = threading.Lock()
        self.roots: list[int] = []
        self.info: dict[int, dict] = {}
        self.done = threading.Event()

    def watch(self, pid: int) -> None:
        with self.lock:
            self.roots.append(pid)
        self.sample()

    def sample(self) -> None:
        with self.lock:
            pending = [(root, 0) for root in self.roots]
            while pending:
                pid, parent = pending.pop()
                read = _proc(pid)
                if read is None:
                    continue
                status, cmdline, stat = read
                fields = stat[stat.rindex(")") + 2:].split()
                hwm = re.search(r"^VmHWM:\s*(\d+)", status, re.M)
                entry = self.info.get(pid)
                if entry is None or entry["start"] != fields[19]:       # new, or the pid was reused
                    entry = self.info[pid] = {"hwm": 0, "parent": parent, "cmdline": cmdline, "start": fields[19],
                                              "seen": 0}
                if hwm:
                    entry["hwm"] = max(entry["hwm"], int(hwm.group(1)))
                    entry["seen"] += 1
                if cmdline:
                    entry["cmdline"] = cmdline
                pending += [(child, pid) for child in _children(pid)]

    def hwm(self, pid: int) -> int:
        return self.info.get(pid, {}).get("hwm", 0)

    def descendants(self, root: int) -> list[int]:
        found, frontier = [], [root]
        while frontier:
            parent = frontier.pop()
            kids = [pid for pid, entry in self.info.items() if entry["parent"] == parent]
            found += kids
            frontier += kids
        return found

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.done.set()
        if self.is_alive():
            self.join()

    def end_leftovers(self) -> None:
        """SIGKILL any descendant of a watched process still running (same pid and start time as seen)."""
        for pid, entry in list(self.info.items()):
            if pid in self.roots:
                continue
            read = _proc(pid)
            if read is None:
                continue
            stat = read[2]
            if stat[stat.rindex(")") + 2:].split()[19] == entry["start"]:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def stop(process: subprocess.Popen, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
    """Stop a process this bench started: ``sig``, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start(command: list, stack: contextlib.ExitStack, log_file: Path, *, env: dict | None = None,
          stop_timeout: float = 20) -> subprocess.Popen:
    """Start a long-running process whose output goes to a file; it is stopped when ``stack`` closes."""
    with open(log_file, "wb") as output:
        process = subprocess.Popen([str(part) for part in command], stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=log_file.parent)
    stack.callback(stop, process, stop_timeout)
    return process


# --- the project -------------------------------------------------------------------------------

def approved_project(dest: Path) -> Path:
    """The sample project (leaflets/, styles/, templates/) as a clinic has it once a clinician signed it off:
    nothing awaits approval and each leaflet has an approval record (as tests/conftest.py's approved_project,
    but both clinics and both treatments). Made a git repository with one commit, as a clinic's project is, so
    the register records a revision the way it does in a clinic."""
    dest.mkdir(parents=True)
    for name in PROJECT_PARTS:
        if (common.SOURCE / name).is_dir():
            shutil.copytree(common.SOURCE / name, dest / name)
    for path in (dest / "leaflets").rglob("*.yaml"):
        text = re.sub(r"(?m)^[ \t]*needs_approval: true[ \t]*\n", "", path.read_text("utf-8"))
        if path.name == "treatment.yaml":
            text = re.sub(r"(?m)^(    version: \d+\n)",
                          r"\1    approved_by: Dr Bench Person\n    approved_on: 2026-01-05\n    review_by: 2099-01-05\n",
                          text)
        path.write_text(text, "utf-8")
    _approve_all(dest)
    git = ["git", "-C", str(dest), "-c", "user.name=careleaf bench", "-c", "user.email=bench@careleaf.invalid",
           "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "approved sample"], check=True)
    return dest


def _approve_all(dest: Path) -> None:
    """Each leaflet approved as `careleaf approve` records it (where the measured source records approvals so)."""
    try:
        from careleaf.content.catalog import load_catalog
        from careleaf.project import Project
        from careleaf.review.approve import approve
    except ImportError:
        return
    project = Project(dest)
    for entry in load_catalog(project).treatments.values():
        for definition in entry.facts.leaflets:
            approve(project, definition.code, by="Dr Bench Person", today=dt.date(2026, 1, 5))


def copy_project(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("data", "careleaf.yaml"))
    return dest


def generate(*args) -> list[str]:
    return [PYTHON, str(common.SOURCE / "generate.py"), *map(str, args)]


# --- 1. one handout, in one process --------------------------------------------------------------

def measure_handouts(project: Path, counts: dict, results: dict) -> None:
    started = time.perf_counter()
    from careleaf.handout.handouts import Choice
    imported = time.perf_counter() - started
    assert "weasyprint" not in sys.modules, "WeasyPrint was imported before the cold call"
    from careleaf.handout.handouts import handout

    english = Choice(BRAND, TREATMENT, "aftercare", "en")
    large = Choice(BRAND, TREATMENT, "aftercare", "en", large_print=True)
    started = time.perf_counter()
    first = handout(project, english, patient=patient(9000))
    cold = time.perf_counter() - started
    out = {"import_handouts": imported, "cold": cold}

    def series(choice, n: int, offset: int) -> tuple[list[float], list[bytes]]:
        times, pdfs = [], []
        for i in range(2):                                      # warm-up
            handout(project, choice, patient=patient(offset + 900 + i))
        for i in range(n):
            started = time.perf_counter()
            made = handout(project, choice, patient=patient(offset + i))
            times.append(time.perf_counter() - started)
            pdfs.append(made.pdf)
        return times, pdfs

    times, pdfs = series(english, counts["handouts"], 0)
    results["_pdfs"] = {"standard": pdfs}
    out["en"] = {"n": len(times), "median": median(times), "p90": p90(times), "min": min(times),
                 "pages": sorted({page_count(pdf) for pdf in (first.pdf, pdfs[0], pdfs[-1])}),
                 "bytes": median([len(pdf) for pdf in pdfs]), "distinct": len({bytes(pdf) for pdf in pdfs})}
    times, pdfs = series(large, counts["large"], 1000)
    results["_pdfs"]["large"] = pdfs
    out["large"] = {"n": len(times), "median": median(times), "p90": p90(times), "min": min(times),
                    "pages": sorted({page_count(pdf) for pdf in (pdfs[0], pdfs[-1])}),
                    "bytes": median([len(pdf) for pdf in pdfs])}
    out["server"] = server_handouts(project, counts["handouts"])
    out["breakdown"] = breakdown(project, english)
    out["profile"] = profile_one(project, english)
    results["handout"] = out


def server_handouts(project: Path, calls: int, warm_up: int = 3) -> dict:
    """The warm personalised handout in the process the web server renders in: careleaf.web.renderer.Renderer's
    worker pool (one worker), as POST /api/handouts calls it, timed from the request to the PDF in hand.
    The first calls warm the worker (WeasyPrint, fonts, the catalog it keeps) and are not counted."""
    from careleaf.handout.handouts import Choice
    from careleaf.web.renderer import Renderer

    choice = Choice(BRAND, TREATMENT, "aftercare", "en")
    renderer = Renderer(project, workers=1, timeout=120)

    async def series() -> tuple[list[float], list[int]]:
        times, sizes = [], []
        for i in range(warm_up + calls):
            started = time.perf_counter()
            made = await renderer.handout(choice, patient(6000 + i))
            if i >= warm_up:
                times.append(time.perf_counter() - started)
                sizes.append(len(made.pdf))
        return times, sizes

    try:
        times, sizes = asyncio.run(series())
    finally:
        renderer.close()
    return {"n": len(times), "median": median(times), "p90": p90(times), "min": min(times),
            "bytes": median(sizes)}


def breakdown(project_root: Path, choice) -> dict:
    """The steps handout() takes, timed one by one (median of 5): the same calls, in the same order."""
    from careleaf.content.catalog import load_catalog
    from careleaf.handout.handouts import personalise
    from careleaf.leaflet.html import render_leaflet
    from careleaf.pdf.render import render_pdf
    from careleaf.project import Project

    project = Project(project_root)
    steps: dict[str, list[float]] = {"load_catalog": [], "personalise": [], "render_leaflet (HTML)": [],
                                     "render_pdf (WeasyPrint)": []}
    for i in range(5):
        now = dt.datetime.now(dt.timezone.utc)
        marks = [time.perf_counter()]
        catalog = load_catalog(project)
        marks.append(time.perf_counter())
        leaflet = personalise(catalog, choice, patient(2000 + i), allow_draft=False, now=now)
        marks.append(time.perf_counter())
        html = render_leaflet(project, leaflet)
        marks.append(time.perf_counter())
        render_pdf(html, project.asset_folders, large_print=choice.large_print, source="bench")
        marks.append(time.perf_counter())
        for name, before, after in zip(steps, marks, marks[1:]):
            steps[name].append(after - before)
    return {name: median(values) for name, values in steps.items()}


def profile_one(project: Path, choice) -> dict:
    """cProfile of 3 warm handout() calls: the time split by stage (as bench/run.py splits a render), the
    functions with the most cumulative time, and those with the most own time; per call."""
    import pydyf
    import weasyprint
    import weasyprint.css
    import weasyprint.document
    import weasyprint.formatting_structure.build
    import weasyprint.layout
    import weasyprint.pdf
    import weasyprint.pdf.fonts
    import weasyprint.pdf.tags
    import weasyprint.text.line_break

    from careleaf.content import catalog as careleaf_catalog
    from careleaf.handout import handouts
    from careleaf.leaflet import html
    from careleaf.pdf import render as pdf

    rounds = 3
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(rounds):
        handouts.handout(project, choice, patient=patient(3000 + i))
    profiler.disable()
    stats = pstats.Stats(profiler)

    def at(function) -> float:
        return stage_time(stats.stats, function, rounds)

    stages = [
        ("total: careleaf.handout.handouts.handout", at(handouts.handout), 0),
        ("read the project (careleaf.content.catalog.load_catalog)", at(careleaf_catalog.load_catalog), 1),
        ("choose and personalise (careleaf.handout.handouts.personalise)", at(handouts.personalise), 1),
        ("leaflet HTML (careleaf.leaflet.html.render_leaflet)", at(html.render_leaflet), 1),
        ("PDF (careleaf.pdf.render.render_pdf)", at(pdf.render_pdf), 1),
        ("parse HTML (HTML.__init__)", at(weasyprint.HTML.__init__), 2),
        ("CSS cascade (get_all_computed_styles)", at(weasyprint.css.get_all_computed_styles), 2),
        ("box tree (build_formatting_structure)", at(weasyprint.formatting_structure.build.build_formatting_structure), 2),
        ("layout (layout_document)", at(weasyprint.layout.layout_document), 2),
        ("of which line breaking + shaping (split_first_line)", at(weasyprint.text.line_break.split_first_line), 3),
        ("PDF generation (generate_pdf)", at(weasyprint.pdf.generate_pdf), 2),
        ("of which drawing pages (Page.paint)", at(weasyprint.document.Page.paint), 3),
        ("of which fonts: embed + subset (build_fonts_dictionary)", at(weasyprint.pdf.fonts.build_fonts_dictionary), 3),
        ("of which PDF/UA structure tags (add_tags)", at(weasyprint.pdf.tags.add_tags), 3),
        ("PDF serialisation + compression (pydyf PDF.write)", at(pydyf.PDF.write), 2),
    ]

    def rows(key: int) -> list[tuple[str, float, float, int]]:
        table = []
        for (file, line, function), (_, calls, own, cumulative, _) in stats.stats.items():
            if function in ("<module>", "<built-in method builtins.exec>", "<listcomp>", "<genexpr>") \
                    or file == __file__:
                continue
            table.append((_where(file, line, function), cumulative / rounds, own / rounds, calls // rounds))
        return sorted(table, key=lambda row: row[key], reverse=True)

    return {"total": stats.total_tt / rounds, "stages": stages, "cumulative": rows(1)[:12], "own": rows(2)[:10]}


def _where(file: str, line: int, function: str) -> str:
    """A profile row's place, short: careleaf/pdf/render.py:12 render_pdf, weasyprint/layout/page.py:80 make_page, …"""
    if file == "~":
        return function
    parts = Path(file).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    elif "careleaf" in parts:
        parts = parts[len(parts) - 1 - parts[::-1].index("careleaf"):]
    else:
        parts = parts[-2:]
    return f"{'/'.join(parts)}:{line} {function}"


# --- 2. a day's list --------------------------------------------------------------------------

def measure_day_list(project: Path, work: Path, rows: int, results: dict) -> None:
    folder = work / "day"
    folder.mkdir()
    lines = ["brand,treatment,kind,lang,large_print,reference,name,treated,batch"]
    langs = Counter()
    for i in range(rows):
        lang = "tr" if i % 2 else "en"
        large = "yes" if i % 20 in (4, 9) else "no"          # 10%, in both languages
        langs[(lang, large)] += 1
        lines.append(",".join([BRAND, TREATMENT, "aftercare", lang, large, f"DAY-{i:04d}", patient_name(i),
                               treated_today(), "C3920C3"]))
    csv_path = folder / "day.csv"
    csv_path.write_text("\n".join(lines) + "\n", "utf-8")
    target = folder / "day.pdf"
    command = generate("--project", project, "handouts", "--from", csv_path, "--out", target, "--staff", "bench")
    run = run_measured(command, watch=True)
    results["day"] = {"rows": rows, "mix": dict(langs), "wall": run.wall, "cpu": run.cpu, "maxrss": run.maxrss_kb,
                      "hwm": run.main_hwm_kb, "bytes": target.stat().st_size, "pages": page_count(target)}
    results["day"]["register"] = register_costs(project, work)
    if results.get("_pdfs"):
        results["day"]["merge"] = merge_only(results["_pdfs"], rows, folder)


MERGE = """
import json, re, sys, time
from pathlib import Path
from careleaf.pdf.merge import merge_tagged

def memory(name):
    return int(re.search(name + r":\\s*(\\d+)", Path("/proc/self/status").read_text()).group(1))

documents = [Path(path).read_bytes() for path in sys.argv[1:]]
before = memory("VmRSS")
started = time.perf_counter()
merged = merge_tagged(documents, title="Harbour Skin Clinic: a day's list", lang="en")
print(json.dumps([time.perf_counter() - started, before, memory("VmHWM"), len(merged)]))
"""


def merge_only(pdfs: dict, rows: int, folder: Path) -> dict:
    """careleaf.pdf.merge.merge_tagged alone, in a fresh process, over as many leaflets as the list has (part 1's PDFs,
    a tenth of them large print): its time, and the process's memory before and at its peak."""
    pick = []
    for i in range(rows):
        kind = "large" if i % 20 in (4, 9) and pdfs.get("large") else "standard"
        pick.append(pdfs[kind][i % len(pdfs[kind])])
    paths = []
    (folder / "pdfs").mkdir()
    for i, pdf in enumerate(pick):
        path = folder / "pdfs" / f"{i:04d}.pdf"
        path.write_bytes(pdf)
        paths.append(str(path))
    said = subprocess.run([PYTHON, "-c", MERGE, *paths], capture_output=True, text=True, check=True, cwd=folder).stdout
    seconds, before, peak, size = json.loads(said)
    return {"seconds": seconds, "before": before, "peak": peak, "bytes": size, "inputs": sum(map(len, pick))}


def register_costs(project: Path, work: Path) -> dict:
    """What `handouts` pays per row after rendering: git for the revision, and one register insert."""
    from careleaf.review.git import current_revision
    from careleaf.handout.handouts import HandoutRecord
    from careleaf.desk.register import Register

    git, insert = [], []
    register = Register(work / "scratch-register.sqlite3")
    record = HandoutRecord("BTX-FL-AC", 1, "en", False, BRAND, TREATMENT, "aftercare", "0" * 64,
                           dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), False)
    for i in range(10):
        started = time.perf_counter()
        current_revision(project)
        git.append(time.perf_counter() - started)
        started = time.perf_counter()
        register.add(record, channel="print", staff="bench", reference=f"REG-{i}")
        insert.append(time.perf_counter() - started)
    return {"git": median(git), "insert": median(insert)}


# --- 3. the outbox ----------------------------------------------------------------------------

# How the outbox's sends are delivered: (label, `careleaf worker` processes, --workers N threads in each).
OUTBOX_SETUPS = (("1 process", 1, 1), ("2 processes", 2, 1), ("1 process, 2 threads", 1, 2))
STORAGES = ("sqlite", "postgresql")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_NAMESPACE = "harbour-skin"


def outbox_order(rounds: int) -> list[tuple[str, tuple]]:
    """Every (storage, setup), the storages in turn A B, B A, … setup by setup; a second round runs the list
    backwards. Each storage and each setup then meets the machine's changing load alike, and their ratios are fair."""
    order = [(storage, setup) for k, setup in enumerate(OUTBOX_SETUPS)
             for storage in (STORAGES if k % 2 == 0 else STORAGES[::-1])]
    return order + order[::-1] if rounds > 1 else order


class MailSink:
    """A plain SMTP server on 127.0.0.1 (aiosmtpd) that counts what it receives by Message-ID, and when."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids: Counter = Counter()
        self.count = 0
        self.bytes = 0
        self.first: float | None = None
        self.last: float | None = None
        self.port = free_port()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        found = re.search(rb"(?im)^Message-ID:[ \t]*(\S+)", head)
        now = time.perf_counter()
        with self.lock:
            self.ids[found.group(1) if found else b"(none)"] += 1
            self.count += 1
            self.bytes += len(content)
            self.first = self.first or now
            self.last = now
        return "250 Message accepted for delivery"

    def received(self) -> int:
        with self.lock:
            return self.count

    def start(self) -> "MailSink":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _as_postgres(*command) -> subprocess.CompletedProcess:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], capture_output=True, text=True,
                          timeout=120)
    if done.returncode:
        raise RuntimeError(f"{Path(str(command[0])).name} exited with status {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return done


class PostgresCluster:
    """A throwaway PostgreSQL 15 cluster in a temporary folder, run as its own user (it refuses root) on a loopback
    port, with TLS from its own certificate authority (trustme) and careleaf connecting with verify-full, as
    tests/pgserver.py makes one. Unlike the tests' cluster it keeps PostgreSQL's default durability (fsync and
    synchronous_commit on): SQLite's outbox commits with fsync too (WAL, synchronous=FULL, its default), and what
    is compared is what a clinic would run."""

    PASSWORD = "bench-db-password"

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="careleaf-bench-pg-"))   # the bench's own folder is 0700
        self.data = self.folder / "data"
        self.port = free_port()
        self.running = False

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None

    def start(self) -> "PostgresCluster":
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.folder / "ca.pem"))
        certificate = ca.issue_cert("localhost", "127.0.0.1")
        certificate.cert_chain_pems[0].write_to_path(str(self.folder / "server.crt"))
        certificate.private_key_pem.write_to_path(str(self.folder / "server.key"))
        (self.folder / "pw").write_text(self.PASSWORD)
        for path in (self.folder, *self.folder.iterdir()):
            shutil.chown(path, "postgres", "postgres")
        os.chmod(self.folder / "server.key", 0o600)
        os.chmod(self.folder, 0o755)
        _as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                     "--auth-host=scram-sha-256", f"--pwfile={self.folder / 'pw'}", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c ssl=on "
                   f"-c ssl_cert_file={self.folder / 'server.crt'} -c ssl_key_file={self.folder / 'server.key'}")
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "log", "-w", "-t", "60",
                     "start")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql://postgres:{self.PASSWORD}@localhost:{self.port}/{database}"
                f"?sslmode=verify-full&sslrootcert={self.folder / 'ca.pem'}")

    def query(self, sql: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str) -> str:
        self.query(f"create database {name}")
        return self.url(name)

    def database_files(self, name: str) -> list[Path]:
        """The files of one database (its tables, TOAST and indexes), and the write-ahead log's segments."""
        oid = self.query(f"select oid from pg_database where datname = '{name}'")[0][0]
        return [*sorted((self.data / "base" / str(oid)).iterdir()), *sorted((self.data / "pg_wal").glob("0*"))]

    def cpu(self) -> float:
        """CPU seconds the server has used: the postmaster, its exited children (backends, once reaped) and its
        running ones. A backend's time moves from the last to the second when its connection closes."""
        tick = os.sysconf("SC_CLK_TCK")
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        fields = _stat(postmaster)
        total = sum(int(fields[k]) for k in (11, 12, 13, 14)) / tick
        for child in _children(postmaster):
            with contextlib.suppress(OSError, IndexError):
                total += sum(int(_stat(child)[k]) for k in (11, 12)) / tick
        return total

    def version(self) -> str:
        return self.query("show server_version")[0][0]

    def stop(self) -> None:
        try:
            if self.running:
                _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
                self.running = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def process_cpu(pid: int) -> float:
    """CPU seconds a running process has used (all its threads)."""
    try:
        fields = _stat(pid)
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Run in a child process: SQLite's locks are POSIX record locks, which a process loses on *every* descriptor of
# the file when it closes *any* descriptor of it. Reading desk.sqlite3 (or its -wal/-shm) with open()/close()
# in the bench, which holds the outbox open, would drop its connections' locks; the workers would then reset the
# WAL under it and it would read "database disk image is malformed" (https://sqlite.org/howtocorrupt.html, 2.2).
# argv: the address pattern, the domain, then a JSON object {label: [paths]}; each label's files are searched as one.
FILE_SEARCH = """
import json, re, sys
pattern, domain, groups = re.compile(sys.argv[1].encode()), sys.argv[2].encode(), json.loads(sys.argv[3])
found = {}
for label, paths in groups.items():
    addresses, occurrences, size = set(), 0, 0
    for path in paths:
        try:
            with open(path, "rb") as file:
                blob = file.read()
        except FileNotFoundError:
            continue
        addresses |= set(pattern.findall(blob))
        occurrences += blob.count(b"@" + domain)
        size += len(blob)
    found[label] = [len(addresses), occurrences, size]
print(json.dumps(found))
"""


def addresses_in_files(groups: dict[str, list[Path]], domain: str) -> dict[str, tuple[int, int, int]]:
    """For each group of files: (distinct recipient addresses, occurrences of their domain, bytes), read by a
    separate process (see FILE_SEARCH)."""
    pattern = r"patient\d{5}@" + re.escape(domain)
    said = subprocess.run([PYTHON, "-c", FILE_SEARCH, pattern, domain,
                           json.dumps({label: [str(p) for p in paths] for label, paths in groups.items()})],
                          capture_output=True, text=True, check=True).stdout
    return {label: tuple(values) for label, values in json.loads(said).items()}


def start_postgres(stack: contextlib.ExitStack, errors: dict) -> PostgresCluster | None:
    """The run's PostgreSQL cluster, stopped when ``stack`` closes; None (and the reason in ``errors``) if it cannot
    start: the SQLite rounds still run."""
    if not PostgresCluster.available():
        errors["3. PostgreSQL"] = f"PostgreSQL 15 is not installed ({PG_BIN}), or runuser is missing"
        return None
    cluster = PostgresCluster()
    stack.callback(cluster.stop)
    try:
        return cluster.start()
    except Exception:       # noqa: BLE001 - reported; the SQLite rounds still run
        errors["3. PostgreSQL"] = traceback.format_exc()
        log(f"PostgreSQL did not start:\n{errors['3. PostgreSQL']}")
        return None


def measure_outbox(storage: str, setup: tuple, postgres: PostgresCluster | None, approved: Path, work: Path, n: int,
                   watcher: ProcWatcher, results: dict) -> None:
    """Queue ``n`` personalised emails with careleaf.desk.send.send (as the desk and the API do), deliver them with
    ``careleaf worker`` processes to a local mail server, and count what arrived and what is left."""
    label, processes, threads = setup
    rounds = results.setdefault("outbox", [])
    number = len(rounds) + 1
    domain = f"r{number}.{RECIPIENT_DOMAIN}"      # each round's own addresses: PostgreSQL's WAL is shared
    with contextlib.ExitStack() as stack:
        folder = work / f"outbox-{number}-{storage}"
        folder.mkdir()
        root = copy_project(approved, folder / "project")
        sink = MailSink().start()
        stack.callback(sink.stop)
        env = os.environ | {"CARELEAF_STAFF": "bench"}
        outbox = f"outbox:\n  storage: {storage}\n"
        database = f"outbox_{number}"
        if storage == "postgresql":
            if postgres is None:
                raise RuntimeError("PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin) or runuser is missing")
            env["CARELEAF_DATABASE_URL"] = postgres.create_database(database)
            outbox += f"  namespace: {PG_NAMESPACE}\n"
        (root / "careleaf.yaml").write_text(
            f"email:\n  host: 127.0.0.1\n  port: {sink.port}\n  security: none\n  sender: {SENDER}\n  timeout: 30\n"
            f"{outbox}data: data\n", "utf-8")

        def stored() -> dict:
            """Recipient addresses in the outbox's storage, byte for byte (PostgreSQL's after a CHECKPOINT, so that
            its files hold what its memory does)."""
            if storage == "postgresql":
                postgres.query("checkpoint")
                files = postgres.database_files(database)
                return addresses_in_files({f"database {database} (base/…)": [p for p in files if "pg_wal" not in p.parts],
                                           "pg_wal (the whole cluster's)": [p for p in files if "pg_wal" in p.parts]},
                                          domain)
            return addresses_in_files({p.name: [p] for p in sorted((root / "data").iterdir()) if p.is_file()}, domain)

        saved = os.environ.get("CARELEAF_DATABASE_URL")
        if "CARELEAF_DATABASE_URL" in env:
            os.environ["CARELEAF_DATABASE_URL"] = env["CARELEAF_DATABASE_URL"]
        try:
            out = _queue_and_deliver(root, folder, sink, env, n, domain, processes, threads, postgres, stored,
                                     watcher, stack)
        finally:
            if saved is None:
                os.environ.pop("CARELEAF_DATABASE_URL", None)
            else:
                os.environ["CARELEAF_DATABASE_URL"] = saved

        out["left"] = stored()
        box = out.pop("outbox")
        box.db.close()                 # the bench's own connection: on SQLite, the last one checkpoints the WAL
        out["closed"] = stored() if storage == "sqlite" else None
        # What the worker's daily purge does (careleaf.desk.retention.purge: nothing is past its retention yet, but
        # it VACUUMs): whether that takes the delivered messages' bytes off the disk.
        from careleaf.desk.retention import purge

        out["purge"] = str(purge(box.db, box.settings.retention))
        box.db.close()
        out["purged"] = stored()
    rounds.append(out | {"storage": storage, "setup": label, "processes": processes, "threads": threads})


def _queue_and_deliver(root: Path, folder: Path, sink: MailSink, env: dict, n: int, domain: str, processes: int,
                       threads: int, postgres: PostgresCluster | None, stored, watcher: ProcWatcher,
                       stack: contextlib.ExitStack) -> dict:
    from careleaf.content.catalog import load_catalog
    from careleaf.content.settings import load_settings
    from careleaf.desk.outbox import Outbox
    from careleaf.desk.register import project_register
    from careleaf.desk.send import send
    from careleaf.handout.handouts import Choice, handout
    from careleaf.project import Project

    class TimedOutbox(Outbox):
        """The project's outbox, its queue() timed: the database's share of each send."""

        times: list[float] = []

        def queue(self, *args, **kwargs):
            began = time.perf_counter()
            try:
                return super().queue(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - began)

    project = Project(root)
    settings = load_settings(project)
    outbox = TimedOutbox(project, settings)
    outbox.times = []
    catalog = load_catalog(project)
    choices = {lang: Choice(BRAND, TREATMENT, "aftercare", lang) for lang in ("en", "tr")}
    began = time.perf_counter()
    made = {lang: handout(project, choice, patient=patient(4000 + k), catalog=catalog)
            for k, (lang, choice) in enumerate(choices.items())}
    rendering = time.perf_counter() - began

    calls = []
    began = time.perf_counter()
    for i in range(n):
        lang = "tr" if i % 2 else "en"
        before = time.perf_counter()
        sent = send(project, choices[lang], patient=patient(i), to=f"patient{i:05d}@{domain}",
                    reference=f"OUT-{i:05d}", staff="bench", settings=settings, outbox=outbox, made=made[lang],
                    catalog=catalog, consent=True)
        calls.append(time.perf_counter() - before)
        if sent.status != "queued":
            raise RuntimeError(f"send {i} was not queued: {sent.status}")
    queue_wall = time.perf_counter() - began
    queued = _outbox_counts(outbox)
    if queued["statuses"] != {"queued": n} or queued["bodies"] != n:
        raise RuntimeError(f"after queueing {n}: {queued}")
    sqlite_mode = None
    if settings.outbox.storage == "sqlite":
        with outbox.db.transaction() as tx:
            sqlite_mode = {name: tx.one(f"pragma {name}")[0] for name in ("journal_mode", "synchronous", "secure_delete")}
    before_files = stored()

    server_cpu = postgres.cpu() if settings.outbox.storage == "postgresql" else None
    workers = []
    started = time.perf_counter()
    for k in range(processes):
        process = start(generate("--project", root, "worker", "--workers", threads), stack,
                        folder / f"worker-{k + 1}.log", env=env)
        watcher.watch(process.pid)
        workers.append(process)

    def check_workers() -> None:
        for k, process in enumerate(workers):
            if process.poll() is not None:
                raise RuntimeError(f"worker {k + 1} exited with status {process.returncode}:\n"
                                   + (folder / f"worker-{k + 1}.log").read_text()[-2000:])

    def all_received() -> bool:
        check_workers()
        return sink.received() >= n

    wait_until(all_received, max(120, n * 0.5), f"{n} messages at the mail server", interval=0.05)
    received_at = sink.last - started
    first_at = sink.first - started

    def all_recorded() -> bool:
        check_workers()
        with outbox.db.transaction() as tx:
            return tx.one("select count(*) from sends where namespace = ? and status = 'sent'", tx.namespace)[0] >= n

    wait_until(all_recorded, 120, "every send recorded as sent", interval=0.1)
    recorded_at = time.perf_counter() - started
    worker_cpu = [process_cpu(process.pid) for process in workers]
    watcher.sample()
    hwm = [watcher.hwm(process.pid) for process in workers]
    time.sleep(1.0)                      # anything sent twice would arrive now
    for process in workers:
        stop(process)
    if server_cpu is not None:
        time.sleep(0.5)                  # the workers' backends exit and are reaped: their time joins cutime
        server_cpu = postgres.cpu() - server_cpu
    after = _outbox_counts(outbox)
    entries = project_register(project, settings).find()
    per_worker = [len(re.findall(r": sent$", (folder / f"worker-{k + 1}.log").read_text(), re.M))
                  for k in range(processes)]
    with sink.lock:
        distinct, total, size = len(sink.ids), sink.count, sink.bytes
        repeated = sum(count - 1 for count in sink.ids.values() if count > 1)
    return {"n": n, "render_two": rendering, "send": median(calls), "send_p90": p90(calls),
            "queue": median(outbox.times), "queue_p90": p90(outbox.times), "queue_wall": queue_wall,
            "first_at": first_at, "received_at": received_at, "recorded_at": recorded_at,
            "throughput": n / received_at,
            "steady": (n - 1) / (sink.last - sink.first) if sink.last > sink.first else float("nan"),
            "worker_cpu": worker_cpu, "server_cpu": server_cpu, "worker_hwm": hwm, "per_worker": per_worker,
            "distinct": distinct, "total": total, "repeated": repeated, "message_bytes": size / max(total, 1),
            "statuses": after["statuses"], "bodies": after["bodies"], "queued_bodies": queued["bodies"],
            "register": sum(1 for entry in entries if entry.channel == "email"), "register_all": len(entries),
            "sqlite_mode": sqlite_mode, "before": before_files, "outbox": outbox}


def _outbox_counts(outbox) -> dict:
    """The outbox's sends by status and the message bodies it holds, counted in its own tables."""
    with outbox.db.transaction() as tx:
        statuses = dict(tx.rows("select status, count(*) from sends where namespace = ? group by status", tx.namespace))
        bodies = tx.one("select count(*) from messages where namespace = ?", tx.namespace)[0]
    return {"statuses": statuses, "bodies": bodies}


# --- 4. the web app ----------------------------------------------------------------------------

def measure_web(approved: Path, work: Path, n: int, watcher: ProcWatcher, results: dict) -> None:
    import httpx

    with contextlib.ExitStack() as stack:
        folder = work / "web"
        folder.mkdir()
        root = copy_project(approved, folder / "project")
        port = free_port()
        env = os.environ | {"CARELEAF_API_TOKENS": API_TOKEN, "CARELEAF_STAFF": "bench"}
        started = time.perf_counter()
        server = start(generate("--project", root, "serve", "--port", port), stack, folder / "serve.log", env=env,
                       stop_timeout=30)
        watcher.watch(server.pid)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {API_TOKEN}"}

        def ready() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"careleaf serve exited ({server.returncode}):\n"
                                   + (folder / "serve.log").read_text()[-2000:])
            try:
                return httpx.get(f"{base}/api/leaflets", headers=headers, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 90, "careleaf serve to answer", interval=0.1)
        startup = time.perf_counter() - started

        def body(i: int) -> dict:
            fields = patient(5000 + i)
            return {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en",
                    "patient": {name: fields[name] for name in ("name", "treated", "batch")},
                    "reference": f"WEB-{i:05d}", "staff": "bench"}

        async def burst(numbers: list[int]) -> tuple[float, list[tuple[float, int, str, bool, int]]]:
            limits = httpx.Limits(max_connections=len(numbers) + 5, max_keepalive_connections=len(numbers) + 5)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600, limits=limits) as client:
                async def one(i: int):
                    began = time.perf_counter()
                    response = await client.post("/api/handouts", json=body(i))
                    return (time.perf_counter() - began, response.status_code, response.headers.get("content-type", ""),
                            response.content.startswith(b"%PDF-"), len(response.content))
                began = time.perf_counter()
                answers = await asyncio.gather(*(one(i) for i in numbers))
                return time.perf_counter() - began, list(answers)

        workers = 2
        with contextlib.suppress(Exception):
            from careleaf.project import Project
            from careleaf.content.settings import load_settings

            workers = load_settings(Project(root)).desk.render_workers
        # One warm-up request for each render worker, sent together, so that each worker process has imported
        # WeasyPrint and read the catalog before the measured burst (one request would warm only one of them).
        warm_wall, warm = asyncio.run(burst(list(range(900, 900 + workers))))
        if any(status != 200 for _, status, *_ in warm):
            raise RuntimeError(f"warm-up failed: {[status for _, status, *_ in warm]}\n"
                               + (folder / "serve.log").read_text()[-2000:])
        wall, answers = asyncio.run(burst(list(range(n))))
        watcher.sample()
        latencies = [answer[0] for answer in answers]
        main_hwm = watcher.hwm(server.pid)
        kids = watcher.descendants(server.pid)
        render = [watcher.hwm(pid) for pid in kids if b"spawn_main" in watcher.info[pid]["cmdline"]
                  and watcher.info[pid]["seen"] >= 2]
        # Other children seen at least twice (not the split-second ldconfig/gcc a render worker's ctypes.util.find_library
        # runs): multiprocessing's resource tracker.
        helpers = [(_short(watcher.info[pid]["cmdline"]), watcher.hwm(pid)) for pid in kids
                   if b"spawn_main" not in watcher.info[pid]["cmdline"] and watcher.info[pid]["seen"] >= 2]
        stop(server, timeout=30)          # uvicorn shuts down gracefully: the lifespan closes the render pool
        results["web"] = {"n": n, "workers": workers, "startup": startup, "warm": sorted(a[0] for a in warm),
                          "wall": wall, "p50": median(latencies), "p95": p95(latencies), "max": max(latencies),
                          "min": min(latencies), "ok": sum(1 for a in answers if a[1] == 200),
                          "pdfs": sum(1 for a in answers if a[3] and a[2].startswith("application/pdf")),
                          "statuses": dict(Counter(a[1] for a in answers)), "bytes": median([a[4] for a in answers]),
                          "main_hwm": main_hwm, "render_hwm": render, "helper_hwm": helpers,
                          "server_exit": server.returncode}


def _short(cmdline: bytes) -> str:
    """A process's command line in a few words: 'resource_tracker', 'ldconfig', …"""
    text = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")
    found = re.search(r"multiprocessing\.(\w+)", text)
    return found.group(1) if found else Path(text.split(" ", 1)[0]).name or "?"


# --- machine and versions ----------------------------------------------------------------------

def filesystem(path: str) -> str:
    """The kind of file system a folder is on (whether fsync costs anything: tmpfs, ext4, …)."""
    said = subprocess.run(["df", "--output=fstype", path], capture_output=True, text=True).stdout.split()
    return f"{said[-1] if said else 'an unknown file system'} ({path})"


def environment(source_description: str, postgres_version: str) -> dict:
    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    import careleaf

    return {
        **machine(),
        "careleaf": f"{careleaf.__version__}, {source_description}",
        "commit": commit or "unknown",
        "weasyprint": package("weasyprint"), "pydyf": package("pydyf"), "pikepdf": package("pikepdf"),
        "psycopg": package("psycopg"), "fastapi": package("fastapi"), "uvicorn": package("uvicorn"),
        "starlette": package("starlette"), "pebble": package("pebble"), "httpx": package("httpx"),
        "aiosmtpd": package("aiosmtpd"), "postgresql": postgres_version, "filesystem": filesystem(tempfile.gettempdir()),
        "sqlite": sqlite3.sqlite_version,
        "pango": c_version("pango-1.0", "pango_version_string"),
    }


# --- the report --------------------------------------------------------------------------------

def report(env: dict, counts: dict, results: dict, phases: dict, errors: dict, calibration: tuple[float, float],
           command: str, minutes: float) -> str:
    lines: list[str] = []
    add = lines.append
    add("# careleaf front-desk benchmark results")
    add("")
    add(f"Written by `{command}` on {env['date']} (the run took {minutes:.1f} min). What each number means and how "
        "it is measured: the *Front-desk benchmark* section of [README.md](README.md).")
    add("")
    add("| Machine | |")
    add("|---|---|")
    add(f"| CPU | {env['cpu']}, {env['nproc']} cores (shared) |")
    add(f"| Memory | {env['memory']} |")
    add(f"| Kernel | {env['kernel']} |")
    add(f"| Python | {env['python']} |")
    add(f"| careleaf | {env['careleaf']}; repository commit `{env['commit']}` |")
    add(f"| WeasyPrint | {env['weasyprint']} (pydyf {env['pydyf']}, Pango {env['pango']}); pikepdf {env['pikepdf']} |")
    add(f"| Outbox | SQLite {env['sqlite']}; PostgreSQL {env['postgresql']} (psycopg {env['psycopg']}); both on "
        f"{env['filesystem']} |")
    add(f"| FastAPI | {env['fastapi']} (Starlette {env['starlette']}), uvicorn {env['uvicorn']}, pebble {env['pebble']} |")
    add(f"| Test clients | httpx {env['httpx']}, aiosmtpd {env['aiosmtpd']} |")
    add("")
    _load(add, phases, calibration, env)
    if errors:
        add("")
        add("**Some parts failed** (their numbers are missing below):")
        add("")
        for name, error in errors.items():
            add(f"* {name}: `{error.strip().splitlines()[-1] if error.strip() else error}`")
    add("")
    add("## Summary")
    add("")
    add("| Measurement | Result |")
    add("|---|---|")
    for row in _summary(results):
        add(row)
    add("")
    _handout_section(add, results)
    _day_section(add, results)
    _outbox_section(add, results)
    _web_section(add, results)
    _profile_section(add, results)
    return "\n".join(lines) + "\n"


def _load(add, phases: dict, calibration: tuple[float, float], env: dict) -> None:
    disturbed = [f"{name} ({phase['other_cores']:.2f} cores)" for name, phase in phases.items()
                 if phase["other_cores"] > 0.15]
    drift = calibration[1] / calibration[0] if calibration[0] else 1.0
    if disturbed or abs(drift - 1) > 0.15:
        add(f"**Timings are disturbed.** Other processes used CPU on these {env['nproc']} shared cores during: "
            f"{', '.join(disturbed) or 'none of the parts'}"
            f"{'; the calibration loop drifted' if abs(drift - 1) > 0.15 else ''}. Trust the ratios (measured in the "
            "same run) more than the absolute times.")
    else:
        add("Other processes used under 0.15 cores on average in every part: timings look undisturbed.")
    add("")
    add(f"Calibration loop: {sec(calibration[0])} at the start, {sec(calibration[1])} at the end ({drift:.2f}×).")
    add("")
    add("| Part | Wall | CPU, this bench | CPU, other processes | Load average |")
    add("|---|---|---|---|---|")
    for name, phase in phases.items():
        add(f"| {name} | {sec(phase['wall'])} | {phase['ours_cpu']:.1f} s | {phase['other_cpu']:.1f} s "
            f"({phase['other_cores']:.2f} cores) | {phase['load']:.2f} |")


def _summary(results: dict) -> list[str]:
    rows = []
    one = results.get("handout")
    if one:
        en, large = one["en"], one["large"]
        rows.append(f"| One handout, warm, English aftercare ({en['n']} calls) | median **{ms(en['median'])}**, "
                    f"p90 {ms(en['p90'])}; {'/'.join(map(str, en['pages']))} pages, {kib(en['bytes'])} |")
        rows.append(f"| One handout, warm, large print ({large['n']} calls) | median **{ms(large['median'])}**, "
                    f"p90 {ms(large['p90'])}; {'/'.join(map(str, large['pages']))} pages, {kib(large['bytes'])} |")
        rows.append(f"| One handout, cold: the process's first call (WeasyPrint not yet imported) | **{sec(one['cold'])}** "
                    f"({one['cold'] / en['median']:.1f}× a warm call) |")
    day = results.get("day")
    if day:
        per = day["wall"] / day["rows"]
        ratio = f"; {per / one['en']['median']:.2f}× a warm handout" if one else ""
        rows.append(f"| A day's list, {day['rows']} rows (`careleaf handouts`) | **{sec(day['wall'])}** wall, "
                    f"{ms(per)} per leaflet{ratio}; {kib(day['bytes'])}, {day['pages']} pages; peak RSS {mib(day['maxrss'])} |")
    rows += _outbox_summary(results.get("outbox", []))
    web = results.get("web")
    if web:
        rows.append(f"| Web API, {web['n']} concurrent `POST /api/handouts` ({web['workers']} render workers) | "
                    f"p50 **{sec(web['p50'])}**, p95 {sec(web['p95'])}, max {sec(web['max'])}; "
                    f"{web['ok']}/{web['n']} answered 200 with a PDF"
                    f"{'' if web['pdfs'] == web['n'] else ' (**' + str(web['pdfs']) + ' PDFs**)'}; "
                    f"server {mib(web['main_hwm'])} + render workers {' + '.join(mib(k) for k in web['render_hwm'])} |")
    return rows


def _handout_section(add, results: dict) -> None:
    one = results.get("handout")
    if not one:
        return
    en, large = one["en"], one["large"]
    add("## 1. One handout, in one process")
    add("")
    add("`careleaf.handout.handouts.handout(project, Choice('harbour-skin', 'botox-facial-lines', 'aftercare', 'en'), "
        "patient={...})` in the bench process, each call with a different name (and the treatment record: "
        "areas, product, batch, units, practitioner), after 2 warm-up calls; no catalog is passed, so each call "
        "reads the project's YAML as `careleaf handout` does.")
    add("")
    add("| | Calls | Median | p90 | Fastest | Pages | PDF size |")
    add("|---|---|---|---|---|---|---|")
    add(f"| English aftercare | {en['n']} | {ms(en['median'])} | {ms(en['p90'])} | {ms(en['min'])} | "
        f"{'/'.join(map(str, en['pages']))} | {kib(en['bytes'])} |")
    add(f"| The same, large print | {large['n']} | {ms(large['median'])} | {ms(large['p90'])} | {ms(large['min'])} | "
        f"{'/'.join(map(str, large['pages']))} | {kib(large['bytes'])} |")
    server = one.get("server")
    if server:
        add(f"| English aftercare in the web server's render worker (`careleaf.web.renderer.Renderer`, the catalog "
            f"kept) | {server['n']} | {ms(server['median'])} | {ms(server['p90'])} | {ms(server['min'])} | | "
            f"{kib(server['bytes'])} |")
    add("")
    add(f"Large print takes {large['median'] / en['median']:.2f}× the time of standard print. "
        f"{en['distinct']} of {en['n']} PDFs differ from one another (each carries its patient's name).")
    add("")
    add(f"Cold: the first call in the process took **{sec(one['cold'])}** ({one['cold'] / en['median']:.1f}× a warm one): "
        f"importing WeasyPrint (careleaf imports it on first use), reading the fonts and preparing the stylesheets. "
        f"Importing `careleaf.handout.handouts` before it took {ms(one['import_handouts'])}.")
    add("")
    add("Where a warm call's time goes (the steps `handout()` takes, timed separately, median of 5):")
    add("")
    add("| Step | Time | Share |")
    add("|---|---|---|")
    total = sum(one["breakdown"].values())
    for name, value in one["breakdown"].items():
        add(f"| `{name}` | {ms(value)} | {value / total * 100:.0f}% |")
    add(f"| total | {ms(total)} | |")
    add("")


def _day_section(add, results: dict) -> None:
    day = results.get("day")
    if not day:
        return
    one = results.get("handout")
    mix = ", ".join(f"{count} {lang}{' large print' if large == 'yes' else ''}"
                    for (lang, large), count in sorted(day["mix"].items()))
    add("## 2. A day's list")
    add("")
    add(f"`python generate.py --project P handouts --from day.csv --out day.pdf --staff bench` as a subprocess; "
        f"{day['rows']} rows of the aftercare leaflet for botox-facial-lines at Harbour Skin ({mix}), each with a "
        "patient reference, name, treatment time and batch.")
    add("")
    add("| Wall | CPU | Per leaflet | Merged PDF | Pages | Peak RSS (exact) | Peak RSS (sampled) |")
    add("|---|---|---|---|---|---|---|")
    add(f"| {sec(day['wall'])} | {sec(day['cpu'])} | {ms(day['wall'] / day['rows'])} | {kib(day['bytes'])} | "
        f"{day['pages']} | {mib(day['maxrss'])} | {mib(day['hwm'])} |")
    add("")
    if one:
        add(f"Per leaflet, the list costs {day['wall'] / day['rows'] / one['en']['median']:.2f}× one warm handout "
            "in the bench process (ratio measured in the same run). The list pays once for starting Python, importing "
            "WeasyPrint and reading the catalog (which each `handout()` call reads again), and per row for checking it, "
            "rendering it (a tenth are large print), merging it into the one PDF and recording it in the register.")
        add("")
    merge = day.get("merge")
    if merge:
        add(f"Merging alone (`merge.merge_tagged` over {day['rows']} of part 1's PDFs, {kib(merge['inputs'])} in all, "
            f"in a fresh process): {sec(merge['seconds'])}; the process grew from {mib(merge['before'])} to a peak of "
            f"**{mib(merge['peak'])}** ({(merge['peak'] - merge['before']) / 1024 / day['rows']:.1f} MiB per leaflet merged). "
            "Rendering keeps memory flat (the leaflets wait as PDF bytes, about 40 KiB each); the merge is what makes "
            "a long list's peak grow with its length.")
        add("")
    register = day["register"]
    add(f"Per row, the register costs {ms(register['git'])} for the project's git revision (`git rev-parse`, run once "
        f"for every row) and {ms(register['insert'])} for the insert (measured in the bench process).")
    add("")
    add("Peak RSS (exact) is `ru_maxrss` from `os.wait4` of the command, started through a small launcher "
        "(bench/common.py's): `RUSAGE_CHILDREN` of the bench itself would report the bench's own size, because a child "
        "started by fork/vfork keeps its parent's high-water mark across exec.")
    add("")


def _outbox_groups(rounds: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """The outbox's rounds by (storage, setup), in the order of OUTBOX_SETUPS and STORAGES."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for setup in OUTBOX_SETUPS:
        for storage in STORAGES:
            found = [r for r in rounds if r["storage"] == storage and r["setup"] == setup[0]]
            if found:
                groups[(storage, setup[0])] = found
    return groups


def _speed(rounds: list[dict]) -> float:
    return median([r["throughput"] for r in rounds])


def _cpu_per_email(r: dict) -> tuple[float, float | None]:
    """CPU seconds per email: the worker processes', and the PostgreSQL server's (None on SQLite)."""
    server = r["server_cpu"] / r["n"] if r["server_cpu"] is not None else None
    return sum(r["worker_cpu"]) / r["n"], server


def _exactly_once(r: dict) -> bool:
    return (r["total"] == r["distinct"] == r["n"] and r["repeated"] == 0 and r["statuses"] == {"sent": r["n"]}
            and r["register"] == r["n"] and r["bodies"] == 0)


def _outbox_ratios(rounds: list[dict]) -> list[tuple[str, float]]:
    groups = _outbox_groups(rounds)
    ratios = []
    for label, *_ in OUTBOX_SETUPS:
        if ("sqlite", label) in groups and ("postgresql", label) in groups:
            ratios.append((f"PostgreSQL ÷ SQLite, {label}",
                           _speed(groups[("postgresql", label)]) / _speed(groups[("sqlite", label)])))
    for storage in STORAGES:
        one = groups.get((storage, OUTBOX_SETUPS[0][0]))
        for label, *_ in OUTBOX_SETUPS[1:]:
            if one and (storage, label) in groups:
                ratios.append((f"{storage}: {label} ÷ 1 process", _speed(groups[(storage, label)]) / _speed(one)))
    return ratios


def _outbox_summary(rounds: list[dict]) -> list[str]:
    if not rounds:
        return []
    rows, n = [], rounds[0]["n"]
    each = " and ".join
    for storage in STORAGES:
        mine = [r for r in rounds if r["storage"] == storage]
        if mine:
            per = median([r["send"] for r in mine])
            rows.append(f"| {n:,} emails queued with `send()`, {storage} (rendering excluded) | **{ms(per)}** per "
                        f"email, of which `Outbox.queue` {ms(median([r['queue'] for r in mine]))}; "
                        f"{each(sec(r['queue_wall']) for r in mine)} in all |")
    for (storage, label), mine in _outbox_groups(rounds).items():
        cpu = [_cpu_per_email(r) for r in mine]
        server = "" if cpu[0][1] is None else f" + PostgreSQL server {ms(median([c[1] for c in cpu]))}"
        speeds = each(f"{r['throughput']:.1f}" for r in mine)
        rows.append(f"| {n:,} emails delivered, {storage}, {label} | **{speeds} emails/s**; CPU per email: "
                    f"worker{'s' if mine[0]['processes'] > 1 else ''} "
                    f"{ms(median([c[0] for c in cpu]))}{server} |")
    good = [r for r in rounds if _exactly_once(r)]
    if len(good) == len(rounds):
        rows.append(f"| Every round ({len(rounds)}): delivered, duplicates, register, bodies left | {n:,} queued → "
                    f"{n:,} delivered, **0 duplicates** (Message-IDs at the server), {n:,} register entries, "
                    "0 message bodies left in the outbox |")
    else:
        bad = [f"round {rounds.index(r) + 1} ({r['storage']}, {r['setup']}): {r['total']} received, {r['distinct']} "
               f"distinct, {r['repeated']} duplicates, states {r['statuses']}, register {r['register']}, "
               f"bodies left {r['bodies']}" for r in rounds if r not in good]
        rows.append(f"| Delivered, duplicates, register, bodies left | **{'; '.join(bad)}** (the other rounds: "
                    f"{n:,} each, exactly once) |")
    for label, ratio in _outbox_ratios(rounds):
        rows.append(f"| Delivery throughput, {label} (same run) | **{ratio:.2f}×** |")
    for storage in STORAGES:
        mine = [r for r in rounds if r["storage"] == storage]
        if mine:
            def where(state: str) -> str:
                found = sorted({f"`{name}`" for r in mine for name, (count, _, _) in (r[state] or {}).items() if count})
                return f"**in {', '.join(found)}**" if found else "none"

            rows.append(f"| Recipient addresses in the {storage} outbox's files after delivery | {where('left')}; "
                        f"after the daily purge (VACUUM): {where('purged')} |")
    return rows


def _outbox_section(add, results: dict) -> None:
    rounds = results.get("outbox", [])
    if not rounds:
        return
    first = rounds[0]
    add("## 3. 1,000 queued emails, delivered by `careleaf worker`")
    add("")
    add(f"A local SMTP server (aiosmtpd `Controller` on 127.0.0.1, plain, `security: none`) in the bench process counts "
        "what it receives by Message-ID. Each round has its own project copy, mail server and outbox: `outbox: storage: "
        "sqlite` (`data/desk.sqlite3`) or `storage: postgresql` (its own database on a PostgreSQL cluster the bench "
        "starts in a temporary folder as the `postgres` user, default durability: fsync and synchronous_commit on; "
        "TLS with `sslmode=verify-full`, as a clinic group connects; `namespace: harbour-skin`). "
        f"One personalised PDF per language is made with `handout()` (English and Turkish, {sec(first['render_two'])} for "
        f"both); then {first['n']:,} emails, alternating English and Turkish, each to its own address and with its own "
        "patient reference (so its own idempotency key and Message-ID), are queued with "
        "`careleaf.desk.send.send(project, choice, patient=..., to=..., reference=..., made=..., consent=True)`, as the "
        "desk's Email button and `POST /api/sends` do: compose, the project's git revision, `Outbox.queue`. "
        "**Queueing time excludes rendering.** Then the round's `python generate.py --project P worker --workers T` "
        "processes start; delivery is timed from starting them until the server has received every email; when "
        "every send is recorded as sent, the bench waits 1 s for any second copy, then stops the workers with SIGTERM.")
    add("")
    if first.get("sqlite_mode") or any(r.get("sqlite_mode") for r in rounds):
        mode = next(r["sqlite_mode"] for r in rounds if r.get("sqlite_mode"))
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        add(f"SQLite as careleaf opens it: journal_mode={mode['journal_mode']}, "
            f"synchronous={names.get(mode['synchronous'], mode['synchronous'])}, secure_delete={mode['secure_delete']}. "
            "CPU per email: the worker processes' own CPU time (all their threads, their start-up included) read from "
            "`/proc` when the last send was recorded, divided by the emails; on PostgreSQL also the server's (the "
            "postmaster, its running children and the reaped backends, between starting the workers and after they "
            "stopped; the bench's own backend, polling a count every 0.1 s, is in it). The mail server and the bench "
            "are not counted.")
        add("")
    add("| # | Storage | Workers | `send()` per email, median / p90 | of which `Outbox.queue` | Queueing, all | "
        "First at server | All at server | Emails/s | Emails/s, first → last | CPU per email: workers | "
        "CPU per email: PostgreSQL |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k, r in enumerate(rounds, start=1):
        workers, server = _cpu_per_email(r)
        add(f"| {k} | {r['storage']} | {r['setup']} | {ms(r['send'])} / {ms(r['send_p90'])} | {ms(r['queue'])} | "
            f"{sec(r['queue_wall'])} | {sec(r['first_at'])} | {sec(r['received_at'])} | **{r['throughput']:.1f}** | "
            f"{r['steady']:.1f} | {ms(workers)} | {'-' if server is None else ms(server)} |")
    add("")
    add("What arrived and what is left, counted in the same rounds (*duplicates*: copies beyond the first of a "
        "Message-ID; *bodies left*: rows of the outbox's `messages` table after delivery; *register*: entries with "
        "channel email, read with `careleaf.desk.register.project_register(...).find()`):")
    add("")
    add("| # | Storage | Workers | Queued | Received | Distinct Message-IDs | Duplicates | Outbox states after | "
        "Bodies left | Register | Sent by each process | Worker peak RSS |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k, r in enumerate(rounds, start=1):
        states = ", ".join(f"{state} {count}" for state, count in sorted(r["statuses"].items()))
        add(f"| {k} | {r['storage']} | {r['setup']} | {r['n']} | {r['total']} | {r['distinct']} | "
            f"{'**' + str(r['repeated']) + '**' if r['repeated'] else 0} | {states} | {r['bodies']} | "
            f"{r['register']} | {' / '.join(map(str, r['per_worker']))} | {', '.join(mib(h) for h in r['worker_hwm'])} |")
    add("")
    ratios = _outbox_ratios(rounds)
    if ratios:
        add("Ratios of delivery throughput (emails/s from starting the workers; medians where a pair ran twice), "
            "measured in this run:")
        add("")
        add("| Ratio | |")
        add("|---|---|")
        for label, ratio in ratios:
            add(f"| {label} | **{ratio:.2f}×** |")
        add("")
    add(f"Recipient addresses found in the outbox's storage (distinct addresses / occurrences of the round's domain, "
        f"*@rN.{RECIPIENT_DOMAIN}*; size), searched byte for byte by a separate process: before delivery (showing the "
        "search finds them), after delivery (the workers stopped; the bench's own connection still open, as a desk's "
        "would be), on SQLite after that last connection closed too (SQLite then checkpoints and removes the WAL), "
        "and after `careleaf.desk.retention.purge` (what the worker runs daily: nothing is past its retention yet, "
        f"{rounds[0]['purge']!r}, but it VACUUMs the outbox's tables). After delivery, each send's record keeps the "
        "address masked (`p•••@` and the domain, for staff), so the domain is still counted where no address is left. "
        "PostgreSQL's files are searched after a `CHECKPOINT`, so that they hold what its memory does: the "
        "round's database folder (`base/OID`: tables, TOAST, indexes) and the write-ahead log (`pg_wal`, the cluster's "
        "own, which the round's addresses reach too).")
    add("")
    add("| # | Storage | Workers | File | Before delivery | After delivery | After every connection closed | "
        "After `purge` (VACUUM) |")
    add("|---|---|---|---|---|---|---|---|")

    def cell(found: dict | None, where: str) -> str:
        if found is None:
            return "-"
        if where not in found:
            return "(no file)"
        addresses, occurrences, size = found[where]
        return (f"**{addresses} / {occurrences}**" if addresses or occurrences else "none") + f" ({kib(size)})"

    for k, r in enumerate(rounds, start=1):
        for where in sorted(set(r["before"]) | set(r["left"]) | set(r["closed"] or {}) | set(r["purged"])):
            add(f"| {k} | {r['storage']} | {r['setup']} | `{where}` | {cell(r['before'], where)} | "
                f"{cell(r['left'], where)} | {cell(r['closed'], where)} | {cell(r['purged'], where)} |")
    add("")


def _web_section(add, results: dict) -> None:
    web = results.get("web")
    if not web:
        return
    one = results.get("handout")
    add("## 4. The web app under load")
    add("")
    add(f"`python generate.py --project P serve --port PORT` (a subprocess, the default {web['workers']} render "
        f"workers) with `CARELEAF_API_TOKENS=bench-token`. It answered its first request {sec(web['startup'])} after "
        f"starting. Warm-up: {web['workers']} requests sent together, one for each render worker "
        f"({', '.join(sec(t) for t in web['warm'])}). Then {web['n']} `POST /api/handouts` sent at once (httpx.AsyncClient, "
        "one connection each), each for a different patient (English aftercare, name, treatment time, batch, reference).")
    add("")
    add("| Requests | Burst wall | p50 | p95 | Max | Fastest | Answers | PDF size |")
    add("|---|---|---|---|---|---|---|---|")
    statuses = ", ".join(f"{count}× {status}" for status, count in sorted(web["statuses"].items()))
    add(f"| {web['n']} | {sec(web['wall'])} | {sec(web['p50'])} | {sec(web['p95'])} | {sec(web['max'])} | "
        f"{sec(web['min'])} | {statuses}; {web['pdfs']} PDFs | {kib(web['bytes'])} |")
    add("")
    per = web["wall"] / web["n"]
    add(f"The server made {web['n'] / web['wall']:.2f} leaflets/s: each render worker took {ms(per * web['workers'])} per "
        "leaflet (burst wall × workers / requests)"
        + (f", {per * web['workers'] / one['en']['median']:.2f}× a warm in-process `handout()` (part 1), although a "
           "render worker keeps the catalog and so skips the YAML reading; the server, its workers and the bench's "
           "client share the machine's cores" if one else "")
        + f". Requests wait their turn for a render worker, so the last one waits for about {web['n']} / "
        f"{web['workers']} renders.")
    add("")
    helpers = web["helper_hwm"]
    total = web["main_hwm"] + sum(web["render_hwm"]) + sum(kb for _, kb in helpers)
    add(f"Memory (VmHWM, sampled every 0.1 s): the server process {mib(web['main_hwm'])}; its render workers "
        f"{', '.join(mib(k) for k in web['render_hwm'])}"
        + (f"; its other children: {', '.join(f'{name} {mib(kb)}' for name, kb in helpers)}" if helpers else "")
        + f"; in all **{mib(total)}**.")
    add("")


def _profile_section(add, results: dict) -> None:
    one = results.get("handout")
    if not one:
        return
    profile = one["profile"]
    add("## Where one handout's time goes (cProfile)")
    add("")
    add(f"Three warm `handout()` calls (English aftercare) under cProfile, per call ({ms(profile['total'])} with the "
        "profiler's overhead: cProfile slows Python code, roughly 1.5–2×, but not C code such as Pango, HarfBuzz or "
        "zlib; read the shares). By stage:")
    add("")
    add("| Stage | Time | Share |")
    add("|---|---|---|")
    total = profile["stages"][0][1] or float("nan")
    for label, value, depth in profile["stages"]:
        add(f"| {'&nbsp;&nbsp;' * 2 * depth}{label} | {ms(value)} | {value / total * 100:.0f}% |")
    add("")
    add("Highest cumulative time (each nested in the one above until layout branches out):")
    add("")
    add("| Function | Cumulative | Own | Calls |")
    add("|---|---|---|---|")
    for where, cumulative, own, calls in profile["cumulative"]:
        add(f"| `{where}` | {ms(cumulative)} | {ms(own)} | {calls} |")
    add("")
    add("Most own time (in the function itself):")
    add("")
    add("| Function | Own | Cumulative | Calls |")
    add("|---|---|---|---|")
    for where, cumulative, own, calls in profile["own"]:
        add(f"| `{where}` | {ms(own)} | {ms(cumulative)} | {calls} |")
    add("")


# --- 5. the desk during an API burst ------------------------------------------------------------------------

def measure_desk_first(approved: Path, work: Path, burst_size: int, prints: int, results: dict) -> None:
    """A receptionist's Print (POST /handout, the whole PDF back) while ``burst_size`` API requests for handouts
    arrive at once: each Print timed from the click to the PDF, one after another for as long as the burst lasts
    (``prints`` at least), with 2 render workers (the default)."""
    import httpx

    with contextlib.ExitStack() as stack:
        folder = work / "desk-first"
        folder.mkdir()
        root = copy_project(approved, folder / "project")
        port = free_port()
        # The API's rate limit is set above the burst here: what is measured is the render queue, not the limit.
        limit = ("  api_requests_per_minute: 1000\n"
                 if "api_requests_per_minute" in (common.SOURCE / "careleaf/content/settings.py").read_text() else "")
        (root / "careleaf.yaml").write_text("desk:\n  render_workers: 2\n" + limit, "utf-8")
        env = os.environ | {"CARELEAF_API_TOKENS": API_TOKEN, "CARELEAF_STAFF": "bench"}
        server = start(generate("--project", root, "serve", "--port", port), stack, folder / "serve.log", env=env,
                       stop_timeout=30)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        wait_until(lambda: _answers(base, headers), 90, "careleaf serve to answer", interval=0.2)
        choice = {"brand": BRAND, "treatment": TREATMENT, "kind": "aftercare", "lang": "en"}

        async def run() -> tuple[list[float], list[float], list[float]]:
            limits = httpx.Limits(max_connections=burst_size + 10, max_keepalive_connections=burst_size + 10)
            async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:
                page = await client.get("/", params=choice)
                token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]

                async def desk_print(i: int) -> float:
                    fields = patient(7000 + i)
                    form = {**choice, "csrf": token, "action": "print", "reference": f"DESK-{i:04d}",
                            "shown": f"{BRAND}/{TREATMENT}/aftercare/en/standard",
                            **{name: fields[name] for name in ("name", "treated", "batch")}}
                    began = time.perf_counter()
                    answer = await client.post("/handout", data=form)
                    if not answer.content.startswith(b"%PDF"):
                        raise RuntimeError(f"desk print {i}: {answer.status_code} {answer.text[:300]}")
                    return time.perf_counter() - began

                async def api_call(i: int) -> float:
                    fields = patient(8000 + i)
                    body = {**choice, "patient": {name: fields[name] for name in ("name", "treated", "batch")},
                            "reference": f"API-{i:04d}", "staff": "bench"}
                    began = time.perf_counter()
                    answer = await client.post("/api/handouts", json=body, headers=headers)
                    if answer.status_code != 200:
                        raise RuntimeError(f"API call {i}: {answer.status_code} {answer.text[:300]}")
                    return time.perf_counter() - began

                quiet = [await desk_print(900 + i) for i in range(3)]       # warm both workers, then the quiet time
                await asyncio.gather(desk_print(950), desk_print(951))
                burst = asyncio.gather(*(api_call(i) for i in range(burst_size)))
                await asyncio.sleep(0.5)                                     # the burst is queued
                during = []
                while not burst.done() or len(during) < prints:
                    during.append(await desk_print(len(during)))
                    if len(during) >= 4 * prints:
                        break
                return quiet, during, await burst

        quiet, during, api = asyncio.run(run())
        stop(server, timeout=30)
        results["desk_first"] = {"burst": burst_size, "quiet": quiet, "during": during, "api": api,
                                 "p90": common.p90(during), "median": median(during), "max": max(during),
                                 "api_p90": common.p90(api), "api_max": max(api)}


def _answers(base: str, headers: dict) -> bool:
    import httpx

    try:
        return httpx.get(f"{base}/api/leaflets", headers=headers, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def desk_first_only(args) -> int:
    """``--desk-first``: only part 5, its numbers printed (the report is not rewritten)."""
    work = Path(tempfile.mkdtemp(prefix="careleaf-desk-first-"))
    try:
        description = freeze_sources(work / "source", args.worktree, args.ref)
        project = approved_project(work / "approved")
        results: dict = {}
        measure_desk_first(project, work, args.burst, 10, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r = results["desk_first"]
    print(f"source: {description}; {os.cpu_count()} cores")
    print(f"desk Print, quiet: {', '.join(sec(t) for t in r['quiet'])}")
    print(f"desk Print during {r['burst']} API requests at once: n={len(r['during'])}, median {sec(r['median'])}, "
          f"p90 {sec(r['p90'])}, max {sec(r['max'])}")
    print(f"API requests of the burst: p90 {sec(r['api_p90'])}, max {sec(r['api_max'])}")
    return 0


# --- main --------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Benchmark careleaf's front desk: handouts, a day's list, the "
                                                 "email outbox and the web API. Writes bench/DESK-RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="smaller counts (10 handouts, a 20-row list, 100 sends "
                                                             "a round, 10 concurrent requests)")
    parser.add_argument("--worktree", action="store_true", help="measure the working tree as it is now, "
                        "uncommitted changes included (default: the last commit, git HEAD)")
    parser.add_argument("--results", type=Path, default=BENCH / "DESK-RESULTS.md", help="where to write the report")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder for inspection")
    parser.add_argument("--desk-first", action="store_true", help="only measure a desk Print's time during an API "
                        "burst (printed, the report is not rewritten)")
    parser.add_argument("--burst", type=int, default=50, help="API requests sent at once for --desk-first")
    parser.add_argument("--ref", default="HEAD", help="the git commit to measure (default HEAD), to compare")
    parser.add_argument("--outbox-rounds", type=int, choices=(1, 2), help="2: part 3's six rounds again, backwards "
                        "(medians of two; twice the time)")
    parser.add_argument("--parts", default="1234", help="which parts to measure (default 1234: all); write a partial "
                        "report elsewhere with --results")
    args = parser.parse_args(argv)
    if args.desk_first:
        return desk_first_only(args)
    counts = (QUICK if args.quick else FULL) | ({"outbox_rounds": args.outbox_rounds} if args.outbox_rounds else {})
    command = " ".join([".venv/bin/python bench/desk.py", *argv])

    began = time.perf_counter()
    calibration_start = calibrate()
    work = Path(tempfile.mkdtemp(prefix="careleaf-desk-bench-"))
    log(f"working in {work}")
    results: dict = {}
    errors: dict[str, str] = {}
    phases: dict[str, dict] = {}
    watcher = ProcWatcher()
    sampler = None
    stack = contextlib.ExitStack()
    postgres_version = "not measured"
    try:
        description = freeze_sources(work / "source", args.worktree)
        project = approved_project(work / "approved")
        sampler = CpuSampler()
        sampler.start()
        watcher.start()

        def part(name: str, function, *arguments) -> None:
            log(f"{name} …")
            mark = sampler.start_phase()
            try:
                function(*arguments)
            except Exception:       # noqa: BLE001 - a failed part is reported, the others still run
                errors[name] = traceback.format_exc()
                log(f"{name} FAILED:\n{errors[name]}")
            finally:
                phases[name] = sampler.end_phase(mark)
                log(f"{name}: {phases[name]['wall']:.1f} s")

        # First: the cold call must be the first to import WeasyPrint in this process.
        if "1" in args.parts:
            part("1. one handout", measure_handouts, project, counts, results)
        if "2" in args.parts:
            part("2. a day's list", measure_day_list, project, work, counts["rows"], results)
        if "3" in args.parts:
            postgres = start_postgres(stack, errors)
            postgres_version = postgres.version() if postgres else "not available"
            order = outbox_order(counts["outbox_rounds"])
            for number, (storage, setup) in enumerate(order, start=1):
                part(f"3. outbox {number}: {storage}, {setup[0]}", measure_outbox, storage, setup, postgres, project,
                     work, counts["sends"], watcher, results)
            stack.close()           # the PostgreSQL cluster stopped and its folder deleted before part 4
        if "4" in args.parts:
            part("4. web app", measure_web, project, work, counts["requests"], watcher, results)
        env = environment(description, postgres_version)
    finally:
        stack.close()
        if sampler is not None:
            sampler.stop()
        watcher.stop()
        watcher.end_leftovers()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    calibration = (calibration_start, calibrate())
    text = report(env, counts, results, phases, errors, calibration, command, (time.perf_counter() - began) / 60)
    faults = FAULTS_SECTION.search(args.results.read_text("utf-8")) if args.results.exists() else None
    args.results.write_text(text + ("\n" + faults.group(0) + "\n" if faults else ""), "utf-8")    # bench/faults.py's
    log(f"wrote {args.results}")
    summary = [line for line in text.split("\n## Summary\n", 1)[1].split("\n## ", 1)[0].strip().split("\n")]
    print("\n".join(summary))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
