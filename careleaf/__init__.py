"""careleaf: printable, accessible patient leaflets from YAML wording.

The package is in layers, each importing only those below it (tests/test_architecture.py keeps it so):
errors and project at the bottom, then content, pdf, leaflet, build, review, handout, desk, web and cli.
A patient's leaflet from Python: ``careleaf.handout.handouts.handout(project, choice, …)``.
"""

__version__ = "0.1.0"
