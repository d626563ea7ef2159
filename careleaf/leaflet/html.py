"""Stage 4: draw an assembled leaflet as HTML with the project's Jinja2 templates.

There is one environment: autoescaping is on and undefined names fail loudly.
Content is always text; the only HTML that content produces comes from the
light-formatting renderer below, which has raw HTML switched off.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale, localedata
from babel.dates import format_date, get_day_names
from babel.numbers import format_decimal
from babel.units import format_unit
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from careleaf.leaflet.assemble import Leaflet, direction
from careleaf.leaflet.figures import LABEL_SIZE, Mark, column_width, timeline
from careleaf.leaflet.svg import data_uri, qr_data_uri
from careleaf.pdf.fonts import Fonts, fonts_in
from careleaf.content import references
from careleaf.pdf.watermark import MARK_META
from careleaf.project import TEMPLATES, THEME, Project
from careleaf.content.fields import Duration
from careleaf.content.model import WEEKDAYS


_MARKDOWN = MarkdownIt("zero", {"html": False, "breaks": False}).enable(["emphasis", "list"])


def environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    """The one Jinja2 environment every leaflet is drawn with; a template is looked up in each folder in turn."""
    env = jinja2.Environment(
        # "theme/…" always names careleaf's own template, so a project's file can extend or include the
        # theme's file of the same name and change one part of it instead of copying it whole.
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(list(folders)),
                                    jinja2.PrefixLoader({"theme": jinja2.FileSystemLoader(str(THEME / TEMPLATES))})]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["markup"] = jinja2.pass_context(lambda ctx, text: markup(text, referred(ctx["leaflet"])))
    env.filters["css_string"] = css_string
    env.filters["page_counter"] = page_counter
    env.filters["duration"] = jinja2.pass_context(lambda ctx, d: unbroken(d, locale_of(ctx["leaflet"])))
    env.filters["date"] = jinja2.pass_context(lambda ctx, d: format_date(d, "long", locale=locale_of(ctx["leaflet"])))
    env.filters["direction"] = direction
    env.filters["ltr"] = jinja2.pass_context(lambda ctx, text: left_to_right(text, ctx["leaflet"].direction))
    env.filters["nobreak"] = jinja2.pass_context(lambda ctx, text: unbreakable(text, ctx["leaflet"].direction))
    env.filters["url"] = jinja2.pass_context(lambda ctx, text: web_address(text, ctx["leaflet"].direction))
    env.globals["urgent_hours"] = urgent_hours
    env.filters["language_name"] = jinja2.pass_context(
        lambda ctx, code: Locale.parse(ctx["leaflet"].lang).languages.get(code, code))
    return env


def referred(leaflet: Leaflet) -> dict[str, Markup]:
    """What each reference its wording makes prints ({timeline.effect-lasts} → "4.5–6 months", {country.painkiller}
    → "paracetamol"), as HTML."""
    locale = locale_of(leaflet)
    return {name: unbroken(value, locale) if isinstance(value, Duration) else escape(value)
            for name, value in leaflet.references.items()}


def markup(text: str | None, values: dict[str, Markup] | None = None) -> Markup:
    """Answers' light formatting (paragraphs, **bold**, lists) as safe HTML, with references to facts
    filled in after the formatting (so a value is never read as formatting)."""
    return Markup(references.fill(_MARKDOWN.render(text or "").strip(), values or {}))


def unbroken(duration: Duration, locale: str) -> Markup:
    """A duration that no line breaks inside: '48–72 hours' kept whole (a single value may break as usual)."""
    text = escape(format_duration(duration, locale))
    return Markup(f'<span class="range">{text}</span>') if duration.is_range else text


def left_to_right(text: str, direction: str) -> Markup:
    """A phone number, address or code kept in its own order inside right-to-left text: without the
    isolation '020 7946 0321' prints as '0321 7946 020' in an Arabic leaflet, and a patient dials it.
    Left-to-right leaflets print it as it is."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(text) if direction == "rtl" else escape(text)


def unbreakable(text: str, direction: str) -> Markup:
    """A number that no line breaks inside ('NHS 111', '1-800-FDA-1088'): split, it reads as two numbers. A number
    with no space or hyphen ('999') cannot break, and is left as it is."""
    if not re.search(r"[\s-]", text):
        return left_to_right(text, direction)
    return Markup('<span class="nowrap">{}</span>').format(left_to_right(text, direction))


def web_address(url: str, direction: str) -> Markup:
    """A web address that breaks only after a '/' of its path, never inside 'https://host/' or a word."""
    pieces = re.split(r"(?<=/)(?=[^/])", url)
    while len(pieces) > 1 and pieces[0].endswith("://"):       # the scheme stays with its host
        pieces[0:2] = [pieces[0] + pieces[1]]
    joined = Markup("<wbr>").join(Markup('<span class="nowrap">{}</span>').format(p) for p in pieces)
    return Markup('<bdi dir="ltr">{}</bdi>').format(joined) if direction == "rtl" else joined


def urgent_hours(leaflet: Leaflet) -> str:
    """When the urgent line is answered, in the leaflet's language: 'This line is answered Monday to Friday,
    08:00–18:00.'; '' when the brand does not say."""
    hours, words = leaflet.brand.urgent_hours, leaflet.words
    if hours is None:
        return ""
    names = get_day_names("wide", locale=locale_of(leaflet))
    order = sorted(WEEKDAYS.index(day) for day in hours.days)
    if len(order) == 7:
        days = words["urgent_every_day"]
    elif len(order) > 2 and order == list(range(order[0], order[-1] + 1)):
        days = words["urgent_day_range"].replace("{first}", names[order[0]]).replace("{last}", names[order[-1]])
    else:
        days = ", ".join(names[i] for i in order)
    if hours.opens is None or hours.closes is None:
        return words["urgent_hours_all_day"].replace("{days}", days)
    return (words["urgent_hours"].replace("{days}", days).replace("{opens}", hours.opens)
            .replace("{closes}", hours.closes))


def css_string(text: str) -> Markup:
    """Text as a quoted CSS string, for generated content such as page footers."""
    # A CSS escape swallows one space after it, so each is closed with a space of its own.
    escaped = "".join(c if c.isascii() and (c.isalnum() or c in " .,:;-/()") else f"\\{ord(c):06x} "
                      for c in str(text))
    return Markup(f'"{escaped}"')


def page_counter(label: str) -> Markup:
    """'Page {page} of {pages}' as CSS generated content with live page counters."""
    parts = re.split(r"(\{page\}|\{pages\})", label)
    counters = {"{page}": "counter(page)", "{pages}": "counter(pages)"}
    return Markup(" ".join(counters.get(part) or css_string(part) for part in parts if part))


def locale_of(leaflet: Leaflet) -> str:
    """The leaflet's language as written in the clinic's country: 10 January 2026 in Britain, January 10 in the US."""
    return _locale(leaflet.lang, leaflet.brand.country)


@lru_cache(maxsize=None)
def _locale(lang: str, country: str | None) -> str:
    regional = f"{lang}_{country}"
    # Babel has data for en_GB or tr_TR but not for every pairing (tr_GB): then the language alone.
    return regional if country and localedata.exists(regional) else lang


def format_duration(duration: Duration, lang: str) -> str:
    """'48–72 hours', '2 weeks', '4,5–6 ay': numbers and units in the leaflet's language, with an en dash
    the same way everywhere (tables, answers, the picture)."""
    unit = f"duration-{duration.unit[:-1]}"
    whole = format_unit(duration.high, unit, locale=lang)
    if not duration.is_range:
        return whole
    high = format_decimal(duration.high, locale=lang)
    low = format_decimal(duration.low, locale=lang)
    return whole.replace(high, f"{low}–{high}", 1)


def render_leaflet(project: Project, leaflet: Leaflet) -> str:
    """The leaflet's HTML, with this process's one environment for the project's templates."""
    return render(_environment(project.template_folders), leaflet, fonts_in(project.asset_folders))


@lru_cache(maxsize=None)
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    return environment(folders)


def render(env: jinja2.Environment, leaflet: Leaflet, fonts: Fonts) -> str:
    """The leaflet's complete HTML document."""
    template = env.get_template(f"{leaflet.job.kind}.html")
    context: dict[str, Any] = {"leaflet": leaflet, "brand": leaflet.brand, "label": leaflet.words,
                               "timeline_picture": timeline_picture(leaflet, fonts),
                               "qr": qr_code(leaflet), "mark": mark_words(leaflet), "mark_meta": MARK_META}
    return template.render(context)


def mark_words(leaflet: Leaflet) -> str | None:
    """The words of the mark across every page of a leaflet not to be given to patients (a draft, or one
    overdue for review); None for an approved, current leaflet. careleaf.pdf.watermark draws it."""
    return leaflet.words["draft"] if leaflet.draft else leaflet.words["review_overdue"] if leaflet.overdue else None


def timeline_picture(leaflet: Leaflet, fonts: Fonts) -> dict[str, Any]:
    """The timeline drawing and the words laid over it, for the leaflet's page size and print size."""
    locale = locale_of(leaflet)
    personal = leaflet.personal
    marks = [Mark(m.label, m.when, format_duration(m.when, locale), m.visit, m.after_repeat,
                  _bracketed(personal.milestone(m, short=True)) if personal else "")
             for m in leaflet.timeline]
    picture = timeline(marks, leaflet.words["treatment_day"], leaflet.brand.colours.primary, fonts,
                       font_size=LABEL_SIZE[leaflet.job.large_print], rtl=leaflet.direction == "rtl",
                       width=column_width(leaflet.brand.page_size), say=lambda d: format_duration(d, locale))
    return {"src": data_uri(picture.svg), "labels": picture.labels}


def _bracketed(dates: str) -> str:
    """A patient's dates beside a milestone's figure, set apart from it: '48–72 hours (Fri 5 – Sat 6 Dec)', never
    '48–72 saat 5 Ara', which reads as five o'clock."""
    return f"({dates})" if dates else ""


def qr_code(leaflet: Leaflet) -> dict[str, str] | None:
    """A QR code to the leaflet's page on the clinic's website, when the brand has such pages."""
    if not leaflet.brand.leaflet_page:
        return None
    url = (leaflet.brand.leaflet_page.replace("{code}", leaflet.definition.code)
           .replace("{lang}", leaflet.lang))
    return {"src": qr_data_uri(url), "url": url}
