"""templates/countries.yaml: the facts a leaflet needs about the country a clinic is in (its emergency and
urgent-advice numbers, the age limit, how to report a side effect of each kind of product)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from careleaf.content.fields import Id, Language, Text, TimeZone, Url, Verbatim, field

# What a suspected side effect is reported as: each country may have a scheme for each.
ProductKind = Literal["medicine", "device", "other"]


@dataclass(frozen=True)
class Reporting:
    """A national scheme for reporting a suspected side effect (of a medicine, a device or anything else)."""

    scheme: Text = field("Its name, as patients know it, for example 'MHRA Yellow Card'")
    website: Url = field("Where to report online, starting with https://")
    phone: Optional[Verbatim] = field("A phone number for reports, if the scheme has one", None)


@dataclass(frozen=True)
class MinimumAge:
    """The youngest age a cosmetic injection may be given at in a country."""

    age: int = field("The age, for example 18")
    source: Text = field("The law or the product label it comes from (kept on record, not printed)")


@dataclass(frozen=True)
class CountryFacts:
    """What a leaflet needs to know about the country a clinic is in."""

    emergency: Verbatim = field("The emergency phone number, for example 999, 911 or 112")
    source: Text = field("Where these facts come from (kept on record, not printed)")
    urgent_advice: Optional[Verbatim] = field("Where to get urgent advice that is not an emergency, day and night, "
                                              "for example NHS 111: printed for when the clinic cannot be reached",
                                              None)
    minimum_age: Optional[MinimumAge] = field("The youngest age these treatments may be given at, and why", None)
    time_zone: Optional[TimeZone] = field("The country's usual time zone, offered as the example to a brand that has "
                                          "none (a country with several names its most populous)", None)
    reporting: dict[ProductKind, Reporting] = field("How to report a suspected side effect, by what the treatment "
                                                    "is: medicine, device, other", {})
    words: dict[Language, dict[Id, Text]] = field("Words that differ by country, per language, used in wording "
                                                  "as {country.name}: painkiller, regulator", {})

    def reporting_for(self, product: str) -> Reporting | None:
        """Where a patient reports a side effect of this kind of product, or None where the table names no route."""
        return self.reporting.get(reporting_kind(product))


def reporting_kind(product: str) -> str:
    """Which of a country's reporting schemes a treatment's side effects go to: a medicine's, a device's, or
    the one for everything else (a cosmetic procedure, a peel)."""
    return product if product in ("medicine", "device") else "other"
