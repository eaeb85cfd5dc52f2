"""Per-annotator reliability: agreement of each annotator with the others, and α without them."""

from dataclasses import asdict, dataclass

import numpy as np

from ._checks import as_ratings, check_level, json_safe
from .alpha import alpha_from_sums, disagreement_sums, pairable


@dataclass(frozen=True)
class AnnotatorReliability:
    rater: int  # row of the input
    n_units: int  # units this annotator rated
    n_compared: int  # of those, units that at least one other annotator rated (used for r_loo)
    r_loo: float  # Pearson r with the mean of the other annotators' ratings of the same units
    alpha_without: float  # Krippendorff's α of all the data except this annotator's ratings

    def as_dict(self) -> dict:
        return json_safe(asdict(self))


def annotator_reliability(data, level: str = "interval") -> list[AnnotatorReliability]:
    """For each annotator (row): Pearson r with the leave-one-out mean of the others, and α without them.

    Sources: the corrected item–total correlation of classical test theory (annotators as items; Nunnally
    1978), and Krippendorff (2011) α computed with the annotator left out. An α without a rater that rises
    above the overall α flags that rater. nan where undefined (fewer than 3 compared units or no variance
    for r; nothing left to pair for α).
    """
    check_level(level)
    arr = as_ratings(data)
    present = ~np.isnan(arr)
    total = np.where(present, arr, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    values, raters = _compact(arr, present)
    out = []
    for i in range(arr.shape[0]):
        x = arr[i]
        use = present[i] & (count >= 2)
        others = (total[use] - x[use]) / (count[use] - 1)
        out.append(
            AnnotatorReliability(
                rater=i,
                n_units=int(present[i].sum()),
                n_compared=int(use.sum()),
                r_loo=_pearson(x[use], others),
                alpha_without=_alpha(np.where(raters == i, np.nan, values), level),
            )
        )
    return out


def _compact(arr: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratings moved to the top rows (K = most ratings of any unit), with the rater of each cell (-1: none)."""
    k = max(int(present.sum(axis=0).max()), 2)
    order = np.argsort(~present, axis=0, kind="stable")[:k]
    values = np.take_along_axis(arr, order, axis=0)
    raters = np.where(np.take_along_axis(present, order, axis=0), order, -1)
    return values, raters


def _alpha(values: np.ndarray, level: str) -> float:
    try:
        p = pairable(values)
    except ValueError:
        return float("nan")
    within, expected = disagreement_sums(p, level)
    return alpha_from_sums(p.n, float(within.sum()), expected)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denom) if denom > 0 else float("nan")
