"""The render workers' start-up (careleaf.build.workers): WeasyPrint's libraries found without gcc or ld."""

from __future__ import annotations

import ctypes.util

import pytest

from careleaf.build import workers

# What WeasyPrint 70's text/ffi.py asks cffi for, which asks ctypes.util.find_library: names that
# exist on Linux, and Windows and macOS names that do not.
ASKED = ["gobject-2.0", "pango-1.0", "harfbuzz", "harfbuzz-subset", "fontconfig", "pangoft2-1.0",
         "libgobject-2.0-0", "harfbuzz-vector", "libpango-1.0.dylib", "c"]


@pytest.mark.parametrize("name", ASKED)
def test_libraries_are_found_as_ctypes_finds_them(name):
    assert workers.find_library(name) == ctypes.util.find_library(name)


def test_importing_weasyprint_leaves_ctypes_as_it_was():
    original = ctypes.util.find_library
    workers.import_weasyprint()
    assert ctypes.util.find_library is original


def test_a_library_in_ld_library_path_is_found(tmp_path, monkeypatch):
    (tmp_path / "libcareleaf-test.so.1").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    assert workers.find_library("careleaf-test") == "libcareleaf-test.so.1"
    assert workers.find_library("no-such-library") is None


def test_a_temporary_folder_too_deep_for_the_forkservers_socket_starts_fresh_processes(monkeypatch, tmp_path):
    import tempfile

    from careleaf.build import workers

    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert workers.context().get_start_method() == "forkserver"
    deep = tmp_path / ("folder-" * 12)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert workers.context().get_start_method() == "spawn"
