"""The desk page: choose a leaflet, see it, personalise it, print it or email it."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import re
import secrets
import time
from collections import OrderedDict
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from careleaf.content.governance import today
from careleaf.errors import HandoutError, InputError
from careleaf.handout.choice import Choice, choice_problems
from careleaf.handout.patient import FIELDS, PATIENT_FIELDS, REFERENCE, check_reference
from careleaf.web.common import choice_from, page, patient_from, render_errors, signed_in
from careleaf.web.common import csrf_token, posted_form
from careleaf.web.day_pages import day_of, note_handout
from careleaf.web.security import csrf_matches
from careleaf.desk.outbox import FINISHED, describe, leaflet_names
from careleaf.desk.register import register_handout
from careleaf.web.catalog_view import catalog_now, choices, find_send, outbox_of, stamp_of, version_of

router = APIRouter(include_in_schema=False)
MAX_PREVIEWS = 48          # leaflets' page images kept in memory (a few MB each)
log = logging.getLogger("careleaf.web")
TIME_ALONE = re.compile(r"\d{1,2}:\d{2}")


@router.get("/", response_class=HTMLResponse)
async def desk(request: Request):
    signed_in(request)
    choice = choice_from(request.query_params)
    return await _desk_page(request, choice)


@router.post("/handout")
async def personalise(request: Request):
    staff = signed_in(request)
    form = await request.form()
    choice, action = choice_from(form), str(form.get("action", "show"))
    if not csrf_matches(request.session.get("csrf"), str(form.get("csrf", ""))):
        # A form left open past its session: shown again as it was, with the session's token, nothing lost.
        return await _desk_page(request, choice, form=form, status=403, problem=EXPIRED)
    if action == "show":
        if not any(form.get(name) for name in FIELDS + ("email", REFERENCE.name)):
            return RedirectResponse("/?" + urlencode(choice_query(choice)), status_code=303)
        return await _desk_page(request, choice, form=form)
    if str(form.get("shown", "")) != shown_id(choice):
        # The menus were changed without showing the new leaflet: nothing is made for a leaflet not seen.
        return await _desk_page(request, choice, form=form, status=409, problem=NOT_SHOWN)
    patient = await _patient(request, choice, form)
    try:
        check_reference(str(form.get("reference", "")))    # before anything is made: every print is registered
    except HandoutError as error:
        return await _desk_page(request, choice, form=form, problem="\n".join(error.problems), status=400)
    if action in ("print", "print_both"):
        return await _print(request, choice, patient, form, staff, both=action == "print_both")
    if action in ("email", "email_both"):
        return await _email(request, choice, patient, form, staff, both=action == "email_both")
    personal, problem = await render_errors(request.app.state.renderer.preview(
        choice, patient, allow_draft=request.app.state.training))
    return await _desk_page(request, choice, form=form, problem=problem, personal=personal,
                            status=400 if problem else 200)


EXPIRED = ("The page had been open too long, so nothing was done. Your details are still here: "
           "press the button again.")
NOT_SHOWN = ("The leaflet chosen in the menus was not the one shown, so nothing was printed or emailed. "
             "It is shown now, with the patient's details kept: check it, then press the button again.")


def shown_id(choice: Choice) -> str:
    """The leaflet a desk page shows, as its form carries it back: a PDF is made only for this one."""
    return "/".join((choice.brand, choice.treatment, choice.kind, choice.lang,
                     "large" if choice.large_print else "standard"))


def choice_query(choice: Choice) -> dict[str, str]:
    query = {"brand": choice.brand, "treatment": choice.treatment, "kind": choice.kind, "lang": choice.lang}
    return query | ({"large_print": "1"} if choice.large_print else {})


async def _patient(request: Request, choice: Choice, form: FormData) -> dict[str, str]:
    """The patient's fields; a treatment time typed alone ('14:30') is today's, in the clinic's time zone."""
    patient = patient_from(form)
    treated = patient.get("treated", "").strip()
    if TIME_ALONE.fullmatch(treated):
        catalog, _ = await asyncio.to_thread(catalog_now, request.app)
        brand = catalog.brands.get(choice.brand) if catalog else None
        if brand is not None and brand.time_zone:
            patient["treated"] = f"{today(brand.time_zone).isoformat()} {treated}"
    return patient


async def _print(request: Request, choice: Choice, patient: dict[str, str], form: FormData, staff: str, *,
                 both: bool):
    """The patient's PDF of the leaflet shown; with ``both``, the leaflet chosen under "Print both" after it, in
    the same PDF (each registered)."""
    found = await _made(request, choice, patient, form, both=both, doing="print")
    if not isinstance(found, tuple):
        return found        # the page saying what is wrong
    _, made = found
    for one in made:
        await asyncio.to_thread(register_handout, request.app.state.project, one.record, channel="print",
                                staff=staff, reference=str(form.get("reference", "")),
                                settings=request.app.state.settings)
    note_handout(request, form, "print", [one.record for one in made])
    pdf = made[0].pdf if len(made) == 1 else await asyncio.to_thread(_merged, request, made)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{made[0].file_name}"'})


async def _made(request: Request, choice: Choice, patient: dict[str, str], form: FormData, *, both: bool,
                doing: str):
    """(the choices, their leaflets made for the patient): the leaflet shown and, with ``both``, the one chosen
    under "both" after it, rendered at once. Or the desk page saying what is wrong: nothing is printed or
    emailed then."""
    renderer, training = request.app.state.renderer, request.app.state.training and doing == "print"
    choices = [choice]
    if both:
        other = also_choice(choice, str(form.get("also", "")))
        catalog, _ = await asyncio.to_thread(catalog_now, request.app)
        if other is None or catalog is None or choice_problems(catalog, other):
            return await _desk_page(request, choice, form=form, status=400,
                                    problem=f"Choose which other leaflet to {doing} with this one.")
        choices.append(other)
    results = await asyncio.gather(*(render_errors(renderer.handout(c, patient, allow_draft=training))
                                     for c in choices))
    problem = next((problem for _, problem in results if problem), None)
    if problem:
        return await _desk_page(request, choice, form=form, problem=problem, status=400)
    return choices, [handout for handout, _ in results]


def _merged(request: Request, made) -> bytes:
    from careleaf.pdf.merge import merge_tagged     # pikepdf: for "Print both" only

    catalog, _ = catalog_now(request.app)
    first = made[0].record
    clinic = catalog.brands[first.brand].name if catalog else first.brand
    return merge_tagged([one.pdf for one in made], title=f"{clinic}: {len(made)} leaflets", lang=first.lang)


def also_choice(choice: Choice, also: str) -> Choice | None:
    """The second leaflet of "Print both" and "Email both": 'kind:aftercare', 'lang:tr' or 'size:large'/'size:standard'."""
    what, _, value = also.partition(":")
    if what == "kind" and value and value != choice.kind:
        return dataclasses.replace(choice, kind=value)
    if what == "lang" and value and value != choice.lang:
        return dataclasses.replace(choice, lang=value)
    if what == "size" and value in ("large", "standard") and (value == "large") != choice.large_print:
        return dataclasses.replace(choice, large_print=value == "large")
    return None


async def _email(request: Request, choice: Choice, patient: dict[str, str], form: FormData, staff: str, *,
                 both: bool):
    """The leaflet shown (with ``both``, and the one chosen under "both") in one email, each its own PDF."""
    from careleaf.desk.database import Unavailable
    from careleaf.desk.send import GENERATE, refuse_draft_email, send_leaflets    # here, not at the top: the outbox

    try:
        refuse_draft_email(request.app.state.training)       # before a leaflet is made for nothing
    except HandoutError as error:
        return await _desk_page(request, choice, form=form, problem="\n".join(error.problems), status=400)
    found = await _made(request, choice, patient, form, both=both, doing="email")
    if not isinstance(found, tuple):
        return found        # a leaflet not for patients is said first
    choices, made = found
    problem = _address_problem(form)
    if problem:
        return await _desk_page(request, choice, form=form, problem=problem, status=400)
    try:
        sent = await asyncio.to_thread(
            send_leaflets, request.app.state.project, choices, patient=patient, to=str(form.get("email", "")),
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
    note_handout(request, form, "email", [one.record for one in made], send_id=sent.id)
    if sent.status.startswith("already"):    # nothing new was sent: say so, and which send the patient has
        return RedirectResponse(f"/sends/{sent.id}?already=1", status_code=303)
    if sent.password:
        # Kept in memory for this browser's session only, until staff say they have told the patient (or
        # PASSWORD_MINUTES pass): the status page shows it, so a reload does not lose it nor send again.
        passwords_of(request.app)[sent.id] = (sent.password, csrf_token(request), time.monotonic())
    return RedirectResponse(f"/sends/{sent.id}", status_code=303)


@router.post("/day/pick")
async def pick_patient(request: Request):
    """The desk, filled from a row of the day's list (its number in the body: never a name in an address)."""
    form = await posted_form(request)
    row = day_of(request.app).row(str(form.get("row", "")))
    if row is None:
        return RedirectResponse("/day", status_code=303)
    values = row.fields | {"reference": row.reference, "row": str(row.number)}
    return await _desk_page(request, row.choice, form=values, picked=True)


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
    running = found["status"] in FINISHED or await asyncio.to_thread(outbox_of(request.app).worker_running)
    return page(request, "sent.html", send=found, leaflets=leaflet_names(found), password=_password(request, send_id),
                state=describe(found),
                worker_running=running, refresh=found["status"] not in FINISHED,
                already=request.query_params.get("already") == "1")


PASSWORD_MINUTES = 15


def passwords_of(app) -> dict[str, tuple[str, str, float]]:
    """Locked PDFs' passwords not yet told to the patient: send id -> (password, the session's form token, when)."""
    if getattr(app.state, "passwords", None) is None:
        app.state.passwords = {}
    now = time.monotonic()
    app.state.passwords = {key: v for key, v in app.state.passwords.items() if now - v[2] < PASSWORD_MINUTES * 60}
    return app.state.passwords


def _password(request: Request, send_id: str) -> str | None:
    """The send's password, for the session that sent it only."""
    found = passwords_of(request.app).get(send_id)
    return found[0] if found and csrf_matches(found[1], csrf_token(request)) else None


@router.post("/sends/{send_id}/told")
async def password_told(request: Request, send_id: str):
    """Staff have told the patient the password: it is forgotten."""
    await posted_form(request)
    if _password(request, send_id) is not None:
        passwords_of(request.app).pop(send_id, None)
    return RedirectResponse(f"/sends/{send_id}", status_code=303)


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


async def _desk_page(request: Request, choice: Choice, *, form: FormData | dict | None = None,
                     problem: str | None = None, personal=None, status: int = 200, picked: bool = False) -> HTMLResponse:
    catalog, content_problem = await asyncio.to_thread(catalog_now, request.app)
    options = choices(catalog, choice) if catalog else None
    chosen = bool(options and options.complete)
    preview = await catalog_preview(request, choice) if chosen else None
    values = {name: str(form.get(name, "")) for name in FIELDS + ("email", "email_again", REFERENCE.name, "also")} if form else {}
    shown = chosen and preview is not None
    usable = shown and (not preview.reasons or request.app.state.training)     # the form has its buttons
    focus = ("print" if personal or picked else "f-name" if not any(values.values()) else "") if shown else "treatment"
    return page(request, "desk.html", status=status, options=options, choice=choice, chosen=chosen,
                preview=preview, personal=_inline(personal), problem=problem, content_problem=content_problem,
                values=values, fields=PATIENT_FIELDS, reference=REFERENCE, page_urls=page_urls(request, choice, preview),
                form_key=str((form or {}).get("form_key", "")) or secrets.token_urlsafe(16),
                shown=shown_id(choice) if usable else "", row=str(form.get("row", "")) if form else "",
                leaflet_name=leaflet_name(options, choice, preview) if shown else "",
                also=also_options(options, choice) if shown else [], focus=focus, moment_hints=MOMENT_HINTS)


MOMENT_HINTS = {"treated": "Type it as 2026-12-01 14:30, or the time alone (14:30) for today.",
                "review": "Type it as 2026-12-15 or 2026-12-15 10:00."}


def leaflet_name(options, choice: Choice, preview) -> str:
    """How the buttons name the leaflet shown: 'BTX-FL-AC · Türkçe' (and '· large print')."""
    language = dict(options.langs).get(choice.lang, choice.lang)
    return " · ".join([preview.code, language] + (["large print"] if choice.large_print else []))


def also_options(options, choice: Choice) -> list[tuple[str, str]]:
    """What "Print both" can add to the leaflet shown: the other kind, another language, the other print size."""
    found = [("", "(choose)")]
    found += [(f"kind:{kind}", name) for kind, name in options.kinds if kind != choice.kind]
    found += [(f"lang:{code}", f"the same in {name}") for code, name in options.langs if code != choice.lang]
    found.append(("size:standard", "the same in standard print") if choice.large_print
                 else ("size:large", "the same in large print"))
    return found


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
