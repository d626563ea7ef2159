"""`careleaf check`: what a careful reviewer would look for, without building anything.

Reads every input as the build does, then reports findings at the line they
concern, each an error, a warning or a note (info):

* errors: invalid input (the build's own messages), logos, stylesheets and
  fonts the renderer would refuse (careleaf.pdf.assets: the same rules and
  limits), leaflets past their review date, which the build would refuse, and
  leaflets missing a topic of the leaflet standard (``standard.py``);
* warnings: sections no leaflet prints, reviews due soon or never planned,
  translations older than their English source, and wording that is hard to
  read: long sentences, hard words, and answers scoring past the targets in
  ``leaflets/check.yaml``;
* notes: leaflets that are still drafts, and figures where the clinic's own
  differs from the product label's.

It also scores every answer and leaflet intro (``readability.py``), so an
editor can see which sections read hardest; the wording findings and scores
are made in ``wording.py``. Nothing is rendered, so it runs in
a second and never needs the PDF renderer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterator

from careleaf.content import model
from careleaf.content.catalog import Catalog, load_catalog
from careleaf.content.facts import COMPONENT_NAMES, COMPONENTS
from careleaf.content.governance import awaiting_reapproval, due_within, overdue, today as current_date
from careleaf.content.settings import load_settings as load_desk_settings
from careleaf.content.standards import load_check_settings
from careleaf.content.translation import is_new, record_command
from careleaf.content.validate import origin
from careleaf.errors import InputError, Problem, display_path
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.pdf.assets import Assets, file_problem, stylesheet_problems
from careleaf.project import Project
from careleaf.review.approve import changed_since_approval
from careleaf.review.retyped import retyped_figures
from careleaf.review.safety import safety_findings
from careleaf.review.standard import label_differences, standard_findings, urgent_line_findings
from careleaf.review.findings import Finding, finding_at, finding_for
from careleaf.review.wording import SectionScore, wording_findings


@dataclass
class Report:
    """Every finding, sorted as an editor meets them, and the readability of every answer and intro."""

    findings: list[Finding] = field(default_factory=list)
    scores: list[SectionScore] = field(default_factory=list)

    def count(self, level: str) -> int:
        return sum(1 for f in self.findings if f.level == level)

    @property
    def ok(self) -> bool:
        return self.count("error") == 0

    def as_json(self) -> dict[str, Any]:
        return {"findings": [dataclasses.asdict(f) for f in self.findings],
                "scores": [s.as_json() for s in self.scores]}


def run(project: Project, today: dt.date | None = None) -> Report:
    """Check the whole project; never raises for bad input, which becomes error findings."""
    today = today or current_date()
    settings, problems = load_check_settings(project.content)
    known = problems + _desk_settings_problems(project)
    report = Report([_invalid(p) for p in known])
    try:
        catalog = load_catalog(project)
    except InputError as error:
        report.findings += [_invalid(p) for p in error.problems if p not in known]   # careleaf.yaml's, once
        report.findings.sort(key=Finding.sort_key)
        return report
    report.findings += asset_findings(catalog)
    report.findings += unused_sections(catalog)
    report.findings += retyped_figures(catalog)
    report.findings += pointers_to_missing_boxes(catalog)
    report.findings += safety_findings(catalog)
    report.findings += standard_findings(catalog, settings.topics)
    report.findings += label_differences(catalog) + urgent_line_findings(catalog)
    report.findings += unknown_reporting_routes(catalog)
    report.findings += reviews(catalog, today, settings.review_due_days)
    report.findings += drafts(catalog, today)
    report.findings += stale_translations(catalog)
    if not problems:  # without valid targets, readability findings would only mislead
        found, report.scores = wording_findings(catalog, settings)
        report.findings += found
    report.findings.sort(key=Finding.sort_key)
    return report


def asset_findings(catalog: Catalog) -> list[Finding]:
    """What the renderer would refuse: each brand's logo, the stylesheets and what they name (fonts, images)."""
    assets = Assets(catalog.project.asset_folders, catalog.limits)
    found = []
    for name, brand in catalog.brands.items():
        problem = file_problem(assets, catalog.logo(name))
        if problem:
            found.append(finding_for(origin(brand).problem("", "logo"), "error", "asset",
                                     f"the logo cannot be printed: {problem}"))
    for problem in stylesheet_problems(assets):
        found.append(Finding(display_path(catalog.project.styles), 1, "error", "asset",
                             f"the stylesheets cannot be used: {problem}"))
    return found


def _desk_settings_problems(project: Project) -> list[Problem]:
    """careleaf.yaml (email, outbox, front desk), checked with everything else."""
    try:
        load_desk_settings(project)
    except InputError as error:
        return error.problems
    return []


def _invalid(problem: Problem) -> Finding:
    return Finding(display_path(problem.path), problem.line, "error", "invalid", problem.message)


# --- sections no leaflet prints ---------------------------------------------------------

def unused_sections(catalog: Catalog) -> list[Finding]:
    listed_shared = {r.removeprefix("shared/") for entry in catalog.treatments.values()
                     for definition in entry.facts.leaflets for r in definition.contents if r.startswith("shared/")}
    found = []
    for entry in catalog.treatments.values():
        listed = {r for definition in entry.facts.leaflets for r in definition.contents}
        for lang, wording in entry.wording.items():
            for name in sorted(set(wording.sections) - listed):
                found.append(finding_at(entry.wording_docs[lang], ("sections", name), "warning", "unused-section",
                                        f"no leaflet prints the section '{name}': add it to a leaflet's contents "
                                        f"in {entry.id}/treatment.yaml, or delete it", at_key=True))
    for lang, (shared, doc) in catalog.shared.items():
        for name in sorted(set(shared.sections) - listed_shared):
            found.append(finding_at(doc, ("sections", name), "warning", "unused-section",
                                    f"no leaflet prints the shared section '{name}': add 'shared/{name}' to a "
                                    "leaflet's contents in a treatment.yaml, or delete it", at_key=True))
    return found


# --- pointers to boxes the leaflet prints (figures written once: retyped.py) ---------------------------

def pointers_to_missing_boxes(catalog: Catalog) -> list[Finding]:
    """A sentence that sends the reader to a box ("the signs in the Get urgent help box") in a leaflet
    that does not print that box."""
    found = []
    for entry in catalog.treatments.values():
        for definition in entry.facts.leaflets:
            missing = [box for box in COMPONENTS if box.name not in definition.contents]
            for lang, wording in entry.wording.items():
                words = catalog.labels.get(lang, {})
                for reference in definition.contents:
                    if reference in COMPONENT_NAMES:
                        continue
                    shared = reference.startswith("shared/")
                    name = reference.removeprefix("shared/")
                    sections, doc = ((catalog.shared[lang][0].sections, catalog.shared[lang][1]) if shared
                                     else (wording.sections, entry.wording_docs[lang]))
                    section = sections.get(name)
                    if section is None:
                        continue
                    for box in missing:    # a sentence names a box by the template word that is its heading
                        title = words.get(box.heading, "")
                        if title and title.lower() in section.answer.lower():
                            found.append(finding_at(doc, ("sections", name, "answer"), "error", "missing-box",
                                                    f"this answer points at the '{title}' box, but the "
                                                    f"{definition.code} leaflet ({definition.kind}) does not print "
                                                    f"it: add '{box.name}' to its contents, or reword"))
    return sorted(set(found), key=Finding.sort_key)


_PRODUCT_NAMES = {"medicine": "a medicine", "device": "a medical device", "cosmetic-procedure": "a cosmetic procedure",
                  "other": "a product of another kind"}


def unknown_reporting_routes(catalog: Catalog) -> list[Finding]:
    """A treatment handed out by a clinic in a country whose route for reporting a side effect of its kind of
    product the country table does not know: a patient's own aftercare leaflet then says nothing about reporting."""
    found = []
    for entry in catalog.treatments.values():
        product = entry.facts.product
        for country in sorted({brand.country for brand in catalog.brands.values() if brand.country}):
            facts = catalog.countries.get(country)
            if facts is not None and facts.reporting_for(product) is None:
                found.append(finding_at(entry.facts_doc, ("product",), "info", "no-reporting-route",
                                        f"careleaf's country table has no route in {country} for reporting a side "
                                        f"effect of {_PRODUCT_NAMES.get(product, product)}: a patient's own aftercare "
                                        "leaflet will not say where to report one. Add it to your copy of "
                                        "templates/countries.yaml"))
    return found


# --- governance: review dates and drafts ----------------------------------------------

def _leaflets(catalog: Catalog) -> Iterator[tuple[Any, model.LeafletDefinition]]:
    for entry in catalog.treatments.values():
        for definition in entry.facts.leaflets:
            yield entry, definition


def reviews(catalog: Catalog, today: dt.date, days: int) -> list[Finding]:
    found = []
    for entry, definition in _leaflets(catalog):
        name = f"{definition.code} ({entry.id} {definition.kind})"
        where = origin(definition)
        if definition.review_by is None:
            found.append(finding_for(where.problem("", "code"), "warning", "no-review-date",
                                     f"{name} has no review date: add 'review_by: YYYY-MM-DD' "
                                     "(leaflets are usually reviewed every 2 to 3 years)"))
        elif overdue(definition, today):
            found.append(finding_for(where.problem("", "review_by"), "error", "review-overdue",
                                     f"{name} was due for review by {definition.review_by.isoformat()}; review it "
                                     "and set a new review_by (the build refuses it until then)"))
        elif due_within(definition, today, days):
            left = (definition.review_by - today).days
            found.append(finding_for(where.problem("", "review_by"), "warning", "review-due-soon",
                                     f"{name} is due for review by {definition.review_by.isoformat()}, "
                                     f"in {left} day{'s' if left != 1 else ''}"))
    return found


def drafts(catalog: Catalog, today: dt.date) -> list[Finding]:
    """One note per leaflet still printed with the DRAFT mark, saying why."""
    reasons: dict[str, dict[str, None]] = {}   # a dict keeps the reasons in the order found
    awaiting: list[Finding] = []
    for job in jobs(catalog, large_print=False):
        leaflet = assemble(catalog, job, today)
        if leaflet.draft:
            why = reasons.setdefault(leaflet.definition.code, {})
            if awaiting_reapproval(leaflet.not_approved):
                awaiting.append(_awaiting(catalog, leaflet))
            elif leaflet.not_approved:
                why[f"in {job.lang} it is {leaflet.not_approved} ('careleaf approve "
                    f"{leaflet.definition.code}')"] = None
            if leaflet.needs_approval:
                why["it prints wording or facts marked needs_approval: true (" + _awaiting_items(catalog, leaflet)
                    + ")"] = None
    found = []
    for entry, definition in _leaflets(catalog):
        if definition.code in reasons:
            why = " and ".join(reasons[definition.code])
            if why:
                found.append(finding_for(origin(definition).problem("", "code"), "info", "draft",
                                         f"{definition.code} ({entry.id} {definition.kind}) is printed as a DRAFT: "
                                         f"{why}"))
    return found + list({f.message: f for f in awaiting}.values())    # once per leaflet and language


def _awaiting_items(catalog: Catalog, leaflet, shown: int = 6) -> str:
    """Which items a leaflet prints that still await a clinician, where each is written: 'en.yaml:23
    sections/at-the-appointment, …'. The first few, and how many more."""
    places = []
    for key, value in leaflet.printed.items():
        if getattr(value, "needs_approval", False):
            where = catalog.items[key].where
            places.append(f"{display_path(where.path)}:{where.line} {key.item}")
    places = sorted(set(places))
    more = len(places) - shown
    return ", ".join(places[:shown]) + (f" and {more} more" if more > 0 else "")


def _awaiting(catalog: Catalog, leaflet) -> Finding:
    """A leaflet whose approved wording changed: what changed, and the command that approves it again."""
    code, lang = leaflet.definition.code, leaflet.lang
    changed = changed_since_approval(catalog.project, catalog, leaflet)
    what = (" Changed: " + "; ".join(f"{c.file}:{c.line} {c.item}" for c in changed) + "." if changed
            else " The approved wording is not on record: read the whole leaflet." if lang in
            leaflet.definition.approvals else "")
    return finding_for(origin(leaflet.definition).problem("", "approvals", lang), "warning", "awaiting-reapproval",
                       f"{code} ({leaflet.job.treatment} {leaflet.job.kind}) in {lang} is printed as a DRAFT, "
                       f"{leaflet.not_approved}.{what} A clinician reads the changes and approves "
                       f"them with 'careleaf approve {code} --lang {lang} --by \"Dr …\"'")


# --- translations ---------------------------------------------------------------------

def stale_translations(catalog: Catalog) -> list[Finding]:
    """One warning per translated item older than its English (shared items once, not per treatment); a new
    translation file, never recorded as reviewed, is one warning of its own rather than one per item."""
    found, new_files = [], {}
    for key in sorted(catalog.stale):
        doc = catalog.documents[key.file]
        if is_new(_wording(catalog, key.file)):
            new_files.setdefault(key.file, doc)
        else:
            found.append(_stale(catalog, key))
    for file, doc in new_files.items():
        found.append(Finding(display_path(doc.path), 1, "warning", "new-translation",
                             "this translation has not been checked against the English yet: when a translator "
                             f"has, run '{record_command(doc.path)}' (until then its leaflets say the "
                             "translation awaits review)"))
    return found


def _wording(catalog: Catalog, file: str):
    """The translated wording held in ``file`` (a shared or a treatment's language file)."""
    for value, doc in catalog.shared.values():
        if doc is catalog.documents[file]:
            return value
    for entry in catalog.treatments.values():
        for lang, doc in entry.wording_docs.items():
            if doc is catalog.documents[file]:
                return entry.wording[lang]
    return None


def _stale(catalog: Catalog, key) -> Finding:
    item = catalog.items.get(key)
    command = record_command(catalog.documents[key.file].path)
    if item is None:    # in the English wording, not yet in this file: shown at its group
        doc = catalog.documents[key.file]
        return finding_at(doc, (key.group,), "warning", "stale-translation",
                          f"'{key.item}' is in the English wording but not translated here yet; once it is, run "
                          f"'{command}'", at_key=True)
    return finding_for(item.where, "warning", "stale-translation",
                       f"the English wording of '{key.item}' changed after this was translated: bring the translation "
                       f"up to date, then run '{command}' (until then its leaflets say the translation awaits "
                       "review)")


# --- the report, as people read it ---------------------------------------------------

def text(report: Report) -> str:
    """Findings grouped by file, then the score table, then a one-line summary."""
    parts = [_findings_text(report.findings), _scores_text(report.scores), summary(report)]
    return "\n\n".join(part for part in parts if part)


def _findings_text(findings: list[Finding]) -> str:
    groups: dict[str, list[str]] = {}
    for finding in findings:
        groups.setdefault(finding.file, []).append(str(finding))
    return "\n\n".join("\n".join(lines) for lines in groups.values())


def _scores_text(scores: list[SectionScore]) -> str:
    if not scores:
        return ""
    width = max(len(s.section) for s in scores)
    rows = [f"{'section':<{width}}  lang  words  sentences  reading ease  grade  Ateşman"]
    for item in scores:
        s = item.score
        rows.append(f"{item.section:<{width}}  {s.lang:<4}  {s.words:>5}  {s.sentences:>9}  "
                    f"{_number(s.reading_ease):>12}  {_number(s.grade):>5}  {_number(s.atesman):>7}".rstrip())
    return "Readability of answers and intros (reading ease and Ateşman: higher is easier; grade: lower is easier)\n" \
        + "\n".join(rows)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def summary(report: Report) -> str:
    counts = [f"{report.count('error')} error{'s' if report.count('error') != 1 else ''}",
              f"{report.count('warning')} warning{'s' if report.count('warning') != 1 else ''}",
              f"{report.count('info')} note{'s' if report.count('info') != 1 else ''}"]
    extremes = [_extreme(report.scores, "reading_ease", min, "lowest reading ease"),
                _extreme(report.scores, "grade", max, "highest grade"),
                _extreme(report.scores, "atesman", min, "lowest Ateşman")]
    scored = f"{len(report.scores)} answers and intros scored" + "".join(f"; {e}" for e in extremes if e)
    verdict = "no errors" if report.ok else "fix the errors above"
    return f"check: {', '.join(counts)}; {scored}. {verdict[0].upper() + verdict[1:]}."


def _extreme(scores: list[SectionScore], name: str, pick, label: str) -> str:
    found = [(getattr(s.score, name), s.section) for s in scores if getattr(s.score, name) is not None]
    if not found:
        return ""
    value, section = pick(found, key=lambda pair: pair[0])
    return f"{label} {value:.1f} ({section})"
