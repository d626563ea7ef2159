"""A project: a clinic's own folder, and where careleaf finds what it builds with.

A project is a folder holding::

    leaflets/        the content: brands, shared wording, treatments (required)
    styles/          assets: brands/<brand>/logo.svg, and optionally stylesheets or
                     fonts that replace careleaf's own, file by file
    templates/       optional: templates or template words (labels/<lang>.yaml)
                     that replace careleaf's own, file by file
    careleaf.yaml    optional: the front desk's settings (email, outbox, register)
    out/             written by the build: the catalog's PDFs, shared and published

careleaf's own templates, stylesheets, fonts and template words are its *theme*,
shipped inside the package (``careleaf/theme/``) with the same layout. A file in
the project wins over the theme's file of the same name, as with mkdocs or Sphinx
themes, so a clinic upgrades careleaf without merging anything into its wording.

The names of these folders are written here only; everything else asks a
``Project`` for them (``project.content``, ``project.inputs``, ``project.out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from careleaf.errors import HandoutError, InputError, Problem

THEME = Path(__file__).resolve().parent / "theme"

# The parts of a project, relative to its folder (and, for templates and styles, to the theme's).
CONTENT = "leaflets"
TEMPLATES = "templates"
STYLES = "styles"
SETTINGS = "careleaf.yaml"
OUT = "out"


@dataclass(frozen=True)
class Project:
    """Where a project's content is, and the folders its templates and assets are looked up in."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / CONTENT

    @property
    def templates(self) -> Path:
        """The project's own templates and template words, replacing the theme's file by file."""
        return self.root / TEMPLATES

    @property
    def styles(self) -> Path:
        """The project's own asset folder (logos; stylesheets and fonts that replace the theme's)."""
        return self.root / STYLES

    @property
    def settings_file(self) -> Path:
        """The front desk's settings (careleaf.content.settings); optional."""
        return self.root / SETTINGS

    @property
    def out(self) -> Path:
        """Where the build writes the catalog's PDFs: a shared, published folder, never for a patient's file."""
        return self.root / OUT

    @property
    def folders(self) -> tuple[Path, ...]:
        """The project's input folders: what a build or a preview reads of the project's own."""
        return (self.content, self.templates, self.styles)

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Everything of the project's own that careleaf reads: its input folders and its settings file."""
        return (*self.folders, self.settings_file)

    @property
    def template_folders(self) -> tuple[Path, ...]:
        """Looked up in order: the project's templates/, then the theme's."""
        return (self.templates, THEME / TEMPLATES)

    @property
    def asset_folders(self) -> tuple[Path, ...]:
        """Looked up in order: the project's styles/, then the theme's. The renderer reads nothing else."""
        return (self.styles, THEME / STYLES)

    def template_file(self, relative: str) -> Path | None:
        return first_existing(self.template_folders, relative)

    def asset(self, relative: str) -> Path | None:
        return first_existing(self.asset_folders, relative)

    def is_shared_output(self, path: Path) -> bool:
        """Whether ``path`` is inside out/, where anything may be published."""
        return Path(path).resolve().is_relative_to(self.out.resolve())


def first_existing(folders: tuple[Path, ...], relative: str) -> Path | None:
    """The file at ``relative`` in the first folder that has it."""
    return next((folder / relative for folder in folders if (folder / relative).is_file()), None)


def find_project(given: Path | None = None, *, start: Path | None = None) -> Project:
    """The project named by --project, or the nearest folder holding leaflets/ from ``start`` upwards.

    Raises InputError with a plain message when there is none, so every command
    run outside a project says how to start one.
    """
    if given is not None:
        project = Project(given.resolve())
        if not project.content.is_dir():
            raise InputError([Problem(project.root, 1, 1, f"this is not a careleaf project: it has no {CONTENT}/ "
                                                          f"folder. Start one with 'careleaf new {given}'")])
        return project
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if Project(folder).content.is_dir():
            return Project(folder)
    raise InputError([Problem(here, 1, 1, f"no careleaf project here: no folder from here upwards has a "
                                          f"{CONTENT}/ folder. Run this inside a project, give --project DIR, "
                                          "or start one with 'careleaf new DIR'")])


def refuse_shared_output(project: Project, target: Path, option: str) -> None:
    """A patient's file (leaflet, message) never goes into out/, the catalog's shared, published folder."""
    if project.is_shared_output(target):
        raise HandoutError([f"{option}: a patient's leaflet is not kept in {project.out}, the catalog's "
                            "shared folder; choose another place"])
