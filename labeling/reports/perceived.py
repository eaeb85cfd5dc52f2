"""The report's "perceived_vs_experienced" section: the observers' ratings (the labels that count,
StudyRatings) beside the filmed people's own self-reports (the self-reports that count, StudySelfReports),
per clip and per study. Every figure comes from labeling.agreement: a clip's self-report value from
`self_report_per_clip` and its gap from `self_report_gap` (the contract's one definition, shared with the
exporter), the observers' summary from `observer_summary`, the study figures from `self_observer_agreement`.

Shape (None where undefined; canonical scale -1..1):

    {"n_self_reports", "n_clips" (clips with a self-report), "n_participants" (who reported),
     "watermark": {"self_report_count", "last_self_report_id"},
     "bootstrap": {"n_resamples", "confidence", "seed", "unit": "participant"},
     "dimensions": {dim: SelfObserverAgreement.as_dict()},
     "clips": [{"clip", "name", "participant", "n_self_reports",
                dim: {"n", "mean", "sd", "min", "max" (the observers), "self", "reports_used", "gap",
                      "outside_range", "outside_sd"}}]}
"""

from __future__ import annotations

import numpy as np

from labeling import agreement as stats
from labeling.reports.ratings import StudyRatings
from labeling.reports.self_reports import StudySelfReports
from labeling.scheme import DIMENSIONS

NOTE = (
    "Observers' ratings (the labels that count) beside the filmed person's own self-reports (those that "
    "count: withdrawn participants' out). A clip's self-report value is the mean of its whole-clip reports, "
    "else the window-length-weighted mean of its windowed reports; gap = self - observers' mean. r and CCC "
    "(Lin, 1/n moments) over the clips with a self-report and 1+ observer rating (3+ clips needed); CIs are "
    "percentile bootstrap intervals resampling participants with all their clips (one person's clips are "
    "not independent; a clip without a participant counts as its one reporter's, else as its own cluster; no "
    "interval with one participant). "
    "'Outside range': the self-report lies outside [min, max] of the individual observer ratings; 'outside "
    "sd': outside the observers' mean +/- 1 sample sd; both only over clips with 2+ observer ratings."
)


def _num(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


def _flag(x: float) -> bool | None:
    return bool(x) if np.isfinite(x) else None


def per_clip(
    rating_clip: np.ndarray,
    ratings: dict[str, np.ndarray],
    report_clip: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    reports: dict[str, np.ndarray],
    n_clips: int,
) -> dict[str, dict]:
    """Per dimension, per clip: the observers' summary (`observers`), the self-report value (`self`) and the
    reports it used (`used`), the gap and the outside-range / outside-sd flags. Observer ratings and
    self-reports are rows with their clip's index (0..n_clips-1): the report's section and the clip page
    (selectors.clip_perceived) both compute a clip's figures here."""
    out = {}
    for dim in DIMENSIONS:
        obs = stats.observer_summary(rating_clip, ratings[dim], n_clips)
        value, used = stats.self_report_per_clip(report_clip, start_s, end_s, reports[dim], n_clips)
        out_range, out_sd = stats.outside_observers(value, obs)
        out[dim] = {
            "observers": obs,
            "self": value,
            "used": used,
            "gap": stats.self_report_gap(value, obs.mean),
            "outside_range": out_range,
            "outside_sd": out_sd,
        }
    return out


def clip_row(f: dict, i: int) -> dict:
    """One clip's figures on one dimension (from `per_clip`), as plain JSON (None where undefined)."""
    obs = f["observers"]
    return {
        "n": int(obs.n[i]),
        "mean": _num(obs.mean[i]),
        "sd": _num(obs.sd[i]),
        "min": _num(obs.min[i]),
        "max": _num(obs.max[i]),
        "self": _num(f["self"][i]),
        "reports_used": int(f["used"][i]),
        "gap": _num(f["gap"][i]),
        "outside_range": _flag(f["outside_range"][i]),
        "outside_sd": _flag(f["outside_sd"][i]),
    }


def _clusters(s: StudySelfReports, clips: np.ndarray, report_clip: np.ndarray) -> np.ndarray:
    """Each clip's person, the cluster the bootstrap resamples: the clip's own participant (the filmed
    person); for a clip without one, the participant who reported on it if only one did; else -1 (the clip
    is a cluster of its own)."""
    reporters: dict[int, set[int]] = {}
    for i, who in zip(report_clip.tolist(), s.participant_ids.tolist(), strict=True):
        reporters.setdefault(i, set()).add(who)
    out = np.full(clips.size, -1, dtype=np.int64)
    for i, clip in enumerate(clips.tolist()):
        own = s.clip_participant.get(clip)
        if own is None and len(reporters.get(i, ())) == 1:
            (own,) = reporters[i]
        if own is not None:
            out[i] = own
    return out


def perceived_section(
    r: StudyRatings, s: StudySelfReports, *, n_resamples: int, confidence: float, seed: int
) -> dict:
    """The section (see the module docstring). Clips are those with a self-report that counts."""
    clips, report_clip = np.unique(s.clip_ids, return_inverse=True)
    u = clips.size
    # each observer rating's position among the self-reported clips (-1: a clip without a self-report)
    pos = np.searchsorted(clips, r.clip_ids)
    found = clips[np.minimum(pos, u - 1)] == r.clip_ids if u else np.zeros(pos.size, dtype=bool)
    rating_clip = np.where(found, pos, -1)[r.clip]
    mine = rating_clip >= 0
    cluster = _clusters(s, clips, report_clip)
    counts = np.bincount(report_clip, minlength=u)
    rows: list[dict] = [
        {
            "clip": int(c),
            "name": s.clip_names.get(int(c), ""),
            "participant": s.participant_codes.get(int(k)) if k >= 0 else None,
            "n_self_reports": int(counts[i]),
        }
        for i, (c, k) in enumerate(zip(clips, cluster, strict=True))
    ]
    figures = per_clip(
        rating_clip[mine],
        {dim: r.values[dim][mine] for dim in DIMENSIONS},
        report_clip,
        s.start_s,
        s.end_s,
        s.values,
        u,
    )
    dimensions = {}
    for dim in DIMENSIONS:
        f = figures[dim]
        result = stats.self_observer_agreement(
            f["self"], f["observers"], cluster, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        dimensions[dim] = result.as_dict()
        for i, row in enumerate(rows):
            row[dim] = clip_row(f, i)
    return {
        "n_self_reports": int(s.ids.size),
        "n_clips": int(u),
        "n_participants": int(np.unique(s.participant_ids).size),
        "watermark": s.watermark,
        "bootstrap": {
            "n_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
            "unit": "participant",
        },
        "dimensions": dimensions,
        "clips": rows,
    }
