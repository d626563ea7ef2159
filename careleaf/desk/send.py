"""Send one patient one leaflet: the library call behind `careleaf send` and the front desk's Email button.

The leaflet is made by ``handouts.handout`` (so only approved wording is sent),
optionally locked with a password, wrapped in a message that names the clinic
only, and either queued in the outbox (delivered by `careleaf worker`) or
written as an ``.eml`` file for the clinic's own mail program. Printing and
.eml exports are recorded in the register at once; an email when it is delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from careleaf.leaflet.assemble import direction
from careleaf.content.catalog import Catalog, load_catalog
from careleaf.review.git import current_revision
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, Handout, handout
from careleaf.desk.mail import check_address, compose, lock_pdf, new_password
from careleaf.desk.outbox import Outbox, idempotency_key, mask_address
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


def send(project: Project | str | Path, choice: Choice, *, patient: Mapping[str, str | None], to: str,
         reference: str = "", staff: str = "", password: str | None = None, eml: Path | None = None,
         allow_draft: bool = False, now: dt.datetime | None = None, settings: Settings | None = None,
         outbox: Outbox | None = None, made: Handout | None = None, key: str | None = None,
         catalog: Catalog | None = None, consent: bool = False) -> Sent:
    """Queue one patient's leaflet for email (or, with ``eml``, write the message to that file).

    ``password``: None sends the PDF unlocked; GENERATE makes a password (returned, never stored);
    any other text locks it with that text. ``made``: the leaflet, already made by ``handout`` for this
    choice and patient (the front desk renders in its own pool). ``key``: what makes a send without a patient
    reference the same send (the desk's form, so a double click sends once). ``consent``: the patient agreed
    to have it emailed (when is recorded with the send; nothing is queued without it). Raises HandoutError for
    a wrong field or address.
    """
    refuse_draft_email(allow_draft)
    if eml is None and consent is not True:
        raise HandoutError([NO_CONSENT])
    project = project if isinstance(project, Project) else Project(Path(project))
    settings = settings or load_settings(project)
    if eml is not None:
        refuse_shared_output(project, eml, "--eml")
    address = check_address(to)
    reference = check_reference(reference)
    if eml is None and settings.email is None:
        raise HandoutError(["email: careleaf.yaml has no email settings, so nothing can be sent; add them "
                            "(see the README), or export the message with --eml"])
    catalog = catalog or load_catalog(project)
    made = made or handout(project, choice, patient=patient, now=now, catalog=catalog)
    if password == GENERATE:
        password = new_password()
    pdf = lock_pdf(made.pdf, password) if password else made.pdf
    brand = catalog.brands[choice.brand]
    # Each clinic's emails come from its own sender; an exported message goes out from the clinic's own mail
    # program, so from the clinic's own address.
    configured = brand.sender or (settings.email.sender if settings.email else None)
    sender = (brand.email or configured) if eml is not None else configured
    if not sender:
        raise HandoutError([f"email: the brand {choice.brand} has no email address to send from; add 'email:' "
                            "to its file, or email settings to careleaf.yaml"])
    key = idempotency_key(reference, made.record.code, made.record.version, made.record.lang, fallback=key)
    message = compose(project, pdf=pdf, file_name=made.file_name, to=address, sender=sender, clinic=brand.name,
                      phone=brand.phone, lang=choice.lang, direction=direction(choice.lang),
                      words=catalog.labels[choice.lang], locked=bool(password))
    revision = current_revision(project.root)
    if eml is not None:
        write_atomically(eml, bytes(message), private=True)
        register_handout(project, made.record, channel="eml", staff=staff, settings=settings, reference=reference,
                         revision=revision)
        return Sent("", "exported", password)
    outbox = outbox or Outbox(project, settings)
    about = made.record.as_json() | {"staff": staff, "reference": reference, "revision": revision,
                                     "consent": now_utc(),
                                     "to": mask_address(address)}
    queued = outbox.queue(bytes(message), key=key, about=about)
    # An earlier send of this leaflet is what the patient gets, locked with its own password (shown then).
    return Sent(queued.id, queued.status if queued.new else f"already {queued.status}", password if queued.new else None)

