"""Progress on the terminal: a bar when a person watches, one line per step when output is logged."""

from __future__ import annotations

import sys


def progress_printer():
    terminal = sys.stderr.isatty()

    def show(done: int, total: int, name: str) -> None:
        if terminal:
            filled = round(30 * done / total)
            end = "\n" if done == total else ""
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {name[:60]:<60}", end=end,
                  file=sys.stderr, flush=True)
        else:
            print(f"[{done}/{total}] {name}", file=sys.stderr)
    return show
