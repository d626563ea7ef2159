"""The day at the desk: the day's list of patients (the CSV ``careleaf handouts`` reads, uploaded, pasted, or sent
by the practice-management system through the API), who has had their leaflets, and what this desk printed and
emailed today.

Both are kept in the server's memory only, never on disk, and forgotten when the day changes (at the first
request after midnight, the machine's clock) or when staff clear the list: the list names patients, and a
restart or the end of the day leaves nothing behind. The page of what was handed out shows the clinic's patient
reference and the leaflet, never a name, and no address of any page carries one (a row is picked by its number,
in a POST).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from careleaf.content.governance import today
from careleaf.errors import InputError, Problem
from careleaf.handout.choice import Choice
from careleaf.handout.handouts import HandoutRecord, check_day_list, read_day_list
from careleaf.web.catalog_view import catalog_now, find_send
from careleaf.web.common import page, posted_form, signed_in

router = APIRouter(include_in_schema=False)
LIST_NAME = Path("the day's list")      # how problems name the list (an uploaded file's own name may be a patient's)
MAX_ROWS = 500


@dataclass
class Row:
    """One patient of the day's list."""

    number: int                   # 1 for the first patient: how the pages name a row
    choice: Choice
    fields: dict[str, str]
    reference: str
    done: bool = False


@dataclass
class Handed:
    """One print or email made at this desk today: the leaflets and the patient reference, never a name."""

    time: str
    channel: str                  # print or email
    leaflets: list[str]
    reference: str
    staff: str
    send_id: str = ""


@dataclass
class Day:
    """The day's list and what was handed out today, for one server; emptied when the day changes."""

    date: dt.date | None = None
    rows: list[Row] = field(default_factory=list)
    handed: list[Handed] = field(default_factory=list)

    def now(self) -> "Day":
        if self.date != today():
            self.date, self.rows, self.handed = today(), [], []
        return self

    def row(self, number: str) -> Row | None:
        return next((row for row in self.now().rows if str(row.number) == str(number)), None)


def day_of(app) -> Day:
    if getattr(app.state, "day", None) is None:
        app.state.day = Day()
    return app.state.day.now()


def note_handout(request: Request, form, channel: str, records: list[HandoutRecord], *, send_id: str = "") -> None:
    """Keep a print or an email in today's page, and mark the day's list's row it came from (if any) as done."""
    day = day_of(request.app)
    row = day.row(str(form.get("row", "")))
    if row is not None:
        row.done = True
    leaflets = [f"{r.code} · {r.lang}" + (" · large print" if r.large_print else "") for r in records]
    staff = request.session.get("staff") or "desk"
    day.handed.append(Handed(dt.datetime.now().strftime("%H:%M"), channel, leaflets,
                             str(form.get("reference", "")), staff, send_id))


def load_list(app, text: str) -> int:
    """Replace the day's list with ``text`` (CSV, the columns ``careleaf handouts`` reads); every row is checked
    first, as the command line checks it. InputError naming each bad line (never its contents)."""
    catalog, problem = catalog_now(app)
    if catalog is None:
        raise InputError([Problem(LIST_NAME, 1, 1, "the leaflets' content has problems; ask the editor")])
    rows = read_day_list(text.lstrip("\ufeff"), LIST_NAME)
    if len(rows) > MAX_ROWS:
        raise InputError([Problem(LIST_NAME, 1, 1, f"more than {MAX_ROWS} patients; split the list")])
    check_day_list(catalog, rows, LIST_NAME, allow_draft=app.state.training,
                   now=dt.datetime.now(dt.timezone.utc))
    day = day_of(app)
    day.rows = [Row(number, *row) for number, (_, row) in enumerate(rows, start=1)]
    return len(day.rows)


# --- pages --------------------------------------------------------------------------------------

@router.get("/day", response_class=HTMLResponse)
async def day_page(request: Request):
    signed_in(request)
    return _day(request)


def _day(request: Request, *, problem: str | None = None, status: int = 200, pasted: str = ""):
    return page(request, "day.html", status=status, rows=day_of(request.app).rows, problem=problem, pasted=pasted)


@router.post("/day")
async def upload_list(request: Request):
    """A day's list uploaded (a CSV file) or pasted; it replaces the one before."""
    form = await posted_form(request)
    upload, pasted = form.get("file"), str(form.get("pasted", ""))
    text = pasted
    if upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _day(request, status=400, problem="The file is not UTF-8 text: save it as 'CSV UTF-8'.")
    if not text.strip():
        return _day(request, status=400, problem="Choose a CSV file or paste the list first.")
    try:
        await asyncio.to_thread(load_list, request.app, text)
    except InputError as error:
        return _day(request, status=400, problem=str(error), pasted=pasted)
    return RedirectResponse("/day", status_code=303)


@router.post("/day/done")
async def mark_done(request: Request):
    """Mark a row as having had its leaflets (or not, again)."""
    form = await posted_form(request)
    row = day_of(request.app).row(str(form.get("row", "")))
    if row is not None:
        row.done = form.get("done") == "1"
    return RedirectResponse("/day", status_code=303)


@router.post("/day/clear")
async def clear_list(request: Request):
    await posted_form(request)
    day_of(request.app).rows = []
    return RedirectResponse("/day", status_code=303)


@router.get("/today", response_class=HTMLResponse)
async def today_page(request: Request):
    """What this desk printed and emailed today, with each email's state; the newest first."""
    staff = signed_in(request)
    mine = [h for h in day_of(request.app).handed if not request.app.state.settings.desk.accounts or h.staff == staff]
    states = {h.send_id: await asyncio.to_thread(find_send, request.app, h.send_id) for h in mine if h.send_id}
    return page(request, "today.html", handed=list(reversed(mine)),
                states={key: (value or {}).get("status", "not found") for key, value in states.items()})


__all__ = ["router", "day_of", "load_list", "note_handout"]
