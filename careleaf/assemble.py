"""Stage 3: put one leaflet together from the catalog, for one brand and language.

The result is plain data the templates draw: sections in the order the leaflet
definition lists them, and the structured topics (timeline, side effects,
contraindications, checklist) already grouped the way every leaflet shows them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import model
from .catalog import Catalog
from .governance import approved, overdue
from .schema import Duration

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


@dataclass(frozen=True)
class Block:
    """One item of the leaflet's contents: a question and answer, or a built-in block."""

    kind: str                          # "section" or one of model.COMPONENTS
    section: model.Section | None = None
    lang: str | None = None            # set when the section is printed in the fallback language


@dataclass(frozen=True)
class MilestoneView:
    label: str
    when: Duration
    visit: bool
    after_repeat: bool


@dataclass(frozen=True)
class SideEffectView:
    effect: str
    lasts: Duration | None
    what_to_do: str


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
    urgent_help: model.UrgentHelp | None
    needs_approval: bool               # something it prints is marked needs_approval
    overdue: bool                      # past its review date (printed only with --allow-overdue)
    stale: list[str]                   # translated items awaiting review against the changed source

    @property
    def draft(self) -> bool:
        """Not yet approved by a clinician, or printing wording that still awaits approval."""
        return self.needs_approval or not approved(self.definition)

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
    """The leaflet ``job`` describes, with its wording resolved."""
    entry = catalog.treatments[job.treatment]
    facts = entry.facts
    wording = entry.wording[job.lang]
    shared = catalog.shared[job.lang][0]
    definition = entry.leaflet(job.kind)
    fallback = catalog.fallback(job.lang)
    own = _Sources(job.lang, wording, shared)
    spare = _Sources(fallback, entry.wording[fallback], catalog.shared[fallback][0]) if fallback else None
    blocks = list(_blocks(definition, own, spare))
    leaflet_wording = wording.leaflets[job.kind]
    return Leaflet(
        job=job,
        brand=catalog.brands[job.brand],
        definition=definition,
        treatment_name=wording.name,
        title=leaflet_wording.title,
        intro=leaflet_wording.intro,
        blocks=blocks,
        timeline=[MilestoneView(wording.timeline[m.id], m.when, m.visit, m.after_repeat) for m in facts.timeline],
        side_effects=_by_frequency(facts.side_effects, wording),
        do_not_treat=[wording.contraindications[c.id] for c in facts.contraindications if c.rule == "do-not-treat"],
        tell_us=[wording.contraindications[c.id] for c in facts.contraindications if c.rule == "tell-us"],
        checklist=_by_window(facts.aftercare_checklist, wording),
        urgent_help=shared.urgent_help,
        needs_approval=_needs_approval(blocks, facts, definition, shared),
        overdue=overdue(definition, today),
        stale=sorted(_shown(catalog.stale(job.treatment, job.lang), definition)),
    )


@dataclass(frozen=True)
class _Sources:
    lang: str
    wording: model.TreatmentWording
    shared: model.SharedWording

    def section(self, reference: str) -> model.Section | None:
        if reference.startswith("shared/"):
            return self.shared.sections.get(reference.removeprefix("shared/"))
        return self.wording.sections.get(reference)


def _blocks(definition: model.LeafletDefinition, own: _Sources, fallback: _Sources | None) -> Iterator[Block]:
    for reference in definition.contents:
        if reference in model.COMPONENTS:
            yield Block(reference)
        elif own.section(reference):
            yield Block("section", own.section(reference))
        else:  # the catalog check allowed the gap only because the fallback has it
            yield Block("section", fallback.section(reference), lang=fallback.lang)


def _shown(stale: set[str], definition: model.LeafletDefinition) -> set[str]:
    """The stale items this leaflet actually prints."""
    groups = {"timeline": "timeline", "review-visit": "timeline", "side-effects": "side_effects",
              "contraindications": "contraindications", "aftercare-checklist": "aftercare_checklist",
              "urgent-help": "urgent_help"}
    printed = {"treatment:name/name", f"treatment:leaflets/{definition.kind}"}
    for reference in definition.contents:
        if reference.startswith("shared/"):
            printed.add(f"shared:sections/{reference.removeprefix('shared/')}")
        elif reference not in groups:
            printed.add(f"treatment:sections/{reference}")
    shown_groups = {groups[r] for r in definition.contents if r in groups}
    return {item for item in stale
            if item in printed or item.split(":", 1)[1].split("/", 1)[0] in shown_groups}


def _by_frequency(effects: list[model.SideEffect], wording: model.TreatmentWording):
    groups = []
    for frequency in model.FREQUENCIES:
        views = [SideEffectView(wording.side_effects[e.id].effect, e.lasts, wording.side_effects[e.id].what_to_do)
                 for e in effects if e.frequency == frequency]
        if views:
            groups.append((frequency, views))
    return groups


def _hours(duration: Duration) -> float:
    return duration.high * {"hours": 1, "days": 24, "weeks": 168, "months": 730}[duration.unit]


def _by_window(items: list[model.ChecklistItem], wording: model.TreatmentWording):
    windows: dict[Duration, list[str]] = {}
    for item in sorted(items, key=lambda i: _hours(i.within)):
        windows.setdefault(item.within, []).append(wording.aftercare_checklist[item.id])
    return list(windows.items())


def _needs_approval(blocks: list[Block], facts: model.Treatment, definition: model.LeafletDefinition,
                    shared: model.SharedWording) -> bool:
    """True when anything this leaflet prints still waits for a clinician's approval."""
    shown = {b.kind for b in blocks}
    parts: list[Any] = [b.section for b in blocks if b.section]
    if "timeline" in shown or "review-visit" in shown:
        parts += facts.timeline
    if "side-effects" in shown:
        parts += facts.side_effects
    if "contraindications" in shown:
        parts += facts.contraindications
    if "aftercare-checklist" in shown:
        parts += facts.aftercare_checklist
    if "urgent-help" in shown and shared.urgent_help:
        parts.append(shared.urgent_help)
    return any(part.needs_approval for part in parts)
