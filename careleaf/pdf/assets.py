"""What the renderer may read, and how much of it: one set of rules for the build and for `check`.

An asset (a stylesheet, a font, a logo, an image) is named by a URL. It may be used when:

* it is a file in one of the asset folders (the project's ``styles/``, then careleaf's theme), after
  links are followed, or a small ``data:`` URL; never the network, never another file on the machine;
* it is a regular file (not a pipe or a device) within its size limit: ``limits.image_bytes`` for logos
  and images, ``limits.asset_bytes`` for stylesheets and fonts (careleaf.content.settings.Limits);
* an SVG holds at most ``limits.svg_elements`` elements, and names nothing that could not be used itself;
* a raster image (PNG, JPEG, GIF, WebP…, on its own, inside an SVG or in a ``data:`` URL) has at most
  ``limits.image_pixels`` pixels, read from its header before anything is decoded.

Everything is decided before WeasyPrint is given a byte, so a 20 MB logo or a decompression bomb is refused
in a moment, naming the file, the limit and the careleaf.yaml setting that changes it. This module does not
import WeasyPrint: `check` uses it as it is.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import re
import warnings
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urljoin, urlsplit
from xml.etree import ElementTree

from careleaf.content.settings import Limits
from careleaf.project import SETTINGS, Refused as NotReadable, read_regular

MAX_DATA_URL = 256 * 1024


class Refused(Exception):
    """A resource outside the project's asset folder was asked for."""


class Missing(Exception):
    """A resource inside the asset folder that is not there (a deleted font, a renamed logo)."""


class Unusable(Exception):
    """A resource in the asset folder that may not be used: not a regular file, or over one of the limits."""


IMAGE_KINDS = ("image/",)


class Assets:
    """The asset ``folders`` (the first one's file winning) and the ``limits`` every asset is held to."""

    def __init__(self, folders: tuple[Path, ...], limits: Limits | None = None):
        self.folders = tuple(Path(folder).resolve() for folder in folders)
        self.limits = limits or Limits()

    @property
    def allowed(self) -> str:
        return " or ".join(str(folder) for folder in self.folders)

    def vet(self, url: str) -> Path | None:
        """The file a URL names, if it may be read; None for an allowed data: URL. Never reads it.

        The URL's place inside any asset folder is looked up in each folder in turn, so 'fonts/x.ttf'
        named by the theme's stylesheet is the project's font when the project has one.
        """
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            if len(url) > MAX_DATA_URL:
                raise Refused(f"an embedded data: resource larger than {MAX_DATA_URL // 1024} KB")
            return None
        parts = urlsplit(url)
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            raise Refused(f"{url[:120]} (only files in {self.allowed} may be used)")
        named = Path(os.path.normpath(unquote(parts.path)))
        relative = next((named.relative_to(f) for f in self.folders if named.is_relative_to(f)), None)
        if relative is None:
            raise Refused(f"{str(named)[:120]} (only files in {self.allowed} may be used)")
        for folder in self.folders:
            candidate = folder / relative
            try:
                path = candidate.resolve()
            except (OSError, ValueError):  # a loop of links, a NUL byte
                raise Refused(f"{str(candidate)[:120]} (only files in {self.allowed} may be used)") from None
            if not path.is_relative_to(folder):
                raise Refused(f"{candidate}, a link to {path} (only files in {self.allowed} may be used)")
            if path.exists():
                return path
        raise Missing(str(named))

    def read(self, path: Path) -> tuple[bytes, str]:
        """A vetted file's bytes and kind, after every check its kind has (size, SVG elements and references,
        pixels). Raises Refused, Missing or Unusable, naming the file."""
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        image = kind.startswith(IMAGE_KINDS)
        limit, setting = ((self.limits.image_bytes, "limits.image_bytes") if image
                          else (self.limits.asset_bytes, "limits.asset_bytes"))
        try:
            body = read_regular(path, within=self.folders, limit=limit, setting=setting)
        except NotReadable as refused:
            raise Unusable(str(refused)) from None
        self.check_body(body, kind, str(path), base=path.as_uri())
        return body, kind

    def check_data(self, url: str) -> None:
        """The checks of ``read`` for what a data: URL holds (an image inside a logo, say)."""
        header, _, payload = url[5:].partition(",")
        kind = header.split(";")[0].strip().lower() or "text/plain"
        try:
            body = base64.b64decode(unquote(payload)) if header.lower().endswith(";base64") else unquote_to_bytes(payload)
        except ValueError:
            return   # not readable as data: WeasyPrint cannot load it either, and says so
        self.check_body(body, kind, "an embedded data: image", base=None)

    def check_body(self, body: bytes, kind: str, name: str, *, base: str | None) -> None:
        if kind == "image/svg+xml":
            self._check_svg(body, name, base)
        elif kind.startswith(IMAGE_KINDS):
            self._check_pixels(body, name)

    def _check_svg(self, body: bytes, name: str, base: str | None) -> None:
        """An SVG's size in elements, and its own references vetted as if fetched.

        WeasyPrint fetches an SVG's images through the renderer's fetcher anyway, but skips or trips over
        others (@import, url() in its styles, <use> of another file); those are refused here too, so a logo
        that names something outside styles/ never passes unnoticed.
        """
        references = svg_references(body, self.limits.svg_elements, name)
        for reference in references:
            if reference.startswith("#"):
                continue  # a part of the same file: a gradient, a clip path
            try:
                url = urljoin(base, reference) if base else reference
                if self.vet(url) is None:
                    self.check_data(url)
            except (Refused, Missing) as error:
                raise type(error)(f"{error}, named in {name}") from None
            except Unusable as error:
                raise Unusable(f"{name}: {error}") from None

    def _check_pixels(self, body: bytes, name: str) -> None:
        from PIL import Image   # WeasyPrint's own image library; only its header reader is used here

        guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None   # only its header is read, to be judged here
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(body)) as picture:
                    width, height = picture.size
        except Exception:   # not an image Pillow knows: WeasyPrint cannot load it either, and says so
            return
        finally:
            Image.MAX_IMAGE_PIXELS = guard
        limit = self.limits.image_pixels
        if width * height > limit:
            raise Unusable(f"{name}: an image of {width:,} × {height:,} pixels; the limit is {limit:,} pixels "
                           f"(the setting limits.image_pixels in {SETTINGS}). Save the image at the size it "
                           "is printed")


# url(…) in CSS, quoted or not, and @import "…".
CSS_REFERENCE = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|@import\s*(?:"([^"]*)"|'([^']*)')""",
                           re.IGNORECASE)


def css_references(text: str) -> list[str]:
    return [next(group for group in match.groups() if group is not None).strip()
            for match in CSS_REFERENCE.finditer(text)]


def svg_references(body: bytes, max_elements: int, name: str) -> list[str]:
    """Every address an SVG names: href and src attributes, and url() or @import in its styles. Unusable
    when it holds more than ``max_elements`` elements: counted as it is parsed, so a million paths stop at
    the first one too many."""
    found = []
    count = 0
    try:
        for _, element in ElementTree.iterparse(io.BytesIO(body), events=("end",)):
            count += 1
            if count > max_elements:
                raise Unusable(f"{name}: an SVG of more than {max_elements:,} elements (the setting "
                               f"limits.svg_elements in {SETTINGS}). Simplify the drawing, or save it as a "
                               "picture")
            texts = [element.text or ""] if str(element.tag).rsplit("}", 1)[-1] == "style" else []
            for attribute, value in element.attrib.items():
                if attribute.rsplit("}", 1)[-1] in ("href", "src"):
                    found.append(value.strip())
                else:
                    texts.append(value)
            found += [reference for text in texts for reference in css_references(text)]
            element.clear()   # its children are counted already: keep memory flat
    except ElementTree.ParseError:
        return []  # WeasyPrint cannot read it either, and that fails the render (see render._weasyprint_errors)
    return [reference for reference in found if reference]


# --- `check`: every asset the build would read, vetted as the build vets it ------------------------

STYLESHEETS = ("leaflet.css", "large-print.css")


def stylesheet_problems(assets: Assets) -> list[str]:
    """What the build would refuse in the stylesheets it loads, and in every file they name (fonts,
    images, other stylesheets), each said once."""
    problems: dict[str, None] = {}
    seen: set[str] = set()
    waiting = [(assets.folders[0] / name).as_uri() for name in STYLESHEETS]
    while waiting:
        url = waiting.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            path = assets.vet(url)
            if path is None:
                assets.check_data(url)
                continue
            body, kind = assets.read(path)
        except (Refused, Missing, Unusable) as error:
            problems[_said(error, assets)] = None
            continue
        if kind == "text/css":
            waiting += [urljoin(path.as_uri(), reference) for reference in css_references(body.decode("utf-8", "replace"))
                        if not reference.startswith("#")]
    return list(problems)


def file_problem(assets: Assets, path: Path) -> str | None:
    """What the build would refuse in one asset file (a brand's logo), or None."""
    try:
        found = assets.vet(path.absolute().as_uri())
        if found is not None:
            assets.read(found)
    except (Refused, Missing, Unusable) as error:
        return _said(error, assets)
    return None


def _said(error: Exception, assets: Assets) -> str:
    if isinstance(error, Refused):
        return f"refers to a file the renderer may not read: {error}"
    if isinstance(error, Missing):
        return f"needs a file that is missing from {assets.allowed}: {error}"
    return str(error)
