"""The render pool (careleaf.build.workers), which the build and the web app share: workers that start with
WeasyPrint loaded (found without gcc or ld: careleaf.build.libraries) while the process that made the pool
never loads it, a time limit that ends the job's worker, and caches forgotten when the project's files change."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from careleaf.build import libraries, workers
from careleaf.build.workers import Pool
from careleaf.pdf.render import _renderer
from careleaf.project import THEME

THEME_ASSETS = (THEME / "styles",)

# What WeasyPrint 70's text/ffi.py asks cffi for, which asks ctypes.util.find_library: names that
# exist on Linux, and Windows and macOS names that do not.
ASKED = ["gobject-2.0", "pango-1.0", "harfbuzz", "harfbuzz-subset", "fontconfig", "pangoft2-1.0",
         "libgobject-2.0-0", "harfbuzz-vector", "libpango-1.0.dylib", "c"]


@pytest.mark.parametrize("name", ASKED)
def test_libraries_are_found_as_ctypes_finds_them(name):
    assert libraries.find_library(name) == ctypes.util.find_library(name)


def test_importing_weasyprint_leaves_ctypes_as_it_was():
    original = ctypes.util.find_library
    libraries.import_weasyprint()
    assert ctypes.util.find_library is original


def test_a_library_in_ld_library_path_is_found(tmp_path, monkeypatch):
    (tmp_path / "libcareleaf-test.so.1").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    assert libraries.find_library("careleaf-test") == "libcareleaf-test.so.1"
    assert libraries.find_library("no-such-library") is None


def test_a_temporary_folder_too_deep_for_the_forkservers_socket_starts_fresh_processes(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert workers.context().get_start_method() == "forkserver"
    deep = tmp_path / ("folder-" * 12)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)    # put back as it was after the test
    assert workers.context().get_start_method() == "spawn"
    assert os.environ["PYTHONSAFEPATH"] == "1", "fresh workers never import from the working folder"


# --- the pool ----------------------------------------------------------------------------------------

def test_workers_start_with_weasyprint_while_the_pools_own_process_never_loads_it(tmp_path):
    probe = textwrap.dedent("""
        import sys
        from careleaf.build.workers import Pool
        from careleaf.project import THEME

        with Pool(1, time_limit=60, folders=(THEME / "styles",)) as pool:
            in_worker = pool.schedule(eval, "'weasyprint' in __import__('sys').modules").result(timeout=120)
        print(in_worker, "weasyprint" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.stdout.split() == ["True", "False"], result.stdout + result.stderr


def test_a_job_past_the_time_limit_has_its_worker_ended_and_fails_alone():
    with Pool(2, time_limit=2, folders=THEME_ASSETS) as pool:
        assert pool.schedule(os.getpid).result(timeout=120)          # both workers started and warm
        started = time.monotonic()
        runaway = pool.schedule(time.sleep, 60)
        beside = pool.schedule(os.getpid)
        assert beside.result(timeout=60) != os.getpid()
        with pytest.raises(TimeoutError):
            runaway.result(timeout=60)
        assert time.monotonic() - started < 30, "stopped at the time limit, not left to finish"
        assert pool.schedule(os.getpid).result(timeout=120), "the pool goes on, with a new worker"


_seen_in_worker: list = []      # every renderer a worker handed out, kept alive so that no two share an id


def renderer_in_worker(folders: tuple[Path, ...]) -> int:
    """Which parsed stylesheets the worker holds (run in a worker)."""
    _seen_in_worker.append(_renderer(tuple(folder.resolve() for folder in folders)))
    return id(_seen_in_worker[-1])


def test_a_worker_keeps_its_caches_until_the_projects_files_change():
    with Pool(1, time_limit=60, folders=THEME_ASSETS, version="first") as pool:
        def held(version: str) -> int:
            return pool.schedule(renderer_in_worker, THEME_ASSETS, version=version).result(timeout=120)

        warmed = held("first")
        assert held("first") == warmed and held(None) == warmed, "kept while the files are the same"
        changed = held("second")
        assert changed != warmed, "parsed again after the files changed"
        assert held("second") == changed
