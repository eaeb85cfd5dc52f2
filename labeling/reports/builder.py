"""Agreement reports, the Django side: load a study's ratings into arrays, call labeling.agreement, and build
the JSON stored in AgreementReport.result. Every statistic comes from labeling.agreement; this module only
arranges the data and records which layout each statistic was given.

Choices a methodologist reading a report should know (they are repeated in result["notes"]):
- Ratings are on the canonical scale [-1, 1]. A "cannot judge" rating is a missing value for valence,
  arousal and context tags alike, and is counted in n_cannot_judge. Clips whose filmed participant withdrew
  are left out entirely; inactive clips that have ratings are kept.
- Units are clips. α and its bootstrap use the clips with at least 2 ratings of the dimension (the pairable
  ones); the bootstrap resamples those clips whole, N_RESAMPLES times, seeded.
- α depends only on the values each clip received, not on who gave them, so α, its bootstrap, the
  accumulation curve and the tag α are given a "slot" layout (row j = the clip's j-th rating in submission
  order). That equals the raters × clips array exactly and stays small however many annotators there are.
- ICC needs a complete matrix; see `_icc_section` for the policy.
- Per-clip sd is the sample sd (n − 1); null for a clip with one rating.
- Scheme versions: result["scheme_versions"] lists those with ratings; when their instruments differ,
  notes["mixed_instruments"] warns and each dimension gets α within each version (by_scheme_version).
  Context tags count only where the rating's version offered them (labeling.reports.tags).
- ICC confidence intervals follow McGraw & Wong (1996), as pingouin does. R's irr::icc (0.84.1) gives
  other limits for ICC(A,k), a known error there that irrNA::icc_corr corrects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from django.utils import timezone

from labeling import agreement as stats
from labeling.reports.layout import column_index, crossed_block, ranks_within, slot_matrix, spread
from labeling.reports.perceived import NOTE as PERCEIVED_NOTE
from labeling.reports.perceived import perceived_section
from labeling.reports.ratings import StudyRatings
from labeling.reports.self_reports import StudySelfReports
from labeling.reports.tags import by_scheme_version, scheme_versions, tags_section
from labeling.scheme import DIMENSIONS

N_RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 0
LOW_AGREEMENT_TOP = 25
ACCUMULATION_POINTS = 12
DENSE_CELLS_MAX = 10_000_000  # raters × clips cells above which the per-annotator table is left out
CROSSED_MIN_SHARE = 0.5  # a rater set must cover this share of the pairable clips for the crossed ICC

Progress = Callable[[float, str], None]

NOTES = {
    "scale": "Ratings on the canonical scale -1..1 (each instrument mapped linearly).",
    "missing": "'Cannot judge' is a missing value for valence, arousal and tags, counted in n_cannot_judge. "
    "Clips of withdrawn participants are left out.",
    "alpha": "Krippendorff's alpha over the clips with 2+ ratings of the dimension; percentile bootstrap "
    "CI resampling whole clips.",
    "sd": "Per-clip sd is the sample sd (n - 1); low_agreement lists the clips with the highest sd > 0.",
    "annotators": "r_loo: Pearson r of the annotator with the mean of the others on the same clips; "
    "alpha_without: interval alpha of all ratings except theirs.",
    "accumulation": "Interval alpha of the first n annotations in submission order.",
    "tags": "Per-tag nominal alpha on presence/absence, among the ratings whose scheme version offered the "
    "tag; set alpha (MASI and Jaccard distances) over the tags common to all scheme versions in use.",
    "icc": "ICC forms and confidence intervals after McGraw & Wong (1996), as in pingouin. R's irr::icc 0.84.1 "
    "gives different ICC(A,k) limits (a known error there, corrected in irrNA::icc_corr).",
    "perceived_vs_experienced": PERCEIVED_NOTE,
}


# --- Layout helpers (numpy only; the others are in labeling.reports.layout) ------------------------------


def dense_matrix(r: StudyRatings, dim: str) -> np.ndarray | None:
    """The raters × clips array of `dim` (all U clips), or None when it would be too large."""
    shape = (r.rater_ids.size, r.clip_ids.size)
    if shape[0] < 2 or shape[0] * shape[1] > DENSE_CELLS_MAX:
        return None
    v = r.values[dim]
    valid = ~np.isnan(v)
    out = np.full(shape, np.nan)
    out[r.rater[valid], r.clip[valid]] = v[valid]
    return out


# --- Sections ---------------------------------------------------------------------------------------------


def _empty_alpha(n_units: int = 0) -> dict:
    return {
        "estimate": None,
        "low": None,
        "high": None,
        "confidence": CONFIDENCE,
        "n_resamples": 0,
        "n_valid": 0,
        "n_units": n_units,
    }


def _icc_section(r: StudyRatings, dim: str, n: np.ndarray) -> dict:
    """ICC needs a complete raters × clips matrix. Policy, in order:

    1. "crossed": if one set of annotators rated at least CROSSED_MIN_SHARE of the clips that have 2+
       ratings together (the most common rater set), use those annotators on the clips they all rated: a
       real raters × clips design, where the two-way forms ICC(2,·) and ICC(3,·) mean what they say.
    2. "slots" otherwise (many annotators, each rating a subset): k = the most common number of ratings per
       clip (ties: the larger); each clip with at least k ratings contributes its first k in submission
       order as rater slots 1..k; clips with fewer are dropped. Raters differ between clips, so only the
       one-way forms ICC(1,1) and ICC(1,k) are interpretable (Shrout & Fleiss 1979 case 1; McGraw & Wong
       1996); the two-way forms are listed for completeness and treat slot order as the rater factor.
    """
    pairable = n >= 2
    p = int(pairable.sum())
    v = r.values[dim]
    out = {"forms": {}, "n_units": 0, "n_units_dropped": p, "n_raters": 0, "confidence": CONFIDENCE}
    if p < 2:
        return {**out, "layout": None, "recommended": [], "policy": "needs 2+ clips with 2+ ratings"}
    data, layout, raters = None, "slots", None
    members, block, full = crossed_block(r, dim, pairable)
    if members.sum() >= 2 and full >= max(2, CROSSED_MIN_SHARE * p):
        data, layout = block, "crossed"
        raters = [int(i) for i in r.rater_ids[members]]
    if data is None:
        counts = np.bincount(n[pairable])
        k = int(counts.size - 1 - np.argmax(counts[::-1]))
        valid = ~np.isnan(v)
        use = valid & (ranks_within(r.clip, valid) < k)
        data = slot_matrix(r, v, use, column_index(pairable))[:k]
    if layout == "crossed":
        policy = (
            f"complete cases, crossed design: the most common set of annotators rating a clip together "
            f"({len(raters)} annotators), on the clips all of them rated"
        )
        recommended = ["ICC(2,1)", "ICC(2,k)"]
    else:
        policy = (
            f"k ratings per clip: the first {data.shape[0]} ratings of each clip in submission order as "
            "rater slots (k = most common count); raters differ between clips, so read the one-way forms"
        )
        recommended = ["ICC(1,1)", "ICC(1,k)"]
    try:
        result = stats.icc(data, confidence=CONFIDENCE).as_dict()
    except ValueError as exc:
        return {**out, "layout": layout, "recommended": recommended, "policy": f"{policy}; {exc}"}
    return {**result, "layout": layout, "recommended": recommended, "policy": policy, "raters": raters}


def _annotators(r: StudyRatings, dim: str) -> tuple[list[dict], str | None]:
    """The per-annotator table, or ([], the reason it was left out)."""
    cells = r.rater_ids.size * r.clip_ids.size
    if r.rater_ids.size < 2:
        return [], "needs ratings from 2 or more annotators"
    dense = dense_matrix(r, dim)
    if dense is None:
        return [], (
            f"left out: the annotators × clips table would have {cells:,} cells, above the "
            f"{DENSE_CELLS_MAX:,} this report computes it for"
        )
    try:
        table = stats.annotator_reliability(dense, "interval")
    except ValueError as exc:
        return [], f"could not be computed: {exc}"
    return [
        {
            "annotator": int(r.rater_ids[row.rater]),
            "username": r.usernames[row.rater],
            **{k: v for k, v in row.as_dict().items() if k != "rater"},
        }
        for row in table
        if row.n_units > 0
    ], None


def _accumulation(r: StudyRatings, dim: str) -> list[dict]:
    """α (interval) of the first n annotations at ~ACCUMULATION_POINTS checkpoints: one growing slot matrix."""
    total = r.ann_ids.size
    if total == 0:
        return []
    points = np.unique(np.ceil(np.linspace(total / ACCUMULATION_POINTS, total, ACCUMULATION_POINTS)))
    slot = ranks_within(r.clip, np.ones(total, dtype=bool))
    data = np.full((max(int(slot.max()) + 1, 2), r.clip_ids.size), np.nan)
    v, done, out = r.values[dim], 0, []
    for point in points.astype(int):
        data[slot[done:point], r.clip[done:point]] = v[done:point]
        done = point
        try:
            alpha = stats.krippendorff_alpha(data, "interval")
        except ValueError:
            alpha = None
        out.append({"n_annotations": int(point), "alpha_interval": alpha})
    return out


def dimension_section(r: StudyRatings, dim: str, *, n_resamples: int, seed: int, progress: Progress) -> dict:
    n, mean, sd = spread(r, dim)
    v = r.values[dim]
    pairable = n >= 2
    p = int(pairable.sum())
    section: dict = {"n_ratings": int(n.sum()), "n_clips": int((n > 0).sum()), "n_pairable_clips": p}
    progress(0.0, f"{dim}: alpha with {n_resamples} bootstrap resamples")
    if p:
        data = slot_matrix(r, v, ~np.isnan(v), column_index(pairable))
        for level in ("interval", "ordinal"):
            ci = stats.alpha_bootstrap(data, level, n_resamples=n_resamples, confidence=CONFIDENCE, seed=seed)
            section[f"alpha_{level}"] = ci.as_dict()
    else:
        section["alpha_interval"] = section["alpha_ordinal"] = _empty_alpha()
    progress(0.5, f"{dim}: ICC, annotators, accumulation")
    section["icc"] = _icc_section(r, dim, n)
    section["trace_ccc"] = None  # continuous traces are recorded by a later issue
    rated = np.flatnonzero(n > 0)
    section["clips"] = [
        {
            "clip": int(r.clip_ids[i]),
            "name": r.clip_names[i],
            "n": int(n[i]),
            "mean": round(float(mean[i]), 6),
            "sd": round(float(sd[i]), 6) if n[i] > 1 else None,
        }
        for i in rated
    ]
    worst = np.flatnonzero(pairable & (sd > 0))
    worst = worst[np.lexsort((r.clip_ids[worst], -sd[worst]))][:LOW_AGREEMENT_TOP]
    section["low_agreement"] = [
        {"clip": int(r.clip_ids[i]), "name": r.clip_names[i], "n": int(n[i]), "sd": round(float(sd[i]), 6)}
        for i in worst
    ]
    section["annotators"], section["annotators_omitted"] = _annotators(r, dim)
    section["accumulation"] = _accumulation(r, dim)
    versions = by_scheme_version(r, dim)
    if versions:
        section["by_scheme_version"] = versions
    return section


def policy_candidates(r: StudyRatings, threshold: float) -> dict[int, int]:
    """Clips (id -> annotations at the watermark) with 2+ ratings and valence or arousal sd above threshold."""
    over = np.zeros(r.clip_ids.size, dtype=bool)
    for dim in DIMENSIONS:
        n, _, sd = spread(r, dim)
        over |= (n >= 2) & (np.nan_to_num(sd, nan=-1.0) > threshold)
    total = np.bincount(r.clip, minlength=r.clip_ids.size)
    return {int(r.clip_ids[i]): int(total[i]) for i in np.flatnonzero(over)}


def build_result(
    r: StudyRatings,
    *,
    self_reports: StudySelfReports | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    progress: Progress | None = None,
) -> dict:
    """The report JSON (see the module docstring and labeling.models.AgreementReport). NaN -> None.
    With `self_reports` (labeling.reports.load_self_reports), the "perceived_vs_experienced" section
    (labeling.reports.perceived) too."""

    def step(lo: float, hi: float) -> Progress:
        return lambda frac, msg: progress(lo + (hi - lo) * frac, msg) if progress else None

    result = {
        "computed_at": timezone.now().isoformat(),
        "watermark": r.watermark,
        "n_clips": r.n_clips,
        "n_clips_rated": int(r.clip_ids.size),
        "n_annotators": int(r.rater_ids.size),
        "n_annotations": int(r.ann_ids.size),
        "n_cannot_judge": int(r.cannot_judge.sum()),
        "bootstrap": {"n_resamples": n_resamples, "confidence": CONFIDENCE, "seed": seed, "unit": "clip"},
        "dimensions": {},
    }
    result["scheme_versions"], warning = scheme_versions(r)
    for i, dim in enumerate(DIMENSIONS):
        result["dimensions"][dim] = dimension_section(
            r, dim, n_resamples=n_resamples, seed=seed, progress=step(0.4 * i, 0.4 * (i + 1))
        )
    step(0.8, 1.0)(0.0, "context tags")
    result["tags"] = tags_section(r)
    if self_reports is not None:
        step(0.8, 1.0)(0.7, "perceived vs experienced")
        result["perceived_vs_experienced"] = perceived_section(
            r, self_reports, n_resamples=n_resamples, confidence=CONFIDENCE, seed=seed
        )
    result["policy"] = {"threshold_sd": None, "cap_k": None, "clips_extended": []}
    result["notes"] = {**NOTES, "mixed_instruments": warning} if warning else dict(NOTES)
    return stats.json_safe(result)
