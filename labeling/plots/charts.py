"""The three agreement plots: clip means with spread, α as labels accumulated, per-annotator reliability."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .svg import (
    ALPHA_GUIDES,
    AXIS,
    BLUE,
    INK,
    MUTED,
    ORANGE,
    SERIES,
    SKY,
    Axes,
    coord,
    draw_axes,
    empty_plot,
    esc,
    finite,
    fnum,
    legend,
    marker,
    nice_ticks,
    svg_open,
)

# --- 1. per-clip valence/arousal means with their spread ------------------------------------------------


def scatter_va(
    points: Sequence[dict], *, highlight: Iterable = (), uid: str = "ag-scatter", max_points: int = 800
) -> str:
    """Each clip's mean valence (x) and arousal (y) on [-1, 1]², with a ±1 sd ellipse; low-agreement clips
    (ids in `highlight`) drawn as orange diamonds on top. points: dicts from `clip_points`. Above
    max_points, the highlighted clips and the most-rated others are drawn (the <desc> says so)."""
    title = "Clip means: valence × arousal"
    usable = [p for p in points if finite(p.get("valence")) and finite(p.get("arousal"))]
    if not usable:
        return empty_plot(uid=uid, title=title, message="No rated clips yet.", width=440, height=440)
    marked = set(highlight)
    shown = sorted(usable, key=lambda p: (p["clip"] not in marked, -(p.get("n") or 0), str(p["clip"])))[
        :max_points
    ]
    shown.sort(key=lambda p: p["clip"] in marked)  # highlighted last = on top
    n_marked = sum(p["clip"] in marked for p in shown)
    desc = (
        f"Mean valence (horizontal) and arousal (vertical) of {len(shown)} clips"
        + (f" of {len(usable)}" if len(shown) < len(usable) else "")
        + f", each with an ellipse of ±1 standard deviation; {n_marked} low-agreement clips are marked."
    )
    ax = Axes(-1, 1, -1, 1, left=58, top=34, width=360, height=360)
    parts = svg_open(uid, 440, 446, title, desc, "ag-scatter")
    parts.append(
        f'<defs><clipPath id="{esc(uid)}-clip"><rect x="{ax.left}" y="{ax.top}" width="{ax.width}" height="{ax.height}"/></clipPath></defs>'
    )
    ticks = [-1, -0.5, 0, 0.5, 1]
    parts += draw_axes(
        ax, ticks, ticks, "Valence (unpleasant → pleasant)", "Arousal (calm → activated)", fnum, fnum
    )
    for label, x, y, anchor in (
        ("pleasant · activated", ax.left + ax.width - 6, ax.top + 14, "end"),
        ("unpleasant · calm", ax.left + 6, ax.top + ax.height - 8, "start"),
    ):
        parts.append(
            f'<text x="{coord(x)}" y="{coord(y)}" text-anchor="{anchor}" fill="{AXIS}" font-size="11">{label}</text>'
        )
    fade = 0.14 if len(shown) <= 150 else 0.06
    parts.append(f'<g clip-path="url(#{esc(uid)}-clip)">')
    for p in shown:
        hot = p["clip"] in marked
        x, y = ax.sx(p["valence"]), ax.sy(p["arousal"])
        tip = (
            f"{p.get('name', p['clip'])} · n = {p.get('n', '?')} · valence {fnum(p['valence'])} ± {fnum(p.get('valence_sd'))}"
            f" · arousal {fnum(p['arousal'])} ± {fnum(p.get('arousal_sd'))}"
            + (" · low agreement" if hot else "")
        )
        parts.append(
            f'<g class="ag-pt{" hot" if hot else ""}" data-clip="{esc(p["clip"])}"><title>{esc(tip)}</title>'
        )
        sdv, sda = p.get("valence_sd"), p.get("arousal_sd")
        if finite(sdv) and finite(sda) and (sdv > 0 or sda > 0):
            colour = ORANGE if hot else SKY
            parts.append(
                f'<ellipse cx="{coord(x)}" cy="{coord(y)}" rx="{coord(max(sdv, 0.004) * ax.width / 2)}" '
                f'ry="{coord(max(sda, 0.004) * ax.height / 2)}" fill="{colour}" fill-opacity="{0.2 if hot else fade}" '
                f'stroke="{colour}" stroke-opacity="{0.9 if hot else 0.45}"/>'
            )
        if hot:
            parts.append(marker("diamond", x, y, 4.5, ORANGE, f' stroke="{INK}" stroke-width="1"'))
        else:
            parts.append(marker("circle", x, y, 3.2, BLUE, ' stroke="#fff" stroke-width="0.8"'))
        parts.append("</g>")
    parts.append("</g>")
    parts.append(
        legend(
            [
                ("circle", BLUE, None, "clip mean"),
                ("ring", SKY, None, "±1 sd"),
                ("diamond", ORANGE, None, "low agreement"),
            ],
            ax.left,
            14,
        )
    )
    parts.append("</svg>")
    return "".join(parts)


# --- 2. α as labels accumulated ------------------------------------------------------------------------


def accumulation_plot(series: dict[str, Sequence[dict]], *, uid: str = "ag-accum") -> str:
    """Krippendorff's α (interval) at checkpoints in submission order, one line per dimension, against the
    number of annotations; dashed guides at α = .800 and .667. series: {"valence": [{"n_annotations",
    "alpha_interval"}], "arousal": [...]}; a null α breaks the line."""
    title = "Agreement as labels accumulated"
    pts = {d: [(r["n_annotations"], r.get("alpha_interval")) for r in (series.get(d) or [])] for d in SERIES}
    values = [a for rows in pts.values() for _, a in rows if finite(a)]
    if not values:
        return empty_plot(uid=uid, title=title, message="Not enough overlapping ratings for α yet.")
    n_max = max(n for rows in pts.values() for n, _ in rows) or 1
    lo = min(0.0, math.floor(min(values) * 5) / 5)
    ax = Axes(0, n_max, lo, 1, left=56, top=30, width=460, height=180)
    last = {d: next((a for _, a in reversed(rows) if finite(a)), None) for d, rows in pts.items()}
    desc = (
        "Krippendorff's alpha (interval) computed on the first N annotations in submission order, up to "
        f"{n_max} annotations; latest: valence {fnum(last['valence'], 3)}, arousal {fnum(last['arousal'], 3)}."
    )
    parts = svg_open(uid, 560, 256, title, desc, "ag-accum")
    xt = [t for t in nice_ticks(0, n_max, 6) if t == int(t)]
    parts += draw_axes(
        ax,
        xt,
        nice_ticks(lo, 1, 5),
        "Annotations submitted",
        "α (interval)",
        lambda t: f"{int(t):,}",
        lambda t: fnum(t, 1),
    )
    for g in ALPHA_GUIDES:
        if g > lo:
            y = coord(ax.sy(g))
            parts.append(
                f'<line x1="{coord(ax.left)}" y1="{y}" x2="{coord(ax.left + ax.width)}" y2="{y}" stroke="{MUTED}" stroke-dasharray="2 3"/>'
            )
            parts.append(
                f'<text x="{coord(ax.left + ax.width + 5)}" y="{y}" dominant-baseline="middle" fill="{MUTED}" font-size="10">{g:.3f}</text>'
            )
    for dim, rows in pts.items():
        colour, shape, dash = SERIES[dim]
        segments, current = [], []
        for n, a in rows:
            if finite(a):
                current.append((ax.sx(n), ax.sy(a), n, a))
            elif current:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        parts.append(f'<g class="ag-series" data-dimension="{dim}">')
        for seg in segments:
            if len(seg) > 1:
                path = " ".join(f"{coord(x)},{coord(y)}" for x, y, _, _ in seg)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    + (f' stroke-dasharray="{dash}"' if dash else "")
                    + "/>"
                )
            for x, y, n, a in seg:
                parts.append(
                    f"<g><title>{dim}: α = {fnum(a, 3)} after {n:,} annotations</title>"
                    + marker(shape, x, y, 3.5, colour, ' stroke="#fff" stroke-width="1"')
                    + "</g>"
                )
        parts.append("</g>")
    parts.append(legend([(m, c, d, dim) for dim, (c, m, d) in SERIES.items()], ax.left, 14))
    parts.append("</svg>")
    return "".join(parts)


# --- 3. per-annotator reliability ----------------------------------------------------------------------


def reliability_plot(rows: Sequence[dict], *, uid: str = "ag-rel", max_rows: int = 40) -> str:
    """Dot plot of each annotator's Pearson r with the leave-one-out mean of the others (valence circle,
    arousal square), sorted from most to least consistent, with their number of rated clips at the right.
    rows: dicts from `annotator_rows`. Above max_rows, the annotators with the most ratings are drawn."""
    title = "Per-annotator reliability"
    rows = [r for r in rows if finite(r.get("valence_r")) or finite(r.get("arousal_r"))]
    if not rows:
        return empty_plot(
            uid=uid, title=title, message="Needs clips rated by several annotators.", height=160
        )
    total = len(rows)
    rows = sorted(rows, key=lambda r: -(r.get("n") or 0))[:max_rows]
    rows.sort(key=mean_r, reverse=True)
    values = [r[k] for r in rows for k in ("valence_r", "arousal_r") if finite(r.get(k))]
    lo = min(0.0, math.floor(min(values) * 5) / 5)
    row_h, top = 22, 32
    ax = Axes(lo, 1, 0, 1, left=130, top=top, width=370, height=row_h * len(rows))
    desc = (
        f"Correlation of each annotator's ratings with the mean of the other annotators, {len(rows)} annotators"
        + (f" of {total} (those with the most ratings)" if total > len(rows) else "")
        + ", highest first."
    )
    parts = svg_open(uid, 560, int(top + ax.height + 48), title, desc, "ag-rel")
    parts += draw_axes(
        ax, nice_ticks(lo, 1, 5), [], "r with the leave-one-out mean", "", lambda t: fnum(t, 1), str
    )
    parts.append(
        f'<text x="{coord(ax.left + ax.width + 52)}" y="{top - 8}" text-anchor="end" fill="{MUTED}">clips</text>'
    )
    for i, r in enumerate(rows):
        y = top + row_h * (i + 0.5)
        name = str(r.get("username") or r.get("annotator"))
        short = name if len(name) <= 16 else name[:15] + "…"
        tip = f"{name} · {r.get('n', 0)} clips · r valence {fnum(r.get('valence_r'))} · r arousal {fnum(r.get('arousal_r'))}"
        parts.append(
            f'<g class="ag-row" data-annotator="{esc(r.get("annotator"))}"><title>{esc(tip)}</title>'
        )
        if i % 2 == 0:
            parts.append(
                f'<rect x="{coord(ax.left)}" y="{coord(y - row_h / 2)}" width="{coord(ax.width)}" height="{row_h}" fill="#f7f8fa"/>'
            )
        parts.append(
            f'<text x="{coord(ax.left - 8)}" y="{coord(y)}" text-anchor="end" dominant-baseline="middle" fill="{INK}">{esc(short)}</text>'
        )
        xs = [ax.sx(r[k]) for k in ("valence_r", "arousal_r") if finite(r.get(k))]
        if len(xs) == 2:
            parts.append(
                f'<line x1="{coord(xs[0])}" y1="{coord(y)}" x2="{coord(xs[1])}" y2="{coord(y)}" stroke="{AXIS}" stroke-width="1.5"/>'
            )
        for dim, (colour, shape, _) in SERIES.items():
            v = r.get(f"{dim}_r")
            if finite(v):
                parts.append(marker(shape, ax.sx(v), y, 4.2, colour, ' stroke="#fff" stroke-width="1"'))
        parts.append(
            f'<text x="{coord(ax.left + ax.width + 52)}" y="{coord(y)}" text-anchor="end" dominant-baseline="middle" fill="{MUTED}">{r.get("n", 0):,}</text></g>'
        )
    parts.append(legend([(m, c, None, dim) for dim, (c, m, _) in SERIES.items()], ax.left, 14))
    parts.append("</svg>")
    return "".join(parts)


def mean_r(row: dict) -> float:
    vals = [row[k] for k in ("valence_r", "arousal_r") if finite(row.get(k))]
    return sum(vals) / len(vals) if vals else -math.inf
