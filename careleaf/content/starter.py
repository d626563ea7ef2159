"""`careleaf new`: a small, working project written from careleaf's starter (careleaf/starter/)."""

from __future__ import annotations

from pathlib import Path

from careleaf.content.schemas import schema_texts
from careleaf.errors import InputError, Problem
from careleaf.project import CONTENT

STARTER = Path(__file__).resolve().parent.parent / "starter"


def new_project(folder: Path) -> list[Path]:
    """Write a small, working project (one brand, one treatment, English) into ``folder``, with the
    JSON Schemas editors' tools use. Refuses a folder that already holds files. Returns what was written."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError([Problem(folder, 1, 1, "this folder is not empty; give a new folder for the project, "
                                                "so nothing of yours is overwritten")])
    written = []
    files = {path.relative_to(STARTER): path.read_bytes() for path in sorted(STARTER.rglob("*")) if path.is_file()}
    files[Path(".gitignore")] = files.pop(Path("gitignore"))   # kept without its dot: packaging skips hidden files
    files |= {Path(CONTENT, "schema", name): text.encode("utf-8") for name, text in schema_texts().items()}
    for relative, data in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
