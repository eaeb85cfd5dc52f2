"""Inline SVG plots for the agreement section of the study page.

Pure functions: plain Python data in (pieces of an AgreementReport's result), SVG markup out. No Django, no
JavaScript, nothing fetched. Every string taken from data is escaped; every plot carries <title>/<desc>, axis
labels and a viewBox (it scales with its container). Colours come from Okabe & Ito's colour-blind-safe
palette and each series also differs by marker shape and dash, so nothing is told by colour alone.
"""

from .charts import accumulation_plot, reliability_plot, scatter_va
from .perceived import clip_plane, perceived_figures, perceived_scatter
from .shape import (
    alpha_rows,
    annotator_rows,
    clip_points,
    icc_rows,
    low_agreement_rows,
    report_figures,
    tag_rows,
)
from .svg import Axes, empty_plot, esc, fnum, nice_ticks

__all__ = [
    "Axes",
    "accumulation_plot",
    "alpha_rows",
    "annotator_rows",
    "clip_plane",
    "clip_points",
    "empty_plot",
    "esc",
    "fnum",
    "icc_rows",
    "low_agreement_rows",
    "nice_ticks",
    "perceived_figures",
    "perceived_scatter",
    "reliability_plot",
    "report_figures",
    "scatter_va",
    "tag_rows",
]
