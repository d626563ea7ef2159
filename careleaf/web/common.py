"""What every page of the web app shares: the page frame, the signed-in member of staff, form tokens, the
leaflet chosen and the patient's details read from a form, and render errors in plain words."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from careleaf.errors import HandoutError, InputError, RenderError
from careleaf.handout.choice import Choice
from careleaf.handout.patient import FIELDS
from careleaf.web.security import csrf_matches, new_csrf_token

log = logging.getLogger("careleaf.web")


def page(request: Request, template: str, *, status: int = 200, headers: dict | None = None,
         **context) -> HTMLResponse:
    """A page, with what every page needs: the member of staff signed in and the form token."""
    app = request.app
    context |= {"staff": staff_of(request), "csrf": csrf_token(request),
                "accounts": bool(app.state.settings.desk.accounts), "training": app.state.training}
    return app.state.templates.TemplateResponse(request, template, context, status_code=status, headers=headers)


def staff_of(request: Request) -> str | None:
    """The signed-in member of staff, if the server still knows the session (not signed out, password unchanged)."""
    accounts = request.app.state.settings.desk.accounts
    if not accounts or "staff" not in request.session:
        return None
    return request.app.state.sessions.name(request.session.get("sid"), {a.name: a.password_hash for a in accounts})


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = new_csrf_token()
    return request.session["csrf"]


def check_csrf(request: Request, given: str) -> None:
    if not csrf_matches(request.session.get("csrf"), given):
        raise HTTPException(403, "The form has expired; go back, reload the page and try again.")


async def posted_form(request: Request) -> FormData:
    """A form staff posted from one of the desk's pages: whoever is using the page signed in, its token checked."""
    signed_in(request)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


def signed_in(request: Request) -> str:
    """The member of staff using the page: signed in when accounts are configured; otherwise (on loopback) the
    one the environment names (careleaf.yaml's staff_env, CARELEAF_STAFF), else 'desk'."""
    settings = request.app.state.settings
    if not settings.desk.accounts:
        return (os.environ.get(settings.staff_env) or "").strip()[:60] or "desk"
    staff = staff_of(request)
    if not staff:
        raise NeedsSignIn()      # not signed in, signed out, the account removed or its password changed since
    return staff


class NeedsSignIn(Exception):
    pass


def choice_from(values) -> Choice:
    large = str(values.get("large_print", "")).lower() in ("1", "true", "yes", "on")
    return Choice(str(values.get("brand", "")), str(values.get("treatment", "")), str(values.get("kind", "")),
                  str(values.get("lang", "")), large)


def patient_from(form) -> dict[str, str]:
    return {name: str(form.get(name)) for name in FIELDS if form.get(name)}


async def render_errors(work):
    """Run a render; its errors as (None, message) in plain words (never echoing patient fields)."""
    try:
        return await work, None
    except HandoutError as error:
        return None, "\n".join(error.problems)
    except InputError as error:
        return None, f"The leaflets' content has problems; ask the editor to run check:\n{error}"
    except RenderError as error:
        return None, f"The leaflet could not be rendered: {error}"
    except asyncio.TimeoutError:
        return None, "The leaflet took too long to render; try again."
    except Exception as error:   # a worker that died, a time limit struck (pebble's TimeoutError)
        log.error("render failed: %s", type(error).__name__)
        return None, "The leaflet could not be made just now; try again."
