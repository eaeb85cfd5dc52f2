"""Bootstrap confidence intervals that resample whole units (clips), never frames or single ratings.

Resample b draws N unit indices with replacement (N = units in the data, including units that end up with
fewer than two ratings) from ``numpy.random.default_rng(seed)`` in a fixed order (see `draw_units`), so a
seed fixes every resample, and `alpha_bootstrap` and `bootstrap_ci` see the same resamples for the same
seed. The interval is the percentile interval of the resampled statistic (Efron & Tibshirani 1993, ch. 13);
resamples where the statistic is undefined (nan, or a ValueError such as no pairable values) are left out
and counted in ``n_valid``.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ._alpha_sums import (
    RATIO_EXACT_MAX_VALUES,
    Pairable,
    alpha_from_sums,
    alphas,
    disagreement_sums,
    make_lookup,
    pairable,
    ratio_delta2,
    ratio_pair_sum,
    unit_moments,
    value_counts,
)
from ._checks import Level, as_ratings, check_confidence, check_level
from ._json import JsonResult

MEMORY_FLOATS = 4_000_000  # ≈ 32 MB per working array: resamples are processed in chunks that fit
DRAW_ROWS = 64  # resamples drawn per call to the generator (part of what a seed means: keep it fixed)


@dataclass(frozen=True)
class BootstrapCI(JsonResult):
    """A statistic, its percentile bootstrap interval and how it was made."""

    estimate: float
    low: float
    high: float
    confidence: float
    standard_error: float  # standard deviation of the valid resampled values
    n_resamples: int
    n_valid: int
    n_units: int  # units (clips) resampled
    seed: int


def draw_units(n_units: int, n_resamples: int, seed: int, chunk: int = DRAW_ROWS) -> Iterator[np.ndarray]:
    """Yield arrays of unit indices, `chunk` resamples (rows) at a time (a multiple of DRAW_ROWS).

    The stream is fixed by (seed, n_units, n_resamples) alone: the indices always come from consecutive
    ``rng.integers(0, n_units, (DRAW_ROWS, n_units))`` calls (the last one shorter), however they are grouped.
    """
    rng = np.random.default_rng(seed)
    pending: list[np.ndarray] = []
    for lo in range(0, n_resamples, DRAW_ROWS):
        pending.append(rng.integers(0, n_units, (min(DRAW_ROWS, n_resamples - lo), n_units)))
        if len(pending) * DRAW_ROWS >= chunk or lo + DRAW_ROWS >= n_resamples:
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)
            pending = []


def unit_counts(draws: np.ndarray, n_units: int) -> np.ndarray:
    """How often each unit occurs in each resample: (b × n_units) floats."""
    b = draws.shape[0]
    draws += (n_units * np.arange(b))[:, None]
    return np.bincount(draws.ravel(), minlength=b * n_units).reshape(b, n_units).astype(float)


def summarize(
    estimate: float, values: np.ndarray, *, confidence: float, n_units: int, seed: int
) -> BootstrapCI:
    valid = values[np.isfinite(values)]
    if valid.size >= 2:
        low, high = np.quantile(valid, [(1 - confidence) / 2, (1 + confidence) / 2])
        se = float(valid.std(ddof=1))
    else:
        low = high = se = float("nan")
    return BootstrapCI(
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        standard_error=se,
        n_resamples=int(values.size),
        n_valid=int(valid.size),
        n_units=n_units,
        seed=seed,
    )


def _check_args(n_resamples: int, confidence: float, seed: object) -> None:
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    check_confidence(confidence)
    if not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer (the bootstrap is always seeded), got {seed!r}")


def bootstrap_ci(
    statistic: Callable[[Any], float],
    data: np.ndarray | Sequence[Any],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap CI of ``statistic(data)`` resampling whole units (clips) with replacement.

    Source: Efron & Tibshirani (1993) An Introduction to the Bootstrap, percentile interval (ch. 13).
    ``data`` is either a numpy array whose columns (axis 1) are units — raters × units ratings, or a raters ×
    units object array of tag sets — or a list/tuple of per-clip objects (e.g. raters × frames traces), whose
    elements are resampled whole. The statistic gets data of the same kind.

    Cohen's κ of the Wikipedia "Cohen's kappa" example (50 items; published κ = 0.4) with its interval:

    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> from labeling.agreement import cohen_kappa
    >>> ci = bootstrap_ci(lambda d: cohen_kappa(d[0], d[1]), np.array([a, b]), seed=0)
    >>> round(ci.estimate, 3), round(ci.low, 2), round(ci.high, 2), ci.n_valid
    (0.4, 0.15, 0.64, 1000)
    """
    _check_args(n_resamples, confidence, seed)
    if isinstance(data, np.ndarray) and data.ndim >= 2:
        array = data
        n_units = array.shape[1]

        def take(idx: np.ndarray) -> Any:
            return array[:, idx]

    elif isinstance(data, list | tuple):
        items = data
        n_units = len(items)

        def take(idx: np.ndarray) -> Any:
            return [items[i] for i in idx]

    else:
        raise ValueError("data must be a raters × units numpy array or a list of per-clip items")
    if n_units < 1:
        raise ValueError("data has no units to resample")
    estimate = statistic(data)
    values = []
    for draws in draw_units(n_units, n_resamples, seed):
        for idx in draws:
            try:
                values.append(float(statistic(take(idx))))
            except ValueError:
                values.append(float("nan"))
    return summarize(estimate, np.asarray(values), confidence=confidence, n_units=n_units, seed=seed)


def alpha_bootstrap(
    data: npt.ArrayLike,
    level: Level = "interval",
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Krippendorff's α with a percentile bootstrap CI over units, vectorised across resamples.

    Source: Krippendorff (2011) for α; Efron & Tibshirani (1993) for the percentile bootstrap. Gives the
    same resampled values as ``bootstrap_ci(lambda d: krippendorff_alpha(d, level), data, seed=seed)``
    (to rounding) in a fraction of the time: each resample is a vector of unit weights, and α's sums are
    linear in them (interval, nominal, ratio) or need only a cumulative sum over values (ordinal).

    Krippendorff's (2011) example C (4 observers × 12 units; published interval α .849), resampling its
    12 units:

    >>> nan = float("nan")
    >>> reliability_data = [
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ]
    >>> ci = alpha_bootstrap(reliability_data, "interval", seed=0)
    >>> round(ci.estimate, 3), round(ci.low, 2), round(ci.high, 2), ci.n_units
    (0.849, 0.46, 1.0, 12)
    """
    _check_args(n_resamples, confidence, seed)
    check_level(level)
    arr = as_ratings(data)
    p = pairable(arr)
    within, expected = disagreement_sums(p, level)
    estimate = alpha_from_sums(p.n, float(within.sum()), expected)
    resampler = _RESAMPLERS[level](p, within)
    n_units = arr.shape[1]
    chunk = max(1, MEMORY_FLOATS // max(n_units, resampler.width) // DRAW_ROWS) * DRAW_ROWS
    values = []
    for draws in draw_units(n_units, n_resamples, seed, chunk):
        weights = unit_counts(draws, n_units)
        if not p.all_kept:
            weights = weights[:, p.kept]
        values.append(resampler(weights))
    return summarize(estimate, np.concatenate(values), confidence=confidence, n_units=n_units, seed=seed)


class _Resampler(Protocol):
    """α for each resample (row) of a b × units matrix of unit weights (how often each unit was drawn)."""

    width: int  # floats per resample in the largest working array (sets the chunk size)

    def __call__(self, weights: np.ndarray) -> np.ndarray: ...


class _Interval:
    """Sums per resample from five per-unit features (values centred on the grand mean)."""

    width = 5

    def __init__(self, p: Pairable, within: np.ndarray):
        ss_u, mean = unit_moments(p)
        mean = mean - (p.m * mean).sum() / p.n
        self.features = np.column_stack([p.m, within, ss_u, p.m * mean, p.m * mean * mean])

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        n, within, ss, s1, s2 = (weights @ self.features).T
        with np.errstate(divide="ignore", invalid="ignore"):
            total = ss + s2 - s1 * s1 / n
        return alphas(n, within, n * total)


class _ByValue:
    """Resamples change how often each distinct value occurs: n*_bc = Σ_u w_bu · C_uc, with C the units ×
    values count matrix (dense for rating scales, sparse for many distinct values)."""

    DENSE_MAX_VALUES = 256

    def __init__(self, p: Pairable, within: np.ndarray):
        self.m, self.within = p.m, within
        self.distinct, _ = value_counts(p)
        codes = make_lookup(self.distinct, np.arange(self.distinct.size, dtype=float))(p.values)[p.mask]
        units = np.broadcast_to(np.arange(p.values.shape[1]), p.values.shape)[p.mask]
        shape = (p.values.shape[1], self.distinct.size)
        from scipy import sparse  # here, not at import: the perceived-affect figures use draw_units alone

        counts = sparse.csr_matrix((np.ones(codes.size), (units, codes.astype(np.intp))), shape=shape)
        self.dense: np.ndarray | None = (
            counts.toarray() if self.distinct.size <= self.DENSE_MAX_VALUES else None
        )
        self.counts_t = counts.T.tocsr()  # V × U
        self.width = self.distinct.size

    def value_totals(self, weights: np.ndarray) -> np.ndarray:
        """b × V."""
        if self.dense is not None:
            totals: np.ndarray = weights @ self.dense
            return totals
        return np.asarray((self.counts_t @ weights.T).T)

    def per_unit(self, per_value: np.ndarray) -> np.ndarray:
        """b × U: Σ over each unit's ratings of a b × V per-value quantity."""
        if self.dense is not None:
            sums: np.ndarray = per_value @ self.dense.T
            return sums
        return np.ascontiguousarray((self.counts_t.T @ per_value.T).T)


class _Nominal(_ByValue):
    def __call__(self, weights: np.ndarray) -> np.ndarray:
        nv = self.value_totals(weights)
        n = nv.sum(axis=1)
        return alphas(n, weights @ self.within, (n * n - (nv * nv).sum(axis=1)) / 2.0)


class _Ordinal(_ByValue):
    """Mid-ranks are recomputed per resample from the resampled value totals (a cumulative sum)."""

    def __init__(self, p: Pairable, within: np.ndarray):
        super().__init__(p, within)
        self.a, self.c = p.m / (p.m - 1.0), 1.0 / (p.m - 1.0)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        nv = self.value_totals(weights)
        n = nv.sum(axis=1)
        ranks = np.cumsum(nv, axis=1) - nv / 2.0 - n[:, None] / 2.0  # b × V, centred
        q1 = self.per_unit(ranks)  # per unit Σ rank
        q2 = self.per_unit(ranks * ranks)  # per unit Σ rank²
        # per unit m·SS/(m − 1) = (m·Σr² − (Σr)²)/(m − 1), weighted by how often the unit was drawn
        q1 *= q1
        q1 *= self.c
        q2 *= self.a
        q2 -= q1
        within = np.einsum("bu,bu->b", weights, q2)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = (nv * ranks * ranks).sum(axis=1) - (nv * ranks).sum(axis=1) ** 2 / n
        return alphas(n, within, n * total)


class _Ratio(_ByValue):
    def __init__(self, p: Pairable, within: np.ndarray):
        super().__init__(p, within)
        small = self.distinct.size <= RATIO_EXACT_MAX_VALUES
        self.delta = ratio_delta2(self.distinct[:, None], self.distinct[None, :]) if small else None

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        nv = self.value_totals(weights)
        if self.delta is not None:
            expected = ((nv @ self.delta) * nv).sum(axis=1) / 2.0
        else:  # many distinct values: exact per resample (slow, O(values) per resample and quadrature node)
            expected = np.array([ratio_pair_sum(self.distinct, row) / 2.0 for row in nv])
        return alphas(nv.sum(axis=1), weights @ self.within, expected)


_RESAMPLERS: dict[Level, Callable[[Pairable, np.ndarray], _Resampler]] = {
    "interval": _Interval,
    "nominal": _Nominal,
    "ordinal": _Ordinal,
    "ratio": _Ratio,
}
