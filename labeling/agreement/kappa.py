"""Cohen's κ (two raters, optionally weighted) and Fleiss' κ (many raters), for category labels.

Labels may be numbers (nan = missing) or any hashable values (None = missing). Categories are ordered by
sorting unless given; weights for Cohen's κ use the position in that order (as R's irr::kappa2 and
scikit-learn do), so pass ``categories`` to include levels that nobody used.
"""

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._checks import as_ratings

type Labels = npt.ArrayLike | Sequence[Hashable | None]

KappaWeights = Literal["linear", "quadratic"]
"""Cohen's (1968) disagreement weights over the ordered categories (None: unweighted κ)."""


def _labels(x: Labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    """1-D labels and a mask of the present ones."""
    arr = np.asarray(x)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(float)  # numbers with None for missing
        except (TypeError, ValueError):
            pass
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "fiub":
        arr = arr.astype(float)
        return arr, ~np.isnan(arr)
    present = np.array(
        [v is not None and not (isinstance(v, float) and np.isnan(v)) for v in arr], dtype=bool
    )
    return arr, present


def _codes(values: np.ndarray, categories: Sequence[Hashable] | None) -> tuple[np.ndarray, list[Hashable]]:
    cats = sorted(set(values.tolist())) if categories is None else list(categories)
    index = {c: i for i, c in enumerate(cats)}
    if len(index) != len(cats):
        raise ValueError("categories must not repeat")
    try:
        return np.array([index[v] for v in values.tolist()], dtype=np.intp), cats
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not among the categories {cats}") from None


def cohen_kappa(
    a: Labels, b: Labels, weights: KappaWeights | None = None, *, categories: Sequence[Hashable] | None = None
) -> float:
    """Cohen's κ between two raters' labels of the same units; weights None, "linear" or "quadratic".

    Sources: Cohen (1960) Educ. Psychol. Meas. 20:37 (κ); Cohen (1968) Psychol. Bull. 70:213 (weighted κ,
    disagreement weights |i−j|/(K−1) or ((i−j)/(K−1))² over the ordered categories). Units where either
    label is missing are dropped. Returns nan when chance agreement is perfect (one category only).

    The Wikipedia "Cohen's kappa" example: 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no
    (published κ = 0.4):

    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> round(cohen_kappa(a, b), 3)
    0.4
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")
    x, px = _labels(a, "a")
    y, py = _labels(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must label the same units, got lengths {x.size} and {y.size}")
    keep = px & py
    if keep.sum() < 1:
        raise ValueError("no unit was labelled by both raters: no pairable values")
    x, y = x[keep], y[keep]
    codes, cats = _codes(np.concatenate([x, y]), categories)
    k = len(cats)
    if k < 2:
        return float("nan")
    table = np.zeros((k, k))
    np.add.at(table, (codes[: x.size], codes[x.size :]), 1.0)
    table /= table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j) / (k - 1)
    else:
        w = ((i - j) / (k - 1)) ** 2
    chance = (w * expected).sum()
    if chance == 0:
        return float("nan")
    return float(1 - (w * table).sum() / chance)


def _category_counts(data: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """units × categories counts n_ij (units with < 2 labels dropped), per-rater codes, category list."""
    arr = as_ratings(data)
    present = ~np.isnan(arr)
    cats = np.unique(arr[present])
    if cats.size == 0:
        raise ValueError("no labels: no pairable values")
    codes = np.where(present, np.searchsorted(cats, np.where(present, arr, cats[0])), -1)
    counts = np.stack([(codes == c).sum(axis=0) for c in range(cats.size)], axis=1).astype(float)
    keep = present.sum(axis=0) >= 2
    if not keep.any():
        raise ValueError("no unit has labels from two or more raters: no pairable values")
    return counts[keep], codes[:, keep], cats.tolist()


def fleiss_kappa(data: npt.ArrayLike, *, exact: bool = False) -> float:
    """Fleiss' κ of a raters × units array of category labels (numbers; nan = missing).

    Source: Fleiss (1971) Psychol. Bull. 76:378. With ``exact=True``, Conger's (1980) exact κ (Psychol. Bull.
    88:322), which uses each rater's own category proportions (complete data only). With missing labels,
    units with fewer than two labels are dropped and P_i = Σ_j n_ij(n_ij − 1) / (n_i(n_i − 1)) uses each
    unit's own n_i (the usual generalisation; identical to Fleiss when every unit has the same raters).

    Fleiss's (1971) Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (R's irr::diagnoses;
    published κ = .430):

    >>> diagnoses = [
    ...     [4, 2, 2, 5, 2, 1, 3, 1, 1, 5, 1, 1, 2, 1, 2, 3, 1, 1, 2, 1, 5, 2, 2, 1, 1, 2, 1, 2, 1, 5],
    ...     [4, 2, 3, 5, 2, 1, 3, 1, 1, 5, 4, 2, 2, 4, 2, 3, 1, 1, 2, 3, 5, 4, 2, 1, 4, 2, 1, 2, 3, 5],
    ...     [4, 2, 3, 5, 2, 3, 3, 3, 4, 5, 4, 4, 2, 4, 4, 3, 1, 1, 4, 3, 5, 4, 4, 4, 4, 2, 1, 4, 3, 5],
    ...     [4, 5, 3, 5, 4, 3, 3, 3, 4, 5, 4, 4, 3, 4, 4, 3, 4, 1, 4, 5, 5, 4, 5, 4, 4, 2, 1, 4, 3, 5],
    ...     [4, 5, 3, 5, 4, 3, 5, 3, 4, 5, 4, 4, 3, 4, 4, 3, 5, 1, 4, 5, 5, 4, 5, 4, 4, 2, 5, 4, 3, 5],
    ...     [4, 5, 5, 5, 4, 3, 5, 4, 4, 5, 4, 4, 3, 4, 5, 5, 5, 2, 4, 5, 5, 4, 5, 4, 5, 4, 5, 4, 3, 5],
    ... ]
    >>> round(fleiss_kappa(diagnoses), 3), round(fleiss_kappa(diagnoses, exact=True), 3)
    (0.43, 0.442)
    """
    counts, codes, cats = _category_counts(data)
    n_i = counts.sum(axis=1)
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (n_i * (n_i - 1))
    observed = p_i.mean()
    p_j = counts.sum(axis=0) / n_i.sum()
    chance = (p_j**2).sum()
    if exact:
        if (codes < 0).any():
            raise ValueError("Conger's exact kappa needs complete data: every rater labels every unit")
        m = codes.shape[0]
        per_rater = np.stack([(codes == c).mean(axis=1) for c in range(len(cats))], axis=1)  # raters × K
        chance -= per_rater.var(axis=0, ddof=1).sum() / m
    if chance == 1:
        return float("nan")
    return float((observed - chance) / (1 - chance))


def fleiss_kappa_per_category(data: npt.ArrayLike) -> dict[float, float]:
    """κ for each category against all others: {category: κ_j}, κ_j = 1 − Σ_i n_ij(n_i − n_ij) /
    (Σ_i n_i(n_i − 1) · p_j q_j). Source: Fleiss (1971) eq. 12 (as R's irr::kappam.fleiss(detail=TRUE)).

    Fleiss's (1971) Table 1 (see `fleiss_kappa`), 1 = depression … 5 = other (irr: .245 .245 .520 .471 .566):

    >>> diagnoses = [
    ...     [4, 2, 2, 5, 2, 1, 3, 1, 1, 5, 1, 1, 2, 1, 2, 3, 1, 1, 2, 1, 5, 2, 2, 1, 1, 2, 1, 2, 1, 5],
    ...     [4, 2, 3, 5, 2, 1, 3, 1, 1, 5, 4, 2, 2, 4, 2, 3, 1, 1, 2, 3, 5, 4, 2, 1, 4, 2, 1, 2, 3, 5],
    ...     [4, 2, 3, 5, 2, 3, 3, 3, 4, 5, 4, 4, 2, 4, 4, 3, 1, 1, 4, 3, 5, 4, 4, 4, 4, 2, 1, 4, 3, 5],
    ...     [4, 5, 3, 5, 4, 3, 3, 3, 4, 5, 4, 4, 3, 4, 4, 3, 4, 1, 4, 5, 5, 4, 5, 4, 4, 2, 1, 4, 3, 5],
    ...     [4, 5, 3, 5, 4, 3, 5, 3, 4, 5, 4, 4, 3, 4, 4, 3, 5, 1, 4, 5, 5, 4, 5, 4, 4, 2, 5, 4, 3, 5],
    ...     [4, 5, 5, 5, 4, 3, 5, 4, 4, 5, 4, 4, 3, 4, 5, 5, 5, 2, 4, 5, 5, 4, 5, 4, 5, 4, 5, 4, 3, 5],
    ... ]
    >>> {int(c): round(k, 3) for c, k in fleiss_kappa_per_category(diagnoses).items()}
    {1: 0.245, 2: 0.245, 3: 0.52, 4: 0.471, 5: 0.566}
    """
    counts, _, cats = _category_counts(data)
    n_i = counts.sum(axis=1, keepdims=True)
    p_j = counts.sum(axis=0) / n_i.sum()
    disagree = (counts * (n_i - counts)).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1 - disagree / ((n_i * (n_i - 1)).sum() * p_j * (1 - p_j))
    return {c: float(k) for c, k in zip(cats, kappa, strict=True)}
