"""git, for the project's history: the commit it is at, and its items files as they were at a revision.

``changes`` compares the project now with a revision; the register keeps the
revision each handout was made from (``current_revision``), so that a later
``superseded`` can say what changed since. Every failure is a plain RevisionError.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from careleaf.content.catalog import Catalog, labels_file
from careleaf.content.items import language_of, model_of
from careleaf.content.validate import read_file
from careleaf.errors import RevisionError
from careleaf.project import CONTENT, THEME


def current_revision(root: Path) -> str:
    """The project's git commit now, or '' outside git: kept with each handout so that `superseded` can say
    what changed since."""
    try:
        return Git(root).commit("HEAD")
    except RevisionError:
        return ""


class Git:
    """git, run in the project folder; every failure becomes a plain RevisionError."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args: str) -> bytes:
        try:
            done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, timeout=60)
        except FileNotFoundError:
            raise RevisionError("git is not installed, so there is no earlier version to compare with") from None
        if done.returncode != 0:
            raise RevisionError(done.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
        return done.stdout

    def commit(self, revision: str) -> str:
        """The full commit id ``revision`` names (a commit, tag or branch), in the repository holding the project."""
        try:
            self.top = Path(self.run("rev-parse", "--show-toplevel").decode().strip()).resolve()
        except RevisionError:
            raise RevisionError(f"{self.root} is not in a git repository, so there is no earlier version "
                                "of the wording to compare with") from None
        if revision.startswith("-"):
            raise RevisionError(f"'{revision}' is not a revision; give a commit, tag or branch, for example HEAD~1")
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
        except RevisionError:
            raise RevisionError(f"git does not know the revision '{revision}'; give a commit, tag or branch, "
                                "for example HEAD~1 (see 'git log --oneline')") from None

    def files(self, commit: str, folder: str) -> list[str]:
        """Files under ``folder`` (relative to the project) at ``commit``, relative to the project."""
        listed = self.run("ls-tree", "-r", "-z", "--name-only", commit, "--", folder)
        return [name for name in listed.decode("utf-8").split("\0") if name]

    def show(self, commit: str, path: Path) -> bytes | None:
        """A file at ``commit`` by its path on disk; None when it is outside the repository or was not there."""
        if not path.resolve().is_relative_to(self.top):
            return None
        try:
            return self.run("show", f"{commit}:./{os.path.relpath(path, self.root)}")
        except RevisionError:
            return None


# --- the items files at a revision ------------------------------------------------------

def files_at(git: Git, commit: str, catalog: Catalog, revision: str, notes: list[str]) -> dict[str, tuple]:
    """Every items file at the revision as (value, document), read with the same loader and schema as now.

    Template words come from the project's own file at the revision, or else the
    theme's, when careleaf's theme is in the same repository (as in careleaf's own).
    """
    root = catalog.project.root
    names = [name for name in git.files(commit, CONTENT) if model_of(name)]
    labels = [labels_file(lang) for lang in catalog.labels]
    found = {}
    with tempfile.TemporaryDirectory(prefix="careleaf-changes-") as scratch:
        for name in [*names, *labels]:
            data = git.show(commit, root / name)
            if data is None and name in labels:
                data = git.show(commit, THEME / name)
            if data is None and name in labels:   # careleaf's theme, installed: its words are as they are now
                found[name] = (catalog.labels[language_of(name)], catalog.documents[name])
                continue
            if data is None:
                continue
            value, doc = _read_old(Path(scratch) / name, data, model_of(name))
            if value is None:
                notes.append(f"{name} could not be read at {revision} (it was not valid then), "
                             "so all of its wording is listed as new")
            else:
                found[name] = (value, doc)
    return found


def _read_old(path: Path, data: bytes, cls: Any) -> tuple[Any, Any]:
    # load.py reads files, not text, so the old version is written to a scratch file first.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    value, doc, _ = read_file(path, cls)
    return value, doc
