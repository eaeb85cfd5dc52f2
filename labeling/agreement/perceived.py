"""Perceived (observers) against experienced (self-report) affect, per dimension: how the observers' ratings
of a clip relate to the filmed person's own report of it.

A clip's self-report value and its gap come from the contract's one definition (`self_report_per_clip`,
`self_report_gap` in self_reports.py); this module summarises the observers per clip and compares the two
sides over the clips that have both.

Clustered resampling: one person's clips are not independent (the same person, the same way of reporting,
often the same session), so the bootstrap intervals resample *participants* with all their clips, not clips
(a cluster bootstrap; Field & Welsh 2007, "Bootstrapping clustered data", JRSS B 69:369; Davison & Hinkley
1997 §3.8). A clip without a participant is a cluster of its own. With few participants the intervals are
wide and, below about ten, unreliable; with one participant there is nothing to resample and no interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ._checks import check_choice, check_confidence
from ._json import JsonResult
from ._moments import pearson
from .bootstrap import DRAW_ROWS, MEMORY_FLOATS, BootstrapCI, draw_units, summarize, unit_counts
from .ccc import CONVENTIONS, CCCConvention, concordance
from .self_reports import self_report_gap

MIN_CLIPS = 3  # r and CCC of fewer clips are not reported (two points always lie on a line)


@dataclass(frozen=True)
class ObserverSummary(JsonResult):
    """The observers' ratings of each clip on one dimension: count, mean, sample sd (n − 1; nan below 2
    ratings), smallest and largest rating (nan without ratings). Arrays of one entry per clip."""

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    min: np.ndarray
    max: np.ndarray


def observer_summary(clip_index: npt.ArrayLike, value: npt.ArrayLike, n_clips: int) -> ObserverSummary:
    """Per clip: n, mean, sample sd, min and max of the observers' individual ratings of one dimension.

    Each rating is a row: its clip's index (0..n_clips-1) and its value (nan = "cannot judge", ignored).
    The sd is the sample sd (n − 1), as the agreement report's per-clip sd.

    >>> s = observer_summary([0, 0, 0, 1, 2], [0.5, 0.0, -0.25, 0.75, np.nan], 4)
    >>> s.n.tolist(), s.mean.round(4).tolist(), s.sd.round(4).tolist()
    ([3, 1, 0, 0], [0.0833, 0.75, nan, nan], [0.3819, nan, nan, nan])
    >>> s.min.tolist(), s.max.tolist()
    ([-0.25, 0.75, nan, nan], [0.5, 0.75, nan, nan])
    """
    clip = np.asarray(clip_index, dtype=np.int64)
    x = np.asarray(value, dtype=float)
    if clip.shape != x.shape or clip.ndim != 1:
        raise ValueError("clip_index and value must be 1-D arrays of the same length")
    if clip.size and (clip.min() < 0 or clip.max() >= n_clips):
        raise ValueError("clip_index must lie in 0..n_clips-1")
    if np.isinf(x).any():
        raise ValueError("value must be finite (nan = no rating)")
    keep = ~np.isnan(x)
    c, x = clip[keep], x[keep]
    n = np.bincount(c, minlength=n_clips)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(c, weights=x, minlength=n_clips) / n
        dev = np.bincount(c, weights=(x - mean[c]) ** 2, minlength=n_clips)
        sd = np.where(n > 1, np.sqrt(dev / (n - 1)), np.nan)
    lo = np.full(n_clips, np.inf)
    hi = np.full(n_clips, -np.inf)
    np.minimum.at(lo, c, x)
    np.maximum.at(hi, c, x)
    rated = n > 0
    return ObserverSummary(
        n=n.astype(np.int64),
        mean=np.where(rated, mean, np.nan),
        sd=sd,
        min=np.where(rated, lo, np.nan),
        max=np.where(rated, hi, np.nan),
    )


def outside_observers(self_value: npt.ArrayLike, observers: ObserverSummary) -> tuple[np.ndarray, np.ndarray]:
    """Per clip, whether the self-report lies outside the observers: (outside their range [min, max] of
    individual ratings, outside their mean ± 1 sd), each 1.0 (outside), 0.0 (inside, bounds included) or nan
    (undefined). Both are defined only for clips with a self-report value and 2+ observer ratings: with one
    rating the "range" is a point, so any other value would count as outside.

    >>> obs = observer_summary([0, 0, 0, 1, 1, 2], [0.0, 0.5, 0.25, -0.5, 0.5, 0.0], 3)
    >>> rng_out, sd_out = outside_observers([0.75, 0.5, 0.0], obs)
    >>> rng_out.tolist(), sd_out.tolist()
    ([1.0, 0.0, nan], [1.0, 0.0, nan])
    """
    y = np.asarray(self_value, dtype=float)
    if y.shape != observers.n.shape:
        raise ValueError("self_value must have one entry per clip of `observers`")
    defined = np.isfinite(y) & (observers.n >= 2)
    with np.errstate(invalid="ignore"):
        out_range = (y < observers.min) | (y > observers.max)
        out_sd = np.abs(y - observers.mean) > observers.sd
    return np.where(defined, out_range, np.nan), np.where(defined, out_sd, np.nan)


@dataclass(frozen=True)
class SelfObserverAgreement(JsonResult):
    """How the filmed people's self-reports relate to the observers' means, over the clips with both.

    pearson_r, ccc and mean_gap carry their cluster-bootstrap interval (n_units = clusters resampled);
    `reasons` says, per figure, why it is undefined (null) where it is."""

    n_clips: int  # clips with a self-report value and at least one observer rating
    n_participants: int  # distinct participants among them
    n_clusters: int  # units resampled: participants, plus each clip without a participant
    pearson_r: BootstrapCI
    ccc: BootstrapCI
    mean_gap: BootstrapCI  # mean over clips of (self − observers' mean)
    mean_abs_gap: float
    n_spread_clips: int  # of n_clips, those with 2+ observer ratings (range and sd defined)
    n_outside_range: int
    share_outside_range: float
    n_outside_sd: int
    share_outside_sd: float
    convention: str  # the CCC's moments (labeling.agreement.ccc)
    reasons: dict[str, str] = field(default_factory=dict)


def _clusters(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster codes 0..K-1 (participants first, then one per clip without a participant: cluster < 0) and
    the number of participants."""
    has = cluster >= 0
    people, inverse = np.unique(cluster[has], return_inverse=True)
    codes = np.empty(cluster.size, dtype=np.intp)
    codes[has] = inverse
    codes[~has] = people.size + np.arange(int((~has).sum()))
    return codes, int(people.size)


def _resampled(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_clusters: int, *, n_resamples: int, seed: int,
    convention: CCCConvention,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """r, CCC and mean gap of every resample, vectorised: a resample is a vector of clip weights (how often
    the clip's cluster was drawn), and each statistic is its weighted form (exact for integer weights)."""
    ddof_cov, ddof_var = CONVENTIONS[convention]
    chunk = max(1, MEMORY_FLOATS // max(x.size, n_clusters) // DRAW_ROWS) * DRAW_ROWS
    rs, cs, gs = [], [], []
    for draws in draw_units(n_clusters, n_resamples, seed, chunk):
        w = unit_counts(draws, n_clusters)[:, codes]  # resamples × clips
        s0 = w.sum(axis=1)
        mx, my = (w @ x) / s0, (w @ y) / s0
        dx, dy = x[None, :] - mx[:, None], y[None, :] - my[:, None]
        sxy = (w * dx * dy).sum(axis=1)
        sxx, syy = (w * dx * dx).sum(axis=1), (w * dy * dy).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            flat = (sxx <= 1e-24 * s0) | (syy <= 1e-24 * s0)
            rs.append(np.where(flat, np.nan, sxy / np.sqrt(sxx * syy)))
            denom = (sxx + syy) / (s0 - ddof_var) + (mx - my) ** 2
            cs.append(np.where(denom > 0, 2 * sxy / (s0 - ddof_cov) / denom, np.nan))
        gs.append(my - mx)
    return np.concatenate(rs), np.concatenate(cs), np.concatenate(gs)


def _no_ci(estimate: float, *, confidence: float, n_units: int, seed: int) -> BootstrapCI:
    nan = float("nan")
    return BootstrapCI(
        estimate=float(estimate), low=nan, high=nan, confidence=confidence, standard_error=nan,
        n_resamples=0, n_valid=0, n_units=n_units, seed=seed,
    )  # fmt: skip


def self_observer_agreement(
    self_value: npt.ArrayLike,
    observers: ObserverSummary,
    cluster: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    convention: CCCConvention = "lin",
) -> SelfObserverAgreement:
    """Self-reports (y) against the observers' mean (x), per clip, over the clips with both: Pearson r and
    Lin's CCC, each with a cluster-bootstrap percentile interval; the mean signed gap (self − observers'
    mean) with its interval; the mean absolute gap; the share of clips whose self-report lies outside the
    observers' range [min, max], and outside their mean ± 1 sd (`outside_observers`).

    Sources: Pearson r; Lin (1989) for CCC (``convention`` as `ccc`); the percentile interval of Efron &
    Tibshirani (1993, ch. 13) over resampled clusters (Field & Welsh 2007): ``cluster`` gives each clip's
    participant (any integer id; negative = none, a cluster of its own), and a resample draws as many
    clusters as there are, with replacement, each with all its clips. Resamples are drawn by
    labeling.agreement.bootstrap's `draw_units`, so a seed fixes them. r and CCC need MIN_CLIPS (3) clips;
    intervals need 2 clusters.

    Five clips with both sides: two participants with two each, and one clip without a participant (a
    cluster of its own); the sixth clip has no observer rating, the fifth only one (no range):

    >>> obs = observer_summary([0, 0, 1, 1, 2, 2, 3, 3, 4], [0.5, 0.3, -0.4, -0.6, 0.1, 0.3, 0.8, 0.6, 0.0], 6)
    >>> res = self_observer_agreement([0.6, -0.2, 0.0, 0.7, 0.2, 0.5], obs, [7, 7, 9, 9, -1, 9], n_resamples=200)
    >>> res.n_clips, res.n_participants, res.n_clusters, round(res.pearson_r.estimate, 3), round(res.ccc.estimate, 3)
    (5, 2, 3, 0.897, 0.856)
    >>> round(res.mean_gap.estimate, 3), round(res.mean_abs_gap, 3)
    (0.1, 0.18)
    >>> res.n_spread_clips, res.n_outside_range, res.share_outside_range
    (4, 3, 0.75)
    >>> round(res.mean_gap.low, 2), round(res.mean_gap.high, 2), res.mean_gap.n_units
    (-0.1, 0.25, 3)
    """
    check_confidence(confidence)
    check_choice("convention", convention, CONVENTIONS)
    y_all = np.asarray(self_value, dtype=float)
    groups = np.asarray(cluster, dtype=np.int64)
    if not y_all.shape == groups.shape == observers.n.shape or y_all.ndim != 1:
        raise ValueError("self_value, cluster and the observer summary must have one entry per clip")
    both = np.isfinite(y_all) & (observers.n > 0)
    x, y = observers.mean[both], y_all[both]
    codes, n_people = _clusters(groups[both])
    n = int(x.size)
    n_clusters = int(codes.max()) + 1 if n else 0
    reasons: dict[str, str] = {}
    gap = self_report_gap(y, x)
    out_range, out_sd = outside_observers(y_all, observers)
    spread = both & (observers.n >= 2)
    n_spread = int(spread.sum())
    n_out_range, n_out_sd = int(np.nansum(out_range[spread])), int(np.nansum(out_sd[spread]))

    r = pearson(x, y, min_pairs=MIN_CLIPS)
    c = concordance(x, y, convention) if n >= MIN_CLIPS else float("nan")
    g = float(gap.mean()) if n else float("nan")
    if n < MIN_CLIPS:
        why = f"needs {MIN_CLIPS}+ clips with both a self-report and an observer rating; has {n}"
        reasons["pearson_r"] = reasons["ccc"] = why
    elif np.isnan(r):
        reasons["pearson_r"] = "undefined: the self-reports or the observers' means do not vary"
    if n >= MIN_CLIPS and np.isnan(c):
        reasons["ccc"] = "undefined: every value is the same"
    if n == 0:
        reasons["mean_gap"] = reasons["mean_abs_gap"] = (
            "no clip has both a self-report and an observer rating"
        )
    if n_spread == 0:
        reasons["share_outside_range"] = reasons["share_outside_sd"] = (
            "needs clips with a self-report and 2+ observer ratings (a range or sd of one rating is a point)"
        )

    if n_clusters >= 2:
        rs, cs, gs = _resampled(
            x, y, codes, n_clusters, n_resamples=n_resamples, seed=seed, convention=convention
        )
        cis = [
            summarize(est, vals, confidence=confidence, n_units=n_clusters, seed=seed)
            for est, vals in ((r, rs), (c, cs), (g, gs))
        ]
        if n < MIN_CLIPS:  # no estimate, no interval
            cis[:2] = [_no_ci(float("nan"), confidence=confidence, n_units=n_clusters, seed=seed)] * 2
    else:
        cis = [_no_ci(est, confidence=confidence, n_units=n_clusters, seed=seed) for est in (r, c, g)]
        if n:
            reasons.setdefault(
                "intervals",
                f"the intervals resample participants and need 2+ of them (clusters); has {n_clusters}",
            )
    return SelfObserverAgreement(
        n_clips=n,
        n_participants=n_people,
        n_clusters=n_clusters,
        pearson_r=cis[0],
        ccc=cis[1],
        mean_gap=cis[2],
        mean_abs_gap=float(np.abs(gap).mean()) if n else float("nan"),
        n_spread_clips=n_spread,
        n_outside_range=n_out_range,
        share_outside_range=n_out_range / n_spread if n_spread else float("nan"),
        n_outside_sd=n_out_sd,
        share_outside_sd=n_out_sd / n_spread if n_spread else float("nan"),
        convention=convention,
        reasons=reasons,
    )
