"""The programs patients read PDFs with, as text extractors: Poppler (pdftotext, behind many desktop and
Linux viewers), pdf.js (Firefox's viewer, run with node from the pinned npm package) and PDFium (Chrome's
and Edge's viewer, through pypdfium2). A leaflet must read as written in each of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PDFJS_SCRIPT = Path(__file__).resolve().parent / "readers" / "pdfjs_text.mjs"


def poppler(path: Path) -> list[str]:
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                            check=True, timeout=60)
    pages = result.stdout.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdfjs(path: Path) -> list[str]:
    env = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}
    result = subprocess.run([shutil.which("node") or "node", str(PDFJS_SCRIPT), str(path)], capture_output=True,
                            text=True, check=True, timeout=60, cwd=ROOT, env=env)
    return json.loads(result.stdout)


def pdfium(path: Path) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


READERS = {"Poppler": poppler, "pdf.js": pdfjs, "PDFium": pdfium}
