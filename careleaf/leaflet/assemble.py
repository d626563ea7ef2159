"""Stage 3: put one leaflet together from the catalog, for one brand and language.

The result is plain data the templates draw: sections in the order the leaflet
definition lists them, and the structured topics (timeline, side effects,
contraindications, checklist) already grouped the way every leaflet shows them.

Assembling also records every item the leaflet takes (``Leaflet.printed``): the
one record of what a leaflet prints, which the approval check, the translation
note, the build's fingerprint and ``changes`` all read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from careleaf.content import model, references
from careleaf.content.catalog import Catalog, brand_file, labels_file, logo_file, shared_file
from careleaf.content.facts import (AFTERCARE_CHECKLIST, BEFORE_TREATMENT, COMPONENT_NAMES, CONTRAINDICATIONS,
                                    SIDE_EFFECTS, TIMELINE, URGENT_HELP, WITH_FIGURES, Component, printing,
                                    template_of)
from careleaf.content.fields import Duration
from careleaf.content.governance import approval_fingerprint, awaiting_reapproval, not_approved, overdue
from careleaf.content.items import BRAND_NOT_PRINTED, URGENT_BOX, Key, digest
from careleaf.content.labels import printed_labels

RTL_LANGUAGES = {"ar", "fa", "he", "ur"}


def direction(lang: str) -> str:
    """Which way a language's text runs."""
    return "rtl" if lang in RTL_LANGUAGES else "ltr"


@dataclass(frozen=True, order=True)
class Job:
    """One PDF to make."""

    brand: str
    lang: str
    treatment: str
    kind: str
    large_print: bool = False

    @property
    def output(self) -> Path:
        suffix = "-large-print" if self.large_print else ""
        return Path(self.brand) / self.lang / f"{self.treatment}-{self.kind}{suffix}.pdf"

    @property
    def name(self) -> str:
        return str(self.output.with_suffix(""))

    @property
    def draws_timeline(self) -> bool:
        """Whether the timeline is drawn as well as set out as a table. Standard-print aftercare is one folded
        sheet, so it carries the table alone (the same figures, read the same by eye and screen reader); the
        picture is left out of its HTML, not hidden, so the HTML and the PDF hold the same words."""
        return self.kind != "aftercare" or self.large_print

    @property
    def page(self) -> str:
        """Where its web page is inside the brand's site (out/site/<brand>/), and inside the brand's
        site_url: '<lang>/<treatment>-<kind>/'. Large print has the same page as standard print."""
        return f"{self.lang}/{self.treatment}-{self.kind}/"


@dataclass(frozen=True)
class Block:
    """One item of the leaflet's contents: a question and answer, or a built-in block."""

    kind: str                          # "section" or one of facts.COMPONENT_NAMES
    section: model.Section | None = None
    lang: str | None = None            # set when the section is printed in the fallback language

    @property
    def template(self) -> str:
        """The template that draws it (base.html includes it by this name)."""
        return template_of(self.kind)


@dataclass(frozen=True)
class MilestoneView:
    label: str
    when: Duration
    visit: bool
    after_repeat: bool
    product_label: Duration | None = None    # what the product's own leaflet says, where it differs
    wears_off: bool = False            # the effect wears off about then: a patient's copy says so
    session: bool = False       # the next session of a course (its visit), drawn from the course's interval


@dataclass(frozen=True)
class SideEffectView:
    effect: str
    lasts: Duration | None
    what_to_do: str | None
    urgent: bool


@dataclass(frozen=True)
class UrgentBox:
    """The urgent-help box: the treatment's red flags (with the shared ones unless it replaces them)."""

    symptoms: list[str]
    action: str
    emergency: str                     # the emergency number for the clinic's country, or the brand's own
    urgent_advice: str | None          # where to get urgent advice that is not an emergency (NHS 111)
    hours: model.UrgentHours | None = None    # when the clinic's urgent line is answered
    out_of_hours: str | None = None    # who to call outside those hours: the brand's on-call number, or NHS 111


@dataclass(frozen=True)
class Leaflet:
    """Everything a template needs to draw one leaflet."""

    job: Job
    brand: model.Brand
    definition: model.LeafletDefinition
    treatment_name: str
    title: str
    intro: str | None
    blocks: list[Block]
    timeline: list[MilestoneView]
    side_effects: list[tuple[str, list[SideEffectView]]]      # (frequency, effects), most common first
    do_not_treat: list[str]
    tell_us: list[str]
    checklist: list[tuple[Duration, list[str]]]                 # (window, steps), shortest window first
    urgent_help: UrgentBox | None
    product: str                       # medicine or device: the side-effects wording follows it
    references: dict[str, Any]         # what {timeline.…}-style references in its wording print (references.py)
    words: dict[str, str]              # the template words ("Side effects") in its language
    overdue: bool                      # past its review date (printed only with --allow-overdue)
    printed: dict[Key, Any]            # every item it prints: the one record of what is in it
    stale: list[Key]                   # printed translations awaiting review against the changed source
    reporting: model.Reporting | None = None   # how to report a side effect in the clinic's country
    minimum_age: int | None = None     # the country's age limit, printed among who should not have it
    personal: Any = None               # a patient's details and dates (careleaf.handout.personal.Personal), or None
    before: list[tuple[Duration, list[str]]] = dataclasses.field(default_factory=list)   # steps before, earliest first
    course: model.Course | None = None  # a treatment given as a course of sessions (its next session is the visit)

    @property
    def content_fingerprint(self) -> str:
        """The approved content it prints, item by item: equal for two leaflets exactly when their wording,
        facts, brand fields and template words are (a handout's record and the register keep it)."""
        return digest({str(key): value for key, value in self.printed.items()})

    @property
    def needs_approval(self) -> bool:
        """Something it prints is still marked needs_approval."""
        return any(getattr(value, "needs_approval", False) for value in self.printed.values())

    @cached_property        # read by the draft mark, the footer, the refusal and the record: worked out once
    def approval_fingerprint(self) -> str:
        """The fingerprint of the wording and facts a clinician approves (governance.approved_items)."""
        return approval_fingerprint(self.printed)

    @property
    def not_approved(self) -> str | None:
        """Why it is not approved as it prints now ("awaiting re-approval: …"), in plain words; None when it is."""
        return not_approved(self.definition, self.job.lang, self.approval_fingerprint)

    @property
    def approval(self):
        """The approval that covers what it prints now (a model.Approval), or None."""
        return None if self.not_approved else self.definition.approvals[self.job.lang]

    @property
    def draft(self) -> bool:
        """Not approved by a clinician as it prints now, or printing wording that still awaits approval."""
        return self.needs_approval or self.not_approved is not None

    @property
    def draft_name(self) -> str:
        """How the build's list of drafts names it ('' when it is not one): its code, and its language when
        it awaits re-approval, so whoever runs the build sees which approved wording changed."""
        if not self.draft:
            return ""
        return f"{self.definition.code} ({self.lang}: awaiting re-approval)" if self.awaiting_reapproval \
            else self.definition.code

    @property
    def awaiting_reapproval(self) -> bool:
        """Approved once, and what it prints has changed since (its paper says so)."""
        return awaiting_reapproval(self.not_approved)

    @property
    def lang(self) -> str:
        return self.job.lang

    @property
    def direction(self) -> str:
        return direction(self.job.lang)

    @property
    def logo(self) -> str:
        return f"brands/{self.job.brand}/{self.brand.logo}"

    @property
    def web_address(self) -> str | None:
        """The leaflet online, where its QR code points: its page in the site careleaf writes when the brand
        publishes that (site_url), else the brand's own page for it (leaflet_page); None when it has neither."""
        if self.brand.site_url:
            return self.brand.site_url.rstrip("/") + "/" + self.job.page
        if self.brand.leaflet_page:
            return self.brand.leaflet_page.replace("{code}", self.definition.code).replace("{lang}", self.lang)
        return None

    @property
    def review_visit(self) -> MilestoneView | None:
        return next((m for m in self.timeline if m.visit), None)


def jobs(catalog: Catalog, *, large_print: bool = True) -> list[Job]:
    """Every PDF the catalog makes: each leaflet for each brand and each of its languages."""
    sizes = (False, True) if large_print else (False,)
    return sorted(Job(brand_id, lang, treatment_id, definition.kind, size)
                  for brand_id, brand in catalog.brands.items()
                  for lang in brand.languages
                  for treatment_id, entry in catalog.treatments.items()
                  for definition in entry.facts.leaflets
                  for size in sizes)


def assemble(catalog: Catalog, job: Job, today: dt.date) -> Leaflet:
    """The leaflet ``job`` describes, with its wording resolved and the record of every item it prints."""
    entry = catalog.treatments[job.treatment]
    take = _Taker(catalog)
    facts, own = entry.facts_file, entry.wording_file(job.lang)
    definition = take(facts, "leaflets", job.kind)
    leaflet_wording = take(own, "leaflets", job.kind)
    shown = set(definition.contents)
    blocks = [_block(reference, take, entry, job.lang, catalog.fallback(job.lang)) for reference in definition.contents]
    brand = catalog.brands[job.brand]
    for spec in dataclasses.fields(model.Brand):
        if spec.name not in BRAND_NOT_PRINTED:
            take(brand_file(job.brand), spec.name)
    take(logo_file(job.brand, brand.logo), "logo")

    def group(of: Component) -> list[tuple[Any, Any]]:
        """(fact, wording) of every item of a group, taken only when the leaflet prints it."""
        if not shown & printing(of.key):
            return []
        return [(take(facts, of.key, fact.id), take(own, of.key, fact.id)) for fact in getattr(entry.facts, of.key)]

    timeline = group(TIMELINE)
    side_effects = group(SIDE_EFFECTS)
    contraindications = group(CONTRAINDICATIONS)
    checklist = group(AFTERCARE_CHECKLIST)
    before = group(BEFORE_TREATMENT)
    course = take(facts, "course") if entry.facts.course and shown & printing(TIMELINE.key) else None
    urgent_help = _urgent_box(catalog, take, entry, job, brand) if URGENT_HELP.name in shown else None
    words = catalog.labels[job.lang]
    country = catalog.countries.get(brand.country or "")
    for name in printed_labels(words, job.kind, {effect.frequency for effect, _ in side_effects}, entry.facts.product,
                               course=course is not None, before=bool(before)):
        take(labels_file(job.lang), name)
    return Leaflet(
        job=job,
        brand=brand,
        definition=definition,
        treatment_name=take(own, "name", "name"),
        title=leaflet_wording.title,
        intro=leaflet_wording.intro,
        blocks=blocks,
        timeline=_with_course([MilestoneView(label, m.when, m.visit, m.after_repeat, m.product_label, m.wears_off)
                               for m, label in timeline], course, words),
        side_effects=_by_frequency(side_effects),
        do_not_treat=[text for c, text in contraindications if c.rule == "do-not-treat"],
        tell_us=[text for c, text in contraindications if c.rule == "tell-us"],
        checklist=_by_window(checklist),
        urgent_help=urgent_help,
        product=entry.facts.product,
        references=_referred(catalog, take, entry, job, blocks, leaflet_wording.intro),
        words=words,
        overdue=overdue(definition, today),
        printed=take.printed,
        stale=sorted(key for key in take.printed if key in catalog.stale),
        reporting=country.reporting_for(entry.facts.product) if country else None,
        minimum_age=country.minimum_age.age if country and country.minimum_age else None,
        before=list(reversed(_by_window(before, "before"))),
        course=course,
    )


class _Taker:
    """Takes items from the catalog by key, recording each one: the leaflet's record of what it prints."""

    def __init__(self, catalog: Catalog):
        self.items = catalog.items
        self.printed: dict[Key, Any] = {}

    def __call__(self, file: str, group: str, name: str = "") -> Any:
        key = Key(file, group, name)
        value = self.items[key].value
        self.printed[key] = value
        return value

    def has(self, file: str, group: str, name: str = "") -> bool:
        return Key(file, group, name) in self.items

    def if_there(self, file: str, group: str, name: str = "") -> Any:
        """The item, taken, when the file has it; else None."""
        return self(file, group, name) if self.has(file, group, name) else None


def _block(reference: str, take: _Taker, entry, lang: str, fallback: str | None) -> Block:
    """One item of the contents: a built-in block, or a section in the leaflet's language or its fallback."""
    if reference in COMPONENT_NAMES:
        return Block(reference)
    if reference.startswith("shared/"):
        files = [shared_file(lang)] + ([shared_file(fallback)] if fallback else [])
        name = reference.removeprefix("shared/")
    else:
        files = [entry.wording_file(lang)] + ([entry.wording_file(fallback)] if fallback else [])
        name = reference
    # The catalog check allowed a gap only because the fallback language has the section.
    file = next(f for f in files if take.has(f, "sections", name))
    return Block("section", take(file, "sections", name), lang=None if file == files[0] else fallback)


def _urgent_box(catalog: Catalog, take: _Taker, entry, job: Job, brand: model.Brand) -> UrgentBox:
    """The shared red flags and the treatment's own (or the treatment's alone), the shared action unless the
    treatment has its own, and the numbers for the clinic's country."""
    own = take.if_there(entry.wording_file(job.lang), URGENT_HELP.key, URGENT_BOX)
    # A shared box the treatment replaces entirely prints nothing, so it is not in the leaflet's record (nor
    # its approval); `check` refuses replaces_shared without the treatment's own action.
    replaced = bool(own and own.replaces_shared and own.action)
    shared = None if replaced else take.if_there(shared_file(job.lang), URGENT_HELP.key, URGENT_BOX)
    symptoms = ([] if own and own.replaces_shared or not shared else list(shared.symptoms)) + \
        (list(own.symptoms) if own else [])
    action = own.action if own and own.action else shared.action
    country = catalog.countries.get(brand.country or "")
    advice = country.urgent_advice if country else None
    return UrgentBox(symptoms, action, brand.emergency_number or country.emergency, advice,
                     brand.urgent_hours, brand.out_of_hours_phone or advice)


def _referred(catalog: Catalog, take: _Taker, entry, job: Job, blocks: list[Block], intro: str | None) -> dict:
    """The value of each reference its wording makes ({timeline.effect-lasts} → the Duration), each fact
    taken into the record of what it prints, so a changed figure rebuilds and reaches it."""
    # A section printed in the fallback language takes its country words in that language.
    texts = [(intro, job.lang)] + [(block.section.answer, block.lang or job.lang) for block in blocks if block.section]
    country = catalog.countries.get(catalog.brands[job.brand].country or "")
    values: dict[str, Any] = {}
    for text, lang in texts:
        for match in references.found_in(text):
            group, name, _ = match.groups()
            if group == references.COUNTRY:
                values[f"{group}.{name}"] = country.words[lang][name]
            else:
                fact = take(entry.facts_file, group, name)
                values[f"{group}.{name}"] = getattr(fact, WITH_FIGURES[group].figure)
    return values


def _by_frequency(effects: list[tuple[model.SideEffect, model.SideEffectWording]]):
    groups = []
    for frequency in model.FREQUENCIES:
        views = [SideEffectView(words.effect, fact.lasts, words.what_to_do, fact.urgent) for fact, words in effects
                 if fact.frequency == frequency]
        if views:
            groups.append((frequency, views))
    return groups


def _by_window(items: list[tuple[Any, str]], figure: str = "within"):
    """Steps grouped by their time window (``figure``: an aftercare step's 'within', or a step's 'before'),
    shortest first."""
    windows: dict[Duration, list[str]] = {}
    for item, words in sorted(items, key=lambda pair: getattr(pair[0], figure).high_hours):
        windows.setdefault(getattr(item, figure), []).append(words)
    return list(windows.items())


def _with_course(timeline: list[MilestoneView], course: model.Course | None, words: dict[str, str]):
    """A course's timeline: its next session (the visit) and, when given, its full result, each in time order
    among the treatment's own milestones."""
    if course is None:
        return timeline
    added = [MilestoneView(words["course_next_session"], course.interval, True, False, session=True)]
    if course.result:
        added.append(MilestoneView(words["course_result"], course.result, False, False))
    return sorted(timeline + added, key=lambda m: (m.when.low_hours, m.when.high_hours))
