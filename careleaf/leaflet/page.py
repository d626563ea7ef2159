"""A leaflet as a web page for phones, and the brand's page listing its leaflets (the build writes them
in out/site/; careleaf.build.site decides which and when).

The page is drawn from the same assembled leaflet as the PDF, with the same component templates, so
its wording and facts are the PDF's. Only the frame differs (templates/site/): a page that reads on a
phone, with the timeline's table before its picture, the urgent-help box first in aftercare, a
language switch and links to print the PDF; phone numbers, email and web addresses are links.
There is no script, and everything the page uses (its stylesheet, fonts and logo) is beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale
from babel.units import format_unit
from markupsafe import Markup

from careleaf.leaflet.assemble import Leaflet, direction
from careleaf.leaflet.figures import LABEL_SIZE, Mark, timeline
from careleaf.leaflet.html import environment, format_duration, left_to_right, locale_of
from careleaf.leaflet.svg import data_uri
from careleaf.pdf.fonts import Fonts, fonts_in
from careleaf.project import Project

ASSETS = "_assets"                 # in each brand's site folder: its stylesheet, fonts and logo
STYLESHEET = "site.css"
# The width, in points, the timeline's picture is laid out for on a page: about a phone's column. It is
# drawn across the column, its words scaled with it (site.css), so they keep their places at any width.
PICTURE_WIDTH = 270.0


@dataclass(frozen=True)
class Download:
    """A PDF of the leaflet beside its page."""

    href: str                      # its file name, in the page's folder
    size: int                      # bytes
    large_print: bool


@dataclass(frozen=True)
class Language:
    """The leaflet in another language, for the language switch."""

    code: str
    href: str                      # relative to the page

    @property
    def name(self) -> str:
        return language_name(self.code)

    @property
    def direction(self) -> str:
        return direction(self.code)


@dataclass(frozen=True)
class Listed:
    """One published leaflet on the brand's index page."""

    lang: str
    href: str                      # relative to the brand's site folder
    title: str
    treatment: str                 # its treatment's name, shown when the title does not say it


def render_page(project: Project, leaflet: Leaflet, downloads: list[Download], languages: list[Language]) -> str:
    """The leaflet's web page: a standalone HTML document in out/site/<brand>/<lang>/<leaflet>/."""
    if leaflet.personal is not None or leaflet.draft or leaflet.overdue:
        raise ValueError(f"{leaflet.job.name}: only the catalog's approved, current leaflets are published")
    env = _environment(project.template_folders)
    context: dict[str, Any] = {
        "leaflet": leaflet, "brand": leaflet.brand, "label": leaflet.words, "qr": None, "mark": None,
        "timeline_picture": picture(leaflet, fonts_in(project.asset_folders)),
        "downloads": downloads, "languages": languages, "root": "../../", "assets": f"../../{ASSETS}/",
        "size": lambda d: file_size(d.size, locale_of(leaflet)),
    }
    return env.get_template("site/leaflet.html").render(context)


def render_index(project: Project, brand: Any, words: dict[str, str], lang: str, leaflets: list[Listed]) -> str:
    """The brand's page listing its published leaflets, grouped by language (out/site/<brand>/index.html)."""
    groups: dict[str, list[Listed]] = {}
    for entry in leaflets:
        groups.setdefault(entry.lang, []).append(entry)
    codes = dict.fromkeys(code for code in [*brand.languages, *sorted(groups)] if code in groups)
    ordered = [(code, language_name(code), direction(code), groups[code]) for code in codes]
    return _environment(project.template_folders).get_template("site/index.html").render(
        brand=brand, label=words, lang=lang, dir=direction(lang), groups=ordered, assets=f"{ASSETS}/")


def picture(leaflet: Leaflet, fonts: Fonts) -> dict[str, Any]:
    """The timeline's picture laid out for a phone's column, its words placed as the PDF places them."""
    locale = locale_of(leaflet)
    marks = [Mark(m.label, m.when, format_duration(m.when, locale), m.visit, m.after_repeat) for m in leaflet.timeline]
    drawn = timeline(marks, leaflet.words["treatment_day"], leaflet.brand.colours.primary, fonts,
                     font_size=LABEL_SIZE[False], rtl=leaflet.direction == "rtl", width=PICTURE_WIDTH,
                     say=lambda d: format_duration(d, locale))
    # The words' size as a share of the picture's width: site.css scales them with the picture.
    return {"src": data_uri(drawn.svg), "labels": drawn.labels,
            "label_size": f"{100 * LABEL_SIZE[False] / PICTURE_WIDTH:.3f}"}


def language_name(code: str) -> str:
    """A language's name in itself ('Türkçe', 'العربية'): the one its readers look for."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def file_size(size: int, locale: str) -> str:
    """'212 kB', in the page's language."""
    return format_unit(max(1, round(size / 1000)), "digital-kilobyte", length="short", locale=locale)


def dialled(number: str) -> str:
    """A phone number as a tel: link dials it: digits, with a leading + kept ('020 7946 0321' → '02079460321')."""
    return re.sub(r"(?!^\+)\D", "", number.strip())


@lru_cache(maxsize=None)
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    """The leaflets' environment (careleaf.leaflet.html), with links for phone numbers and addresses."""
    env = environment(folders)

    def link(ctx, text: str, scheme: str) -> Markup:
        target = {"tel": f"tel:{dialled(text)}", "mailto": f"mailto:{text}", "https": text}[scheme]
        return Markup('<a href="{}">{}</a>').format(target, left_to_right(text, ctx["leaflet"].direction))

    env.filters["link"] = jinja2.pass_context(link)
    return env
