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

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from careleaf.errors import HandoutError, InputError, Problem, display_path

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


# --- reading a file of the project's own --------------------------------------------------------------

class Refused(Exception):
    """A file careleaf will not read: it leads out of the project, is not a regular file, or is over its limit.

    The message names the file and why; it never quotes what the file holds (it may be any file on the machine).
    """

    def __init__(self, path: Path, reason: str, kind: str = "unreadable"):
        self.path, self.reason, self.kind = Path(path), reason, kind   # kind: outside, not-a-file, too-large, unreadable
        super().__init__(f"{display_path(self.path)}: {reason}")


_CHUNK = 1 << 20


def read_regular(path: Path, *, within: Iterable[Path], limit: int, setting: str | None = None) -> bytes:
    """The bytes of ``path``, a regular file that resolves inside one of the folders ``within`` (links followed),
    of at most ``limit`` bytes; Refused otherwise.

    Every file careleaf reads of a project (its wording, stamps, templates, stylesheets, fonts, logos) comes
    through here. The size the file system reports is not trusted (it is 0 for /dev/zero or a pipe): at most
    ``limit`` + 1 bytes are read, and a file that gives more is refused. A pipe or device is never opened for
    reading at all, so nothing waits on a writer that never comes. ``setting``: the careleaf.yaml setting that
    changes ``limit``, named in the refusal.
    """
    path = Path(path)
    with _opened(path, within) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Refused(path, f"this file is too large: the limit is {limit:,} bytes"
                            + (f" (the setting {setting} in {SETTINGS})" if setting else "")
                            + ". Check that it is the file meant, or raise the limit", "too-large")
    return data


def hash_regular(path: Path, *, within: Iterable[Path], digest) -> None:
    """Feed a regular file of the project's own (as ``read_regular`` checks it) to ``digest``, a piece at a time."""
    with _opened(path, within) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def _opened(path: Path, within: Iterable[Path]):
    real = resolved_inside(path, within)
    try:
        before = os.stat(real)
        _refuse_unless_regular(path, before.st_mode)
        # O_NONBLOCK: should the file become a pipe between the check and here, opening it does not wait.
        descriptor = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
                             | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise Refused(path, f"cannot read this file: {error.strerror}") from None
    opened = os.fstat(descriptor)
    if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(opened.st_mode):
        os.close(descriptor)
        raise Refused(path, "this file changed while it was being opened; try again")
    return os.fdopen(descriptor, "rb")


def resolved_inside(path: Path, within: Iterable[Path]) -> Path:
    """``path`` with its links followed, if that is inside one of the folders ``within``; Refused otherwise."""
    try:
        real = Path(path).resolve(strict=True)
    except FileNotFoundError:
        raise Refused(path, "cannot read this file: No such file or directory") from None
    except (OSError, RuntimeError, ValueError):   # a loop of links, a NUL byte
        raise Refused(path, "this file cannot be found: it is a loop of links or an invalid name") from None
    folders = [Path(folder).resolve() for folder in within]
    if not any(real.is_relative_to(folder) for folder in folders):
        raise Refused(path, "this is a link to a file outside the project; careleaf reads only the project's own "
                            "files: put the file itself here", "outside")
    return real


def _refuse_unless_regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    raise Refused(path, f"this is {kind}, not a file careleaf can read; put an ordinary file here", "not-a-file")


def read_own(path: Path, *, limit: int, setting: str | None = None) -> bytes:
    """``read_regular`` for a file of the project (or of careleaf's theme) named by its place in it."""
    return read_regular(path, within=own_folders(path), limit=limit, setting=setting)


def project_root_of(path: Path) -> Path:
    """The project a file belongs to: the nearest folder above it (as named, links not followed) that holds
    leaflets/ or careleaf.yaml; its own folder when there is none."""
    path = Path(os.path.abspath(path))
    for folder in path.parents:
        if (folder / CONTENT).is_dir() or (folder / SETTINGS).is_file():
            return folder
    return path.parent


def own_folders(path: Path) -> tuple[Path, ...]:
    """Where a file named ``path`` may lead: its project's folder, each of the project's own folders
    (wherever that folder is: a clinic may keep styles/ as a link to one shared by its sites), and
    careleaf's theme. A single file that links out of them is refused."""
    root = project_root_of(path)
    return (root, *Project(root).folders, THEME)
