"""`python -m careleaf.review PROJECT`: check's findings and scores as JSON, from a process of its own.

The editor's page (web/editor_pages.py) runs check this way, so that a huge or hostile file costs this
process its time and memory, never the front desk's, and can be stopped when it takes too long.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from careleaf.project import Project
from careleaf.review import check


def main(arguments: list[str]) -> int:
    result = check.run(Project(Path(arguments[0])))
    json.dump(result.as_json(), sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
