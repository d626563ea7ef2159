"""Clinical governance: approval and review dates.

A leaflet is a *draft* until a clinician has approved it in its language and
nothing it prints is still marked ``needs_approval``. An approval (written by
``careleaf approve`` under the leaflet's ``approvals:``) holds a fingerprint of
the wording and facts the leaflet printed when it was approved: once anything it
prints changes, the fingerprint differs and the leaflet is *awaiting
re-approval*, a draft again, until a clinician approves the new wording.
A leaflet past its ``review_by`` date must not be handed out unnoticed: the
build refuses it unless told to print it marked "REVIEW OVERDUE".
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from typing import Any

from careleaf.content import model
from careleaf.content.items import Key, digest, plain
from careleaf.errors import RenderError
from careleaf.project import CONTENT

# What the approval covers: the treatment's own files and the shared wording. A brand's details (its phone
# numbers, colours) and the template words belong to the clinic and the theme, and are checked by `check`.
APPROVED_FILES = (f"{CONTENT}/treatments/", f"{CONTENT}/shared/")
# Not wording: the approval record itself, the version, review dates, sources and approval flags, and the
# topics of the leaflet standard a section declares it covers.
GOVERNANCE = frozenset({"version", "approved_by", "approved_on", "approvals", "review_by", "sources",
                        "label_source", "needs_approval", "covers"})
# Fields added after approvals were first recorded: they count only when set, so that adding them to the
# schema leaves every recorded approval standing, and setting one asks for approval again.
COUNTED_WHEN_SET = frozenset({"product_label", "printed_sources", "wears_off"})


def today(time_zone: str | None = None, *, now: dt.datetime | None = None) -> dt.date:
    """The clinic's date: ``now`` (else the clock) in ``time_zone`` (a brand's time_zone; without one, this
    machine's). Reviews are judged against it, and "today" on a patient's leaflet is this day.

    CARELEAF_TODAY=YYYY-MM-DD pins the clock's date (for tests and re-runs); a ``now`` given is always used.
    """
    if now is None:
        pinned = os.environ.get("CARELEAF_TODAY")
        if pinned:
            return dt.date.fromisoformat(pinned)
        now = dt.datetime.now(dt.timezone.utc)
    return now.astimezone(ZoneInfo(time_zone) if time_zone else None).date()


def approved_items(printed: dict[Key, Any]) -> dict[str, Any]:
    """What an approval covers, item by item, as plain data: the wording and facts a leaflet prints
    from its treatment's files and the shared wording, without approval records and flags."""
    def without_governance(value: Any) -> Any:
        value = plain(value)
        if not isinstance(value, dict):
            return value
        return {k: v for k, v in value.items() if k not in GOVERNANCE and (v or k not in COUNTED_WHEN_SET)}
    return {str(key): without_governance(value) for key, value in sorted(printed.items())
            if key.file.startswith(APPROVED_FILES)}


def approval_fingerprint(printed: dict[Key, Any]) -> str:
    """The fingerprint an approval records: equal exactly when the approved wording and facts are."""
    return digest(approved_items(printed))


def approval(definition: model.LeafletDefinition, lang: str) -> model.Approval | None:
    return definition.approvals.get(lang)


def not_approved(definition: model.LeafletDefinition, lang: str, fingerprint: str) -> str | None:
    """Why the leaflet in ``lang`` is not approved as it prints now, in plain words; None when it is."""
    given = approval(definition, lang)
    if given is None:
        if definition.approved_by or definition.approved_on:
            return ("awaiting re-approval: its approval does not record which wording was approved; "
                    "a clinician approves it again with 'careleaf approve'")
        return "not yet approved by a clinician"
    if given.content != fingerprint:
        return (f"awaiting re-approval: its wording changed after {given.by} approved it on "
                f"{given.on.isoformat()}")
    # The version is the leaflet's, across its languages: raised for changed English, it leaves the unchanged
    # Turkish wording approved (careleaf approve raises it; `changes` asks for it when wording changed).
    return None


def awaiting_reapproval(reason: str | None) -> bool:
    return bool(reason) and reason.startswith("awaiting re-approval")


def overdue(definition: model.LeafletDefinition, on: dt.date) -> bool:
    return definition.review_by is not None and definition.review_by < on


def due_within(definition: model.LeafletDefinition, on: dt.date, days: int) -> bool:
    return definition.review_by is not None and on <= definition.review_by <= on + dt.timedelta(days=days)


class ReviewOverdue(RenderError):
    """Leaflets past their review date, which the build will not print unmarked."""
