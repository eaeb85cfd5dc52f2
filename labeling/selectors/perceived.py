"""One clip, perceived beside experienced: the observers' ratings that count and the filmed person's own
self-reports that count, with the figures the agreement report gives the clip. Researchers only: no
annotator page or response reads this."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from labeling.models import Clip, Study
from labeling.scheme import DIMENSIONS

from .annotations import annotations_for_analysis
from .self_reports import self_reports_for_analysis


def clip_perceived(*, study: Study, clip: Clip) -> dict[str, Any]:
    """The clip's observer ratings (annotations_for_analysis, oldest first), its self-reports
    (self_reports_for_analysis; whole-clip reports first, then by window), and per dimension the figures of the report's per-clip rows
    (labeling.reports.perceived.per_clip: observers' n/mean/sd/min/max, the self-report value and the reports
    it used, the gap, outside the range / mean ± sd). `study` and `clip` are already scoped to the requester
    (study_for_researcher, clip_for_researcher). Two queries.

    Keys: "ratings" (dicts: annotator, username, valence, arousal, confidences, cannot_judge, created_at),
    "self_reports" (SelfReport rows, participant selected), "dimensions" ({dim: row}), "n_ratings",
    "n_cannot_judge"."""
    import numpy as np  # the statistics, imported by the pages that need them (see tests/test_import_rules.py)

    from labeling.reports.perceived import clip_row, per_clip

    ratings = list(
        annotations_for_analysis(study=study)
        .filter(clip=clip)
        .order_by("id")
        .values(
            "id",
            "annotator_id",
            "annotator__username",
            "valence",
            "arousal",
            "valence_confidence",
            "arousal_confidence",
            "cannot_judge",
            "created_at",
        )
    )
    reports = list(
        self_reports_for_analysis(study=study)
        .filter(clip=clip)
        .select_related("participant")
        .order_by(F("start_s").asc(nulls_first=True), "end_s", "instrument", "id")
    )

    def floats(rows: list, get) -> np.ndarray:
        return np.array([np.nan if get(row) is None else get(row) for row in rows], dtype=float)

    figures = per_clip(
        np.zeros(len(ratings), dtype=np.intp),
        {dim: floats(ratings, lambda row, d=dim: row[d]) for dim in DIMENSIONS},
        np.zeros(len(reports), dtype=np.intp),
        floats(reports, lambda rep: rep.start_s),
        floats(reports, lambda rep: rep.end_s),
        {dim: floats(reports, lambda rep, d=dim: getattr(rep, d)) for dim in DIMENSIONS},
        1,
    )
    return {
        "ratings": ratings,
        "self_reports": reports,
        "dimensions": {dim: clip_row(figures[dim], 0) for dim in DIMENSIONS},
        "n_ratings": len(ratings),
        "n_cannot_judge": sum(row["cannot_judge"] for row in ratings),
    }
