"""SVG primitives for the agreement plots: escaping, number labels, axes, markers, legends."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BLUE, VERMILLION, ORANGE, SKY = "#0072B2", "#D55E00", "#E69F00", "#56B4E9"
INK, MUTED, GRID, AXIS = "#1d2330", "#667085", "#e8eaee", "#98a2b3"
# Per dimension: colour, marker, line dash.
SERIES = {"valence": (BLUE, "circle", ""), "arousal": (VERMILLION, "square", "6 4")}
# Krippendorff (2004): α ≥ .800 reliable; .667 ≤ α < .800 tentative conclusions only.
ALPHA_GUIDES = (0.8, 0.667)

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(value) -> str:
    """Text or attribute content, XML-escaped (quotes included), without characters XML 1.0 forbids."""
    return escape(_NOT_XML.sub("", str(value)), quote=True)


def fnum(x, digits: int = 2) -> str:
    """A number for a label (typographic minus, no "-0.00"); an em dash for None or nan."""
    if x is None or not math.isfinite(x):
        return "—"
    x = round(float(x), digits)
    s = f"{0.0 if x == 0 else x:.{digits}f}"
    return s.replace("-", "−")


def coord(v: float) -> str:
    return f"{v:.1f}"


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


@dataclass(frozen=True)
class Axes:
    """Maps data to the plot rectangle (left, top, width, height) in viewBox units."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float

    def sx(self, v: float) -> float:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * self.width

    def sy(self, v: float) -> float:
        return self.top + (self.y1 - v) / (self.y1 - self.y0) * self.height


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def svg_open(uid: str, width: int, height: int, title: str, desc: str, cls: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="ag-plot {cls}" '
        f'role="img" aria-labelledby="{esc(uid)}-t {esc(uid)}-d" font-size="12" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
        f'<title id="{esc(uid)}-t">{esc(title)}</title>',
        f'<desc id="{esc(uid)}-d">{esc(desc)}</desc>',
    ]


def empty_plot(*, uid: str, title: str, message: str, width: int = 560, height: int = 240) -> str:
    """A framed placeholder that says why there is nothing to plot."""
    parts = svg_open(uid, width, height, title, message, "ag-empty")
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="8" fill="#fafbfc" '
        f'stroke="{GRID}" stroke-dasharray="4 4"/>'
    )
    parts.append(
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" dominant-baseline="middle" '
        f'fill="{MUTED}" font-size="14">{esc(message)}</text></svg>'
    )
    return "".join(parts)


def draw_axes(ax: Axes, xticks, yticks, xlabel: str, ylabel: str, xfmt, yfmt, zero: bool = True) -> list[str]:
    p = ['<g class="ag-grid">']
    for t in xticks:
        x = coord(ax.sx(t))
        strong = zero and t == 0 and ax.x0 < 0
        p.append(
            f'<line x1="{x}" y1="{coord(ax.top)}" x2="{x}" y2="{coord(ax.top + ax.height)}" '
            f'stroke="{AXIS if strong else GRID}"/>'
        )
        p.append(
            f'<text x="{x}" y="{coord(ax.top + ax.height + 16)}" text-anchor="middle" fill="{MUTED}">{esc(xfmt(t))}</text>'
        )
    for t in yticks:
        y = coord(ax.sy(t))
        strong = zero and t == 0 and ax.y0 < 0
        p.append(
            f'<line x1="{coord(ax.left)}" y1="{y}" x2="{coord(ax.left + ax.width)}" y2="{y}" '
            f'stroke="{AXIS if strong else GRID}"/>'
        )
        p.append(
            f'<text x="{coord(ax.left - 7)}" y="{y}" text-anchor="end" dominant-baseline="middle" fill="{MUTED}">{esc(yfmt(t))}</text>'
        )
    p.append(
        f'<rect class="frame" x="{coord(ax.left)}" y="{coord(ax.top)}" width="{coord(ax.width)}" '
        f'height="{coord(ax.height)}" fill="none" stroke="{AXIS}"/></g>'
    )
    cx, cy = ax.left + ax.width / 2, ax.top + ax.height / 2
    p.append(
        f'<text class="ag-axis-label" x="{coord(cx)}" y="{coord(ax.top + ax.height + 36)}" text-anchor="middle" fill="{INK}">{esc(xlabel)}</text>'
    )
    if ylabel:
        p.append(
            f'<text class="ag-axis-label" x="{coord(ax.left - 42)}" y="{coord(cy)}" text-anchor="middle" fill="{INK}" '
            f'transform="rotate(-90 {coord(ax.left - 42)} {coord(cy)})">{esc(ylabel)}</text>'
        )
    return p


def marker(kind: str, x: float, y: float, r: float, fill: str, extra: str = "") -> str:
    if kind == "square":
        return f'<rect x="{coord(x - r)}" y="{coord(y - r)}" width="{coord(2 * r)}" height="{coord(2 * r)}" fill="{fill}"{extra}/>'
    if kind == "diamond":
        d = r * 1.35
        return f'<path d="M{coord(x)} {coord(y - d)}L{coord(x + d)} {coord(y)}L{coord(x)} {coord(y + d)}L{coord(x - d)} {coord(y)}Z" fill="{fill}"{extra}/>'
    return f'<circle cx="{coord(x)}" cy="{coord(y)}" r="{coord(r)}" fill="{fill}"{extra}/>'


def legend(items: Sequence[tuple[str, str, str, str]], x: float, y: float) -> str:
    """items: (marker, colour, dash, label); laid out in one row from (x, y)."""
    p = ['<g class="ag-legend">']
    for shape, colour, dash, label in items:
        if dash is not None:
            p.append(
                f'<line x1="{coord(x)}" y1="{coord(y)}" x2="{coord(x + 22)}" y2="{coord(y)}" stroke="{colour}" stroke-width="2"'
                + (f' stroke-dasharray="{dash}"' if dash else "")
                + "/>"
            )
        if shape == "ring":
            p.append(
                f'<ellipse cx="{coord(x + 11)}" cy="{coord(y)}" rx="10" ry="6" fill="{SKY}" fill-opacity="0.18" stroke="{SKY}"/>'
            )
        elif shape:
            p.append(marker(shape, x + 11, y, 4, colour, ' stroke="#fff" stroke-width="1"'))
        p.append(
            f'<text x="{coord(x + 28)}" y="{coord(y)}" dominant-baseline="middle" fill="{INK}">{esc(label)}</text>'
        )
        x += 40 + 6.6 * len(label)
    p.append("</g>")
    return "".join(p)
