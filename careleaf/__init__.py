"""careleaf: printable, accessible patient leaflets from YAML wording."""

__version__ = "0.1.0"


def handout(project, choice=None, **options):
    """One patient's leaflet as PDF bytes with its record: see careleaf.handout.handouts.handout."""
    from careleaf.handout.handouts import handout as make

    return make(project, choice, **options)
