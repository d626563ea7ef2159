"""The front desk: one web page to choose, preview, personalise, print and email a leaflet; an editor's
page with a live preview; and a JSON API for practice-management systems.

Routes, in one place:

    GET  /                         the desk: choose a leaflet (query: brand, treatment, kind, lang, large_print)
    POST /handout                  personalise: action=show, preview (page images), print, print_both (one PDF),
                                   email or email_both (one email, a PDF each; queued); only for the leaflet the page
                                   showed (its 'shown' field)
    POST /day/pick                 the desk filled from a row of the day's list
    GET  /sends/{id}               how an email went (queued, sent, failed)
    GET|POST /day, POST /day/done  the day's list: load it (CSV), mark who has had their leaflets
    GET  /today                    what this desk printed and emailed today
    GET  /preview/{...}/{n}.png    a page of a catalog leaflet
    GET  /editor                   check's findings and a live preview; /editor/events streams changes
    GET|POST /login, POST /logout  staff sign-in (only when accounts are configured)
    /api/...                       the JSON API (see api.py; described at /api/openapi.json)

Patient fields travel only in POST bodies: never in a URL, a log line or a file
(beyond the outbox until delivery).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections import OrderedDict
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from careleaf.handout.patient import safe_name
from careleaf.project import Project
from careleaf.content.settings import Settings, load_settings, secret
from careleaf.web import api, day_pages, desk_pages, editor_pages, outbox_pages
from careleaf.web.common import NeedsSignIn, check_csrf, page
from careleaf.web.renderer import Renderer
from careleaf.web.security import (STAND_IN_HASH, ApiRateLimiter, ApiTokenGate, Guard, LoginLimiter, Sessions,
                                   new_csrf_token, password_matches, SESSION_HOURS)

HERE = Path(__file__).resolve().parent
ERROR_WORDS = {
    403: "The page had been open too long, or came from elsewhere, so nothing was done. Go back, reload the page "
         "and try again.",
    404: "There is no such page. The desk is one click away.",
    405: "That page cannot be used that way. Go back to the desk.",
    422: "Something in the form could not be read. Go back, check it and try again.",
}
log = logging.getLogger("careleaf.web")


def create_app(project: Project, *, settings: Settings | None = None, renderer: Renderer | None = None,
               training: bool = False, hosts: list[str] | None = None) -> FastAPI:
    """The web app for a project; its routes are listed in this module's docstring.

    ``training``: the desk may print drafts, marked DRAFT as always, and emails nothing (the API is unchanged).
    ``hosts``: the only Host names it answers to (`careleaf serve` gives them), so that a web page elsewhere
    cannot reach the desk on 127.0.0.1 by pointing its own name there (DNS rebinding).
    """
    settings = settings or load_settings(project)
    desk = settings.desk

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.renderer = renderer or Renderer(project.root, workers=desk.render_workers,
                                                  timeout=desk.render_timeout, limits=settings.limits)
        try:
            yield
        finally:
            app.state.renderer.close()

    app = FastAPI(title="careleaf front desk", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.project, app.state.settings, app.state.training = project, settings, training
    app.state.limiter, app.state.sessions = LoginLimiter(), Sessions()
    app.state.api_limiter = ApiRateLimiter(desk.api_requests_per_minute)
    app.state.previews = OrderedDict()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.undefined = StrictUndefined
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.include_router(desk_pages.router)
    app.include_router(day_pages.router)
    app.include_router(outbox_pages.router)
    app.include_router(editor_pages.router)
    app.include_router(api.router, prefix="/api")

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request):
        return page(request, "login.html", failed=False)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, name: str = Form(max_length=100), password: str = Form(max_length=200),
                    csrf: str = Form("")):
        check_csrf(request, csrf)
        limiter, address = request.app.state.limiter, request.client.host if request.client else "-"
        wait = limiter.wait(address, name)
        if wait > 0:     # refused unchecked: too many failures from here, for now (never the account everywhere)
            return page(request, "login.html", status=429, failed=True, blocked=True, wait=math.ceil(wait),
                        headers={"Retry-After": str(math.ceil(wait))})
        await asyncio.sleep(limiter.pause(name))
        account = next((a for a in desk.accounts if a.name == name), None)
        # An unknown name is checked against a stand-in hash too, so the time taken does not tell names apart.
        if not password_matches(account.password_hash if account else STAND_IN_HASH, password):
            limiter.failed(address, name)
            return page(request, "login.html", status=401, failed=True)
        limiter.succeeded(address, name)
        request.session.clear()
        request.session["staff"] = account.name
        request.session["sid"] = request.app.state.sessions.start(account.name, account.password_hash)
        request.session["csrf"] = new_csrf_token()
        return RedirectResponse("/", status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")):
        check_csrf(request, csrf)
        request.app.state.sessions.end(request.session.get("sid"))     # a copy of the cookie is no use now
        request.session.clear()
        return RedirectResponse("/login" if desk.accounts else "/", status_code=303)

    @app.exception_handler(NeedsSignIn)
    async def sign_in_first(request: Request, error: NeedsSignIn):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, error: StarletteHTTPException):
        """The API's errors stay JSON; a browser's are a page in words, with the way back (never JSON)."""
        if request.url.path.startswith("/api/"):
            return await http_exception_handler(request, error)
        return page(request, "error.html", status=error.status_code, headers=getattr(error, "headers", None),
                    code=error.status_code, message=ERROR_WORDS.get(error.status_code, str(error.detail)))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        # FastAPI's own answer quotes what was sent; a patient's name must not come back in an error.
        said = [{"field": ".".join(safe_name(str(part)).strip("'") for part in e["loc"]), "problem": e["msg"]}
                for e in error.errors()]
        if not request.url.path.startswith("/api/"):
            return page(request, "error.html", status=422, code=422, message=ERROR_WORDS[422])
        return JSONResponse({"detail": said}, status_code=422)

    # Last added, first to run: the guard sees every request before anything reads it.
    key = secret(desk.secret_key_env) or secrets.token_urlsafe(32)   # without one, sign-ins last until a restart
    app.add_middleware(SessionMiddleware, secret_key=key, session_cookie="careleaf_session", same_site="strict",
                       https_only=desk.https, max_age=SESSION_HOURS * 3600)
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.add_middleware(ApiTokenGate)
    app.add_middleware(Guard, hsts=desk.https)
    app.openapi = lambda: api.contract(app)
    return app
