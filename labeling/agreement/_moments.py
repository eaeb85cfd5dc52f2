"""Moments shared by the statistic modules."""

import numpy as np


def pearson(a: np.ndarray, b: np.ndarray, *, min_pairs: int) -> float:
    """Pearson's r over the positions where both are present (not nan); nan with fewer than `min_pairs`
    such positions or when either side does not vary there (as scipy.stats.pearsonr, which needs 2)."""
    both = ~(np.isnan(a) | np.isnan(b))
    if both.sum() < max(min_pairs, 2):
        return float("nan")
    da, db = a[both] - a[both].mean(), b[both] - b[both].mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denom) if denom > 0 else float("nan")
