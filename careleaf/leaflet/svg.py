"""SVG pieces of the leaflet's pictures: a box of the timeline drawn as its shape, the QR code to the leaflet
online, and an SVG as a data URI (pictures are embedded in the HTML, so the renderer fetches nothing)."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Box:
    """A rectangle drawn on the picture, strokes included, in points from its top left corner as printed."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: "Box") -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def mirrored(self, width: float) -> "Box":
        return Box(self.kind, width - self.x1, self.y0, width - self.x0, self.y1)


INK = "#1a1a1a"


def shape_svg(box: Box, meaning: dict[str, Any], colour: str, rtl: bool) -> str:
    """One box as SVG; a mark's stroke (0.75 wide in bars, 1.5 in visits) is inside its box."""
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    dash = ' stroke-dasharray="3 2"' if meaning.get("repeat") else ""
    fill = "#ffffff" if meaning.get("repeat") or meaning.get("visit") else colour
    if box.kind == "bar":
        stroke = 1.5 if meaning.get("visit") else 1.0
        inset = stroke / 2 + 0.25
        return (f'<rect x="{x0 + inset:.2f}" y="{y0 + inset:.2f}" width="{x1 - x0 - 2 * inset:.2f}" '
                f'height="{y1 - y0 - 2 * inset:.2f}" rx="{(y1 - y0) / 4:.2f}" fill="{fill}" stroke="{INK}" '
                f'stroke-width="{stroke}"{dash}/>')
    if box.kind == "diamond":
        r = (x1 - x0) / 2 - 0.75 * math.sqrt(2) - 0.1          # its stroke's mitred corners stay inside too
        points = f"{xm:.2f},{ym - r:.2f} {xm + r:.2f},{ym:.2f} {xm:.2f},{ym + r:.2f} {xm - r:.2f},{ym:.2f}"
        return f'<polygon points="{points}" fill="#ffffff" stroke="{INK}" stroke-width="1.5"{dash}/>'
    if box.kind == "dot":
        return (f'<circle cx="{xm:.2f}" cy="{ym:.2f}" r="{(x1 - x0) / 2 - 1.25:.2f}" fill="{fill}" stroke="{INK}" '
                f'stroke-width="1"{dash}/>')
    if box.kind == "origin":
        return f'<circle cx="{xm:.2f}" cy="{ym:.2f}" r="{(x1 - x0) / 2:.2f}" fill="{INK}"/>'
    if box.kind == "arrow":
        tip, back = (x0, x1) if rtl else (x1, x0)
        return f'<path d="M{back:.2f},{y0:.2f} L{tip:.2f},{ym:.2f} L{back:.2f},{y1:.2f} Z" fill="{INK}"/>'
    if box.kind == "grid":
        return (f'<line x1="{xm:.2f}" y1="{y0:.2f}" x2="{xm:.2f}" y2="{y1:.2f}" stroke="#9a9a9a" '
                f'stroke-width="{x1 - x0:.2f}" stroke-dasharray="1 2"/>')
    # the axis and its ticks: a line along the box's long side
    if box.kind == "axis":
        return f'<line x1="{x0:.2f}" y1="{ym:.2f}" x2="{x1:.2f}" y2="{ym:.2f}" stroke="{INK}" stroke-width="{y1 - y0:.2f}"/>'
    return f'<line x1="{xm:.2f}" y1="{y0:.2f}" x2="{xm:.2f}" y2="{y1:.2f}" stroke="{INK}" stroke-width="{x1 - x0:.2f}"/>'


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def qr_data_uri(url: str) -> str:
    """A vector QR code for a web address (error correction M: survives a smudge or a fold)."""
    import segno   # a tenth of a second to load: only for brands whose leaflets link to their web pages

    return segno.make(url, error="m", micro=False).svg_data_uri(scale=4, border=2, dark="#000000", light="#ffffff")
