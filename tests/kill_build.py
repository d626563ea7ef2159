#!/usr/bin/env python3
"""Kill builds at random moments and check that no PDF is ever left broken.

    python tests/kill_build.py [--times 20] [--project DIR] [--no-large-print] [--jobs 2] [--seed N]

Builds the catalog twice to know both good versions of every PDF: as it is (A) and
with each clinic's name changed (B), so every PDF differs. Then, over an output
folder holding version A, it runs `generate.py build --force` with the content
switching between B and A, and SIGKILLs the whole process group (workers
included) at a random moment, TIMES times: mostly while PDFs are being written
(counted from when the first one is), sometimes earlier. After each kill every
PDF must be, byte for byte, one of the two good versions (so never truncated);
each distinct PDF is also opened with pypdf, and with `qpdf --check` when qpdf
is installed (the first line printed says which), and the manifest must still be valid JSON. Finally a normal build
must exit 0 and repair everything: every PDF the good one, no *.partial left.

Without --project it works on a copy of the sample test project (tests/fixtures/sample)
in a temporary folder: its leaflets/, styles/ and templates/ (those it has; careleaf's
theme supplies the rest). Nothing in the repository is written.
Exit status: 0 all good, 1 a broken PDF or a failed repair.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pypdf

ROOT = Path(__file__).resolve().parents[1]
GENERATE = ROOT / "generate.py"
SAMPLE = ROOT / "tests" / "fixtures" / "sample"
MANIFEST = ".careleaf-manifest.json"


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    chance = random.Random(seed)
    print(f"seed {seed} (rerun with --seed {seed})")
    print("each PDF is checked with pypdf and qpdf --check" if shutil.which("qpdf") else
          "each PDF is checked with pypdf only: qpdf is not installed (apt-get install -y qpdf)")
    with tempfile.TemporaryDirectory(prefix="kill-build-") as scratch:
        work = Path(scratch)
        project = _copy_project(options.project or SAMPLE, work / "project")
        killer = Killer(project, work / "out", options, work / "tmp")
        return killer.run(options.times, chance)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=20, help="how many builds to kill (default: 20)")
    parser.add_argument("--project", type=Path, help="a project folder to copy (default: the sample test project)")
    parser.add_argument("--jobs", type=int, default=2, help="render workers per build (default: 2)")
    parser.add_argument("--no-large-print", dest="large_print", action="store_false",
                        help="build without the large-print variants (faster)")
    parser.add_argument("--seed", type=int, help="for the random kill moments, to repeat a run")
    return parser


def _copy_project(source: Path, dest: Path) -> Path:
    for folder in ("leaflets", "templates", "styles"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, dest / folder)
    return dest


class Killer:
    def __init__(self, project: Path, out: Path, options: argparse.Namespace, temporary: Path):
        self.project = project
        self.out = out
        self.options = options
        # A killed build cannot remove its temporary files: they go in here, removed with the rest.
        temporary.mkdir()
        self.env = {**os.environ, "TMPDIR": str(temporary)}
        self.brands = sorted((project / "leaflets/brands").glob("*.yaml"))
        self.original = {path: path.read_text("utf-8") for path in self.brands}
        self.valid: dict[str, str | None] = {}   # sha256 of a PDF → what is wrong with it, if anything

    # --- the two versions ---

    def use(self, version: str) -> None:
        """Content A (as it is) or B (each clinic's name changed, so every PDF changes)."""
        for path, text in self.original.items():
            if version == "B":
                text, count = re.subn(r"(?m)^name: *(.+)$", lambda m: "name: " + json.dumps(
                    _unquote(m.group(1)) + " (B)", ensure_ascii=False), text, count=1)
                assert count == 1, f"no 'name:' line in {path}"
            path.write_text(text, "utf-8")

    def command(self) -> list[str]:
        return [sys.executable, str(GENERATE), "--project", str(self.project), "build", "--out", str(self.out),
                "--force", "--jobs", str(self.options.jobs), "--quiet",
                *([] if self.options.large_print else ["--no-large-print"])]

    def build(self, out: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
        """A whole build into an empty folder: (seconds until its first PDF appeared, seconds from then until
        its last one did, the result)."""
        out = out or self.out
        command = self.command()
        command[command.index("--out") + 1] = str(out)
        started = time.monotonic()
        appeared = []  # when the number of PDFs went up
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=self.env) as process:
            while process.poll() is None:
                if len(list(out.rglob("*.pdf"))) > len(appeared):
                    appeared.append(time.monotonic() - started)
                time.sleep(0.01)
            stdout, stderr = process.communicate()
        total = time.monotonic() - started
        first, last = (appeared[0], appeared[-1]) if appeared else (total, total)
        return first, last - first, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    # --- the run ---

    def run(self, times: int, chance: random.Random) -> int:
        good = {}
        for version in ("B", "A"):  # A last: the output folder starts with version A in it
            self.use(version)
            out = self.out if version == "A" else self.out.with_name("out-B")
            first, writing_time, result = self.build(out)
            if result.returncode != 0:
                print(f"the {version} build failed:\n{result.stderr}")
                return 1
            good[version] = _pdfs(out)
        names = sorted(good["A"])
        if sorted(good["B"]) != names or any(good["A"][n] == good["B"][n] for n in names):
            print("the two versions do not differ in every PDF; cannot tell old from new")
            return 1
        print(f"{len(names)} PDFs; a full build starts writing them after {first:.1f} s, "
              f"and writes them over {writing_time:.1f} s")
        broken = 0
        stats = {"kills": 0, "finished first": 0, "part-way": 0, "partials left": 0}
        for number in range(1, times + 1):
            before = _pdfs(self.out)
            # Build the version most PDFs are not, so that most of them have to be replaced.
            target = "B" if sum(before.get(n) == good["A"][n] for n in names) * 2 >= len(names) else "A"
            self.use(target)
            # Mostly while PDFs are being written, where a kill could do harm (counted from when the
            # first one is, so a busy machine does not move the kills out of that window); sometimes earlier.
            writing = chance.random() < 0.8
            delay = chance.uniform(0, writing_time * 1.2) if writing else chance.uniform(0.1, first)
            finished = self.kill_after(delay, writing)
            state = _pdfs(self.out)
            partials = sorted(str(p.relative_to(self.out)) for p in self.out.rglob("*.partial"))
            problems = self.check(state, good, names)
            to_replace = [n for n in names if before.get(n) != good[target][n]]
            replaced = sum(state.get(n) == good[target][n] for n in to_replace)
            stats["kills"] += not finished
            stats["finished first"] += finished
            stats["part-way"] += 0 < replaced < len(to_replace)
            stats["partials left"] += bool(partials)
            verdict = "all PDFs good" if not problems else "BROKEN: " + "; ".join(problems)
            moment = f"{delay:.2f} s after {'writing began' if writing else 'the start'}"
            print(f"kill {number}/{times} {moment}{' (build had finished)' if finished else ''}: "
                  f"{replaced} of the {len(to_replace)} PDFs to replace were, {len(partials)} partial file(s) "
                  f"left; {verdict}")
            broken += bool(problems)
        self.use("A")
        _, _, result = self.build()
        repaired = self.repaired(result, good["A"])
        print(f"{stats['kills']} builds killed ({stats['finished first']} finished before the kill), "
              f"{stats['part-way']} stopped part-way through the PDFs, {stats['partials left']} left partial files; "
              f"{broken} left a broken PDF; the repair build {'worked' if repaired else 'FAILED'}")
        return 0 if not broken and repaired else 1

    def kill_after(self, delay: float, writing: bool) -> bool:
        """Start a build; SIGKILL its whole process group ``delay`` s after it starts, or after it starts
        writing PDFs. True if it had finished before that."""
        before = _inodes(self.out)
        process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True, env=self.env)
        started = time.monotonic()
        while writing and process.poll() is None:
            if next(self.out.rglob("*.partial"), None) or _inodes(self.out) != before:
                started = time.monotonic()
                break
            time.sleep(0.005)
        try:
            process.wait(timeout=max(0.0, started + delay - time.monotonic()))
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the build and its render workers: one group, ours
        except ProcessLookupError:
            pass
        process.wait()
        _wait_for_group_to_end(process.pid)
        return finished

    def check(self, state: dict[str, bytes], good: dict[str, dict[str, bytes]], names: list[str]) -> list[str]:
        problems = []
        if sorted(state) != names:
            problems.append(f"PDFs missing or extra: {sorted(set(names) ^ set(state))}")
        for name, data in state.items():
            if data not in (good["A"].get(name), good["B"].get(name)):
                problems.append(f"{name} is neither the old nor the new PDF ({len(data)} bytes)")
            problem = self.opens(data)
            if problem:
                problems.append(f"{name}: {problem}")
        manifest = self.out / MANIFEST
        if manifest.exists():
            try:
                json.loads(manifest.read_text("utf-8"))
            except ValueError:
                problems.append("the manifest is not valid JSON")
        return problems

    def opens(self, data: bytes) -> str | None:
        """None if the PDF reads cleanly with pypdf (and qpdf), else what is wrong; remembered by content."""
        key = hashlib.sha256(data).hexdigest()
        if key not in self.valid:
            self.valid[key] = _pdf_problem(data)
        return self.valid[key]

    def repaired(self, result: subprocess.CompletedProcess, good: dict[str, bytes]) -> bool:
        state = _pdfs(self.out)
        partials = list(self.out.rglob("*.partial"))
        ok = result.returncode == 0 and state == good and not partials
        if not ok:
            print(f"repair build: exit {result.returncode}, {len(partials)} partial file(s) left, "
                  f"{sum(state.get(n) != d for n, d in good.items())} PDF(s) not the good one\n{result.stderr}")
        return ok


def _inodes(out: Path) -> dict[str, int]:
    return {str(p): p.stat().st_ino for p in out.rglob("*.pdf")}


def _pdfs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.pdf"))}


def _pdf_problem(data: bytes) -> str | None:
    if not data.rstrip().endswith(b"%%EOF"):
        return "does not end with %%EOF (truncated)"
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        if not reader.pages:
            return "has no pages"
        for page in reader.pages:
            page.get_contents().get_data()  # every content stream decompresses
    except Exception as error:  # pypdf raises many kinds; any of them means unreadable
        return f"pypdf cannot read it: {type(error).__name__}: {error}"
    if shutil.which("qpdf"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as copy:
            copy.write(data)
            copy.flush()
            result = subprocess.run(["qpdf", "--check", copy.name], capture_output=True, text=True, check=False)
        if result.returncode != 0:  # 2 errors, 3 warnings: either is a fault in a PDF we wrote
            return f"qpdf --check: {(result.stdout + result.stderr).strip()[-300:]}"
    return None


def _wait_for_group_to_end(group: int, seconds: float = 10.0) -> None:
    """Until no process of the group is still alive (zombies are dead: they write nothing). A process still
    alive at the deadline could still write a PDF while it is checked, so the run stops there."""
    deadline = time.monotonic() + seconds
    while _alive_in_group(group):
        if time.monotonic() > deadline:
            raise SystemExit(f"a killed build's process was still alive {seconds} s after SIGKILL")
        time.sleep(0.02)


def _alive_in_group(group: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state not in "ZX":
            return True
    return False


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return json.loads(text) if text[0] == '"' else text[1:-1].replace("''", "'")
    return text


if __name__ == "__main__":
    sys.exit(main())
