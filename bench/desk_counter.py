"""The desk at the counter: clicks, keystrokes and seconds per patient, in Chromium, for two versions of the desk.

Each version (a git commit, frozen with bench/common.py's snapshot_sources) serves an approved copy of the
sample catalog with ``careleaf serve``; Playwright (Debian's /usr/bin/chromium) then does what a receptionist
does for one patient, counting every click and key press as it goes:

  A. an aftercare leaflet in English: choose it, type name, treatment date and time and batch, preview, print;
  B. the same patient's Turkish copy as well: change the language, print, and email it.

The old desk (before the one form) needs "Show this leaflet" after each menu change, empties the patient's
details when the leaflet changes, and has a date-and-time field typed in parts; the new desk shows a leaflet as
the menu changes, keeps the details, and takes the date and time typed straight through. Seconds are wall time
from the first action to the last answer (renders included), the median of ``--rounds`` patients.

    .venv/bin/python bench/desk_counter.py --before 531753b --after HEAD

Writes nothing in the repository; prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from common import PROJECT_PARTS, log, snapshot_sources

CHROMIUM = "/usr/bin/chromium"
BRAND, TREATMENT = "harbour-skin", "botox-facial-lines"


class Counted:
    """A Playwright page whose clicks and key presses are counted."""

    def __init__(self, page):
        self.page, self.clicks, self.keys = page, 0, 0

    def click(self, selector: str, **kwargs) -> None:
        self.clicks += 1
        self.page.click(selector, **kwargs)

    def select(self, selector: str, value: str) -> None:
        self.clicks += 2                      # open the menu, choose
        self.page.select_option(selector, value)

    def type(self, selector: str, text: str) -> None:
        self.clicks += 1                      # into the field
        self.keys += len(text)
        self.page.fill(selector, text)

    def type_datetime_local(self, selector: str, day: dt.date, time_of_day: str) -> None:
        """A datetime-local field typed as Chromium wants it: day, month, year, then Tab to the time."""
        self.clicks += 1
        self.keys += len(f"{day:%d%m%Y}") + 1 + len(time_of_day.replace(":", ""))
        self.page.fill(selector, f"{day.isoformat()}T{time_of_day}")


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/London")).date()


def old_desk(desk: Counted, base: str, email: str) -> None:
    page = desk.page
    page.goto(base + "/")
    desk.select("#kind", "aftercare")
    with page.expect_navigation():
        desk.click("text=Show this leaflet")
    _patient_old(desk)
    with page.expect_navigation():
        desk.click("button[value=preview]")
    _print(desk, "button[value=print]")
    # B: the Turkish copy: the language menu, "Show", and the details typed again.
    desk.select("#lang", "tr")
    with page.expect_navigation():
        desk.click("text=Show this leaflet")
    _patient_old(desk)
    _print(desk, "button[value=print]")
    desk.type("#f-email", email)
    with page.expect_navigation():
        desk.click("button[value=email]")


def _patient_old(desk: Counted) -> None:
    desk.type("#f-name", "Ayşe Yılmaz")
    desk.type_datetime_local("#f-treated", today(), "14:30")
    desk.type("#f-batch", "C3920C3")


def new_desk(desk: Counted, base: str, email: str) -> None:
    page = desk.page
    page.goto(base + "/")
    with page.expect_navigation():
        desk.select("#kind", "aftercare")     # shown at once
    page.wait_for_selector("#f-name:focus")
    desk.keys += len("Ayşe Yılmaz")           # the name field has the focus: no click
    page.keyboard.type("Ayşe Yılmaz")
    desk.keys += 1
    page.keyboard.press("Tab")
    desk.keys += len("14:30")                 # the time alone is today's
    page.keyboard.type("14:30")
    desk.type("#f-batch", "C3920C3")
    with page.expect_navigation():
        desk.click("button[value=preview]")
    _print(desk, "button[value=print]")
    # B: the Turkish copy: the language menu; shown at once, the details kept.
    with page.expect_navigation():
        desk.select("#lang", "tr")
    _print(desk, "button[value=print]")
    desk.type("#f-email", email)
    with page.expect_navigation():
        desk.click("button[value=email]")


def _print(desk: Counted, selector: str) -> None:
    with desk.page.context.expect_page() as opened:
        desk.click(selector)
    pdf_tab = opened.value
    pdf_tab.wait_for_load_state()
    pdf_tab.close()


def serve(source: Path, project: Path, port: int, stack: contextlib.ExitStack) -> str:
    env = os.environ | {"PYTHONPATH": str(source)}
    log_file = open(project.parent / f"serve-{port}.log", "wb")
    stack.callback(log_file.close)
    server = subprocess.Popen([sys.executable, str(source / "generate.py"), "--project", str(project), "serve",
                               "--port", str(port)], env=env, stdout=log_file, stderr=subprocess.STDOUT,
                              start_new_session=True)
    stack.callback(_stop, server)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/", timeout=5).status_code == 200:
                return base
        if server.poll() is not None:
            raise RuntimeError(f"careleaf serve exited: {(project.parent / f'serve-{port}.log').read_text()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError("careleaf serve did not answer in 120 s")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def approved(source: Path, dest: Path) -> Path:
    """The sample catalog, each leaflet approved with the measured version's own `careleaf approve`."""
    dest.mkdir(parents=True)
    for name in PROJECT_PARTS:
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name)
    for path in (dest / "leaflets").rglob("*.yaml"):       # signed off: nothing left awaiting approval
        text = re.sub(r"(?m)^[ \t]*needs_approval: true[ \t]*\n", "", path.read_text("utf-8"))
        if path.name == "treatment.yaml":
            text = re.sub(r"(?m)^(    version: \d+\n)", r"\1    review_by: 2099-01-05\n", text)
        path.write_text(text, "utf-8")
    (dest / "careleaf.yaml").write_text("email:\n  host: 127.0.0.1\n  port: 9\n  security: none\n"
                                        "  sender: leaflets@harbourskin.example\n", "utf-8")
    for code in ("BTX-FL-PT", "BTX-FL-AC", "BTX-UA-PT", "BTX-UA-AC"):
        subprocess.run([sys.executable, str(source / "generate.py"), "--project", str(dest), "approve", code,
                        "--by", "Dr Bench Person"], env=os.environ | {"PYTHONPATH": str(source)}, check=True,
                       capture_output=True, input="")
    return dest


def measure(ref: str, flow, rounds: int, work: Path) -> dict:
    from playwright.sync_api import sync_playwright

    source = work / f"source-{ref}"
    described = snapshot_sources(source, worktree=False, ref=ref)
    project = approved(source, work / f"project-{ref}")
    with sync_playwright() as playwright, contextlib.ExitStack() as stack:
        base = serve(source, project, common_free_port(), stack)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        stack.callback(browser.close)
        results = []
        for n in range(rounds + 1):           # the first round warms the render workers, and is not counted
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(120_000)
            desk = Counted(context.new_page())
            began = time.perf_counter()
            flow(desk, base, f"patient{n}@example.com")
            seconds = time.perf_counter() - began
            context.close()
            if n:
                results.append((desk.clicks, desk.keys, seconds))
    return {"ref": described, "clicks": results[0][0], "keys": results[0][1],
            "seconds": statistics.median(r[2] for r in results), "all": [round(r[2], 1) for r in results]}


def common_free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="531753b", help="the desk before (a git commit)")
    parser.add_argument("--after", default="HEAD", help="the desk after (a git commit)")
    parser.add_argument("--rounds", type=int, default=3, help="patients timed for each (after one warm-up)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="careleaf-counter-"))
    try:
        before = measure(args.before, old_desk, args.rounds, work)
        log(f"before: {before}")
        after = measure(args.after, new_desk, args.rounds, work)
        log(f"after: {after}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Per patient (A: English aftercare previewed and printed; B: its Turkish copy printed and emailed); "
          f"{os.cpu_count()} cores, median of {args.rounds}")
    print("| desk | clicks | keystrokes | seconds |")
    print("|---|---:|---:|---:|")
    for name, r in (("before", before), ("after", after)):
        print(f"| {name}: {r['ref']} | {r['clicks']} | {r['keys']} | {r['seconds']:.1f} ({', '.join(map(str, r['all']))}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
