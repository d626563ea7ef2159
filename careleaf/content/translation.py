"""Keeping translations honest: which translated wording is older than its source.

Each translated wording file ends with a ``translated_from:`` block holding a
short fingerprint of the source-language wording every item was translated
from. When the source changes, its fingerprint no longer matches, and the
translated item is *stale*: ``check`` names it, and PDFs in that language carry
an "awaiting translation review" note until a translator updates the wording
and runs ``careleaf translations --reviewed FILE``. A new translation file has no
such block yet: it is reported once, as new, with that same command.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from careleaf.content import model
from careleaf.content.items import wording_items
from careleaf.content.load import MAX_FILE_BYTES
from careleaf.errors import InputError, Problem, display_path
from careleaf.project import read_own

SOURCE_LANGUAGE = "en"
BLOCK = "translated_from"
COMMAND = "careleaf translations --reviewed"     # as the block says it was written, and as messages name it


def record_command(path: Path | str) -> str:
    """The command that records a translation file as reviewed: 'careleaf translations --reviewed leaflets/…'."""
    return f"{COMMAND} {display_path(path) if isinstance(path, Path) else path}"


def fingerprint(value: Any) -> str:
    """A short, stable digest of the words in an item (its approval flag and the topics it covers are not wording)."""
    if dataclasses.is_dataclass(value):
        value = {k: v for k, v in dataclasses.asdict(value).items() if k not in ("needs_approval", "covers")}
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def source_fingerprints(source: model.TreatmentWording | model.SharedWording) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for group, name, value in wording_items(source):
        table.setdefault(group, {})[name] = fingerprint(value)
    return table


def is_new(translated: model.TreatmentWording | model.SharedWording) -> bool:
    """A translation never recorded as reviewed against its source: every item of it is unreviewed, not changed."""
    record = translated.translated_from
    return record is None or record.language != SOURCE_LANGUAGE


def stale_items(source: model.TreatmentWording | model.SharedWording,
                translated: model.TreatmentWording | model.SharedWording) -> list[tuple[str, str]]:
    """(group, name) of each translated item whose source wording changed since it was translated."""
    record = translated.translated_from
    recorded = dataclasses.asdict(record.fingerprints) if record and record.language == SOURCE_LANGUAGE else {}
    current = source_fingerprints(source)
    return [(group, name) for group, names in current.items() for name, print_ in names.items()
            if recorded.get(group, {}).get(name) != print_]


def mark_reviewed(path: Path, source: model.TreatmentWording | model.SharedWording) -> None:
    """Rewrite a translation file's ``translated_from:`` block to the source's current fingerprints.

    Run by the translator after bringing the translation up to date. Only that
    block (always the last in the file) is replaced; comments and wording stay.
    """
    text = read_own(path, limit=MAX_FILE_BYTES).decode("utf-8")
    kept = re.split(rf"(?m)^{BLOCK}:.*$", text, maxsplit=1)[0].rstrip() + "\n"
    lines = [f"\n{BLOCK}:",
             f"  # Written by '{COMMAND}'; do not edit by hand.",
             f"  language: {SOURCE_LANGUAGE}",
             "  fingerprints:"]
    for group, names in source_fingerprints(source).items():
        lines.append(f"    {group}:")
        lines += [f"      {name}: \"{value}\"" for name, value in names.items()]
    path.write_text(kept + "\n".join(lines) + "\n", "utf-8")


def out_of_date(catalog) -> dict[str, list[str]]:
    """Each translation file with its stale items, as shown to the translator."""
    report: dict[str, list[str]] = {}
    for path, source, translated in _translation_files(catalog):
        stale = stale_items(source, translated)
        if stale:
            report[display_path(path)] = [f"{group}/{name}" for group, name in stale]
    return report


def reviewed(catalog, path: Path) -> None:
    """Record that the translation file at ``path`` now matches its source. Raises InputError otherwise."""
    for candidate, source, _ in _translation_files(catalog):
        if candidate.resolve() == path:
            mark_reviewed(path, source)
            return
    raise InputError([Problem(path, 1, 1, "this is not a translation file of the catalog "
                                          "(leaflets/shared/<lang>.yaml or leaflets/treatments/<id>/<lang>.yaml)")])


def _translation_files(catalog):
    """(path, source wording, translated wording) for every translation in the catalog."""
    if SOURCE_LANGUAGE not in catalog.shared:
        return
    for lang, (wording, doc) in sorted(catalog.shared.items()):
        if lang != SOURCE_LANGUAGE:
            yield doc.path, catalog.shared[SOURCE_LANGUAGE][0], wording
    for entry in catalog.treatments.values():
        for lang, wording in sorted(entry.wording.items()):
            if lang != SOURCE_LANGUAGE and SOURCE_LANGUAGE in entry.wording:
                yield entry.wording_docs[lang].path, entry.wording[SOURCE_LANGUAGE], wording
