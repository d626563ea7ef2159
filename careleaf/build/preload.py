"""Imported once by the build's forkserver, before it forks any render worker (see careleaf.build.workers):
every worker then starts with WeasyPrint and careleaf's drawing stage loaded, as a fork of the main
process would, while the main process itself never loads WeasyPrint."""

from careleaf.build.workers import import_weasyprint

import_weasyprint()

# What a worker needs to unpickle a leaflet and draw it.
from careleaf.build import run  # noqa: E402,F401
from careleaf.leaflet import html  # noqa: E402,F401
from careleaf.pdf import render  # noqa: E402,F401
