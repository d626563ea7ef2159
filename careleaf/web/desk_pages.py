"""The desk page: choose a leaflet, see it, personalise it, print it or email it."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from collections import OrderedDict

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from careleaf.content.governance import today
from careleaf.errors import HandoutError, InputError
from careleaf.handout.choice import Choice, choice_problems
from careleaf.handout.patient import FIELDS, PATIENT_FIELDS, REFERENCE, check_reference
from careleaf.web.common import check_csrf, choice_from, page, patient_from, render_errors, signed_in
from careleaf.desk.outbox import FINISHED
from careleaf.desk.register import register_handout
from careleaf.web.catalog_view import catalog_now, choices, find_send, outbox_of, stamp_of, version_of

router = APIRouter(include_in_schema=False)
MAX_PREVIEWS = 48          # leaflets' page images kept in memory (a few MB each)
log = logging.getLogger("careleaf.web")


@router.get("/", response_class=HTMLResponse)
async def desk(request: Request):
    signed_in(request)
    choice = choice_from(request.query_params)
    return await _desk_page(request, choice)


@router.post("/handout")
async def personalise(request: Request):
    staff = signed_in(request)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    choice, patient, action = choice_from(form), patient_from(form), str(form.get("action", ""))
    renderer, training = request.app.state.renderer, request.app.state.training
    try:
        check_reference(str(form.get("reference", "")))    # before anything is made: every print is registered
    except HandoutError as error:
        return await _desk_page(request, choice, form=form, problem="\n".join(error.problems), status=400)
    if action == "print":
        made, problem = await render_errors(renderer.handout(choice, patient, allow_draft=training))
        if problem:
            return await _desk_page(request, choice, form=form, problem=problem, status=400)
        await asyncio.to_thread(register_handout, request.app.state.project, made.record, channel="print",
                                staff=staff, reference=str(form.get("reference", "")),
                                settings=request.app.state.settings)
        return Response(made.pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{made.file_name}"'})
    if action == "email":
        return await _email(request, choice, patient, form, staff)
    personal, problem = await render_errors(renderer.preview(choice, patient, allow_draft=training))
    return await _desk_page(request, choice, form=form, problem=problem, personal=personal,
                            status=400 if problem else 200)


async def _email(request: Request, choice: Choice, patient: dict[str, str], form: FormData, staff: str):
    from careleaf.desk.database import Unavailable
    from careleaf.desk.send import GENERATE, refuse_draft_email, send    # here, not at the top: the outbox

    try:
        refuse_draft_email(request.app.state.training)       # before a leaflet is made for nothing
    except HandoutError as error:
        return await _desk_page(request, choice, form=form, problem="\n".join(error.problems), status=400)
    made, problem = await render_errors(request.app.state.renderer.handout(choice, patient))
    problem = problem or _address_problem(form)     # a leaflet not for patients is said first
    if problem:
        return await _desk_page(request, choice, form=form, problem=problem, status=400)
    try:
        sent = await asyncio.to_thread(
            send, request.app.state.project, choice, patient=patient, to=str(form.get("email", "")),
            reference=str(form.get("reference", "")), staff=staff, made=made, settings=request.app.state.settings,
            password=GENERATE if form.get("lock") else None, outbox=outbox_of(request.app),
            catalog=catalog_now(request.app)[0],
            key=str(form.get("form_key", ""))[:64] or None, consent=form.get("consent") == "1")
    except Unavailable as error:        # the disk or the database: what to do, in plain words
        return await _desk_page(request, choice, form=form, problem="\n".join(error.problems), status=503)
    except (HandoutError, InputError) as error:     # the address, the settings: plain words, no values
        return await _desk_page(request, choice, form=form, problem="\n".join(str(p) for p in error.problems),
                                status=400)
    except Exception as error:
        log.error("an email could not be queued: %s", type(error).__name__)
        return await _desk_page(request, choice, form=form, problem="The email could not be queued.", status=500)
    if sent.status.startswith("already"):    # nothing new was sent: say so, and which send the patient has
        return RedirectResponse(f"/sends/{sent.id}?already=1", status_code=303)
    if not sent.password:     # the status page follows the send by itself
        return RedirectResponse(f"/sends/{sent.id}", status_code=303)
    # The password is shown once, on this response only; the status page (a plain URL) never has it.
    return page(request, "sent.html", send=outbox_of(request.app).status(sent.id) or {"status": sent.status, "id": sent.id},
                password=sent.password, refresh=False, already=False)


def _address_problem(form: FormData) -> str | None:
    """The address typed twice must match (a typo would send one patient's leaflet to a stranger), and the
    patient must have agreed to email."""
    if str(form.get("email", "")).strip().lower() != str(form.get("email_again", "")).strip().lower():
        return "email: the two addresses differ; type the patient's address again in both boxes"
    if form.get("consent") != "1":
        return "consent: tick the box once the patient has agreed to have their leaflet emailed"
    return None


@router.get("/sends/{send_id}", response_class=HTMLResponse)
async def send_status(request: Request, send_id: str):
    signed_in(request)
    found = find_send(request.app, send_id)
    if found is None:
        raise HTTPException(404, "No such email in the outbox.")
    return page(request, "sent.html", send=found, password=None, refresh=found["status"] not in FINISHED,
                already=request.query_params.get("already") == "1")


@router.get("/sends/{send_id}/state")
async def send_state(request: Request, send_id: str):
    """The send's status alone, for the status page's script (it reloads the page when the send is done)."""
    signed_in(request)
    found = find_send(request.app, send_id)
    if found is None:
        raise HTTPException(404)
    return {"status": found["status"]}


@router.get("/preview/{brand}/{lang}/{treatment}/{kind}/{size}/{number}.png")
async def preview_page(request: Request, brand: str, lang: str, treatment: str, kind: str, size: str, number: int):
    signed_in(request)
    choice = Choice(brand, treatment, kind, lang, size == "large")
    preview = await catalog_preview(request, choice)
    if preview is None or not 1 <= number <= len(preview.pages):
        raise HTTPException(404)
    return Response(preview.pages[number - 1], media_type="image/png")


async def catalog_preview(request: Request, choice: Choice, *, failures: list[str] | None = None):
    """The catalog leaflet's preview for the project as it is now (and today: a leaflet can become overdue);
    the last good one while the content is broken; None for a leaflet the catalog does not have.
    ``failures``: given, a render that failed adds its message there (the editor shows it)."""
    catalog, _ = await asyncio.to_thread(catalog_now, request.app)
    if catalog is not None and choice_problems(catalog, choice):
        return None                  # refused here, without taking a render worker's time
    time_zone = catalog.brands[choice.brand].time_zone if catalog is not None else None
    previews: OrderedDict = request.app.state.previews
    key, last = (choice, stamp_of(request.app), today(time_zone)), ("last", choice)
    if key not in previews:
        preview, failure = await render_errors(request.app.state.renderer.preview(choice))
        if preview is None:
            if failures is not None and failure:
                failures.append(failure)
            return previews.get(last)
        previews[key] = previews[last] = preview
        while len(previews) > MAX_PREVIEWS:
            previews.popitem(last=False)     # the least recently used
    previews.move_to_end(key)
    return previews[key]


async def _desk_page(request: Request, choice: Choice, *, form: FormData | None = None, problem: str | None = None,
                     personal=None, status: int = 200) -> HTMLResponse:
    catalog, content_problem = await asyncio.to_thread(catalog_now, request.app)
    options = choices(catalog, choice) if catalog else None
    chosen = bool(options and options.complete)
    preview = await catalog_preview(request, choice) if chosen else None
    values = {name: str(form.get(name, "")) for name in FIELDS + ("email", "email_again", REFERENCE.name)} if form else {}
    return page(request, "desk.html", status=status, options=options, choice=choice, chosen=chosen,
                preview=preview, personal=_inline(personal), problem=problem, content_problem=content_problem,
                values=values, fields=PATIENT_FIELDS, reference=REFERENCE, page_urls=page_urls(request, choice, preview),
                form_key=str(form.get("form_key", "")) if form else secrets.token_urlsafe(16))


def page_urls(request: Request, choice: Choice, preview) -> list[str]:
    """Where a catalog leaflet's page images are; the version makes the browser fetch them again after an edit."""
    if preview is None:
        return []
    version = version_of(request.app)
    size = "large" if choice.large_print else "standard"
    return [f"/preview/{choice.brand}/{choice.lang}/{choice.treatment}/{choice.kind}/{size}/{n}.png?v={version}"
            for n in range(1, len(preview.pages) + 1)]


def _inline(preview) -> dict | None:
    """A personalised preview's pages as data: URLs, so the patient's leaflet is never at an address of its own."""
    if preview is None:
        return None
    return {"pages": ["data:image/png;base64," + base64.b64encode(png).decode() for png in preview.pages],
            "texts": preview.texts}


__all__ = ["router", "catalog_preview"]
