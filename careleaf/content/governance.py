"""Clinical governance: approval and review dates.

A leaflet is a *draft* until a clinician has approved it (``approved_by`` and
``approved_on``) and nothing it prints is still marked ``needs_approval``.
A leaflet past its ``review_by`` date must not be handed out unnoticed: the
build refuses it unless told to print it marked "REVIEW OVERDUE".
"""

from __future__ import annotations

import datetime as dt
import os

from careleaf.content import model
from careleaf.errors import RenderError


def today() -> dt.date:
    """The date reviews are judged against; CARELEAF_TODAY=YYYY-MM-DD pins it (for tests and re-runs)."""
    pinned = os.environ.get("CARELEAF_TODAY")
    return dt.date.fromisoformat(pinned) if pinned else dt.date.today()


def approved(definition: model.LeafletDefinition) -> bool:
    return bool(definition.approved_by and definition.approved_on)


def overdue(definition: model.LeafletDefinition, on: dt.date) -> bool:
    return definition.review_by is not None and definition.review_by < on


def due_within(definition: model.LeafletDefinition, on: dt.date, days: int) -> bool:
    return definition.review_by is not None and on <= definition.review_by <= on + dt.timedelta(days=days)


class ReviewOverdue(RenderError):
    """Leaflets past their review date, which the build will not print unmarked."""
