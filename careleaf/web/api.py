"""The JSON API, for practice-management systems: list leaflets, make a patient's leaflet, queue and follow
an email, query the register. Every route needs a bearer token (``Authorization: Bearer …``) from the
environment variable the settings name; the OpenAPI description is at /api/openapi.json.

Patient fields travel only in request bodies, never in a URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Literal, Optional

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from careleaf.content.governance import today
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, not_for_patients
from careleaf.handout.patient import PATIENT_FIELDS, REFERENCE, PatientField
from careleaf.desk.register import Entry, project_register, register_handout
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.web.common import render_errors
from careleaf.web.catalog_view import catalog_now, find_send, outbox_of
from careleaf.web.security import token_allowed


def require_token(request: Request) -> str:
    if not token_allowed(request.headers.get("authorization"), request.app.state.settings.desk):
        raise HTTPException(401, "A valid API token is needed (Authorization: Bearer <token>).",
                            headers={"WWW-Authenticate": "Bearer"})
    return "api"


router = APIRouter(dependencies=[Depends(require_token)], tags=["api"])


class LeafletChoice(BaseModel):
    """Which leaflet."""

    model_config = ConfigDict(extra="forbid")
    brand: str = Field(max_length=60, examples=["harbour-skin"])
    treatment: str = Field(max_length=60, examples=["botox-facial-lines"])
    kind: Literal["pre-treatment", "aftercare"]
    lang: str = Field(max_length=8, examples=["en"])
    large_print: bool = False

    def choice(self) -> Choice:
        return Choice(self.brand, self.treatment, self.kind, self.lang, self.large_print)


def _api_field(field: PatientField):
    """One patient field as the API's model declares it: its type, and its limit, description and example."""
    described = {"max_length": field.limit, "description": field.help}
    if field.example:
        described["examples"] = [field.example]
    if field.required:
        return str, Field(**described)
    return Optional[str], Field(None, **described)


# Built from the patient fields' one declaration, so the API takes exactly what the desk and the command line do.
PatientFields = create_model(
    "PatientFields", __config__=ConfigDict(extra="forbid"), __module__=__name__,
    __doc__="The patient's details; checked as the front desk checks them (never echoed in errors).",
    **{field.name: _api_field(field) for field in PATIENT_FIELDS})


class HandoutRequest(LeafletChoice):
    patient: PatientFields
    reference: str = Field("", max_length=REFERENCE.limit, description=REFERENCE.help)
    staff: str = Field("api", max_length=60)


class SendRequest(HandoutRequest):
    to: str = Field(max_length=254, description="The patient's email address (one)")
    lock: bool = Field(False, description="Lock the PDF with a new password, returned once in the response")


class Leaflet(BaseModel):
    brand: str
    treatment: str
    kind: str
    lang: str
    code: str
    version: int
    state: Literal["approved", "not for patients"]
    reasons: list[str]


class Sent(BaseModel):
    id: str
    status: str
    password: Optional[str] = None


class SendStatus(BaseModel):
    id: str
    status: str
    attempts: int
    code: str
    version: int
    lang: str
    created: str
    updated: str
    reply: str


class RegisterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: Optional[str] = Field(None, max_length=40)
    code: Optional[str] = Field(None, max_length=40)
    since: Optional[dt.date] = None
    until: Optional[dt.date] = None


@router.get("/leaflets", response_model=list[Leaflet], summary="Every leaflet, with its code, version and state")
async def leaflets(request: Request):
    catalog, problem = await asyncio.to_thread(catalog_now, request.app)
    if catalog is None:
        raise HTTPException(503, "The leaflets' content has problems; an editor must run check.")
    found = []
    for job in jobs(catalog, large_print=False):
        leaflet = assemble(catalog, job, today(catalog.brands[job.brand].time_zone))
        reasons = not_for_patients(leaflet)
        found.append(Leaflet(brand=job.brand, treatment=job.treatment, kind=job.kind, lang=job.lang,
                             code=leaflet.definition.code, version=leaflet.definition.version,
                             state="not for patients" if reasons else "approved", reasons=reasons))
    return found


@router.post("/handouts", summary="Make a patient's leaflet (the PDF); recorded in the register",
             responses={200: {"content": {"application/pdf": {}}}, 422: {"description": "A field or choice is wrong"}})
async def make_handout(request: Request, body: HandoutRequest):
    made, problem = await render_errors(request.app.state.renderer.handout(body.choice(), _fields(body.patient)))
    if problem:
        raise HTTPException(422, problem)
    await _register_print(request, made.record, body)
    return Response(made.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{made.file_name}"'})


@router.post("/sends", response_model=Sent, status_code=202, summary="Queue a patient's leaflet for email")
async def queue_send(request: Request, body: SendRequest):
    from careleaf.desk.send import GENERATE, send      # here, not at the top: the outbox's huey, for email only

    made, problem = await render_errors(request.app.state.renderer.handout(body.choice(), _fields(body.patient)))
    if problem:
        raise HTTPException(422, problem)
    try:
        sent = await asyncio.to_thread(send, request.app.state.project, body.choice(), patient=_fields(body.patient),
                                       to=body.to, reference=body.reference, staff=body.staff, made=made,
                                       settings=request.app.state.settings, password=GENERATE if body.lock else None,
                                       outbox=outbox_of(request.app), catalog=catalog_now(request.app)[0])
    except HandoutError as error:
        raise HTTPException(422, "\n".join(error.problems)) from None
    return Sent(id=sent.id, status=sent.status, password=sent.password)


@router.get("/sends/{send_id}", response_model=SendStatus, summary="How a queued email went")
async def send_status(request: Request, send_id: str):
    found = find_send(request.app, send_id)
    if found is None:
        raise HTTPException(404, "No such email in the outbox.")
    return SendStatus(**{name: found[name] for name in SendStatus.model_fields})


@router.post("/register/search", response_model=list[Entry],
             summary="Handouts in the register (a POST, so that patient references stay out of URLs)")
async def register_search(request: Request, query: RegisterQuery):
    app = request.app
    register = project_register(app.state.project, app.state.settings)
    entries = await asyncio.to_thread(register.find, reference=query.reference, code=query.code, since=query.since,
                                      until=query.until)
    return entries


def _fields(patient: PatientFields) -> dict[str, str]:
    return {name: value for name, value in patient.model_dump().items() if value is not None}


async def _register_print(request: Request, record, body: HandoutRequest) -> None:
    try:
        await asyncio.to_thread(register_handout, request.app.state.project, record, channel="print",
                                staff=body.staff, reference=body.reference, settings=request.app.state.settings)
    except HandoutError as error:
        raise HTTPException(422, "\n".join(error.problems)) from None
