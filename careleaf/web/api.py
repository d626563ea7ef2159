"""The JSON API, for practice-management systems: list leaflets, make a patient's leaflet, queue and follow
an email, query the register, put the day's list on the desk. Every route needs a bearer token
(``Authorization: Bearer …``) from the environment variable the settings name; the OpenAPI description is at /api/openapi.json.

Patient fields travel only in request bodies, never in a URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Literal, Optional, Union

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, create_model

from careleaf.content.governance import today
from careleaf.errors import HandoutError, InputError
from careleaf.handout.handouts import Choice, not_for_patients
from careleaf.handout.patient import (PATIENT_FIELDS, REFERENCE, REFERENCE_SHAPE, SHAPES, STAFF, PatientField,
                                      check_reference, checked_text)
from careleaf.desk.outbox import MAX_LEAFLETS, leaflets_of
from careleaf.desk.register import Entry, project_register, register_handout
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.web.common import render_errors
from careleaf.web.day_pages import load_list
from careleaf.web.catalog_view import catalog_now, find_send, outbox_of
from careleaf.web.renderer import API
from careleaf.web.security import NO_TOKEN, token_allowed

# Declares the bearer scheme in the OpenAPI document; the token itself is checked before the body is read
# (security.ApiTokenGate), and again here, so that no route of this router is ever open by mistake.
BEARER = HTTPBearer(auto_error=False, description="A token from the environment variable that careleaf.yaml "
                                                  "names (desk: api_tokens_env)")


def require_token(request: Request, _: Optional[HTTPAuthorizationCredentials] = Depends(BEARER)) -> str:
    if not token_allowed(request.headers.get("authorization"), request.app.state.settings.desk):
        raise HTTPException(401, NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    return "api"


class Problem(BaseModel):
    """What went wrong, in plain words (never echoing a patient's details)."""

    detail: str


class FieldProblem(BaseModel):
    """One field that is wrong: its name and what is wrong with it, never its value."""

    field: str
    problem: str


class Invalid(BaseModel):
    """A request that cannot be used: the fields that are wrong, or why the leaflet cannot be made, in words."""

    detail: Union[list[FieldProblem], str]


# Every error the API answers with, and its body; each route adds its own (404, 503).
ERRORS: dict[int | str, dict] = {
    400: {"model": Problem, "description": "The body could not be read as JSON"},
    401: {"model": Problem, "description": "No valid API token (checked before the body is read)"},
    413: {"model": Problem, "description": "The body is larger than any request needs"},
    422: {"model": Invalid, "description": "A field or choice is wrong, or the leaflet cannot be made"},
    429: {"model": Problem, "description": "Too many calls with this token: wait the seconds Retry-After gives",
          "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}},
}

router = APIRouter(dependencies=[Depends(require_token)], tags=["api"], responses=ERRORS)


def _checked_as(field: PatientField):
    """A typed field checked as the desk checks it (patient.checked_text): a wrong one is a 422 naming the field."""
    def check(value: Optional[str]) -> Optional[str]:
        try:
            return checked_text(field, value) if value is not None else None
        except HandoutError as error:
            raise ValueError("; ".join(error.problems)) from None
    return AfterValidator(check)


def _reference(value: Optional[str]) -> Optional[str]:
    try:
        return check_reference(value) if value else value
    except HandoutError as error:
        raise ValueError("; ".join(error.problems)) from None


Reference = Annotated[str, Field(max_length=REFERENCE.limit, pattern=f"^({REFERENCE_SHAPE[1:-1]})?$",
                                  description=REFERENCE.help), AfterValidator(_reference)]


def _iso_day(value):
    """A day as JSON writes one, 'YYYY-MM-DD': not a number of seconds, which pydantic would also take."""
    if value is not None and not isinstance(value, str):
        raise ValueError("should be a date written YYYY-MM-DD")
    return value


Day = Annotated[dt.date, BeforeValidator(_iso_day)]


class LeafletChoice(BaseModel):
    """Which leaflet."""

    model_config = ConfigDict(extra="forbid")
    brand: str = Field(max_length=60, examples=["harbour-skin"])
    treatment: str = Field(max_length=60, examples=["botox-facial-lines"])
    kind: Literal["pre-treatment", "aftercare"]
    lang: str = Field(max_length=8, examples=["en"])
    large_print: StrictBool = False

    def choice(self) -> Choice:
        return Choice(self.brand, self.treatment, self.kind, self.lang, self.large_print)


def _api_field(field: PatientField):
    """One patient field as the API's model declares it: its type, and its limit, description and example."""
    described = {"max_length": field.limit, "description": field.help}
    if field.example:
        described["examples"] = [field.example]
    if field.name in SHAPES:
        described["pattern"] = SHAPES[field.name]
    if field.required:
        return Annotated[str, _checked_as(field)], Field(**described)
    return Annotated[Optional[str], _checked_as(field)], Field(None, **described)


# Built from the patient fields' one declaration, so the API takes exactly what the desk and the command line do.
PatientFields = create_model(
    "PatientFields", __config__=ConfigDict(extra="forbid"), __module__=__name__,
    __doc__="The patient's details; checked as the front desk checks them (never echoed in errors).",
    **{field.name: _api_field(field) for field in PATIENT_FIELDS})


class HandoutRequest(LeafletChoice):
    patient: PatientFields
    reference: Reference = ""
    staff: Annotated[str, _checked_as(STAFF)] = Field("api", min_length=1, max_length=STAFF.limit,
                                                        description=STAFF.help)


class AlsoLeaflet(BaseModel):
    """Another leaflet for the same patient, in the same email: the request's brand (one clinic sends it)."""

    model_config = ConfigDict(extra="forbid")
    treatment: str = Field(max_length=60, examples=["botox-facial-lines"])
    kind: Literal["pre-treatment", "aftercare"]
    lang: str = Field(max_length=8, examples=["tr"])
    large_print: StrictBool = False


class SendRequest(HandoutRequest):
    to: str = Field(max_length=254, description="The patient's email address (one)",
                    json_schema_extra={"format": "email"})
    lock: StrictBool = Field(False, description="Lock the PDF (each PDF) with a new password, returned once in the "
                                                "response")
    consent: Literal[True] = Field(description="true: the patient agreed to have the leaflet emailed (recorded with "
                                               "the send); nothing is sent without it")
    also: list[AlsoLeaflet] = Field(
        default_factory=list, max_length=MAX_LEAFLETS - 1,
        description=f"More leaflets for the same patient (at most {MAX_LEAFLETS - 1}), in the same email: each its "
                    "own PDF attachment, locked with the same password, each recorded in the register when "
                    "delivered. The email's words are in the first leaflet's language. The same set again for the "
                    "same reference is the same send, in any order.")

    def choices(self) -> list[Choice]:
        return [self.choice()] + [Choice(self.brand, other.treatment, other.kind, other.lang, other.large_print)
                                  for other in self.also]


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


class SentLeaflet(BaseModel):
    code: str
    version: int
    lang: str
    large_print: bool = False


class SendStatus(BaseModel):
    id: str
    status: str
    attempts: int
    code: str = Field(description="The first leaflet's code (every leaflet: leaflets)")
    version: int
    lang: str
    leaflets: list[SentLeaflet] = Field(description="Every leaflet the email carries, the first first")
    created: str
    updated: str
    reply: str
    reference: str = ""
    next_try: Optional[str] = None


class RegisterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: Optional[Reference] = None
    code: Optional[str] = Field(None, max_length=40, pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$",
                                description="A leaflet's code, for example BTX-FL-AC")
    since: Optional[Day] = Field(None, description="From this day (UTC), YYYY-MM-DD")
    until: Optional[Day] = Field(None, description="To this day (UTC), YYYY-MM-DD")


@router.get("/leaflets", response_model=list[Leaflet], summary="Every leaflet, with its code, version and state",
            responses={503: {"model": Problem, "description": "The leaflets' content has problems"}})
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


@router.post("/handouts", summary="Make a patient's leaflet (the PDF); recorded in the register", response_class=Response,
             responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
async def make_handout(request: Request, body: HandoutRequest):
    made, problem = await render_errors(request.app.state.renderer.handout(body.choice(), _fields(body.patient), priority=API))
    if problem:
        raise HTTPException(422, problem)
    await _register_print(request, made.record, body)
    return Response(made.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{made.file_name}"'})


@router.post("/sends", response_model=Sent, status_code=202,
             summary="Queue a patient's leaflet, or several in one email, for email",
             responses={503: {"model": Problem, "description": "The outbox cannot store it now (disk, database)"}})
async def queue_send(request: Request, body: SendRequest):
    from careleaf.desk.database import Unavailable
    from careleaf.desk.send import GENERATE, check_send, send_leaflets     # here: the outbox, for email only

    choices, patient = body.choices(), _fields(body.patient)
    try:        # before any leaflet is made: a request that cannot be sent takes no render worker's time
        check_send(request.app.state.settings, choices, body.to, body.reference)
    except HandoutError as error:
        raise HTTPException(422, "\n".join(error.problems)) from None
    renders = await asyncio.gather(*(render_errors(request.app.state.renderer.handout(choice, patient, priority=API))
                                     for choice in choices))
    problem = next((problem for _, problem in renders if problem), None)
    if problem:         # a leaflet not for patients, or a field wrong for one: nothing is queued
        raise HTTPException(422, problem)
    try:
        sent = await asyncio.to_thread(send_leaflets, request.app.state.project, choices, patient=patient,
                                       to=body.to, reference=body.reference, staff=body.staff,
                                       made=[made for made, _ in renders],
                                       settings=request.app.state.settings, password=GENERATE if body.lock else None,
                                       outbox=outbox_of(request.app), catalog=catalog_now(request.app)[0],
                                       consent=body.consent)
    except Unavailable as error:
        raise HTTPException(503, "\n".join(error.problems)) from None
    except HandoutError as error:
        raise HTTPException(422, "\n".join(error.problems)) from None
    return Sent(id=sent.id, status=sent.status, password=sent.password)


class DayList(BaseModel):
    """The day's list, as the CSV ``careleaf handouts`` reads (a heading row: brand, treatment, kind, lang,
    large_print, reference and the patient fields)."""

    model_config = ConfigDict(extra="forbid")
    # At most 5,000 characters (about 50 patients): as JSON, even escaped (12 bytes a character), within 64 KB.
    csv: str = Field(max_length=5_000, description="The list as CSV text, UTF-8, with its heading row")


class DayListLoaded(BaseModel):
    """The list is on the desk (in the server's memory until the end of the day)."""

    patients: int


@router.post("/day-list", response_model=DayListLoaded, summary="Put the day's list on the desk, replacing any before",
             responses={422: {"model": Invalid, "description": "A line of the list cannot be used (by its number)"}})
async def day_list(request: Request, body: DayList):
    try:
        patients = await asyncio.to_thread(load_list, request.app, body.csv)
    except InputError as error:
        raise HTTPException(422, str(error)) from None
    return DayListLoaded(patients=patients)


@router.get("/sends/{send_id}", response_model=SendStatus, summary="How a queued email went",
            responses={404: {"model": Problem, "description": "No such email in the outbox"}})
async def send_status(request: Request, send_id: str):
    found = find_send(request.app, send_id)
    if found is None:
        raise HTTPException(404, "No such email in the outbox.")
    leaflets = [SentLeaflet(**{name: leaflet[name] for name in SentLeaflet.model_fields if name in leaflet})
                for leaflet in leaflets_of(found)]
    return SendStatus(**{name: found[name] for name in SendStatus.model_fields if name in found} | {"leaflets": leaflets})


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


# Request models whose brand, treatment and language are the catalog's own: the document lists them as it is now.
_CHOOSING = ("HandoutRequest", "SendRequest", "AlsoLeaflet")


def contract(app) -> dict:
    """The API's OpenAPI document, generated from the models that validate, with the catalog's brands, treatments
    and languages as the only values a request may name (the renderer refuses any other)."""
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    catalog, _ = catalog_now(app)
    if catalog is None:
        return document
    allowed = {"brand": sorted(catalog.brands), "treatment": sorted(catalog.treatments),
               "lang": sorted({lang for brand in catalog.brands.values() for lang in brand.languages})}
    schemas = document.get("components", {}).get("schemas", {})
    for name in _CHOOSING:
        for key, values in allowed.items():
            if key in schemas.get(name, {}).get("properties", {}):
                schemas[name]["properties"][key]["enum"] = values
    return document
