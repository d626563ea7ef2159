"""Send one patient their leaflets: the library call behind `careleaf send`, the front desk's Email and Email
both buttons, and the API's POST /api/sends.

Each leaflet is made by ``handouts.handout`` (so only approved wording is sent),
optionally locked with a password, wrapped in a message that names the clinic
only, and either queued in the outbox (delivered by `careleaf worker`) or
written as an ``.eml`` file for the clinic's own mail program. Several leaflets
for one patient are one message, each its own PDF attachment (on a phone each
opens on its own, named for what it is), all locked with the same password.
Printing and .eml exports are recorded in the register at once; an email, one
entry per leaflet, when it is delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from careleaf.leaflet.assemble import direction
from careleaf.content.catalog import Catalog, load_catalog
from careleaf.review.git import current_revision
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, Handout, handout
from careleaf.desk.mail import check_address, compose, lock_pdf, new_password
from careleaf.desk.outbox import MAX_LEAFLETS, Outbox, mask_address, set_key
from careleaf.build.output import write_atomically
from careleaf.project import Project, refuse_shared_output
from careleaf.handout.patient import check_reference
from careleaf.desk.register import register_handout
from careleaf.content.settings import Settings, load_settings


def now_utc() -> str:
    """When the patient's agreement to email was recorded: the moment it was sent to the outbox."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

GENERATE = "generate"          # asked for as the password: make one, shown once to the member of staff
DRAFTS_NOT_EMAILED = ("a draft is never sent to a patient, so nothing is emailed for training: training copies "
                      "(--allow-draft, careleaf serve --training) are printed only, marked DRAFT")


NO_CONSENT = ("consent: a leaflet is emailed only when the patient has agreed to email; ask them, then say so "
              "(the desk's box, the API's consent: true, the command's --consent)")


@dataclass(frozen=True)
class Sent:
    """What staff are told: the send's id and state, and the password when one was made (shown once)."""

    id: str
    status: str                 # queued, exported, or "already queued" / "already sent" for this patient
    password: str | None = None


def refuse_draft_email(allow_draft: bool) -> None:
    """The one rule for every way a leaflet is emailed (`careleaf send`, the desk's Email button, the API):
    where drafts are allowed, for training, nothing is sent, whether the leaflet is a draft or not."""
    if allow_draft:
        raise HandoutError([DRAFTS_NOT_EMAILED])


def send(project: Project | str | Path, choice: Choice, *, made: Handout | None = None, **options) -> Sent:
    """Queue one patient's leaflet for email (or, with ``eml``, write the message to that file): ``send_leaflets``
    with one leaflet."""
    return send_leaflets(project, [choice], made=None if made is None else [made], **options)


def check_leaflets(choices: Sequence[Choice]) -> None:
    """What a set of leaflets for one message must be, checked before any is made: one clinic's (it is one
    sender), each once, at most MAX_LEAFLETS. HandoutError in plain words."""
    if not 1 <= len(choices) <= MAX_LEAFLETS:
        raise HandoutError([f"leaflets: one email carries 1 to {MAX_LEAFLETS} leaflets"])
    if len({choice.brand for choice in choices}) > 1:
        raise HandoutError(["leaflets: the leaflets of one email come from one clinic (the same brand)"])
    if len(set(choices)) < len(choices):
        raise HandoutError(["leaflets: the same leaflet is named twice; each goes once"])


def check_send(settings: Settings, choices: Sequence[Choice], to: str, reference: str, *,
               exported: bool = False) -> tuple[str, str]:
    """What is checked before any leaflet is made (the API checks it before it renders): the set, the address,
    the reference, and that there is a mail server to send through. (address, reference), normalised."""
    check_leaflets(choices)
    address, reference = check_address(to), check_reference(reference)
    if not exported and settings.email is None:
        raise HandoutError(["email: careleaf.yaml has no email settings, so nothing can be sent; add them "
                            "(see the README), or export the message with --eml"])
    return address, reference


def send_leaflets(project: Project | str | Path, choices: Sequence[Choice], *, patient: Mapping[str, str | None],
                  to: str, reference: str = "", staff: str = "", password: str | None = None, eml: Path | None = None,
                  allow_draft: bool = False, now: dt.datetime | None = None, settings: Settings | None = None,
                  outbox: Outbox | None = None, made: Sequence[Handout] | None = None, key: str | None = None,
                  catalog: Catalog | None = None, consent: bool = False) -> Sent:
    """Queue one patient's leaflets for email, all in one message, each its own PDF (or, with ``eml``, write the
    message to that file). The message's words are in the first leaflet's language.

    ``password``: None sends the PDFs unlocked; GENERATE makes a password (returned, never stored), the same
    for each; any other text locks them with that text. ``made``: the leaflets, already made by ``handout`` for
    these choices and this patient (the front desk and the API render in their own pool). ``key``: what makes a
    send without a patient reference the same send (the desk's form, so a double click sends once). ``consent``:
    the patient agreed to have them emailed (when is recorded with the send; nothing is queued without it).
    Raises HandoutError for a wrong set, field or address, or a leaflet not for patients, before anything is
    queued.
    """
    refuse_draft_email(allow_draft)
    if eml is None and consent is not True:
        raise HandoutError([NO_CONSENT])
    project = project if isinstance(project, Project) else Project(Path(project))
    settings = settings or load_settings(project)
    if eml is not None:
        refuse_shared_output(project, eml, "--eml")
    address, reference = check_send(settings, choices, to, reference, exported=eml is not None)
    catalog = catalog or load_catalog(project)
    # Every leaflet is made (and a draft, an overdue or an unapproved one refused) before anything is queued.
    made = list(made or [handout(project, choice, patient=patient, now=now, catalog=catalog) for choice in choices])
    if password == GENERATE:
        password = new_password()
    pdfs = [lock_pdf(one.pdf, password) if password else one.pdf for one in made]
    first, brand = choices[0], catalog.brands[choices[0].brand]
    # Each clinic's emails come from its own sender; an exported message goes out from the clinic's own mail
    # program, so from the clinic's own address.
    configured = brand.sender or (settings.email.sender if settings.email else None)
    sender = (brand.email or configured) if eml is not None else configured
    if not sender:
        raise HandoutError([f"email: the brand {first.brand} has no email address to send from; add 'email:' "
                            "to its file, or email settings to careleaf.yaml"])
    records = [one.record for one in made]
    key = set_key(reference, [(r.code, r.version, r.lang, r.large_print) for r in records], fallback=key)
    attached = list(zip(pdfs, attachment_names(made)))
    message = compose(project, pdf=attached[0][0], file_name=attached[0][1], also=attached[1:], to=address,
                      sender=sender, clinic=brand.name, phone=brand.phone, lang=first.lang,
                      direction=direction(first.lang), words=catalog.labels[first.lang], locked=bool(password))
    revision = current_revision(project.root)
    if eml is not None:
        write_atomically(eml, bytes(message), private=True)
        for record in records:
            register_handout(project, record, channel="eml", staff=staff, settings=settings, reference=reference,
                             revision=revision)
        return Sent("", "exported", password)
    outbox = outbox or Outbox(project, settings)
    about = records[0].as_json() | {"staff": staff, "reference": reference, "revision": revision,
                                    "consent": now_utc(), "to": mask_address(address)}
    if len(records) > 1:        # the register gets one entry for each (careleaf.desk.outbox.leaflets_of)
        about["leaflets"] = [record.as_json() for record in records]
    queued = outbox.queue(bytes(message), key=key, about=about)
    # An earlier send of these leaflets is what the patient gets, locked with its own password (shown then).
    return Sent(queued.id, queued.status if queued.new else f"already {queued.status}", password if queued.new else None)


def attachment_names(made: Sequence[Handout]) -> list[str]:
    """The attachments' file names: the clinic's ('harbour-skin-leaflet.pdf') and, for several leaflets, what
    tells them apart on a phone (before or after treatment, the language, large print): never the patient,
    the treatment or the leaflet's code. Leaflets that differ otherwise (two treatments) are numbered."""
    if len(made) == 1:
        return [made[0].file_name]
    records = [one.record for one in made]

    def differs(value) -> bool:
        return len({value(r) for r in records}) > 1

    parts = [[r.kind] * differs(lambda x: x.kind) + [r.lang] * differs(lambda x: x.lang)
             + ["large-print"] * (r.large_print and differs(lambda x: x.large_print)) for r in records]
    base = [one.file_name.removesuffix(".pdf") for one in made]
    if len({tuple(p) for p in parts}) < len(parts):
        parts = [[str(number)] + p for number, p in enumerate(parts, start=1)]
    return [f"{b}-{'-'.join(p)}.pdf" if p else f"{b}.pdf" for b, p in zip(base, parts)]
