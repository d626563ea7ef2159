"""Stage 5: turn a leaflet's HTML into a tagged PDF with WeasyPrint.

The renderer is locked down: it may read files only from the project's asset
folder (``styles/``), after symbolic links are resolved, and never the network.
Any other reference makes the render fail, naming the reference, rather than
being fetched or silently dropped.

WeasyPrint is imported lazily so that commands which render nothing stay fast.
Fonts and stylesheets are prepared once per process and reused for every PDF.
"""

from __future__ import annotations

import logging
import mimetypes
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import RenderError

MAX_DATA_URL = 256 * 1024


class Refused(Exception):
    """A resource outside the project's asset folder was asked for."""


@lru_cache(maxsize=None)
def _renderer(styles: Path):
    """The font configuration and parsed stylesheets, shared by every PDF this process makes."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)  # refusals are reported by us, not logged
    fonts = FontConfiguration()
    fetcher = _fetcher_class()(styles)
    sheets = {name: CSS(filename=str(styles / f"{name}.css"), font_config=fonts, url_fetcher=fetcher)
              for name in ("leaflet", "large-print")}
    return fonts, sheets


@lru_cache(maxsize=None)
def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AssetFetcher(URLFetcher):
        """Serves files from one folder; refuses everything else and remembers what it refused."""

        def __init__(self, root: Path):
            super().__init__(allowed_protocols={"file", "data"}, fail_on_errors=False)
            self.root = root.resolve()
            self.refused: list[str] = []

        def fetch(self, url: str, headers=None):
            try:
                return self._fetch(url, headers)
            except Refused as refusal:
                self.refused.append(str(refusal))
                raise

        def _fetch(self, url: str, headers):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                if len(url) > MAX_DATA_URL:
                    raise Refused(f"an embedded data: resource larger than {MAX_DATA_URL // 1024} KB")
                return super().fetch(url, headers)
            parts = urlsplit(url)
            if scheme != "file" or parts.netloc not in ("", "localhost"):
                raise Refused(f"{url[:120]} (only files in {self.root} may be used)")
            path = Path(unquote(parts.path)).resolve()
            if not path.is_relative_to(self.root) or not path.is_file():
                raise Refused(f"{unquote(parts.path)} (only files in {self.root} may be used)")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": kind})

    return AssetFetcher


def render_pdf(html: str, styles: Path, *, large_print: bool = False, source: str = "") -> bytes:
    """A tagged PDF/UA-1 document from a leaflet's HTML. Raises RenderError."""
    from weasyprint import HTML

    try:
        fonts, sheets = _renderer(styles.resolve())
        fetcher = _fetcher_class()(styles)
        stylesheets = [sheets["leaflet"]] + ([sheets["large-print"]] if large_print else [])
        document = HTML(string=html, base_url=str(styles.resolve()) + "/", url_fetcher=fetcher)
        pdf = document.write_pdf(stylesheets=stylesheets, font_config=fonts, pdf_variant="pdf/ua-1",
                                 custom_metadata=True)
    except Exception as error:  # WeasyPrint raises many kinds; the leaflet's name matters most
        raise RenderError(f"{source}: could not be rendered: {error}") from error
    if fetcher.refused:
        raise RenderError(f"{source}: refers to files the renderer may not read: " + "; ".join(fetcher.refused))
    return pdf


def uses_fast_subsetting() -> bool:
    """Whether WeasyPrint found HarfBuzz's font subsetter (else it falls back to fontTools, slower)."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    return harfbuzz_subset is not None and bool(harfbuzz.hb_version_atleast(4, 1, 0))
