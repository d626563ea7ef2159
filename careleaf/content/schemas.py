"""Write the JSON Schema files editors' tools use for completion and checks.

The schemas are derived from ``model.py``; run ``make schema`` after changing it.
A test fails when the committed files are out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from careleaf.content import model
from careleaf.content.validate import json_schema

SCHEMAS = {
    "treatment.schema.json": (model.Treatment, "careleaf treatment (facts and figures)"),
    "treatment-wording.schema.json": (model.TreatmentWording, "careleaf treatment wording (one language)"),
    "shared-wording.schema.json": (model.SharedWording, "careleaf shared wording (one language)"),
    "brand.schema.json": (model.Brand, "careleaf brand"),
    "check.schema.json": (model.CheckSettings, "careleaf check settings (readability targets, hard words, reviews)"),
}


def schema_texts() -> dict[str, str]:
    return {name: json.dumps(json_schema(cls, title), indent=2, ensure_ascii=False) + "\n"
            for name, (cls, title) in SCHEMAS.items()}


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in schema_texts().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "leaflets/schema")
