"""Stage 5: turn a leaflet's HTML into a tagged PDF with WeasyPrint.

The renderer is locked down: it may read files only from the asset folders (the
project's ``styles/``, then careleaf's theme), after symbolic links are resolved,
and never the network. A file is looked up by its place in those folders, the
project's first, so a project's stylesheet or font replaces the theme's.
Any other reference makes the render fail, naming the reference, rather than
being fetched or silently dropped. So does a file that should be there and is
not (a deleted font), and anything WeasyPrint itself could not load or draw:
left alone, it would log the problem and print the page without the logo, or
in a fallback font.

WeasyPrint is reached through careleaf.pdf.engine, which imports it lazily so that commands
which render nothing stay fast. Fonts and stylesheets are prepared once per process and
reused for every PDF.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from careleaf.content.settings import Limits
from careleaf.errors import RenderError
from careleaf.pdf.assets import MAX_DATA_URL, Assets, Missing, Refused, Unusable  # noqa: F401  (MAX_DATA_URL: here too)
from careleaf.pdf import engine
from careleaf.pdf.engine import uses_fast_subsetting  # noqa: F401  (the build reports it from here)
from careleaf.pdf.pages import PageFacts, page_facts

_limits = Limits()     # this process's limits (set_limits): a render worker's are the project's


def set_limits(limits: Limits) -> None:
    """The limits every asset this process renders is held to (careleaf.pdf.assets); a render worker's
    initializer sets the project's, and Pillow's own guard against decompression bombs to match."""
    global _limits
    _limits = limits
    _renderer.cache_clear()
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limits.image_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)   # an error for the leaflet, not a warning


@lru_cache(maxsize=None)
def _renderer(folders: tuple[Path, ...]):
    """The font configuration and parsed stylesheets, shared by every PDF this process makes.

    Checked before it is kept: fonts are loaded here, once, so a font that could not be
    loaded would otherwise go unnoticed in every PDF after the first.
    """
    _remove_at_exit()
    fonts = engine.font_configuration()
    fetcher = _fetcher_class()(folders)
    with _weasyprint_errors() as errors:
        sheets = {name: engine.stylesheet((folders[0] / f"{name}.css").as_uri(), fonts, fetcher)
                  for name in ("leaflet", "large-print")}
    problems = _problems(fetcher, errors)
    if problems:
        raise RenderError("the stylesheets or fonts could not be loaded: " + " ".join(problems))
    return fonts, sheets


def _remove_at_exit() -> None:
    """Let go of the renderers when this process ends, while WeasyPrint can still clean up after them.

    Each font configuration keeps a copy of the fonts in a temporary folder, removed when
    the configuration is garbage-collected: for one kept in this cache that is too late (at
    interpreter exit the removal itself fails) or never (a render worker ends with os._exit),
    leaving 1.5 MB behind per process. multiprocessing's finalizers run at the end of the
    main process and of its workers alike.
    """
    from multiprocessing.util import Finalize

    Finalize(None, _forget_renderers, exitpriority=0)


def _forget_renderers() -> None:
    import gc
    import signal

    # The process is ending. A render worker that begins this clean-up on its own as the pool
    # shuts down is then sent SIGTERM, whose handler exits at once, mid-way: ignore it until done.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _renderer.cache_clear()
    gc.collect()  # the configurations sit in reference cycles: collect them now, while all is in place


@lru_cache(maxsize=None)
def _fetcher_class():
    URLFetcher, URLFetcherResponse = engine.fetcher_classes()

    class AssetFetcher(URLFetcher):
        """Serves files from the asset folders as careleaf.pdf.assets allows; refuses everything else and
        remembers what it refused."""

        def __init__(self, folders: tuple[Path, ...]):
            super().__init__(allowed_protocols={"file", "data"}, fail_on_errors=False)
            self.assets = Assets(folders, _limits)
            self.refused: list[str] = []
            self.missing: list[str] = []
            self.unusable: list[str] = []

        @property
        def allowed(self) -> str:
            return self.assets.allowed

        def fetch(self, url: str, headers=None):
            try:
                return self._fetch(url, headers)
            except Refused as refusal:
                self.refused.append(str(refusal))
                raise
            except Missing as missing:
                self.missing.append(str(missing))
                raise
            except Unusable as unusable:
                self.unusable.append(str(unusable))
                raise

        def _fetch(self, url: str, headers):
            path = self.assets.vet(url)
            if path is None:
                self.assets.check_data(url)
                return super().fetch(url, headers)  # a small data: URL
            body, kind = self.assets.read(path)
            return URLFetcherResponse(path.as_uri(), body=body, headers={"Content-Type": kind})

    return AssetFetcher


@dataclass(frozen=True)
class Rendered:
    """A leaflet's PDF, and how full each of its pages is."""

    pdf: bytes
    facts: PageFacts


# How every leaflet is written: PDF/UA-1 (tagged, with its title and language), with the HTML's metadata.
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1", "custom_metadata": True}


def render(html: str, folders: tuple[Path, ...], *, large_print: bool = False, source: str = "") -> Rendered:
    """A tagged PDF/UA-1 document from a leaflet's HTML, whose relative references (the logo) are read
    from the asset ``folders``, the first one winning, with its tag tree mended (careleaf.pdf.tagging) and the
    fill of its pages. Raises RenderError."""
    from careleaf.pdf.tagging import write_pdf

    folders = tuple(Path(folder).resolve() for folder in folders)
    try:
        fonts, sheets = _renderer(folders)
    except RenderError as error:
        raise RenderError(f"{source}: {error}") from None
    fetcher = _fetcher_class()(folders)
    stylesheets = [sheets["leaflet"]] + ([sheets["large-print"]] if large_print else [])
    with _weasyprint_errors() as errors:
        try:
            # Laid out first, then written, so that the pages and their boxes can be read as well.
            document = engine.lay_out(html, base_url=folders[0].as_uri() + "/", fetcher=fetcher,
                                      stylesheets=stylesheets, fonts=fonts, **PDF_OPTIONS)
            pdf = write_pdf(document, finish=_mark(document, folders), **PDF_OPTIONS)
            facts = page_facts(document)
        except RenderError:
            raise  # the time limit, which already names the leaflet
        except MemoryError:
            raise RenderError(f"{source}: ran out of memory while rendering: the limit is "
                              f"{_limits.render_memory_mb:,} MB (the setting limits.render_memory_mb in "
                              "careleaf.yaml)") from None
        except Exception as error:  # WeasyPrint raises many kinds; the leaflet's name matters most
            raise RenderError(f"{source}: could not be rendered: {error}") from error
    if errors.interrupted:  # the time limit struck while WeasyPrint was loading an image, which it caught
        raise errors.interrupted
    problems = _problems(fetcher, errors)
    if problems:
        raise RenderError(f"{source}: " + " ".join(problems))
    return Rendered(pdf, facts)


def _mark(document, folders: tuple[Path, ...]):
    """Drawing the mark the leaflet's head asks for (a draft's), or None; the request itself is taken out
    of the metadata, which would otherwise carry it into the PDF."""
    from functools import partial

    from careleaf.pdf.fonts import fonts_in
    from careleaf.pdf.watermark import MARK_META, stamp

    words = document.metadata.custom.pop(MARK_META, None)
    return partial(stamp, words=words, fonts=fonts_in(folders)) if words else None


def render_pdf(html: str, folders: tuple[Path, ...], *, large_print: bool = False, source: str = "") -> bytes:
    """The PDF alone of ``render``."""
    return render(html, folders, large_print=large_print, source=source).pdf


def _problems(fetcher, errors: _ErrorLog) -> list[str]:
    """What went wrong in one render, in plain words, each kind of problem once."""
    found = []
    if fetcher.refused:
        found.append("refers to files the renderer may not read: " + "; ".join(dict.fromkeys(fetcher.refused)))
    if fetcher.missing:
        found.append(f"needs files that are missing from {fetcher.allowed}: " + "; ".join(dict.fromkeys(fetcher.missing)))
    if fetcher.unusable:
        found.append("needs files that cannot be used: " + "; ".join(dict.fromkeys(fetcher.unusable)))
    if errors and not found:  # a refusal is also logged as a failed load: say it once, the plain way
        found.append("could not be rendered: " + "; ".join(dict.fromkeys(errors)))
    return found


class _ErrorLog(list):
    """The resources WeasyPrint could not load or draw during one render (it logs them and carries on)."""

    interrupted: RenderError | None = None


# What WeasyPrint logs when a resource could not be had; its other errors are about the
# document (PDF/UA remarks on a decorative image, say) and are not ours to fail on.
_NOT_LOADED = ("Failed to load", "Failed to render", "Unsupported stylesheet")


class _Collector(logging.Handler):
    def __init__(self, errors: _ErrorLog):
        super().__init__(logging.ERROR)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(_NOT_LOADED):
            self.errors.append(record.getMessage()[:300])
        # WeasyPrint logs inside its 'except' blocks: if what it caught was ours (the
        # time limit), the render must stop as that, not carry on without the image.
        caught = sys.exc_info()[1]
        while caught is not None and self.errors.interrupted is None:
            if isinstance(caught, RenderError):
                self.errors.interrupted = caught
            caught = caught.__cause__ or caught.__context__


@contextmanager
def _weasyprint_errors() -> Iterator[_ErrorLog]:
    """Collect what WeasyPrint logs as errors; they reach no other log: we report them, once, in plain words."""
    logger = logging.getLogger("weasyprint")
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    errors = _ErrorLog()
    handler = _Collector(errors)
    logger.addHandler(handler)
    try:
        yield errors
    finally:
        logger.removeHandler(handler)

