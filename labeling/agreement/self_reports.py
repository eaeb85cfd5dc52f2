"""Perceived beside experienced affect: the filmed person's own self-reports against the observers.

This module holds the one definition of a clip's self-report value, shared by the agreement report
(labeling/reports) and the exporter (exports/build), so a dataset and a report can never disagree on it.
"""

import numpy as np
import numpy.typing as npt


def self_report_per_clip(
    clip_index: npt.ArrayLike,
    start_s: npt.ArrayLike,
    end_s: npt.ArrayLike,
    value: npt.ArrayLike,
    n_clips: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One self-report value per clip, on one dimension, from any number of reports per clip.

    Each report is a row: the clip's index (0..n_clips-1), its window in media seconds (``start_s`` and
    ``end_s`` both nan for a report on the whole clip) and its value on the canonical [-1, 1] scale (nan = the
    report did not rate this dimension; it is ignored). The rule:

    - a clip with whole-clip reports takes their mean (several instruments, say), and its windows are not used;
    - otherwise the mean of its windowed reports weighted by each window's length (a person who reported
      0–5 s and 5–15 s contributes 1/3 and 2/3), so the value describes the whole clip as the observers'
      ratings do;
    - a clip with no usable report is nan.

    Returns (value per clip, reports used per clip).

    >>> v, n = self_report_per_clip([0, 1, 1, 2], [np.nan, 0, 5, 0], [np.nan, 5, 15, 4],
    ...                             [0.5, -0.3, 0.6, np.nan], 4)
    >>> v.round(3).tolist(), n.tolist()
    ([0.5, 0.3, nan, nan], [1, 2, 0, 0])
    """
    clip = np.asarray(clip_index, dtype=np.int64)
    start = np.asarray(start_s, dtype=float)
    end = np.asarray(end_s, dtype=float)
    x = np.asarray(value, dtype=float)
    if not clip.shape == start.shape == end.shape == x.shape or clip.ndim != 1:
        raise ValueError("clip_index, start_s, end_s and value must be 1-D arrays of the same length")
    if clip.size and (clip.min() < 0 or clip.max() >= n_clips):
        raise ValueError("clip_index must lie in 0..n_clips-1")
    usable = np.isfinite(x)
    whole = usable & np.isnan(start)
    window = usable & ~np.isnan(start)
    if np.any(window & ~(end > start)):
        raise ValueError("every window must end after it starts")
    n_whole = np.bincount(clip[whole], minlength=n_clips)
    sum_whole = np.bincount(clip[whole], weights=x[whole], minlength=n_clips)
    length = np.where(window, end - start, 0.0)
    n_window = np.bincount(clip[window], minlength=n_clips)
    weight = np.bincount(clip[window], weights=length[window], minlength=n_clips)
    sum_window = np.bincount(clip[window], weights=(x * length)[window], minlength=n_clips)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n_whole > 0, sum_whole / n_whole, np.where(n_window > 0, sum_window / weight, np.nan))
    used = np.where(n_whole > 0, n_whole, n_window)
    return out, used.astype(np.int64)


def self_report_gap(self_value: npt.ArrayLike, observer_mean: npt.ArrayLike) -> np.ndarray:
    """The gap, per clip: self-report minus the observers' mean (canonical scale). Positive = the person
    reported more pleasant (valence) or more aroused (arousal) than the observers perceived. nan where
    either side is missing.

    >>> self_report_gap([0.5, np.nan], [0.25, 0.0]).tolist()
    [0.25, nan]
    """
    gap: np.ndarray = np.asarray(self_value, dtype=float) - np.asarray(observer_mean, dtype=float)
    return gap
