"""The content schema, declared once.

Every file an editor writes is described here: each class is one kind of file or
block, each field has its type (a kind of value from ``fields.py``) and a one-line
explanation. ``validate.py`` derives the validator and the JSON Schema
(``schema/*.json``, written by ``schemas.py``) from these declarations. The names
of the groups of facts and of the built-in blocks are in ``facts.py``.

Facts and figures live in a treatment's ``treatment.yaml`` and are the same in
every language; wording lives in one file per language (``en.yaml``, ``tr.yaml``)
so a translator can be given that file alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Optional, get_args

from careleaf.content.facts import (AFTERCARE_CHECKLIST, BEFORE_TREATMENT, COMPONENT_NAMES, CONTACT,
                                    CONTRAINDICATIONS, SIDE_EFFECTS, TIMELINE, URGENT_HELP)
from careleaf.content.fields import (Clock, Code, Colour, Country, Duration, Id, Language, Markup, Reference, SvgFile, Text,
                                     TimeZone, Url, Verbatim, field)
# The country table's facts (templates/countries.yaml), named here too, where the rest of the model is.
from careleaf.content.countries import CountryFacts, MinimumAge, ProductKind, Reporting, reporting_kind  # noqa: F401

Kind = Literal["pre-treatment", "aftercare"]
Frequency = Literal["very-common", "common", "uncommon", "rare", "very-rare", "not-known"]
Rule = Literal["do-not-treat", "tell-us"]
Product = Literal["medicine", "device", "cosmetic-procedure", "other"]
PRODUCTS: tuple[str, ...] = get_args(Product)
PageSize = Literal["A4", "Letter", "A5"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

KINDS: tuple[str, ...] = ("pre-treatment", "aftercare")
WEEKDAYS: tuple[str, ...] = get_args(Weekday)          # in date.weekday() order, Monday first
FREQUENCIES: tuple[str, ...] = ("very-common", "common", "uncommon", "rare", "very-rare", "not-known")

# What each kind of leaflet must show, whatever else it holds: built-in blocks, by name. The build refuses a
# leaflet without them; `check` holds leaflets to the fuller standard in check.yaml (Topic, below). Who should
# not have the treatment belongs before consent: an aftercare leaflet may list it as a reminder, but one
# sheet taken home keeps to what to do now.
REQUIRED_TOPICS: dict[str, tuple[str, ...]] = {
    "pre-treatment": tuple(c.name for c in (SIDE_EFFECTS, TIMELINE, CONTRAINDICATIONS)),
    "aftercare": tuple(c.name for c in (SIDE_EFFECTS, TIMELINE, URGENT_HELP, CONTACT)),
}


# --- treatment.yaml: facts and figures, the same in every language ------------------

@dataclass(frozen=True)
class Milestone:
    """A point or period on the expected timeline after treatment."""

    id: Id = field(f"A short name; its wording is under '{TIMELINE.key}' in each language file")
    when: Duration = field("When it happens after treatment, for example '48-72 hours' or '4.5-6 months'")
    visit: bool = field("true when this is a visit to the clinic, such as the review visit", False)
    after_repeat: bool = field("true when this applies only after repeat treatments", False)
    wears_off: bool = field("true when the effect wears off about then ('Effect lasts'): a patient's own leaflet "
                            "says 'wears off around April – June'", False)
    product_label: Optional[Duration] = field("What the product's own leaflet says, when the clinic's figure ('when') "
                                              "differs: printed beside it, and listed by 'check' for the clinician",
                                              None)
    label_source: Optional[Text] = field("Where the product label's figure comes from (kept on record, not "
                                         "printed)", None)
    needs_approval: bool = field("true while a clinician has not yet approved this fact", False)


@dataclass(frozen=True)
class SideEffect:
    """A possible side effect: how common it is and how long it lasts."""

    id: Id = field(f"A short name; its wording is under '{SIDE_EFFECTS.key}' in each language file")
    frequency: Frequency = field("How common it is, in the EMA's categories (not-known when no figure exists)")
    lasts: Optional[Duration] = field("How long it usually lasts, for example '24-48 hours'", None)
    urgent: bool = field("true when it needs urgent help: its row then sends the reader to the urgent-help box "
                         "(and its wording has no what_to_do)", False)
    needs_approval: bool = field("true while a clinician has not yet approved this fact", False)


@dataclass(frozen=True)
class Contraindication:
    """A condition that rules the treatment out, or that the clinic must know about."""

    id: Id = field(f"A short name; its wording is under '{CONTRAINDICATIONS.key}' in each language file")
    rule: Rule = field("do-not-treat: the treatment is not given; tell-us: tell the clinic before treatment")
    needs_approval: bool = field("true while a clinician has not yet approved this fact", False)


@dataclass(frozen=True)
class ChecklistItem:
    """One thing to do (or avoid) within a time window after treatment."""

    id: Id = field(f"A short name; its wording is under '{AFTERCARE_CHECKLIST.key}' in each language file")
    within: Duration = field("The time window it applies to, for example '4 hours' or '2 weeks'")
    needs_approval: bool = field("true while a clinician has not yet approved this advice", False)


@dataclass(frozen=True)
class BeforeItem:
    """One thing to do (or stop) a time before treatment, such as stopping retinoid creams 5 days before."""

    id: Id = field(f"A short name; its wording is under '{BEFORE_TREATMENT.key}' in each language file")
    before: Duration = field("How long before the treatment it starts, for example '5 days' or '2 weeks'")
    needs_approval: bool = field("true while a clinician has not yet approved this advice", False)


@dataclass(frozen=True)
class Course:
    """A treatment given as a course of sessions (peels, lasers, microneedling): how many, how far apart, and
    when the full result shows. The review visit becomes the next session."""

    sessions: int = field("How many sessions a course usually has, for example 4")
    interval: Duration = field("The time between one session and the next, for example '2 weeks'")
    up_to: Optional[int] = field("The most sessions, when the number varies: sessions: 4 and up_to: 6 print "
                                 "'4–6 sessions'", None)
    result: Optional[Duration] = field("When the full result shows, counted from the first session, for example "
                                       "'10-14 weeks'; drawn on the timeline", None)
    needs_approval: bool = field("true while a clinician has not yet approved these figures", False)

    @property
    def most(self) -> int:
        return max(self.sessions, self.up_to or self.sessions)

    @property
    def sessions_text(self) -> str:
        """'4–6' or '4'."""
        return f"{self.sessions}–{self.most}" if self.most != self.sessions else str(self.sessions)


@dataclass(frozen=True)
class Approval:
    """A clinician's sign-off of one leaflet in one language, bound to the wording it approved."""

    by: Text = field("The clinician who approved it")
    on: dt.date = field("The day it was approved (YYYY-MM-DD)")
    version: int = field("The version it approved")
    content: Text = field("The fingerprint of everything the leaflet printed in this language when it was "
                          "approved (written by 'careleaf approve'; never typed)")


@dataclass(frozen=True)
class LeafletDefinition:
    """One printed leaflet: which sections it holds, in order, and its approval record."""

    kind: Kind = field("pre-treatment (read before the appointment) or aftercare (taken home)")
    code: Code = field("A stable code written on consent forms, for example BTX-FL-AC")
    version: int = field("The version number: one approved wording ('careleaf approve' raises it when the "
                         "wording changed)")
    contents: list[Reference] = field("Sections and blocks in printed order: section names, 'shared/name', "
                               "or one of: " + ", ".join(COMPONENT_NAMES))
    approved_by: Optional[Text] = field("Kept from before approvals were bound to wording: the clinician who "
                                        "approved it (approve it again with 'careleaf approve')", None)
    approved_on: Optional[dt.date] = field("Kept from before approvals were bound to wording: the date it was "
                                           "approved (YYYY-MM-DD)", None)
    approvals: dict[Language, Approval] = field("Each language's approval, written by 'careleaf approve': who, "
                                                "when, which version, and a fingerprint of the wording", {})
    review_by: Optional[dt.date] = field("The date by which it must be reviewed again (YYYY-MM-DD)", None)
    sources: list[Text] = field("The evidence this leaflet rests on (kept on record, not printed)", [])
    printed_sources: list[Verbatim] = field("The sources printed for the reader in the 'about-this-leaflet' block, "
                                            "by name, for example 'Vistabel patient leaflet (MHRA)'", [])


@dataclass(frozen=True)
class Treatment:
    """A treatment's facts: timeline, side effects, contraindications and its leaflets."""

    timeline: list[Milestone] = field("The expected timeline after treatment")
    side_effects: list[SideEffect] = field("Possible side effects")
    contraindications: list[Contraindication] = field("Who should not have it, and what to tell the clinic")
    leaflets: list[LeafletDefinition] = field("The leaflets made for this treatment")
    aftercare_checklist: list[ChecklistItem] = field("What to do after treatment, by time window", [])
    before_treatment: list[BeforeItem] = field("What to do or stop before treatment, by how long before", [])
    course: Optional[Course] = field("For a treatment given as a course of sessions: how many, how far apart, "
                                     "when the result shows", None)
    product: Product = field("What is given: medicine (a toxin), device (a filler), cosmetic-procedure (a peel, "
                             "a laser) or other. The side-effects wording and the route for reporting a side "
                             "effect follow it", "medicine")


# --- <language>.yaml: wording ------------------------------------------------------

@dataclass(frozen=True)
class Section:
    """A question and its answer."""

    question: Text = field("The question, as a patient would ask it; printed as a heading")
    answer: Markup = field("The answer: short paragraphs; **bold**, and lists with '- ' at the start of a line")
    covers: list[Id] = field("The topics of the leaflet standard (check.yaml's topics) this answer covers, for "
                             "example [alternatives]; one language declaring it is enough", [])
    needs_approval: bool = field("true while a clinician has not yet approved this wording", False)


@dataclass(frozen=True)
class SideEffectWording:
    """How a side effect is described to patients."""

    effect: Text = field("What the patient may notice")
    what_to_do: Optional[Text] = field("What to do about it (not for an urgent side effect: its row points to "
                                       "the urgent-help box)", None)


@dataclass(frozen=True)
class LeafletWording:
    """The wording that belongs to one leaflet rather than to a section."""

    title: Text = field("The leaflet's title, printed at the top and in the PDF's properties")
    intro: Optional[Markup] = field("A short opening paragraph", None)


@dataclass(frozen=True)
class Fingerprints:
    """Fingerprints of the source wording, by group and name (written by the tool)."""

    name: dict[Id, Text] = field("The treatment's name", {})
    leaflets: dict[Id, Text] = field("Leaflet titles and intros", {})
    sections: dict[Id, Text] = field("Questions and answers", {})
    timeline: dict[Id, Text] = field("Timeline wording", {})
    side_effects: dict[Id, Text] = field("Side-effect wording", {})
    contraindications: dict[Id, Text] = field("Contraindication wording", {})
    aftercare_checklist: dict[Id, Text] = field("Aftercare steps", {})
    before_treatment: dict[Id, Text] = field("Steps before treatment", {})
    urgent_help: dict[Id, Text] = field("The urgent-help box", {})


@dataclass(frozen=True)
class TranslationRecord:
    """Which source wording a translation was made from, so changes to the source are noticed."""

    language: Language = field("The language translated from")
    fingerprints: Fingerprints = field("Fingerprints of the source wording, by group and name")


@dataclass(frozen=True)
class TreatmentUrgentHelp:
    """A treatment's own red flags, for its urgent-help box."""

    symptoms: list[Text] = field("Signs that need help straight away")
    action: Optional[Text] = field("What to do, when it differs from the shared wording (no phone numbers: "
                                   "the box prints the clinic's urgent number and the emergency number)", None)
    replaces_shared: bool = field("true: only these signs; false: the shared signs, then these", False)
    needs_approval: bool = field("true while a clinician has not yet approved this wording", False)


@dataclass(frozen=True)
class TreatmentWording:
    """A treatment's wording in one language."""

    name: Text = field("The treatment's name, as patients know it")
    leaflets: dict[Id, LeafletWording] = field("Titles of the leaflets, by kind (pre-treatment, aftercare)")
    sections: dict[Id, Section] = field("Questions and answers, by name")
    timeline: dict[Id, Text] = field("What each timeline milestone is called, by name")
    side_effects: dict[Id, SideEffectWording] = field("How each side effect is described, by name")
    contraindications: dict[Id, Text] = field("Each condition, completing 'if you …' or 'if …', by name")
    aftercare_checklist: dict[Id, Text] = field("Each aftercare step, by name", {})
    before_treatment: dict[Id, Text] = field("Each step before treatment, by name: 'Stop using retinoid creams'", {})
    urgent_help: Optional[TreatmentUrgentHelp] = field("This treatment's own red-flag signs, added to the "
                                                          "shared ones or replacing them", None)
    translated_from: Optional[TranslationRecord] = field("For translations: the source wording's "
                                                         "fingerprints (written by the tool)", None)


@dataclass(frozen=True)
class UrgentHelp:
    """The red-flag symptoms that need urgent help, and what to do."""

    symptoms: list[Text] = field("Symptoms that need help straight away")
    action: Text = field("What to do, shown beside the clinic's urgent phone number")
    needs_approval: bool = field("true while a clinician has not yet approved this wording", False)


@dataclass(frozen=True)
class SharedWording:
    """Wording that several treatments use, in one language."""

    sections: dict[Id, Section] = field("Shared questions and answers, referred to as 'shared/name'")
    urgent_help: Optional[UrgentHelp] = field("The 'get urgent help' box", None)
    translated_from: Optional[TranslationRecord] = field("For translations: the source wording's "
                                                         "fingerprints (written by the tool)", None)


# --- brands/<id>.yaml ------------------------------------------------------------

@dataclass(frozen=True)
class Colours:
    """A brand's colours; text stays near-black for clear print whatever they are."""

    primary: Colour = field("Headings, rules and the header; must be dark enough to read on white")
    tint: Colour = field("Background of boxes; must be light enough for black text")


@dataclass(frozen=True)
class UrgentHours:
    """When a clinic's urgent line is answered."""

    days: list[Weekday] = field("The days it is answered", list(get_args(Weekday)))
    opens: Optional[Clock] = field("The time it is first answered each day, for example '08:00' (leave out "
                                   "'opens' and 'closes' when it is answered day and night)", None)
    closes: Optional[Clock] = field("The time it stops being answered, for example '20:00'", None)


@dataclass(frozen=True)
class Brand:
    """A clinic whose name, colours and contact details go on every leaflet."""

    name: Text = field("The clinic's name, printed in the header")
    logo: SvgFile = field("The logo, an SVG file in styles/brands/<brand>/")
    colours: Colours = field("The brand's colours")
    phone: Verbatim = field("The clinic's phone number")
    urgent_phone: Verbatim = field("The number to call with an urgent problem")
    address: list[Verbatim] = field("The clinic's address, one line per item")
    website: Url = field("The clinic's website, starting with https://")
    page_size: PageSize = field("A4, Letter, or A5 (half an A4 sheet: leaflet racks and folded booklets)")
    booklet: bool = field("With page_size A5: also write each leaflet as an A4 booklet, two pages to a side "
                          "in folding order (<leaflet>-booklet.pdf), for clinics that print and fold their own",
                          False)
    languages: list[Language] = field("Languages this clinic hands leaflets out in", ["en"])
    country: Optional[Country] = field("The clinic's country as two capital letters (GB, US, TR), so dates "
                                       "and numbers are written the local way", None)
    locales: dict[Language, Text] = field("How dates, times and numbers are written in a language, when not as "
                                          "in the clinic's country: a language and region, e.g. 'en: en_US' for "
                                          "'December 7, 2026' and '10:30 AM' (by default English outside the US "
                                          "prints '7 December 2026' and '10:30')", {})
    fallback_language: Optional[Language] = field("Where a section has no wording in a language, print it in "
                                                  "this one (the leaflet says so); without it, a gap is an error",
                                                  None)
    email: Optional[Verbatim] = field("An email address for questions", None)
    sender: Optional[Verbatim] = field("The address this clinic's leaflets are emailed from (the mail server "
                                       "must allow it); without it, careleaf.yaml's email sender", None)
    leaflet_page: Optional[Url] = field("The web page of each leaflet on the clinic's own website, for a QR code; "
                                        "{code} and {lang} are filled in, e.g. https://clinic.example/leaflets/{code}. "
                                        "Give this or site_url, not both", None)
    site_url: Optional[Url] = field("Where the clinic publishes the pages the build writes in out/site/<brand>/, "
                                    "e.g. https://clinic.example/leaflets/: each leaflet's QR code then points to its "
                                    "page there, <site_url><lang>/<treatment>-<kind>/", None)
    emergency_number: Optional[Verbatim] = field("The emergency number, when it is not the country's usual one "
                                             "(from careleaf's country table: 999 in GB, 911 in the US, 112 in TR)",
                                             None)
    urgent_hours: Optional[UrgentHours] = field("When the urgent line is answered; printed in the urgent-help box "
                                                "(without it, the box does not say)", None)
    out_of_hours_phone: Optional[Verbatim] = field("Who to call outside the urgent line's hours, for example an "
                                                   "on-call doctor (otherwise the country's out-of-hours line, "
                                                   "such as NHS 111, is printed)", None)
    time_zone: Optional[TimeZone] = field("The clinic's time zone, for example Europe/London: a patient's "
                                          "leaflet gives real dates and times in it", None)
    opening_days: list[Weekday] = field("The days the clinic is open, so a suggested review date falls on one",
                                        ["monday", "tuesday", "wednesday", "thursday", "friday"])
    closed_dates: list[dt.date] = field("Dates the clinic is closed although it is an opening day "
                                        "(bank holidays), YYYY-MM-DD", [])


# --- check.yaml: what `generate.py check` holds the wording to -----------------------

@dataclass(frozen=True)
class PlainWord:
    """A hard word and the plain word to use instead."""

    word: Text = field("The hard word or phrase, for example 'haematoma'; it also matches with any "
                       "ending ('haematomas')")
    say: Text = field("The plain word to use instead, for example 'bruise'. Where this is in the same "
                      "sentence, the hard word is being explained and is not reported")


@dataclass(frozen=True)
class EnglishChecks:
    """Readability targets for English wording (Flesch scores) and its hard words."""

    min_reading_ease: int = field("The lowest Flesch Reading Ease an answer may score "
                                  "(60-69 standard, 70-79 fairly easy, 80 and above easy)", 60)
    max_grade: int = field("The highest Flesch-Kincaid grade an answer may score "
                           "(grade 6 is a reading age of about 11)", 8)
    jargon: list[PlainWord] = field("Hard words, each with the plain word to use instead", [])


@dataclass(frozen=True)
class TurkishChecks:
    """Readability targets for Turkish wording (Ateşman's formula) and its hard words."""

    min_atesman: int = field("The lowest Ateşman score an answer may have (50-69 orta güçlükte, "
                             "70-89 kolay, 90 and above çok kolay)", 60)
    jargon: list[PlainWord] = field("Hard words, each with the plain word to use instead", [])


@dataclass(frozen=True)
class Topic:
    """Something every leaflet of a kind must tell its reader."""

    title: Text = field("What the leaflet must say, as 'check' names it, for example 'alternatives, including "
                        "no treatment'")
    leaflets: list[Kind] = field("The kinds of leaflet that must cover it")


# The sample's standard, from the NHS standard for creating health content, the PIF TICK, the EMA's QRD template
# and the GMC's consent guidance (docs/editors/standard.md says which topic comes from where).
_BOTH = ["pre-treatment", "aftercare"]
STANDARD_TOPICS: dict[str, Topic] = {
    "what-it-is": Topic("what it is and what it can do", ["pre-treatment"]),
    "appointment": Topic("what happens at the appointment: how long, how many injections, whether it hurts, "
                         "going back to work", ["pre-treatment"]),
    "benefits": Topic("the benefits and how long they last", _BOTH),
    "side-effects": Topic("risks and side effects, saying the list is not complete and where the full list is",
                          _BOTH),
    "alternatives": Topic("alternatives, including having no treatment", ["pre-treatment"]),
    "who-should-not": Topic("who should not have it, including the country's age limit", ["pre-treatment"]),
    "danger-signs": Topic("danger signs and who to call, day and night", _BOTH),
    "reporting": Topic("how to report a side effect in the clinic's country", _BOTH),
    "sources-and-review": Topic("its sources, when it was last reviewed and when it will be reviewed next", _BOTH),
    "feedback": Topic("how to give feedback on the leaflet", _BOTH),
}


@dataclass(frozen=True)
class CheckSettings:
    """What 'generate.py check' holds the wording to: sentence length, readability, review dates."""

    max_sentence_words: int = field("Sentences longer than this many words are reported", 25)
    review_due_days: int = field("Leaflets due for review within this many days are reported", 30)
    page_budget: dict[Kind, int] = field(
        "The most pages each kind of leaflet should fill at standard print on A4 or Letter, for example "
        "'aftercare: 2' (one sheet, both sides); large print and A5 may take twice as many. The build warns "
        "when a leaflet takes more. The defaults: aftercare 2 (taken home), pre-treatment 6 (three sheets: every "
        "topic of the leaflet standard, which consent needs)", {"pre-treatment": 6, "aftercare": 2})
    topics: dict[Id, Topic] = field(
        "The leaflet standard: the topics each kind of leaflet must cover, by name. A section covers a topic by "
        "saying so ('covers: [alternatives]'); built-in blocks cover theirs (side-effects: side-effects and "
        "reporting; contraindications: who-should-not; urgent-help: danger-signs; timeline: benefits; "
        "about-this-leaflet: sources-and-review and feedback). Without this key, the standard in careleaf's "
        "documentation applies; 'topics: {}' turns the check off", STANDARD_TOPICS)
    en: EnglishChecks = field("English: readability targets and hard words", EnglishChecks())
    tr: TurkishChecks = field("Turkish: readability targets and hard words", TurkishChecks())
