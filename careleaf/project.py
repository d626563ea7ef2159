"""A project: a clinic's own folder, and where careleaf finds what it builds with.

A project is a folder holding::

    leaflets/        the content: brands, shared wording, treatments (required)
    styles/          assets: brands/<brand>/logo.svg, and optionally stylesheets or
                     fonts that replace careleaf's own, file by file
    templates/       optional: templates or template words (labels/<lang>.yaml)
                     that replace careleaf's own, file by file

careleaf's own templates, stylesheets, fonts and template words are its *theme*,
shipped inside the package (``careleaf/theme/``) with the same layout. A file in
the project wins over the theme's file of the same name, as with mkdocs or Sphinx
themes, so a clinic upgrades careleaf without merging anything into its wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from careleaf.errors import HandoutError, InputError, Problem

THEME = Path(__file__).resolve().parent / "theme"
CONTENT = "leaflets"


@dataclass(frozen=True)
class Project:
    """Where a project's content is, and the folders its templates and assets are looked up in."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / CONTENT

    @property
    def styles(self) -> Path:
        """The project's own asset folder (logos; stylesheets and fonts that replace the theme's)."""
        return self.root / "styles"

    @property
    def template_folders(self) -> tuple[Path, ...]:
        """Looked up in order: the project's templates/, then the theme's."""
        return (self.root / "templates", THEME / "templates")

    @property
    def asset_folders(self) -> tuple[Path, ...]:
        """Looked up in order: the project's styles/, then the theme's. The renderer reads nothing else."""
        return (self.styles, THEME / "styles")

    def template_file(self, relative: str) -> Path | None:
        return first_existing(self.template_folders, relative)

    def asset(self, relative: str) -> Path | None:
        return first_existing(self.asset_folders, relative)


def first_existing(folders: tuple[Path, ...], relative: str) -> Path | None:
    """The file at ``relative`` in the first folder that has it."""
    return next((folder / relative for folder in folders if (folder / relative).is_file()), None)


def find_project(given: Path | None = None, *, start: Path | None = None) -> Project:
    """The project named by --project, or the nearest folder holding leaflets/ from ``start`` upwards.

    Raises InputError with a plain message when there is none, so every command
    run outside a project says how to start one.
    """
    if given is not None:
        root = given.resolve()
        if not (root / CONTENT).is_dir():
            raise InputError([Problem(root, 1, 1, f"this is not a careleaf project: it has no {CONTENT}/ folder. "
                                                  f"Start one with 'careleaf new {given}'")])
        return Project(root)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONTENT).is_dir():
            return Project(folder)
    raise InputError([Problem(here, 1, 1, f"no careleaf project here: no folder from here upwards has a "
                                          f"{CONTENT}/ folder. Run this inside a project, give --project DIR, "
                                          "or start one with 'careleaf new DIR'")])


def refuse_shared_output(project: Project, target: Path, option: str) -> None:
    """A patient's file (leaflet, message) never goes into out/, the catalog's shared, published folder."""
    if Path(target).resolve().is_relative_to((project.root / "out").resolve()):
        raise HandoutError([f"{option}: a patient's leaflet is not kept in {project.root / 'out'}, the catalog's "
                            "shared folder; choose another place"])
