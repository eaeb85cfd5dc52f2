"""Perceived beside experienced affect: the study's scatter of the observers' mean against the person's own
report (one per dimension), and one clip's observers on the valence × arousal plane with its self-reports.

Observers are drawn in blue circles, self-reports in vermillion stars (and differ by shape, not colour
alone); every plot has a <title> and <desc>, and the page gives the same numbers in a table."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .svg import (
    BLUE,
    INK,
    MUTED,
    SKY,
    VERMILLION,
    Axes,
    coord,
    draw_axes,
    empty_plot,
    esc,
    finite,
    fnum,
    legend,
    marker,
    svg_open,
)

AXIS_WORDS = {"valence": "unpleasant → pleasant", "arousal": "calm → activated"}


def star(x: float, y: float, r: float, fill: str, extra: str = "") -> str:
    """A five-pointed star centred on (x, y): the self-report's marker."""
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append(f"{coord(x + radius * math.cos(angle))},{coord(y + radius * math.sin(angle))}")
    return f'<polygon points="{" ".join(points)}" fill="{fill}"{extra}/>'


def _identity(ax: Axes) -> str:
    return (
        f'<line class="pe-identity" x1="{coord(ax.sx(-1))}" y1="{coord(ax.sy(-1))}" x2="{coord(ax.sx(1))}" '
        f'y2="{coord(ax.sy(1))}" stroke="{MUTED}" stroke-dasharray="5 4"/>'
    )


def perceived_scatter(rows: Sequence[dict], dim: str, *, href: str = "", uid: str = "") -> str:
    """Per clip, the observers' mean rating (x) against the person's own report (y) of `dim`, on [-1, 1]²,
    with the identity line (points above it: the person reported more than the observers perceived). rows:
    the report's perceived_vs_experienced["clips"]; `href` a link pattern with "{clip}" (each point links to
    its clip's page)."""
    uid = uid or f"pe-{dim}"
    title = f"{dim.capitalize()}: observers' mean vs the person's own report"
    points = [
        (row, row[dim])
        for row in rows
        if finite((row.get(dim) or {}).get("mean")) and finite(row[dim].get("self"))
    ]
    if not points:
        return empty_plot(
            uid=uid, title=title, message="No clip has both a self-report and an observer rating.",
            width=400, height=400,
        )  # fmt: skip
    above = sum(f["self"] > f["mean"] for _, f in points)
    below = sum(f["self"] < f["mean"] for _, f in points)
    desc = (
        f"{len(points)} clips; horizontal: the observers' mean {dim}, vertical: the filmed person's own report, "
        f"both from -1 to 1. The dashed diagonal is where both agree; {above} clips lie above it (the person "
        f"reported more {'pleasant' if dim == 'valence' else 'activated'} than observers perceived), {below} "
        "below."
    )
    ax = Axes(-1, 1, -1, 1, left=58, top=28, width=320, height=320)
    parts = svg_open(uid, 400, 410, title, desc, "pe-scatter")
    ticks = [-1, -0.5, 0, 0.5, 1]
    words = AXIS_WORDS.get(dim, "")
    parts += draw_axes(ax, ticks, ticks, f"Observers' mean ({words})", f"Own report ({words})", fnum, fnum)
    parts.append(_identity(ax))
    for row, f in points:
        x, y = ax.sx(f["mean"]), ax.sy(f["self"])
        tip = (
            f"{row.get('name') or row['clip']}: observers {fnum(f['mean'])} (n = {f.get('n', '?')}), own report "
            f"{fnum(f['self'])}, gap {fnum(f.get('gap'))}"
        )
        dot = (
            f'<g class="pe-pt" data-clip="{esc(row["clip"])}"><title>{esc(tip)}</title>'
            + marker("circle", x, y, 4.5, BLUE, ' stroke="#fff" stroke-width="1"')
            + "</g>"
        )
        if href:
            link = href.replace("{clip}", str(row["clip"]))
            dot = f'<a href="{esc(link)}" aria-label="{esc(tip)}">{dot}</a>'
        parts.append(dot)
    parts.append(
        legend([("circle", BLUE, None, "clip"), ("", MUTED, "5 4", "own report = observers")], ax.left, 12)
    )
    parts.append("</svg>")
    return "".join(parts)


def _ellipse(points: Sequence[tuple[float, float]]) -> tuple[float, float, float, float, float] | None:
    """(mean x, mean y, radius along the major axis, along the minor, angle in degrees) of the 1-sd ellipse
    of the points' sample covariance (n − 1); None below 2 points or when they do not vary."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    a = sum((p[0] - mx) ** 2 for p in points) / (n - 1)
    c = sum((p[1] - my) ** 2 for p in points) / (n - 1)
    b = sum((p[0] - mx) * (p[1] - my) for p in points) / (n - 1)
    half = math.sqrt(((a - c) / 2) ** 2 + b * b)
    major, minor = (a + c) / 2 + half, max((a + c) / 2 - half, 0.0)
    if major <= 0:
        return None
    return mx, my, math.sqrt(major), math.sqrt(minor), math.degrees(0.5 * math.atan2(2 * b, a - c))


def clip_plane(ratings: Sequence[dict], self_reports: Sequence[dict], *, uid: str = "clip-plane") -> str:
    """One clip on the valence × arousal plane: each observer's rating as a dot, their mean (a ring) and
    the 1-sd ellipse of their covariance, and each self-report as a star (a windowed one hollow), labelled.
    ratings: {"valence", "arousal"} (None = not rated / cannot judge); self_reports: {"valence", "arousal",
    "label", "whole"}; a self-report without one of the two values is drawn on that dimension's axis
    side only in the table, not here."""
    title = "Observers' ratings and the person's own report, valence × arousal"
    dots = [
        (r["valence"], r["arousal"]) for r in ratings if finite(r.get("valence")) and finite(r.get("arousal"))
    ]
    own = [s for s in self_reports if finite(s.get("valence")) and finite(s.get("arousal"))]
    if not dots and not own:
        return empty_plot(
            uid=uid, title=title, message="No rating on both valence and arousal yet.", width=440, height=440
        )
    ell = _ellipse(dots)
    desc = f"{len(dots)} observer ratings"
    if dots:
        mx, my = sum(d[0] for d in dots) / len(dots), sum(d[1] for d in dots) / len(dots)
        desc += f", mean valence {fnum(mx)}, arousal {fnum(my)}"
        desc += " with an ellipse of one standard deviation" if ell else ""
    desc += "; " + (
        "; ".join(f"own report {s.get('label', '')}: valence {fnum(s['valence'])}, arousal {fnum(s['arousal'])}" for s in own)
        if own else "no self-report with both values"
    ) + ". Both axes from -1 to 1."  # fmt: skip
    ax = Axes(-1, 1, -1, 1, left=58, top=34, width=360, height=360)
    parts = svg_open(uid, 440, 446, title, desc, "pe-plane")
    parts.append(
        f'<defs><clipPath id="{esc(uid)}-clip"><rect x="{ax.left}" y="{ax.top}" width="{ax.width}" height="{ax.height}"/></clipPath></defs>'
    )
    ticks = [-1, -0.5, 0, 0.5, 1]
    parts += draw_axes(
        ax, ticks, ticks, "Valence (unpleasant → pleasant)", "Arousal (calm → activated)", fnum, fnum
    )
    parts.append(f'<g clip-path="url(#{esc(uid)}-clip)">')
    if ell:
        mx, my, major, minor, angle = ell
        cx, cy = ax.sx(mx), ax.sy(my)
        parts.append(
            f'<ellipse class="pe-ellipse" cx="{coord(cx)}" cy="{coord(cy)}" rx="{coord(max(major, 0.004) * ax.width / 2)}" '
            f'ry="{coord(max(minor, 0.004) * ax.height / 2)}" transform="rotate({-angle:.1f} {coord(cx)} {coord(cy)})" '
            f'fill="{SKY}" fill-opacity="0.18" stroke="{SKY}"/>'
        )
    for i, (v, a) in enumerate(dots):
        parts.append(
            f'<g class="pe-rating"><title>Observer rating {i + 1}: valence {fnum(v)}, arousal {fnum(a)}</title>'
            + marker(
                "circle",
                ax.sx(v),
                ax.sy(a),
                3.6,
                BLUE,
                ' fill-opacity="0.75" stroke="#fff" stroke-width="0.8"',
            )
            + "</g>"
        )
    if dots:
        mx, my = sum(d[0] for d in dots) / len(dots), sum(d[1] for d in dots) / len(dots)
        parts.append(
            f'<g class="pe-mean"><title>Observers\' mean: valence {fnum(mx)}, arousal {fnum(my)}</title>'
            f'<circle cx="{coord(ax.sx(mx))}" cy="{coord(ax.sy(my))}" r="7" fill="none" stroke="{INK}" stroke-width="2"/>'
            + marker("circle", ax.sx(mx), ax.sy(my), 2, INK)
            + "</g>"
        )
    labels = []
    for s in own:
        x, y = ax.sx(s["valence"]), ax.sy(s["arousal"])
        whole = s.get("whole", True)
        style = (
            f' stroke="{INK}" stroke-width="1"'
            if whole
            else f' fill-opacity="0.15" stroke="{VERMILLION}" stroke-width="1.5"'
        )
        parts.append(
            f'<g class="pe-self"><title>Own report {esc(s.get("label", ""))}: valence {fnum(s["valence"])}, '
            f'arousal {fnum(s["arousal"])}</title>' + star(x, y, 9, VERMILLION, style) + "</g>"
        )  # fmt: skip
        right = x > ax.left + ax.width / 2  # label on the side with room
        labels.append(
            f'<text x="{coord(x - 11 if right else x + 11)}" y="{coord(y - 8)}" text-anchor="{"end" if right else "start"}" '
            f'fill="{INK}" font-size="11" aria-hidden="true">{esc(s.get("label", ""))}</text>'
        )
    parts.append("</g>")
    parts += labels
    parts.append(legend([("circle", BLUE, None, "observer"), ("ring", SKY, None, "±1 sd")], ax.left, 14))
    lx = ax.left + 180
    parts.append(star(lx + 8, 14, 6, VERMILLION, f' stroke="{INK}" stroke-width="1"'))
    parts.append(
        f'<text x="{coord(lx + 18)}" y="14" dominant-baseline="middle" fill="{INK}">own report</text>'
    )
    parts.append(
        f'<circle cx="{coord(lx + 110)}" cy="14" r="6" fill="none" stroke="{INK}" stroke-width="2"/>'
        f'<text x="{coord(lx + 120)}" y="14" dominant-baseline="middle" fill="{INK}">their mean</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def perceived_figures(section: dict | None, *, href: str = "") -> dict:
    """What the study page draws from a report's perceived_vs_experienced section: per dimension the
    scatter (SVG) and the figures with their intervals and the reasons for any that are undefined; the
    per-clip rows for the table."""
    if not section:
        return {}
    dims = section.get("dimensions") or {}
    rows = section.get("clips") or []
    out = []
    for dim in ("valence", "arousal"):
        fig = dims.get(dim) or {}
        out.append(
            {
                "dimension": dim,
                "svg": perceived_scatter(rows, dim, href=href),
                **fig,
                "reasons": fig.get("reasons") or {},
            }
        )
    return {"dimensions": out, "clips": rows, "n_paired": sum(1 for r in rows if _paired(r))}


def _paired(row: dict) -> bool:
    return any(finite((row.get(d) or {}).get("mean")) and finite(row[d].get("self")) for d in AXIS_WORDS)
