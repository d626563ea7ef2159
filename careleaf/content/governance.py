"""Clinical governance: approval and review dates.

A leaflet is a *draft* until a clinician has approved it (``approved_by`` and
``approved_on``) and nothing it prints is still marked ``needs_approval``.
A leaflet past its ``review_by`` date must not be handed out unnoticed: the
build refuses it unless told to print it marked "REVIEW OVERDUE".
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from careleaf.content import model
from careleaf.errors import RenderError


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


def approved(definition: model.LeafletDefinition) -> bool:
    return bool(definition.approved_by and definition.approved_on)


def overdue(definition: model.LeafletDefinition, on: dt.date) -> bool:
    return definition.review_by is not None and definition.review_by < on


def due_within(definition: model.LeafletDefinition, on: dt.date, days: int) -> bool:
    return definition.review_by is not None and on <= definition.review_by <= on + dt.timedelta(days=days)


class ReviewOverdue(RenderError):
    """Leaflets past their review date, which the build will not print unmarked."""
