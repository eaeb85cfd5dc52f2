"""Per-annotator reliability: agreement of each annotator with the others, and α without them."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._alpha_sums import alpha_of, pairable
from ._checks import Level, as_ratings, check_level
from ._json import JsonResult
from ._moments import pearson


@dataclass(frozen=True)
class AnnotatorReliability(JsonResult):
    rater: int  # row of the input
    n_units: int  # units this annotator rated
    n_compared: int  # of those, units that at least one other annotator rated (used for r_loo)
    r_loo: float  # Pearson r with the mean of the other annotators' ratings of the same units
    alpha_without: float  # Krippendorff's α of all the data except this annotator's ratings


def annotator_reliability(data: npt.ArrayLike, level: Level = "interval") -> list[AnnotatorReliability]:
    """For each annotator (row): Pearson r with the leave-one-out mean of the others, and α without them.

    Sources: the corrected item–total correlation of classical test theory (annotators as items; Nunnally
    1978), and Krippendorff (2011) α computed with the annotator left out. An α without a rater that rises
    above the overall α flags that rater. nan where undefined (fewer than 3 compared units or no variance
    for r; nothing left to pair for α).

    Krippendorff's (2011) example C (4 observers × 12 units, interval α .849): α rises to .893 without
    observer A (row 0), the one to look at first.

    >>> nan = float("nan")
    >>> reliability_data = [
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ]
    >>> for r in annotator_reliability(reliability_data, "interval"):
    ...     print(r.rater, r.n_compared, round(r.r_loo, 3), round(r.alpha_without, 3))
    0 9 0.79 0.893
    1 10 0.984 0.79
    2 10 0.938 0.836
    3 11 0.885 0.862
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
                r_loo=pearson(x[use], others, min_pairs=3),
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


def _alpha(values: np.ndarray, level: Level) -> float:
    try:
        p = pairable(values)
    except ValueError:
        return float("nan")
    return alpha_of(p, level)
