"""The one list of what a process keeps of the project's files between leaflets, and when it forgets it.

A process that draws many leaflets keeps what it read of the project's files: the parsed stylesheets and
the fonts (careleaf.pdf.render, careleaf.pdf.fonts), the templates (careleaf.leaflet.html) and the words
they print (careleaf.content.labels). Those caches are keyed by the folders' paths, not by what is in them,
so a process that outlives an edit (the web app and its render workers live as long as ``serve``) must
forget them when a file changes: ``follow`` does, given the version of the project's files
(careleaf.build.stamps.files_version). A build's workers end with the build and need not.

A new cache of the project's files belongs in PROJECT_CACHES (tests/test_live_preview.py checks that
every one is).
"""

from __future__ import annotations

import threading

from careleaf.content import labels
from careleaf.leaflet import html, page
from careleaf.pdf import fonts, render

PROJECT_CACHES = (
    render._renderer,            # the stylesheets, parsed, and the fonts they load
    fonts.fonts_in,              # which asset folder each font comes from
    fonts.shaper,                # a font file, opened for measuring
    fonts.text_width,            # words measured in those fonts
    html._environment,           # the templates, compiled (Jinja2 notices an edit, not a file added over the theme's)
    page._environment,           # the web pages' templates, compiled, likewise
    labels.used_by_templates,    # the template words the templates print
)

_lock = threading.Lock()
_seen: str | None = None         # the version of the project's files this process's caches were filled from


def follow(version: str) -> None:
    """Forget every cache of the project's files if they changed (``version`` differs) since the last call."""
    global _seen
    with _lock:
        if version != _seen:
            forget()
            _seen = version


def forget() -> None:
    for cache in PROJECT_CACHES:
        cache.cache_clear()
