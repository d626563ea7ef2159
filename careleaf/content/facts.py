"""The built-in blocks a leaflet lists among its contents, and the groups of content they print: named once.

A treatment's facts come in groups: its timeline, side effects, contraindications
and aftercare checklist. Each group is a list of facts with ids under one key in
``treatment.yaml`` (``side_effects``), each fact worded under the same key and id
in every language file; a leaflet prints the group by listing its block among
its contents (``side-effects``), drawn by the template ``components/<block>.html``
under a heading from the template words (``side_effects``: "Possible side
effects"). Where a fact holds a figure, wording refers to it instead of retyping
it: ``{side_effects.<id>.lasts}``, or ``{timeline.<id>}`` for a milestone.

Every part of careleaf that needs one of these names reads it from the table below.
The model's field names (``Treatment.side_effects``) are the keys themselves, and a
test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE_FOLDER = "components"     # where, among the templates, each block's own template is


def template_of(block: str) -> str:
    """The template that draws a block of a leaflet's contents (a built-in block, or 'section')."""
    return f"{TEMPLATE_FOLDER}/{block}.html"


@dataclass(frozen=True)
class Component:
    """A built-in block: listed by name among a leaflet's contents, drawn by its own template."""

    name: str                   # as a leaflet's contents list it, and the name of its template
    heading: str                # the template word of its heading, which a sentence pointing at the box quotes
    key: str | None = None      # the group it prints, under this key in the content files (None: the brand's details)
    facts: bool = False         # that group is a list of facts with ids in treatment.yaml, worded in each language
    figure: str | None = None   # the field of each fact holding a figure (a Duration) that wording may refer to
    figure_named: bool = True   # whether a reference names that field ({side_effects.<id>.lasts}) or not ({timeline.<id>})
    covers: tuple[str, ...] = ()  # the topics of the leaflet standard (check.yaml) it covers by what it prints

    @property
    def template(self) -> str:
        return template_of(self.name)

    @property
    def reference_field(self) -> str | None:
        """What follows the id in a reference to a fact's figure ('lasts'), or None when nothing does."""
        return self.figure if self.figure_named else None

    def reference(self, fact_id: str) -> str:
        """How wording refers to a fact's figure: '{timeline.effect-lasts}', '{side_effects.redness.lasts}'."""
        field = f".{self.reference_field}" if self.reference_field else ""
        return f"{{{self.key}.{fact_id}{field}}}"


# The topics a block covers: the timeline says how long the benefit lasts; the side-effects block says the list
# is not complete, where the full one is, and how to report a side effect in the clinic's country; the
# contraindications block adds the country's age limit; the urgent-help box says when the urgent line is
# answered and who to call outside those hours; the about block prints sources, review dates and feedback.
TIMELINE = Component("timeline", "timeline", "timeline", facts=True, figure="when", figure_named=False,
                     covers=("benefits",))
SIDE_EFFECTS = Component("side-effects", "side_effects", "side_effects", facts=True, figure="lasts",
                         covers=("side-effects", "reporting"))
CONTRAINDICATIONS = Component("contraindications", "contraindications", "contraindications", facts=True,
                              covers=("who-should-not",))
AFTERCARE_CHECKLIST = Component("aftercare-checklist", "checklist", "aftercare_checklist", facts=True, figure="within")
URGENT_HELP = Component("urgent-help", "urgent_help", "urgent_help",    # wording only: shared, and the treatment's own
                        covers=("danger-signs",))
BEFORE_TREATMENT = Component("before-treatment", "before_treatment", "before_treatment", facts=True, figure="before")
REVIEW_VISIT = Component("review-visit", "review_visit", "timeline")     # the timeline's milestone marked visit: true
CONTACT = Component("contact", "contact")
ABOUT = Component("about-this-leaflet", "about_leaflet", covers=("sources-and-review", "feedback"))

# In the order the schema's help lists them.
COMPONENTS = (TIMELINE, SIDE_EFFECTS, CONTRAINDICATIONS, BEFORE_TREATMENT, AFTERCARE_CHECKLIST, URGENT_HELP, REVIEW_VISIT,
              CONTACT, ABOUT)
COMPONENT_NAMES = tuple(component.name for component in COMPONENTS)

# The groups of facts in treatment.yaml, each with its wording under the same key in every language file.
FACT_GROUPS = tuple(component for component in COMPONENTS if component.facts)
FACT_KEYS = tuple(group.key for group in FACT_GROUPS)
# The groups whose facts hold a figure that wording refers to, by key.
WITH_FIGURES = {group.key: group for group in FACT_GROUPS if group.figure}


def printing(key: str) -> frozenset[str]:
    """The blocks that print the group under ``key`` (the timeline: its own block and the review visit's)."""
    return frozenset(component.name for component in COMPONENTS if component.key == key)
