"""Continuous traces: reaction-lag estimates, lag-corrected pairwise CCC, and the EWE gold-standard trace.

Input: one clip as a raters × frames array sampled at ``sample_rate`` Hz on a common time base (nan = no
sample), or a list of such clips with the same raters in the same rows (a rater who did not trace a clip has
a row of nan). Clips are laid end to end with nan gaps longer than the largest lag, so no statistic ever pairs
frames of different clips, and everything runs vectorised over all clips at once.

Lag convention: annotator i's lag τ_i ≥ 0 means that x_i(t + τ_i) responds to what the others show at t; the
lag-corrected trace is x_i(t + τ_i). Lags are relative: the earliest annotator gets 0 (a common delay of all
annotators changes no agreement statistic and cannot be seen without the stimulus).
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._checks import check_choice
from ._json import Json, JsonResult, json_safe
from ._moments import pearson
from .ccc import CONVENTIONS, CCCConvention

type Traces = np.ndarray | Sequence[npt.ArrayLike]
"""One clip's raters × frames array, or a list of them (one per clip, the same raters in the same rows)."""


@dataclass(frozen=True)
class TraceAgreement(JsonResult):
    """Lag-corrected agreement of traces: mean pairwise CCC per clip and over clips."""

    lags_s: np.ndarray  # (raters,) lag applied to each annotator, seconds
    per_clip: np.ndarray  # (clips,) mean over annotator pairs of the CCC on that clip; nan if no pair
    mean: float  # mean of per_clip over the clips that have a value
    pairwise: np.ndarray  # (raters, raters) mean over clips of each pair's CCC; nan on the diagonal
    n_clips: int  # clips with a value
    sample_rate: float
    convention: CCCConvention


@dataclass(frozen=True)
class EWE:
    """Evaluator-weighted estimator: the weighted mean trace and each annotator's weight."""

    trace: np.ndarray | list[np.ndarray]  # like the input: one array per clip (frames,)
    weights: np.ndarray  # (raters,) max(r, 0) / Σ max(r, 0)
    correlations: np.ndarray  # (raters,) Pearson r of each annotator with the mean of all annotators

    def as_dict(self) -> dict[str, Json]:
        trace = self.trace if isinstance(self.trace, list) else [self.trace]
        return {
            "trace": json_safe(trace),
            "weights": json_safe(self.weights),
            "correlations": json_safe(self.correlations),
        }


def as_clips(traces: Traces) -> tuple[list[np.ndarray], bool]:
    """A list of float raters × frames arrays with the same raters, and whether the input was one clip."""
    single = isinstance(traces, np.ndarray) and traces.ndim == 2
    if isinstance(traces, np.ndarray) and traces.ndim < 2:
        raise ValueError("traces must be a raters × frames array or a non-empty list of them")
    items = [traces] if single else list(traces) if isinstance(traces, Sequence | np.ndarray) else None
    if not items:
        raise ValueError("traces must be a raters × frames array or a non-empty list of them")
    clips = []
    for c in items:
        try:
            arr = np.asarray(c, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("each clip's traces must be numeric (nan = no sample)") from None
        if arr.ndim != 2:
            raise ValueError(f"each clip must be a 2-D raters × frames array, got shape {arr.shape}")
        if np.isinf(arr).any():
            raise ValueError("traces must be finite (nan = no sample)")
        clips.append(arr)
    raters = clips[0].shape[0]
    if raters < 2:
        raise ValueError(f"traces need at least 2 raters (rows), got {raters}")
    if any(c.shape[0] != raters for c in clips):
        raise ValueError("every clip must have the same raters (rows); use a row of nan for a missing trace")
    return clips, single


def _concat(clips: list[np.ndarray], gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Clips end to end, each followed by `gap` nan frames; returns the array and each clip's start."""
    lengths = np.array([c.shape[1] for c in clips])
    starts = np.concatenate(([0], np.cumsum(lengths + gap)[:-1]))
    out = np.full((clips[0].shape[0], int((lengths + gap).sum())), np.nan)
    for c, s in zip(clips, starts, strict=True):
        out[:, s : s + c.shape[1]] = c
    return out, starts


def _shift(x: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Row i advanced by frames[i] (delayed if negative): out[i, t] = x[i, t + frames[i]], nan outside."""
    out = np.full_like(x, np.nan)
    t = x.shape[1]
    for i, k in enumerate(frames):
        if k >= 0:
            out[i, : t - k] = x[i, k:]
        else:
            out[i, -k:] = x[i, : t + k]
    return out


def _check_rate(sample_rate: float, max_lag_s: float) -> int:
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not 0 <= max_lag_s:
        raise ValueError(f"max_lag_s must be non-negative, got {max_lag_s}")
    return int(round(max_lag_s * sample_rate))


def _lag_correlations(a: np.ndarray, b: np.ndarray, max_frames: int) -> np.ndarray:
    """Pearson r of a[t + k] with b[t] over frames where both exist, for k = −max_frames … max_frames."""
    ma, mb = ~np.isnan(a), ~np.isnan(b)
    a0, b0 = np.where(ma, a, 0.0), np.where(mb, b, 0.0)
    fa, fb = ma.astype(float), mb.astype(float)
    t = a.size
    from scipy import signal  # here, not at import: the package loads numpy only (see __init__)

    def xcorr(
        f: np.ndarray, g: np.ndarray
    ) -> np.ndarray:  # Σ_t f[t + k] g[t] for k = −max_frames … max_frames
        return np.asarray(signal.correlate(f, g, mode="full")[t - 1 - max_frames : t + max_frames])

    n = np.rint(xcorr(fa, fb))
    sa, sb, sab = xcorr(a0, fb), xcorr(fa, b0), xcorr(a0, b0)
    saa, sbb = xcorr(a0 * a0, fb), xcorr(fa, b0 * b0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (n * sab - sa * sb) / np.sqrt((n * saa - sa * sa) * (n * sbb - sb * sb))
    return np.where(n >= 3, r, np.nan)


def _mean_present(x: np.ndarray) -> np.ndarray:
    """Per frame, the mean of the raters that have a sample there (nan where none has)."""
    count = (~np.isnan(x)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(x, axis=0) / count, np.nan)


def estimate_lags(
    traces: Traces, sample_rate: float, *, max_lag_s: float = 6.0, max_iter: int = 20
) -> np.ndarray:
    """Each annotator's reaction lag (seconds, 0 … max_lag_s, in steps of 1/sample_rate) against the
    leave-one-out mean of the other annotators' lag-corrected traces, pooled over all clips.

    Source: the reaction-lag correction of Mariooryad & Busso (2015) IEEE Trans. Affect. Comput. 6:97, with
    the leave-one-out mean as reference. The lag maximises Pearson's r of x_i(t + τ) with the mean of the
    others' corrected traces at t, searched over ±max_lag_s relative to them; lags are re-estimated in turn
    until none changes (at most ``max_iter`` rounds), then shifted so that the earliest annotator has 0 and
    capped at max_lag_s (an annotator more than max_lag_s behind the earliest gets max_lag_s). An annotator
    with nothing to compare (no overlapping frames) gets 0.

    An annotator who follows the other 0.8 s late:

    >>> t = np.arange(308)
    >>> signal = np.sin(t / 20) + 0.5 * np.sin(t / 7.7)
    >>> traces = np.vstack([signal[8:], signal[:-8]])  # 10 Hz; row 1 shows what row 0 showed 0.8 s before
    >>> estimate_lags(traces, sample_rate=10.0).tolist()
    [0.0, 0.8]
    """
    clips, _ = as_clips(traces)
    max_frames = _check_rate(sample_rate, max_lag_s)
    x, _ = _concat(clips, gap=2 * max_frames + 1)
    x = x - np.nanmean(x)  # centring keeps the FFT sums well conditioned
    raters = x.shape[0]
    frames = np.zeros(raters, dtype=int)
    traced = np.zeros(raters, dtype=bool)  # annotators with frames to compare
    for _ in range(max_iter):
        changed = False
        for i in range(raters):
            aligned = _shift(x, frames)
            reference = _mean_present(np.delete(aligned, i, axis=0))
            r = _lag_correlations(x[i], reference, max_frames)
            if np.isnan(r).all():
                continue
            traced[i] = True
            best = int(np.nanargmax(r)) - max_frames
            if best != frames[i]:
                frames[i], changed = best, True
        if not changed:
            break
    if not traced.any():
        raise ValueError("no two annotators traced overlapping frames: no lag can be estimated")
    relative = np.where(traced, frames - frames[traced].min(), 0)
    return np.minimum(relative, max_frames) / float(sample_rate)


def shift_traces(traces: Traces, lags_s: npt.ArrayLike, sample_rate: float) -> np.ndarray | list[np.ndarray]:
    """Lag-corrected traces: row i becomes x_i(t + lag_i), nan past the clip's end; same shape as the input.

    Source: the reaction-lag correction of Mariooryad & Busso (2015), with lags from `estimate_lags`.

    >>> t = np.arange(308)
    >>> signal = np.sin(t / 20) + 0.5 * np.sin(t / 7.7)
    >>> traces = np.vstack([signal[8:], signal[:-8]])  # 10 Hz; row 1 shows what row 0 showed 0.8 s before
    >>> shifted = shift_traces(traces, [0.0, 0.8], sample_rate=10.0)
    >>> bool(np.array_equal(shifted[0, :-8], shifted[1, :-8])), int(np.isnan(shifted[1]).sum())
    (True, 8)
    """
    clips, single = as_clips(traces)
    shifted = _shift_clips(clips, lags_s, sample_rate)
    return shifted[0] if single else shifted


def _shift_clips(clips: list[np.ndarray], lags_s: npt.ArrayLike, sample_rate: float) -> list[np.ndarray]:
    frames = np.rint(np.asarray(lags_s, dtype=float) * sample_rate).astype(int)
    if frames.shape != (clips[0].shape[0],) or (frames < 0).any():
        raise ValueError("lags_s must give one non-negative lag per rater (row)")
    return [_shift(c, np.minimum(frames, c.shape[1])) for c in clips]


def lag_corrected_ccc(
    traces: Traces,
    sample_rate: float,
    *,
    lags_s: npt.ArrayLike | None = None,
    max_lag_s: float = 6.0,
    convention: CCCConvention = "lin",
) -> TraceAgreement:
    """Mean pairwise Lin's CCC of lag-corrected traces, per clip and over clips (each clip counts once).

    Sources: Lin (1989) Biometrics 45:255 for CCC (``convention`` as in `ccc`); lags from `estimate_lags`
    unless ``lags_s`` is given (pass zeros for no correction). Per clip, each pair of annotators is compared
    on the frames both traced (at least 2), and the clip's value is the mean over those pairs.

    >>> t = np.arange(308)
    >>> signal = np.sin(t / 20) + 0.5 * np.sin(t / 7.7)
    >>> traces = np.vstack([signal[8:], signal[:-8]])  # 10 Hz; row 1 shows what row 0 showed 0.8 s before
    >>> round(lag_corrected_ccc(traces, sample_rate=10.0, lags_s=[0.0, 0.0]).mean, 3)  # uncorrected
    0.852
    >>> result = lag_corrected_ccc(traces, sample_rate=10.0)
    >>> result.lags_s.tolist(), round(result.mean, 3)
    ([0.0, 0.8], 1.0)
    """
    check_choice("convention", convention, CONVENTIONS)
    clips, _ = as_clips(traces)
    if lags_s is None:
        lags_s = estimate_lags(clips, sample_rate, max_lag_s=max_lag_s)
    shifted = _shift_clips(clips, lags_s, sample_rate)
    x, starts = _concat(shifted, gap=1)
    raters, n_clips = x.shape[0], len(clips)
    seg = np.repeat(np.arange(n_clips), np.diff(np.append(starts, x.shape[1])))
    ddof_cov, ddof_var = CONVENTIONS[convention]
    pair_ccc = np.full((raters, raters, n_clips), np.nan)
    for i in range(raters):
        for j in range(i + 1, raters):
            both = ~(np.isnan(x[i]) | np.isnan(x[j]))
            n = np.bincount(seg, both, n_clips)
            with np.errstate(divide="ignore", invalid="ignore"):
                mi = np.bincount(seg, np.where(both, x[i], 0), n_clips) / n
                mj = np.bincount(seg, np.where(both, x[j], 0), n_clips) / n
                di, dj = np.where(both, x[i] - mi[seg], 0), np.where(both, x[j] - mj[seg], 0)
                cov = np.bincount(seg, di * dj, n_clips) / (n - ddof_cov)
                var = (np.bincount(seg, di * di, n_clips) + np.bincount(seg, dj * dj, n_clips)) / (
                    n - ddof_var
                )
                value = 2 * cov / (var + (mi - mj) ** 2)
            pair_ccc[i, j] = pair_ccc[j, i] = np.where(n >= 2, value, np.nan)
    upper = pair_ccc[np.triu_indices(raters, 1)]  # pairs × clips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices are expected: they give nan
        per_clip = np.nanmean(upper, axis=0)
        pairwise = np.nanmean(pair_ccc, axis=2)
    valid = ~np.isnan(per_clip)
    return TraceAgreement(
        lags_s=np.asarray(lags_s, dtype=float),
        per_clip=per_clip,
        mean=float(per_clip[valid].mean()) if valid.any() else float("nan"),
        pairwise=pairwise,
        n_clips=int(valid.sum()),
        sample_rate=float(sample_rate),
        convention=convention,
    )


def ewe(traces: Traces) -> EWE:
    """Evaluator-weighted estimator: Σ_k w_k x_k(t) / Σ_k w_k over the annotators present at t.

    Source: Grimm & Kroschel (2005) IEEE ASRU, "Evaluation of natural emotions using self assessment
    manikins": w_k is the correlation of annotator k with the mean of all annotators (pooled over all clips);
    negative correlations get weight 0. Works for traces (raters × frames) and per-unit ratings alike; pass
    lag-corrected traces (`shift_traces`) to correct reaction lags first.

    Small or flat data: r_k is Pearson's r over the frames where annotator k and the mean both exist, defined
    from 2 such frames on, as the paper's plain correlation and the open implementations have it
    (scipy.stats.pearsonr or numpy.corrcoef in audmetric, MuSe-Toolbox and the SEND dataset's code). With 2
    frames every defined r is ±1, so annotators who agree in direction get equal weights. An annotator whose r
    is undefined (a constant trace, or fewer than 2 frames shared with the mean) gets weight 0, as a negative
    r does (MuSe-Toolbox sets both to 0; SEND keeps only r > 0). With no positive weight (every annotator
    constant, or none correlating positively with the mean) the EWE is undefined: ValueError.

    Two annotators who agree up to an offset weigh the same, and the EWE is their mean (r = 1 each):

    >>> result = ewe(np.vstack([np.arange(5.0), np.arange(5.0) + 1]))
    >>> result.weights.tolist(), result.trace.tolist()
    ([0.5, 0.5], [0.5, 1.5, 2.5, 3.5, 4.5])

    Two units, both annotators rating the second higher: the plain mean. A constant annotator gets no weight:

    >>> ewe(np.array([[1.0, 2.0], [2.0, 4.0]])).trace.tolist()
    [1.5, 3.0]
    >>> result = ewe(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [5.0, 5.0, 5.0]]))
    >>> result.weights.tolist(), result.trace.tolist()
    ([0.5, 0.5, 0.0], [1.5, 3.0, 4.5])
    """
    clips, single = as_clips(traces)
    x, starts = _concat(clips, gap=0)
    present = ~np.isnan(x)
    mean = _mean_present(x)
    r = np.array([pearson(x[k], mean, min_pairs=2) for k in range(x.shape[0])])
    w = np.where(np.isnan(r), 0.0, np.maximum(r, 0.0))
    if w.sum() <= 0:
        raise ValueError(
            "no annotator correlates positively with the mean (a constant trace has no correlation): "
            "the EWE is undefined"
        )
    w = w / w.sum()
    wx = np.where(present, x, 0.0) * w[:, None]
    total_w = (present * w[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(total_w > 0, wx.sum(axis=0) / total_w, np.nan)
    pieces = [estimate[s : s + c.shape[1]] for s, c in zip(starts, clips, strict=True)]
    return EWE(trace=pieces[0] if single else pieces, weights=w, correlations=r)
