"""careleaf: printable, accessible patient leaflets from YAML wording."""

__version__ = "0.1.0"
