"""The render pool, one for the build and one for the web app: a fixed number of worker processes that draw
leaflets, each job within a time limit.

* The workers are forked from multiprocessing's *forkserver*, which imports WeasyPrint (and careleaf's
  drawing stage: careleaf.build.preload) once. Each worker therefore starts with them loaded, as a fork of
  the main process would, but without a copy of the main process's memory (a build's catalog, a web
  server's threads): a worker's memory does not grow with the size of the catalog, and the main process
  never loads WeasyPrint at all.
* Each worker prepares the fonts and stylesheets (careleaf.pdf.render's renderer) as it starts, before its
  first job, so the first render is not slower than the others.
* A job that runs past the time limit has its worker ended (and replaced), which no layout inside
  WeasyPrint can swallow; its future raises TimeoutError, and the other jobs go on.
* Each worker has a memory limit (``limits.render_memory_mb`` in careleaf.yaml, its address space) as well
  as the time limit: a leaflet that needs more fails alone, naming itself, and the worker is replaced.
  Its asset limits (careleaf.pdf.assets) are the project's too.
* The workers' import path is careleaf's and its libraries', never the folder careleaf was started from:
  multiprocessing starts its helper with ``python -c``, which would put that folder first, so a
  ``weasyprint.py`` lying there would be imported and run. The helper starts with PYTHONSAFEPATH set.
* The web app's workers live as long as the server, across edits of the project: each of its jobs carries
  the version of the project's files (careleaf.build.stamps.files_version), and a worker that sees a new
  one first forgets what it kept of the old files (careleaf.build.caches).

As with any start method but plain fork, each worker imports the main module of the program that
started the pool: a script calling ``careleaf.build.run.build`` must keep its own work under
``if __name__ == "__main__":`` (generate.py and the ``careleaf`` command do).
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

PRELOADED = "careleaf.build.preload"   # what the forkserver imports before it forks any worker

# The forkserver listens on a Unix socket in the temporary folder; a socket's path may not be longer than
# this (108 bytes on Linux, less elsewhere), and multiprocessing adds about 35 characters of its own.
SOCKET_PATH_ROOM = 100 - 35


class Pool:
    """``size`` render workers for the asset ``folders``; each job may take ``time_limit`` seconds.

    ``version``: the project's files as the pool is made (careleaf.build.stamps.files_version), for a pool
    whose jobs each carry the version of the files they are for. ``nice``: added to the workers' niceness, for
    work that should yield the processors to another pool's.
    """

    def __init__(self, size: int, *, time_limit: float, folders: tuple[Path, ...], version: str | None = None,
                 limits=None, nice: int = 0):
        # Here, not at the top: the pool's machinery takes a tenth of a second to load, and a build with
        # nothing to render never needs it.
        from pebble import ProcessPool

        from careleaf.content.settings import Limits

        self.size, self.time_limit, self.limits = size, time_limit, limits or Limits()
        self._pool = ProcessPool(max_workers=size, context=context(), initializer=_start,
                                 initargs=(tuple(folders), version, self.limits, nice))

    def schedule(self, function: Callable, *args: Any, version: str | None = None) -> Future:
        """``function(*args)`` in a worker, for the project's files at ``version``; its future raises TimeoutError
        when it took longer than the time limit (the worker was ended), or the job's own error."""
        return self._pool.schedule(_run, (version, function, args), timeout=self.time_limit)

    def close(self, timeout: float = 10) -> None:
        """End the workers now (jobs still running are stopped) and wait for them."""
        self._pool.stop()
        self._pool.join(timeout=timeout)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def context():
    """The multiprocessing context workers are started with: a forkserver that has WeasyPrint loaded, or,
    where the temporary folder's path is too long for its socket (a deep TMPDIR), fresh processes (each
    loads WeasyPrint as it starts)."""
    import multiprocessing   # with the pool only (see Pool): a build with nothing to render never starts one

    if len(os.fsencode(tempfile.gettempdir())) > SOCKET_PATH_ROOM:
        # Each worker is a fresh `python -c` then, started by the pool at any time (a worker ended for its
        # time limit is replaced from the pool's own thread): this process's children all start safe.
        os.environ["PYTHONSAFEPATH"] = "1"
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload([PRELOADED])
    with _safe_import_path():
        from multiprocessing import forkserver as helper

        helper.ensure_running()    # started now, while PYTHONSAFEPATH is set; its forks inherit its import path
    return forkserver


_environment_lock = threading.Lock()


@contextmanager
def _safe_import_path() -> Iterator[None]:
    """Python processes started meanwhile do not put the current folder on their import path."""
    with _environment_lock:
        before = os.environ.get("PYTHONSAFEPATH")
        os.environ["PYTHONSAFEPATH"] = "1"
        try:
            yield
        finally:
            if before is None:
                del os.environ["PYTHONSAFEPATH"]
            else:
                os.environ["PYTHONSAFEPATH"] = before


# --- in a worker: careleaf.build.preload does the work --------------------------------------------------

def _start(folders: tuple[Path, ...], version: str | None, limits, nice: int = 0) -> None:
    from careleaf.build import preload   # WeasyPrint: loaded in workers only (the forkserver has it already)

    if nice:
        os.nice(nice)     # a pool whose work may wait (the web API's): the kernel gives the others the processors
    preload.start(folders, version, limits)


def _run(version: str | None, function: Callable, args: tuple) -> Any:
    from careleaf.build import preload   # as in _start

    return preload.run(version, function, args)
