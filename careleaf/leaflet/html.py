"""Stage 4: draw an assembled leaflet as HTML with the project's Jinja2 templates.

There is one environment: autoescaping is on and undefined names fail loudly.
Content is always text; the only HTML that content produces comes from the
light-formatting renderer below, which has raw HTML switched off.

Templates are the project's own files, but they are not trusted as code: they render in
Jinja2's immutable sandbox, so a template reaches only the leaflet's data and the filters
below, never Python's internals (``{{ cycler.__init__.__globals__ }}`` fails the leaflet,
naming the template). Each template is read as any project file is
(careleaf.project.read_regular): a regular file inside its templates folder, of limited size.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from babel import Locale
from babel.dates import format_date, format_time, get_day_names
from babel.numbers import format_decimal
from babel.units import format_unit
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from careleaf.leaflet.assemble import Leaflet, direction
from careleaf.leaflet.figures import LABEL_SIZE, Mark, column_width, timeline
from careleaf.leaflet.svg import data_uri, qr_data_uri
from careleaf.pdf.fonts import Fonts, fonts_in
from careleaf.content import model, references
from careleaf.content.locales import reader_locale
from careleaf.pdf.watermark import MARK_META
from careleaf.errors import display_path
from careleaf.project import TEMPLATES, THEME, Project, Refused, read_regular
from careleaf.content.settings import Limits
from careleaf.content.fields import Duration
from careleaf.content.model import WEEKDAYS


_MARKDOWN = MarkdownIt("zero", {"html": False, "breaks": False}).enable(["emphasis", "list"])


class TemplateRefused(jinja2.TemplateError):
    """A template that may not be used: not a regular file of its folder, too large, or reaching past the sandbox."""


class _OwnFiles(jinja2.BaseLoader):
    """Templates from ``folders``, the first folder that has one winning, each read as any project file is."""

    def __init__(self, folders: tuple[Path, ...], limit: int):
        self.folders, self.limit = tuple(Path(folder) for folder in folders), limit

    def get_source(self, environment: jinja2.Environment, template: str):
        pieces = jinja2.loaders.split_template_path(template)    # refuses '..'
        for folder in self.folders:
            path = folder.joinpath(*pieces)
            if not (path.exists() or path.is_symlink()):
                continue
            try:
                source = read_regular(path, within=(folder,), limit=self.limit, setting="limits.asset_bytes")
            except Refused as refused:
                raise TemplateRefused(str(refused)) from None
            mtime = path.stat().st_mtime_ns
            return source.decode("utf-8"), str(path), lambda: _mtime(path) == mtime
        raise jinja2.TemplateNotFound(template)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def environment(folders: tuple[Path, ...], *, limit: int = Limits().asset_bytes) -> jinja2.Environment:
    """The one Jinja2 environment every leaflet is drawn with; a template is looked up in each folder in turn."""
    env = ImmutableSandboxedEnvironment(
        # "theme/…" always names careleaf's own template, so a project's file can extend or include the
        # theme's file of the same name and change one part of it instead of copying it whole.
        loader=jinja2.ChoiceLoader([_OwnFiles(folders, limit),
                                    jinja2.PrefixLoader({"theme": _OwnFiles((THEME / TEMPLATES,), limit)})]),
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
    env.filters["course_text"] = jinja2.pass_context(lambda ctx, course: course_text(course, ctx["leaflet"]))
    env.filters["direction"] = direction
    env.filters["ltr"] = jinja2.pass_context(lambda ctx, text: left_to_right(text, ctx["leaflet"].direction))
    env.filters["nobreak"] = jinja2.pass_context(lambda ctx, text: unbreakable(text, ctx["leaflet"].direction))
    env.filters["url"] = jinja2.pass_context(lambda ctx, text: link(text, "web", ctx["leaflet"].direction))
    env.filters["link"] = jinja2.pass_context(lambda ctx, text, kind: link(text, kind, ctx["leaflet"].direction))
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


def course_text(course: model.Course, leaflet: Leaflet) -> str:
    """'This treatment is given as a course of 4–6 sessions, about 2 weeks apart.'"""
    return (leaflet.words["course_text"].replace("{sessions}", course.sessions_text)
            .replace("{interval}", format_duration(course.interval, locale_of(leaflet))))


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
    locale = locale_of(leaflet)
    opens, closes = (format_time(dt.time.fromisoformat(clock), "short", locale=locale)
                     for clock in (hours.opens, hours.closes))      # 08:00 in Britain, 8:00 AM in the US
    return words["urgent_hours"].replace("{days}", days).replace("{opens}", opens).replace("{closes}", closes)


# Letters on a phone's keypad, for numbers written with words (1-800-FDA-1088).
_KEYPAD = {letter: str(key) for key, letters in enumerate(("", "", "ABC", "DEF", "GHI", "JKL", "MNO", "PQRS",
                                                              "TUV", "WXYZ")) for letter in letters}


def link(text: str, kind: str, direction: str = "ltr") -> Markup:
    """A phone number ("tel"), email address ("mailto") or web address ("web") as a link a patient can tap in
    the PDF or the page, printed as written (kept left to right in right-to-left leaflets)."""
    text = str(text)
    if kind == "tel":
        target = "tel:" + "".join(_KEYPAD.get(char.upper(), char) for char in text if char.isalnum() or char == "+")
    elif kind == "mailto":
        target = "mailto:" + text
    elif kind == "web":
        target = text if text.startswith(("https://", "http://")) else "https://" + text
    else:
        raise ValueError(f"no such kind of link: {kind!r}")
    shown = {"tel": unbreakable, "web": web_address}.get(kind, left_to_right)(text, direction)
    return Markup('<a href="{}">{}</a>').format(target, shown)


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
    """The leaflet's language as written in the clinic's country: 10 January 2026 in Britain, January 10 in the US
    (careleaf.content.locales says which, where Babel has no data for the pair)."""
    return reader_locale(leaflet.lang, leaflet.brand.country, leaflet.brand.locales)


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
    picture = timeline_picture(leaflet, fonts) if leaflet.job.draws_timeline else None
    context: dict[str, Any] = {"leaflet": leaflet, "brand": leaflet.brand, "label": leaflet.words,
                               "timeline_picture": picture,
                               "qr": qr_code(leaflet), "mark": mark_words(leaflet), "mark_meta": MARK_META}
    try:
        return template.render(context)
    except SecurityError as error:
        place = _template_place(error.__traceback__)
        raise TemplateRefused(f"{place}the template reaches for something templates may not use ({error}); "
                              "templates print the leaflet's data with the filters careleaf documents, "
                              "nothing else") from None


def _template_place(trace) -> str:
    """'templates/x.html:3: ', the innermost template line a traceback passes through (Jinja2 puts them there)."""
    place = ""
    while trace is not None:
        name = trace.tb_frame.f_code.co_filename
        if name.endswith(".html"):
            place = f"{display_path(Path(name))}:{trace.tb_lineno}: "
        trace = trace.tb_next
    return place


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
    """A QR code to the leaflet online (Leaflet.web_address), when the brand has it online."""
    url = leaflet.web_address
    return {"src": qr_data_uri(url), "url": url} if url else None
