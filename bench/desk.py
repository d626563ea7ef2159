#!/usr/bin/env python3
"""careleaf front-desk benchmark: one patient's handout, a day's list, 1,000 queued emails delivered by two
workers, and the web API under a burst of requests. Everything measured in one run, on one machine.

    .venv/bin/python bench/desk.py [--quick] [--no-redis] [--worktree] [--keep] [--results FILE]

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

# careleaf, and the libraries it and the desk use (WeasyPrint, pikepdf, redis, aiosmtpd, httpx), are imported
# inside the functions that use them: careleaf must come from the frozen copy main() puts first on sys.path, never
# from the working tree, and part 1's cold call must be the first to import WeasyPrint in this process.

REDIS_SERVER = "/usr/bin/redis-server"
# The outbox's fault table, written by bench/faults.py into the same report and kept when this one rewrites it.
FAULTS_SECTION = re.compile(r"<!-- faults -->.*<!-- /faults -->", re.S)

BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"      # the English aftercare leaflet: BTX-FL-AC
SENDER = "leaflets@harbourskin.example"
RECIPIENT_DOMAIN = "patients.example"
API_TOKEN = "bench-token"
RECIPIENT = re.compile(rb"patient\d{5}@" + re.escape(RECIPIENT_DOMAIN.encode()))

FULL = {"handouts": 30, "large": 10, "rows": 100, "sends": 1000, "outbox_rounds": 2, "requests": 50}
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


def start_redis(folder: Path, stack: contextlib.ExitStack) -> str:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = start([REDIS_SERVER, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
                     "--dir", folder, "--protected-mode", "yes"], stack, folder / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"

    def ping() -> bool:
        import redis

        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode}")
        try:
            with redis.Redis.from_url(url, socket_timeout=2) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    wait_until(ping, 15, "redis-server to answer PING")
    return url


def redis_contents(url: str) -> bytes:
    """Every key and value in the Redis database, concatenated (to look for addresses in)."""
    import redis

    chunks = []
    with redis.Redis.from_url(url, socket_timeout=10) as client:
        for key in client.scan_iter(count=1000):
            chunks.append(key)
            kind = client.type(key)
            if kind == b"string":
                chunks.append(client.get(key) or b"")
            elif kind == b"list":
                chunks += client.lrange(key, 0, -1)
            elif kind == b"hash":
                for field_, value in client.hgetall(key).items():
                    chunks += [field_, value]
            elif kind == b"set":
                chunks += list(client.smembers(key))
            elif kind == b"zset":
                chunks += client.zrange(key, 0, -1)
    return b"\n".join(chunks)


def addresses_in(blob: bytes) -> tuple[int, int]:
    """(distinct recipient addresses found, occurrences of the recipients' domain)."""
    return len(set(RECIPIENT.findall(blob))), blob.count(b"@" + RECIPIENT_DOMAIN.encode())


# Run in a child process: SQLite's locks are POSIX record locks, which a process loses on *every* descriptor of
# the file when it closes *any* descriptor of it. Reading outbox.sqlite3 (or its -wal/-shm) with open()/close()
# in the bench, which holds the outbox open, would drop its connections' locks; the workers would then reset the
# WAL under it and it would read "database disk image is malformed" (https://sqlite.org/howtocorrupt.html, 2.2).
FILE_SEARCH = f"""
import json, re, sys
pattern = re.compile({RECIPIENT.pattern!r})
found = {{}}
for path in sys.argv[1:]:
    with open(path, "rb") as file:
        blob = file.read()
    found[path] = [len(set(pattern.findall(blob))), blob.count({("@" + RECIPIENT_DOMAIN).encode()!r}), len(blob)]
print(json.dumps(found))
"""


def addresses_in_files(folder: Path) -> dict[str, tuple[int, int, int]]:
    """For each file of the folder: (distinct recipient addresses, occurrences of their domain, size), read by a
    separate process (see FILE_SEARCH)."""
    paths = [str(path) for path in sorted(folder.iterdir()) if path.is_file()]
    said = subprocess.run([PYTHON, "-c", FILE_SEARCH, *paths], capture_output=True, text=True, check=True).stdout
    return {Path(path).name: tuple(values) for path, values in json.loads(said).items()}


def measure_outbox(storage: str, approved: Path, work: Path, n: int, watcher: ProcWatcher, results: dict) -> None:
    rounds = results.setdefault("outbox", {}).setdefault(storage, [])
    with contextlib.ExitStack() as stack:
        folder = work / f"outbox-{storage}-{len(rounds) + 1}"
        folder.mkdir()
        root = copy_project(approved, folder / "project")
        sink = MailSink().start()
        stack.callback(sink.stop)
        env = os.environ | {"CARELEAF_STAFF": "bench"}
        if storage == "redis":
            env["CARELEAF_REDIS_URL"] = url = start_redis(folder / "redis", stack)
        (root / "careleaf.yaml").write_text(
            f"email:\n  host: 127.0.0.1\n  port: {sink.port}\n  security: none\n  sender: {SENDER}\n  timeout: 30\n"
            f"outbox:\n  storage: {storage}\ndata: data\n", "utf-8")
        saved_env = os.environ.get("CARELEAF_REDIS_URL")
        if storage == "redis":
            os.environ["CARELEAF_REDIS_URL"] = url
        try:
            out = _queue_and_deliver(storage, root, folder, sink, env, n, watcher, stack)
        finally:
            if saved_env is None:
                os.environ.pop("CARELEAF_REDIS_URL", None)
            else:
                os.environ["CARELEAF_REDIS_URL"] = saved_env
        if storage == "redis":
            out["left"] = {"redis keys and values": addresses_in(redis_contents(url))}
        rounds.append(out)


def _queue_and_deliver(storage: str, root: Path, folder: Path, sink: MailSink, env: dict, n: int,
                       watcher: ProcWatcher, stack: contextlib.ExitStack) -> dict:
    from careleaf.leaflet.assemble import direction
    from careleaf.content.catalog import load_catalog
    from careleaf.review.git import current_revision
    from careleaf.handout.handouts import Choice, handout
    from careleaf.desk.mail import compose
    from careleaf.desk.outbox import Outbox, idempotency_key
    from careleaf.project import Project
    from careleaf.content.settings import data_folder, load_settings

    project = Project(root)
    settings = load_settings(project)
    outbox = Outbox(project, settings)
    started = time.perf_counter()
    catalog = load_catalog(project)
    made = {lang: handout(project, Choice(BRAND, TREATMENT, "aftercare", lang), patient=patient(4000 + k),
                          catalog=catalog) for k, lang in enumerate(("en", "tr"))}
    rendering = time.perf_counter() - started
    brand = catalog.brands[BRAND]
    started = time.perf_counter()
    revision = current_revision(root)
    git = time.perf_counter() - started

    composing, queueing = [], []
    started = time.perf_counter()
    for i in range(n):
        lang = "tr" if i % 2 else "en"
        leaflet = made[lang]
        reference = f"OUT-{i:05d}"
        record = leaflet.record
        key = idempotency_key(reference, record.code, record.version, record.lang)
        before = time.perf_counter()
        message = compose(project, pdf=leaflet.pdf, file_name=leaflet.file_name, to=f"patient{i:05d}@{RECIPIENT_DOMAIN}",
                          sender=settings.email.sender, clinic=brand.name, phone=brand.phone, lang=lang,
                          direction=direction(lang), words=catalog.labels[lang], locked=False)
        payload = bytes(message)
        middle = time.perf_counter()
        about = record.as_json() | {"staff": "bench", "reference": reference, "revision": revision, "consent": "bench"}
        queued = outbox.queue(payload, key=key, about=about)
        queueing.append(time.perf_counter() - middle)
        composing.append(middle - before)
        assert queued.status == "queued", queued
    queue_wall = time.perf_counter() - started
    sends = outbox.sends()
    assert len(sends) == n and all(s["status"] == "queued" for s in sends), "not every send was queued"

    data = data_folder(project, settings)
    stored_before = _stored(storage, data, env)

    workers = []
    started = time.perf_counter()
    for k in range(2):
        process = start(generate("--project", root, "worker"), stack, folder / f"worker-{k + 1}.log", env=env)
        watcher.watch(process.pid)
        workers.append(process)

    def all_received() -> bool:
        for process in workers:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited with status {process.returncode}:\n"
                                   + (folder / f"worker-{workers.index(process) + 1}.log").read_text()[-2000:])
        return sink.received() >= n

    wait_until(all_received, max(120, n * 0.5), f"{n} messages at the mail server", interval=0.05)
    received_at = sink.last - started
    first_at = sink.first - started

    def all_recorded() -> bool:
        return sum(s["status"] == "sent" for s in outbox.sends()) >= n

    wait_until(all_recorded, 120, "every send recorded as sent", interval=0.25)
    recorded_at = time.perf_counter() - started
    time.sleep(1.0)                      # anything sent twice would arrive now
    watcher.sample()
    hwm = [watcher.hwm(process.pid) for process in workers]
    for process in workers:
        stop(process)
    statuses = Counter(s["status"] for s in outbox.sends())
    per_worker = [len(re.findall(r": sent$", (folder / f"worker-{k + 1}.log").read_text(), re.M)) for k in range(2)]
    with sink.lock:
        distinct, total, sizes = len(sink.ids), sink.count, sink.bytes
        repeated = sum(1 for count in sink.ids.values() if count > 1)
    out = {"n": n, "render_two": rendering, "git_once": git, "compose": median(composing), "queue": median(queueing),
           "queue_p90": p90(queueing), "queue_wall": queue_wall, "first_at": first_at, "received_at": received_at,
           "recorded_at": recorded_at, "throughput": n / received_at,
           "steady": (n - 1) / (sink.last - sink.first) if sink.last > sink.first else float("nan"),
           "worker_hwm": hwm, "per_worker": per_worker, "distinct": distinct, "total": total, "repeated": repeated,
           "message_bytes": sizes / max(total, 1), "statuses": dict(statuses), "before": stored_before}
    if storage == "sqlite":
        found = addresses_in_files(data)
        out["left"] = {name: values[:2] for name, values in found.items()}
        out["sizes"] = {name: values[2] for name, values in found.items()}
        # Then as after a clean stop of everything: the last connection to close checkpoints the WAL.
        outbox.db.close()
        found = addresses_in_files(data)
        out["closed"] = {name: values[:2] for name, values in found.items()}
        out["closed_sizes"] = {name: values[2] for name, values in found.items()}
    return out


def _stored(storage: str, data: Path, env: dict) -> dict:
    """Addresses found in the outbox's storage before delivery: shows the search finds them when they are there."""
    if storage == "redis":
        return {"redis keys and values": addresses_in(redis_contents(env["CARELEAF_REDIS_URL"]))}
    return {name: values[:2] for name, values in addresses_in_files(data).items()}


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

def environment(source_description: str) -> dict:
    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    redis_version = "not installed"
    if os.access(REDIS_SERVER, os.X_OK):
        said = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"v=(\S+)", said)
        redis_version = found.group(1) if found else said.strip()
    import careleaf

    return {
        **machine(),
        "careleaf": f"{careleaf.__version__}, {source_description}",
        "commit": commit or "unknown",
        "weasyprint": package("weasyprint"), "pydyf": package("pydyf"), "pikepdf": package("pikepdf"),
        "huey": package("huey"), "fastapi": package("fastapi"), "uvicorn": package("uvicorn"),
        "starlette": package("starlette"), "pebble": package("pebble"), "httpx": package("httpx"),
        "aiosmtpd": package("aiosmtpd"), "redis-py": package("redis"), "redis-server": redis_version,
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
    add(f"| huey | {env['huey']} (SQLite {env['sqlite']}; redis-py {env['redis-py']}, redis-server {env['redis-server']}) |")
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
    outboxes = results.get("outbox", {})
    for storage, rounds in outboxes.items():
        if not rounds:
            continue
        n = rounds[0]["n"]
        ok = all(out["distinct"] == out["total"] == out["n"] for out in rounds)
        once = "every message exactly once" + (" in each" if len(rounds) > 1 else "") if ok else \
            "**" + "; ".join(f"{out['distinct']} distinct of {out['total']} received, {out['n']} queued" for out in rounds) + "**"
        each = " and ".join
        per = median([out["compose"] + out["queue"] for out in rounds])
        rows.append(f"| {n:,} sends, {storage} outbox: queueing (rendering excluded) | **{ms(per)}** per message "
                    f"(compose {ms(median([o['compose'] for o in rounds]))}, queue {ms(median([o['queue'] for o in rounds]))})"
                    f"; {each(sec(o['queue_wall']) for o in rounds)} in all |")
        speeds = each(f"{o['throughput']:.1f}" for o in rounds)
        rows.append(f"| {n:,} sends, {storage} outbox: delivery with 2 workers | **{speeds} messages/s** ("
                    f"{each(sec(o['received_at']) for o in rounds)} from starting the workers); {once}; "
                    f"worker peak RSS {each(', '.join(mib(k) for k in o['worker_hwm']) for o in rounds)} |")
        left = rounds[0]
        where = [f"{found} in `{name}`" for name, (found, _) in left["left"].items() if found]
        closed = left.get("closed")
        after_close = "" if closed is None else "; after every connection closed: " + (
            ", ".join(f"**{found} in `{name}`**" for name, (found, _) in closed.items() if found) or "none")
        rows.append(f"| {n:,} sends, {storage} outbox: recipient addresses left after delivery | "
                    f"{'**' + ', '.join(where) + '** (distinct addresses)' if where else 'none'}{after_close} |")
    if outboxes.get("sqlite") and outboxes.get("redis"):
        ratio = median([o["throughput"] for o in outboxes["redis"]]) / median([o["throughput"] for o in outboxes["sqlite"]])
        turns = ", rounds in turn" if len(outboxes["sqlite"]) > 1 else ""
        rows.append(f"| Delivery throughput, redis ÷ sqlite (same run{turns}) | **{ratio:.2f}×** |")
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


def _outbox_section(add, results: dict) -> None:
    columns = [(f"{storage}" + (f", round {k}" if len(rounds) > 1 else ""), out)
               for storage, rounds in results.get("outbox", {}).items() for k, out in enumerate(rounds, start=1)]
    if not columns:
        return
    outboxes = dict(columns)
    names = list(outboxes)
    first = outboxes[names[0]]
    order = [f"Rounds ran in the order {', '.join(results['outbox_order'])}, so that both storages meet the machine's "
             "load alike."] if len(columns) > 2 and results.get("outbox_order") else []
    add("## 3. Queued personalised sends, delivered by 2 workers")
    add("")
    add(f"A local SMTP server (aiosmtpd `Controller` on 127.0.0.1, plain, `security: none`) in the bench process. "
        f"One personalised PDF per language was made with `handout()` (English and Turkish, "
        f"{sec(first['render_two'])} for both); then {first['n']:,} messages, alternating English and Turkish, "
        "each to its own address and with its own patient reference (so its own idempotency key and Message-ID), "
        "were made with `careleaf.desk.mail.compose(...)` and queued with `Outbox(project, settings).queue(bytes(message), "
        "key=..., about=record | staff, reference, revision)`, as `careleaf.desk.send.send` does. **Queueing time "
        "excludes rendering.** Then 2 `python generate.py --project P worker` processes were started; delivery is "
        "timed from starting them until the server has received every message; then they were stopped with SIGTERM. "
        + " ".join(["Each round has its own project copy, mail server (and Redis server) and outbox.", *order]))
    add("")
    add("| | " + " | ".join(names) + " |")
    add("|---|" + "---|" * len(names))

    def row(label: str, show) -> None:
        add(f"| {label} | " + " | ".join(show(outboxes[name]) for name in names) + " |")

    row("compose + `bytes()`, per message (median)", lambda o: ms(o["compose"]))
    row("`Outbox.queue`, per message (median / p90)", lambda o: f"{ms(o['queue'])} / {ms(o['queue_p90'])}")
    row("queueing all messages, wall", lambda o: sec(o["queue_wall"]))
    row("message size", lambda o: kib(o["message_bytes"]))
    row("first message at the server (after starting the workers)", lambda o: sec(o["first_at"]))
    row("all messages at the server", lambda o: sec(o["received_at"]))
    row("delivery throughput, from starting the workers", lambda o: f"**{o['throughput']:.1f} messages/s**")
    row("delivery throughput, first to last message", lambda o: f"{o['steady']:.1f} messages/s")
    row("every send recorded as sent (outbox state), after", lambda o: sec(o["recorded_at"]))
    row("total wall: queueing + delivery", lambda o: sec(o["queue_wall"] + o["received_at"]))
    row("messages delivered by worker 1 / worker 2", lambda o: " / ".join(map(str, o["per_worker"])))
    row("received / distinct Message-IDs / sent twice", lambda o: f"{o['total']} / {o['distinct']} / {o['repeated']}")
    row("outbox states after delivery", lambda o: ", ".join(f"{k} {v}" for k, v in sorted(o["statuses"].items())))
    row("worker peak RSS (VmHWM)", lambda o: ", ".join(mib(k) for k in o["worker_hwm"]))
    add("")
    add("Recipient addresses found in the outbox's storage (distinct addresses / occurrences of "
        f"`@{RECIPIENT_DOMAIN}`), searched byte for byte by a separate process: before delivery (showing the search "
        "finds them), after delivery (the workers stopped with SIGTERM; the bench's own connection still open, as a "
        "desk's would be), and after that last connection closed too (SQLite then checkpoints and removes the WAL). "
        "The register (`register.sqlite3`) is searched too; it should never hold addresses.")
    add("")
    add("| Storage | File | Before delivery | After delivery | After every connection closed |")
    add("|---|---|---|---|---|")

    def cell(found, sizes, where) -> str:
        if found is None or where not in found:
            return "-" if found is None else "(no file)"
        hits = found[where]
        size = f" ({kib(sizes[where])})" if sizes and where in sizes else ""
        return (f"**{hits[0]} / {hits[1]}**" if hits[0] or hits[1] else "none") + size

    for name, out in outboxes.items():
        closed = out.get("closed")
        for where in sorted(set(out["before"]) | set(out["left"]) | set(closed or {})):
            add(f"| {name} | `{where}` | {cell(out['before'], None, where)} | "
                f"{cell(out['left'], out.get('sizes'), where)} | {cell(closed, out.get('closed_sizes'), where)} |")
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
    parser.add_argument("--quick", action="store_true", help="smaller counts (10 handouts, a 20-row list, 100 sends, "
                                                             "10 concurrent requests)")
    parser.add_argument("--no-redis", action="store_true", help="skip the outbox on Redis")
    parser.add_argument("--worktree", action="store_true", help="measure the working tree as it is now, "
                        "uncommitted changes included (default: the last commit, git HEAD)")
    parser.add_argument("--results", type=Path, default=BENCH / "DESK-RESULTS.md", help="where to write the report")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder for inspection")
    parser.add_argument("--desk-first", action="store_true", help="only measure a desk Print's time during an API "
                        "burst (printed, the report is not rewritten)")
    parser.add_argument("--burst", type=int, default=50, help="API requests sent at once for --desk-first")
    parser.add_argument("--ref", default="HEAD", help="the git commit to measure (default HEAD), to compare")
    args = parser.parse_args(argv)
    if args.desk_first:
        return desk_first_only(args)
    counts = QUICK if args.quick else FULL
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
        part("1. one handout", measure_handouts, project, counts, results)
        part("2. a day's list", measure_day_list, project, work, counts["rows"], results)
        # The outbox is careleaf's own tables (SQLite here; PostgreSQL's numbers: bench/faults.py); --no-redis is
        # kept for old command lines.
        storages = ["sqlite"]
        # In turn, A B B A (full run): both storages see the machine's load alike, and their ratio is fair.
        order = storages + storages[::-1] if counts["outbox_rounds"] > 1 else storages
        results["outbox_order"] = order
        for number, storage in enumerate(order):
            part(f"3. outbox, {storage} ({order[:number + 1].count(storage)})", measure_outbox, storage, project, work,
                 counts["sends"], watcher, results)
        part("4. web app", measure_web, project, work, counts["requests"], watcher, results)
        env = environment(description)
    finally:
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
