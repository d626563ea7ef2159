"""A real front desk for the web tests: ``careleaf serve`` (uvicorn) in its own process on a free loopback port.

``WebServer(root).start()`` runs ``python generate.py --project ROOT serve --port PORT`` with its standard
output and error captured in a file (``log()`` reads it: the tests check that no patient detail reaches
it), waits until the server answers, and ``stop()`` ends it with SIGTERM (uvicorn's graceful shutdown,
which also stops the render pool), SIGINT if it is still waiting for open connections, then SIGKILL for
anything of its own process group still running.
``Worker`` does the same for ``careleaf worker`` (the outbox's deliveries).

Both are context managers, so a fixture that uses ``with`` stops them even when a test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import GENERATE, TimedOut, wait_until

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as far as anyone can tell)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class _Process:
    """A careleaf command in its own process group, its output in a file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], *, log_file: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.args, self.log_file, self.cwd = args, log_file, cwd
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None

    def _spawn(self) -> None:
        with open(self.log_file, "ab") as log:
            # A new session: the process and the render workers it spawns can be ended together, by its id.
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.cwd, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_file.read_text("utf-8", errors="replace") if self.log_file.exists() else ""

    def log_bytes(self) -> bytes:
        return self.log_file.read_bytes() if self.log_file.exists() else b""

    def stop(self, grace: float = 15) -> int | None:
        """SIGTERM and wait ``grace`` seconds; then SIGINT (uvicorn's second signal: stop without waiting for open
        connections, still shutting the render pool down); then SIGKILL to the whole process group. The exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        try:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGINT, 10)):
                if process.poll() is not None:
                    break
                process.send_signal(sig)
                try:
                    process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)     # the group this object started: left-over children
            except (ProcessLookupError, PermissionError):
                pass
            if process.poll() is None:
                process.wait(timeout=10)
        return process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class WebServer(_Process):
    """``careleaf serve`` on 127.0.0.1:<free port> for a project."""

    def __init__(self, root: Path, *, env: dict[str, str] | None = None, log_file: Path | None = None,
                 port: int | None = None):
        self.root, self.port = Path(root), port or free_port()
        super().__init__([sys.executable, str(GENERATE), "--project", str(self.root), "serve", "--host", LOOPBACK,
                          "--port", str(self.port)],
                         log_file=log_file or self.root.parent / f"serve-{self.port}.log", env=env, cwd=self.root)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60) -> "WebServer":
        self._spawn()
        try:
            wait_until(self._answers, timeout, what=f"careleaf serve to answer at {self.url}")
        except TimedOut as late:
            self.stop()
            raise AssertionError(f"{late}; its output:\n{self.log()}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"careleaf serve exited with status {self.process.returncode}:\n{self.log()}")
        try:
            # A static file: answers without signing in and without rendering anything.
            return httpx.get(f"{self.url}/static/desk.css", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> "WebServer":
        return self if self.process is not None else self.start()


class Worker(_Process):
    """``careleaf worker``: delivers the outbox's emails until stopped."""

    def __init__(self, root: Path, *, env: dict[str, str] | None = None, log_file: Path | None = None):
        self.root = Path(root)
        super().__init__([sys.executable, str(GENERATE), "--project", str(self.root), "worker"],
                         log_file=log_file or self.root.parent / "worker.log", env=env, cwd=self.root)

    def start(self) -> "Worker":
        self._spawn()
        return self

    def __enter__(self) -> "Worker":
        return self if self.process is not None else self.start()


# --- what a process uses -------------------------------------------------------------------

def direct_children(pid: int) -> list[int]:
    """A process's own children (from /proc/<pid>/task/*/children)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def children(pid: int) -> list[int]:
    """Every descendant of a process, depth first."""
    return [d for child in direct_children(pid) for d in [child, *children(child)]]


def render_workers(pid: int) -> list[int]:
    """The server's render processes (careleaf.build.workers): forked from the multiprocessing forkserver the
    server started, or, where that cannot be used, its own children started by multiprocessing's spawn. Not
    the forkserver itself, nor short-lived helpers (the compiler ctypes runs to find a library, ``git``)."""
    found = []
    for child in direct_children(pid):
        command = _command_line(child)
        if "multiprocessing.spawn" in command:
            found.append(child)
        elif "multiprocessing.forkserver" in command:
            found += [worker for worker in direct_children(child) if "multiprocessing.forkserver" in _command_line(worker)]
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:     # it has ended
        return ""


def status_kb(pid: int, field: str) -> int:
    """A memory figure from /proc/<pid>/status (VmRSS, VmHWM…), in kB; 0 once the process has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0
