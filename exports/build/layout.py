"""The export's fixed shapes (exports.tables.Layout) and what each scheme version contributes to a rating's
columns (instrument, scale, confidence points), both read from the study's scheme versions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exports.tables import Layout
from labeling.models import SchemeVersion, Study
from labeling.scheme import DEFAULT_SPEC, raw_range

POINTS_INSTRUMENTS = ("sam", "grid")


@dataclass(frozen=True)
class Scheme:
    """One scheme version as the ratings table describes it."""

    id: int
    version: int
    spec: dict
    instrument: str
    points: int | None  # None for a slider
    scale_min: float
    scale_max: float
    confidence_points: int | None  # None when confidence was not asked


def study_schemes(study: Study) -> list[Scheme]:
    """The study's scheme versions, oldest first."""
    out = []
    for pk, version, spec in (
        SchemeVersion.objects.filter(study=study).order_by("version").values_list("id", "version", "spec")
    ):
        spec = {**DEFAULT_SPEC, **spec}
        lo, hi = raw_range(spec)
        out.append(
            Scheme(
                id=pk,
                version=version,
                spec=spec,
                instrument=spec["instrument"],
                points=None if spec["instrument"] == "slider" else int(spec["points"]),
                scale_min=lo,
                scale_max=hi,
                confidence_points=int(spec["confidence_points"]) if spec["ask_confidence"] else None,
            )
        )
    return out


def centres(n: int) -> tuple[float, ...]:
    """Centres of n equal-width bins over [-1, 1]."""
    return tuple(round(-1 + (2 * i + 1) / n, 12) for i in range(n))


def point_values(points: int) -> tuple[float, ...]:
    """The canonical values of a points scale's points (1 -> -1, the middle -> 0, points -> 1)."""
    return tuple(round(-1 + 2 * i / (points - 1), 12) for i in range(points))


def make_layout(schemes: list[Scheme], grid: tuple[int, int]) -> Layout:
    """bins_1d from the instrument's points when every version uses a points instrument with the same number
    of points; else the grid's bins. Tags: the union of the versions' vocabularies, oldest version first, in
    scheme order (a tag a later version adds comes after every earlier one, so indices stay put)."""
    tags: dict[str, None] = {}
    for scheme in schemes:
        for group in scheme.spec.get("context_groups", []):
            for tag in group.get("tags", []):
                tags.setdefault(f"{group['name']}:{tag}", None)
    kinds = {(s.instrument in POINTS_INSTRUMENTS, s.points) for s in schemes}
    if len(kinds) == 1 and next(iter(kinds))[0]:
        values = point_values(schemes[0].points or 0)
        return Layout(
            grid=grid, valence_bins=values, arousal_bins=values, bins_from="points", tags=tuple(tags)
        )
    return Layout(
        grid=grid,
        valence_bins=centres(grid[0]),
        arousal_bins=centres(grid[1]),
        bins_from="grid",
        tags=tuple(tags),
    )


def grid_bin(x: np.ndarray, n: int) -> np.ndarray:
    """Bin of each value of [-1, 1] among n equal-width bins: [edge_i, edge_i+1), the last one including 1
    (values within 1e-9 below an edge count as on it, so float noise in a canonical value cannot move it)."""
    return np.clip(np.floor((x + 1.0) * n / 2.0 + 1e-9), 0, n - 1).astype(np.int64)


def point_bin(x: np.ndarray, points: int) -> np.ndarray:
    """Index of the nearest point of a points scale (canonical values)."""
    return np.clip(np.rint((x + 1.0) * (points - 1) / 2.0), 0, points - 1).astype(np.int64)


def bins_1d(layout: Layout, x: np.ndarray, dim: int) -> np.ndarray:
    """The 1-D histogram bin of each value of dimension `dim` (0 valence, 1 arousal)."""
    n = len(layout.valence_bins if dim == 0 else layout.arousal_bins)
    return point_bin(x, n) if layout.bins_from == "points" else grid_bin(x, layout.grid[dim])
