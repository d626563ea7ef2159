"""The leaflet standard (check.yaml's ``topics``): what every leaflet of a kind must tell its reader.

A built-in block covers the topics its template prints (``facts.Component.covers``); a question and answer
covers the topics it declares (``covers: [alternatives]``, in any of its languages). ``check`` reports a
leaflet that leaves a required topic uncovered, naming the topic and the leaflet, and a section declaring a
topic the standard does not know.

Also here, for the clinician who approves: every figure where the clinic's own differs from the product
label's, and a clinic whose urgent line leaves patients with nothing between it and the emergency number.
"""

from __future__ import annotations

from careleaf.content import model
from careleaf.content.catalog import Catalog
from careleaf.content.facts import COMPONENTS
from careleaf.content.fields import closest
from careleaf.content.validate import origin
from careleaf.review.findings import Finding, finding_at, finding_for

_BLOCK_COVERS = {component.name: component.covers for component in COMPONENTS}


def standard_findings(catalog: Catalog, topics: dict[str, model.Topic]) -> list[Finding]:
    """Topics each leaflet leaves uncovered, and sections declaring topics the standard does not have."""
    found = _unknown_topics(catalog, topics)
    shared = _declared({lang: s for lang, (s, _) in catalog.shared.items()}, "shared/")
    for entry in catalog.treatments.values():
        own = _declared(entry.wording, "")
        for definition in entry.facts.leaflets:
            covered = set()
            for reference in definition.contents:
                covered |= set(_BLOCK_COVERS.get(reference, ())) | own.get(reference, set()) | \
                    shared.get(reference, set())
            for topic_id, topic in topics.items():
                if definition.kind in topic.leaflets and topic_id not in covered:
                    found.append(finding_for(origin(definition).problem("", "contents"), "error", "missing-topic",
                                             _missing(entry.id, definition, topic_id, topic)))
    return found


def _declared(wordings, prefix: str) -> dict[str, set[str]]:
    """The topics each section declares, in any language (a translation need not repeat it)."""
    covers: dict[str, set[str]] = {}
    for wording in wordings.values():
        for name, section in wording.sections.items():
            covers.setdefault(prefix + name, set()).update(section.covers)
    return covers


def _missing(treatment: str, definition: model.LeafletDefinition, topic_id: str, topic: model.Topic) -> str:
    blocks = [name for name, covers in _BLOCK_COVERS.items() if topic_id in covers]
    how = (f"add '{blocks[0]}' to its contents" if blocks else
           f"list a section that covers it in its contents, and mark that section 'covers: [{topic_id}]' "
           "in the wording file")
    return (f"{definition.code} ({treatment} {definition.kind}) does not cover the topic '{topic_id}' "
            f"({topic.title}), which the leaflet standard in check.yaml asks of every {definition.kind} "
            f"leaflet: {how}")


def _unknown_topics(catalog: Catalog, topics: dict[str, model.Topic]) -> list[Finding]:
    found = []
    documents = [(wording, entry.wording_docs[lang]) for entry in catalog.treatments.values()
                 for lang, wording in entry.wording.items()] + list(catalog.shared.values())
    for wording, doc in documents:
        for name, section in wording.sections.items():
            for index, topic_id in enumerate(section.covers):
                if topic_id not in topics:
                    near = closest(topic_id, topics)
                    hint = f"; did you mean '{near[0]}'?" if near else \
                        f"; the standard's topics are {', '.join(topics) or 'none'}"
                    found.append(finding_at(doc, ("sections", name, "covers", index), "warning", "unknown-topic",
                                            f"'{topic_id}' is not a topic of the leaflet standard (check.yaml)"
                                            f"{hint}"))
    return found


def label_differences(catalog: Catalog) -> list[Finding]:
    """Each figure where the clinic's differs from the product label's: the clinician sees both before approving."""
    found = []
    for entry in catalog.treatments.values():
        for milestone in entry.facts.timeline:
            if milestone.product_label is not None:
                source = f" ({milestone.label_source})" if milestone.label_source else ""
                found.append(finding_for(origin(milestone).problem("", "product_label"), "info", "label-differs",
                                         f"{entry.id}: '{milestone.id}' is {_figure(milestone.when)} in the clinic's "
                                         f"figures and {_figure(milestone.product_label)} on the product "
                                         f"label{source}; the leaflets print both: confirm before approving"))
    return found


def _figure(value) -> str:
    number = lambda x: f"{x:g}"                                      # noqa: E731
    return (f"{number(value.low)}-{number(value.high)}" if value.is_range else number(value.low)) + f" {value.unit}"


def urgent_line_findings(catalog: Catalog) -> list[Finding]:
    """A brand that does not say when its urgent line is answered, or leaves nothing but the emergency number
    outside those hours; a country with no way to report a side effect of what a treatment is."""
    found = []
    products = {model.reporting_kind(entry.facts.product) for entry in catalog.treatments.values()}
    for brand_id, brand in catalog.brands.items():
        where = origin(brand)
        country = catalog.countries.get(brand.country or "")
        if brand.urgent_hours is None:
            found.append(finding_for(where.problem("", "urgent_phone"), "warning", "urgent-hours",
                                     f"{brand_id}: the leaflets do not say when the urgent line is answered: add "
                                     "'urgent_hours:' (days, opens, closes; or only days when it is answered day "
                                     "and night)"))
        elif brand.urgent_hours.opens and not brand.out_of_hours_phone and not (country and country.urgent_advice):
            found.append(finding_for(where.problem("", "urgent_hours"), "warning", "out-of-hours",
                                     f"{brand_id}: outside the urgent line's hours a patient is offered only the "
                                     "emergency number: add 'out_of_hours_phone:' (an on-call doctor or nurse)"))
        for product in sorted(products):
            if country is not None and product not in country.reporting:
                found.append(finding_for(where.problem("", "country"), "warning", "no-reporting-scheme",
                                         f"{brand_id}: the country table has no way to report a side effect of a "
                                         f"{product} in {brand.country}, so the leaflets cannot print one: add it "
                                         "under 'reporting:' in your project's templates/countries.yaml"))
    return found
