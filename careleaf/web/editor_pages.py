"""The editor's page: check's findings, and a preview that follows the files as they are saved.

The page works without JavaScript (reload it to see the latest). With it, a small
script (static/editor.js) listens to /editor/events: when a file under leaflets/,
templates/ or styles/ changes (watched with watchfiles), the server reads the
project again and says either "changed" (the preview reloads) or, for an invalid
edit, the problem with its path:line, while the last good preview stays.
"""

from __future__ import annotations

import asyncio
import json
import sys

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from careleaf.web.common import choice_from, page, signed_in
from careleaf.web.catalog_view import catalog_now, choices, version_of
from careleaf.web.desk_pages import catalog_preview, page_urls

router = APIRouter(include_in_schema=False)
MAX_WATCHERS = 8      # live previews open at once


@router.get("/editor", response_class=HTMLResponse)
async def editor(request: Request):
    signed_in(request)
    choice = choice_from(request.query_params)
    catalog, problem = await asyncio.to_thread(catalog_now, request.app)
    findings = await _findings(request.app)     # an invalid file is an error finding
    options = choices(catalog, choice) if catalog else None
    chosen = bool(options and options.complete)
    failures: list[str] = []      # a render that failed (a logo over its limit, a template refused): shown, by its message
    preview = await catalog_preview(request, choice, failures=failures) if chosen else None
    return page(request, "editor.html", choice=choice, options=options, chosen=chosen, preview=preview,
                problem=problem, findings=findings, page_urls=page_urls(request, choice, preview),
                render_failure="\n".join(failures))


@router.get("/editor/events")
async def events(request: Request):
    """Server-sent events: 'changed' after a good save, 'problem' (with the messages) after a bad one."""
    signed_in(request)
    from watchfiles import awatch      # here, not at the top: a file watcher only for an open live preview

    state = request.app.state
    if getattr(state, "watchers", 0) >= MAX_WATCHERS:    # each one holds a file watcher and a thread
        return Response("Too many live previews are open; close some editor tabs.", status_code=503)
    state.watchers = getattr(state, "watchers", 0) + 1
    paths = [str(path) for path in request.app.state.project.inputs if path.exists()]
    stop = asyncio.Event()

    async def stream():
        try:
            yield "retry: 2000\n\n"
            async for _ in awatch(*paths, stop_event=stop, debounce=300, step=100, recursive=True):
                if await request.is_disconnected():
                    break
                catalog, problem = await asyncio.to_thread(catalog_now, request.app)
                if problem:
                    yield f"event: problem\ndata: {json.dumps(problem)}\n\n"
                else:
                    yield f"event: changed\ndata: {json.dumps(version_of(request.app))}\n\n"
        finally:
            stop.set()
            state.watchers -= 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


CHECK_TIME_LIMIT = 60.0   # seconds: check takes a second or two on a real catalog


async def _findings(app) -> list[dict]:
    """check's errors, warnings and notes, each with its path:line.

    check runs in a process of its own (``python -m careleaf.review``), one at a time, and is stopped after
    CHECK_TIME_LIMIT: a file that is huge or built to be slow then costs that process, while the desk goes on
    answering (a check inside this process would hold the interpreter while a pattern runs).
    """
    lock = app.state.__dict__.setdefault("check_lock", asyncio.Lock())
    async with lock:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-m", "careleaf.review", str(app.state.project.root),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), CHECK_TIME_LIMIT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            return [_trouble(f"check did not finish within {CHECK_TIME_LIMIT:g} seconds and was stopped: a file "
                             "may be far longer than a leaflet needs. Run `careleaf check` to see which")]
    if process.returncode != 0:
        return [_trouble("check stopped before it finished; run `careleaf check` to see why")]
    return json.loads(out)["findings"]


def _trouble(message: str) -> dict:
    """A finding about check itself, shown as its other findings are."""
    return {"file": "careleaf check", "line": 0, "level": "error", "code": "check-stopped", "message": message}
