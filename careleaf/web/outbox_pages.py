"""The Outbox page: the emails not yet delivered (waiting, being retried, failed) by patient reference, with the
same actions as `careleaf outbox` (retry, cancel, resume after a pause). Sends are named by their id and the
patient reference only: never a name or an address in a URL or on the page beyond the masked address."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from careleaf.desk.outbox import describe, leaflet_names
from careleaf.web.catalog_view import outbox_of
from careleaf.web.common import page, posted_form, signed_in

router = APIRouter(include_in_schema=False)
SHOWN = ("queued", "sending", "retrying", "failed")


def _listing(app) -> tuple[tuple[str, str] | None, list[dict], bool]:
    outbox = outbox_of(app)
    kept = outbox.retryable()
    sends = [s | {"state": describe(s), "retryable": s["id"] in kept, "leaflets": leaflet_names(s)}
             for s in outbox.sends() if s["status"] in SHOWN]
    return outbox.paused(), sends, outbox.worker_running()


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(request: Request):
    signed_in(request)
    paused, sends, running = await asyncio.to_thread(_listing, request.app)
    return page(request, "outbox.html", paused=paused, sends=sends, worker_running=running,
                done=request.query_params.get("done", ""))


async def _act(request: Request, action, done: str) -> RedirectResponse:
    await posted_form(request)
    if not await asyncio.to_thread(action, outbox_of(request.app)):
        raise HTTPException(409, "That email has changed meanwhile (delivered, cancelled or already queued again); "
                                 "the Outbox page shows it as it is now.")
    return RedirectResponse(f"/outbox?done={done}", status_code=303)


def _send_id(send_id: str) -> str:
    if not send_id.isalnum() or len(send_id) > 64:
        raise HTTPException(404, "No such email in the outbox.")
    return send_id


@router.post("/outbox/{send_id}/retry")
async def retry(request: Request, send_id: str):
    send_id = _send_id(send_id)
    return await _act(request, lambda outbox: outbox.retry(send_id) > 0, "retried")


@router.post("/outbox/{send_id}/cancel")
async def cancel(request: Request, send_id: str):
    send_id = _send_id(send_id)
    return await _act(request, lambda outbox: outbox.cancel(send_id), "cancelled")


@router.post("/outbox/resume")
async def resume(request: Request):
    return await _act(request, lambda outbox: outbox.resume(), "resumed")
