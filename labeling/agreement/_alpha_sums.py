"""Krippendorff's α without a coincidence matrix: sort-based sums that are exact and O(n log n).

The sums behind `krippendorff_alpha`, shared with `alpha_bootstrap` (which reweights them per resample),
`annotator_reliability` (α without each rater) and the tag α.

With the definition of α in `alpha`, each sum is computed without ever building a values × values matrix:

- interval: Σ_{i≠j∈u} (v_i − v_j)² = 2 n_u · SS_u (SS = sum of squared deviations from the mean), so α needs
  only per-unit and total sums of squares;
- ordinal: Krippendorff's ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)² equals (r_k − r_c)² with the
  mid-rank r_c = Σ_{g<c} n_g + n_c/2 of value c among all pairable values, so ordinal α is interval α on
  mid-ranks (one sort and a cumulative sum: continuous values work at any size);
- nominal: Σ_{i≠j∈u} [v_i ≠ v_j] = n_u² − Σ_c n_uc², and likewise over all values;
- ratio: δ² = ((c − k)/(c + k))²: within units by rater pairs; over all values exactly by blocks of distinct
  values when there are few, else by the identity 1/s² = ∫ t·e^(−s·t) dt evaluated by the trapezoid rule in
  log t (relative error below 1e-12, checked against the exact sum in the tests).
"""

from collections.abc import Callable
from functools import cached_property

import numpy as np

from ._checks import NO_PAIRABLE, Level

type Lookup = Callable[[np.ndarray], np.ndarray]

RATIO_EXACT_MAX_VALUES = 2048  # distinct values up to which the ratio D_e is summed exactly (blocked)
BLOCK_ELEMENTS = 1 << 15  # ratings per block of units in the per-unit passes


class Pairable:
    """The pairable part of a raters × units array: the units with at least two ratings.

    The hot paths (interval, ordinal) read the source array block by block and never copy it; `values` and
    `mask` give the pairable units as K × U arrays for the other paths, with K compacted to the most ratings
    of any unit when the data are sparse (e.g. 40 crowd workers, 3 per clip).
    """

    def __init__(self, source: np.ndarray):
        present = ~np.isnan(source)
        m = present.view(np.int8).sum(axis=0, dtype=np.int32)  # (several times faster than a bool sum)
        keep = m >= 2
        if not keep.any():
            raise ValueError(NO_PAIRABLE)
        self.source, self.present = source, present
        self.n_units = source.shape[1]
        self.n_present = int(m.sum())
        self.all_kept = bool(keep.all())
        self.kept = np.arange(self.n_units) if self.all_kept else np.flatnonzero(keep)
        self.lonely = np.flatnonzero(m == 1)  # units with one rating: their ratings cannot be paired
        self.m_all = m.astype(float)
        self.m = self.m_all if self.all_kept else self.m_all[self.kept]
        self.n = float(self.m.sum())
        k = int(self.m.max())
        self.sparse = source.shape[0] > 2 * k and source.shape[0] > 8

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        values, mask = self.source, self.present
        if not self.all_kept:
            values, mask = values[:, self.kept], mask[:, self.kept]
        if self.sparse:  # move each unit's ratings to the top rows
            order = np.argsort(~mask, axis=0, kind="stable")[: int(self.m.max())]
            values = np.take_along_axis(values, order, axis=0)
            mask = np.take_along_axis(mask, order, axis=0)
        return values, mask

    @property
    def values(self) -> np.ndarray:
        """K × U float, nan = missing."""
        return self._arrays[0]

    @property
    def mask(self) -> np.ndarray:
        """K × U bool, True where a rating exists."""
        return self._arrays[1]


def pairable(arr: np.ndarray) -> Pairable:
    """The units of `arr` with at least two ratings (ValueError if there are none)."""
    return Pairable(arr)


def alpha_of(p: Pairable, level: Level) -> float:
    """Krippendorff's α of the pairable values `p` at `level`."""
    within, expected = disagreement_sums(p, level)
    return alpha_from_sums(p.n, float(within.sum()), expected)


def alphas(n: np.ndarray, within: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """α = 1 − (n − 1) · Σ_u w_u / E elementwise, with Σ_u w_u the sum of the unit terms and E the expected
    sum (both halved alike); nan where E = 0 (the pairable values do not vary)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1.0) * within / expected, np.nan)


def alpha_from_sums(n: float, within: float, expected: float) -> float:
    """`alphas` of one set of sums."""
    return float(alphas(np.asarray(n), np.asarray(within), np.asarray(expected)))


def disagreement_sums(p: Pairable, level: Level) -> tuple[np.ndarray, float]:
    """Per kept unit Σ_{i≠j∈u} δ²(v_i, v_j) / (n_u − 1), and Σ_{i≠j} δ²(v_i, v_j) over all pairable values;
    both halved (each unordered pair once), which α does not see."""
    if level in ("interval", "ordinal"):
        ss_u, mean_u = ordinal_moments(p) if level == "ordinal" else unit_moments(p)
        return p.m * ss_u / (p.m - 1.0), p.n * (float(ss_u.sum()) + between_squares(p.m, mean_u))
    distinct, counts = value_counts(p)
    if level == "nominal":
        within = (p.m * p.m - unit_square_counts(p)) / (2.0 * (p.m - 1.0))
        return within, (p.n * p.n - float((counts * counts).sum())) / 2.0
    return ratio_within(p) / (p.m - 1.0), ratio_pair_sum(distinct, counts) / 2.0


def value_counts(p: Pairable) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairable values (sorted) and how often each occurs."""
    v = np.sort(p.source, axis=None)[: p.n_present]  # every rating (nan sorts last)
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    distinct, counts = v[starts], np.diff(np.append(starts, v.size))
    if p.lonely.size:  # take out the ratings of units rated once
        lonely = p.source[:, p.lonely][p.present[:, p.lonely]]
        counts = counts - np.bincount(np.searchsorted(distinct, lonely), minlength=distinct.size)
        distinct, counts = distinct[counts > 0], counts[counts > 0]
    return distinct, counts.astype(float)


def ordinal_moments(p: Pairable) -> tuple[np.ndarray, np.ndarray]:
    """unit_moments of the ratings' mid-ranks among all pairable values, centred (mean 0)."""
    distinct, counts = value_counts(p)
    ranks = np.cumsum(counts) - counts / 2.0 - p.n / 2.0
    on_grid = grid_lookup(distinct, ranks, clamp=p.lonely.size > 0)
    if on_grid is not None:
        return unit_moments(p, on_grid)
    # values off any grid (continuous ratings): rank every rating with one argsort, not a search per rating
    where = np.flatnonzero(p.present.ravel())
    values = p.source.ravel()[where]
    order = np.argsort(values)  # (argsort is much slower with nan among the values)
    slot = np.minimum(np.searchsorted(distinct, values[order]), distinct.size - 1)  # sorted keys: fast
    ranked = np.full(p.source.size, np.nan)
    ranked[where[order]] = ranks[slot]  # ratings of units rated once may get a neighbour's rank: unused
    return unit_moments(Pairable(ranked.reshape(p.source.shape)))


def make_lookup(distinct: np.ndarray, table: np.ndarray) -> Lookup:
    """A function mapping each value to table[j] where it equals distinct[j] (sorted), and nan to 0."""
    on_grid = grid_lookup(distinct, table)
    if on_grid is not None:
        return on_grid
    padded = np.append(table, 0.0)

    def off_grid(values: np.ndarray) -> np.ndarray:
        return padded[np.searchsorted(distinct, values)]  # nan sorts last: slot len(distinct)

    return off_grid


def grid_lookup(distinct: np.ndarray, table: np.ndarray, clamp: bool = False) -> Lookup | None:
    """make_lookup for values on an evenly spaced grid (rating scales), or None.

    A value's slot is found by arithmetic, several times faster than a binary search. The arithmetic is
    checked on the distinct values themselves: it is a pure function of the value, so it maps every rating
    exactly as it maps its distinct value. With ``clamp``, values that are not among `distinct` (ratings of
    units rated once, whose results are dropped) are kept inside the table."""
    if distinct.size >= 2:
        d0 = distinct[0]
        step = float(np.diff(distinct).min())
        grid = np.rint((distinct - d0) / step)
        if grid[-1] < 1 << 20 and (np.diff(grid) > 0).all():
            slots = np.zeros(int(grid[-1]) + 2)  # the last slot is for missing ratings
            slots[grid.astype(np.intp)] = table
            exact = bool((distinct - d0 == grid).all())  # then no division or rounding is needed

            def on_grid(values: np.ndarray) -> np.ndarray:
                pos = values - d0
                if not exact:
                    pos /= step
                    np.rint(pos, out=pos)
                np.fmin(pos, slots.size - 1, out=pos)  # fmin turns nan (missing) into the last slot
                found: np.ndarray = slots.take(pos.astype(np.intp), mode="clip" if clamp else "raise")
                return found

            return on_grid
    return None


def unit_moments(p: Pairable, transform: Lookup | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per pairable unit Σ (x − mean_u)² over its ratings, and mean_u, where x = transform(rating) (mapping
    nan to 0; e.g. centred ranks) or the rating itself."""
    if p.sparse:
        return _moments(p.values, p.mask, p.m, transform)
    # dense data: read the source as it is, every unit (no copy), and keep the pairable units afterwards
    ss_u, mean_u = _moments(p.source, p.present, np.maximum(p.m_all, 1.0), transform)
    return (ss_u, mean_u) if p.all_kept else (ss_u[p.kept], mean_u[p.kept])


def _moments(
    values: np.ndarray, mask: np.ndarray, m: np.ndarray, transform: Lookup | None
) -> tuple[np.ndarray, np.ndarray]:
    """One pass per block of units: SS_u = Σ y² − (Σ y)²/n_u with y = x − c and c a value near the grand
    mean (0 for centred ranks), so the cancellation costs at most a few ulps of the total sum of squares.
    Blocks stay in cache: fresh multi-megabyte temporaries would cost more than the arithmetic on them."""
    ss_u, mean_u = np.empty(m.size), np.empty(m.size)
    step = max(1, BLOCK_ELEMENTS // values.shape[0])
    first = values[:, :step][mask[:, :step]] if transform is None else np.zeros(0)
    centre = float(first.mean()) if first.size else 0.0
    for lo in range(0, m.size, step):
        cols = slice(lo, lo + step)
        block = values[:, cols]
        y = transform(block) if transform is not None else np.where(mask[:, cols], block - centre, 0.0)
        s1 = y.sum(axis=0)
        ss_u[cols] = np.maximum(np.einsum("ku,ku->u", y, y) - s1 * s1 / m[cols], 0.0)
        mean_u[cols] = s1 / m[cols] + centre
    return ss_u, mean_u


def between_squares(m: np.ndarray, mean_u: np.ndarray) -> float:
    """Σ_u n_u (mean_u − grand mean)²: with Σ_u SS_u it makes the total sum of squares."""
    grand = float((m * mean_u).sum() / m.sum())
    return float((m * (mean_u - grand) ** 2).sum())


def unit_square_counts(p: Pairable) -> np.ndarray:
    """Per unit Σ_c n_uc² (n_uc = how many of the unit's ratings equal c), from pairs of rows."""
    k = p.values.shape[0]
    same = p.m.copy()  # each rating paired with itself
    for a in range(k):
        for b in range(a + 1, k):
            same += 2.0 * (p.mask[a] & p.mask[b] & (p.values[a] == p.values[b]))
    return same


def ratio_delta2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    s = a + b
    ratio: np.ndarray = np.divide(a - b, s, out=np.zeros(np.broadcast(a, b).shape), where=s != 0)
    return ratio**2


def ratio_within(p: Pairable) -> np.ndarray:
    """Per unit Σ_{i≠j∈u} ((v_i − v_j)/(v_i + v_j))², halved (each unordered pair once)."""
    check_ratio_values(p.values[p.mask])
    out = np.zeros(p.values.shape[1])
    k = p.values.shape[0]
    for a in range(k):
        for b in range(a + 1, k):
            both = p.mask[a] & p.mask[b]
            out += np.where(
                both, ratio_delta2(np.where(both, p.values[a], 0.0), np.where(both, p.values[b], 0.0)), 0
            )
    return out


def check_ratio_values(v: np.ndarray) -> None:
    if v.size and v.min() < 0:
        raise ValueError("the ratio level needs non-negative values (a ratio scale has an absolute zero)")


def ratio_pair_sum(x: np.ndarray, w: np.ndarray, exact_max: int = RATIO_EXACT_MAX_VALUES) -> float:
    """Σ_{c,k} w_c w_k ((x_c − x_k)/(x_c + x_k))² over distinct values x ≥ 0 with weights w."""
    check_ratio_values(x)
    if x.size <= exact_max:
        total = 0.0
        for lo in range(0, x.size, 256):
            block = ratio_delta2(x[lo : lo + 256, None], x[None, :])
            total += float(w[lo : lo + 256] @ block @ w)
        return total
    return _ratio_pair_sum_quadrature(x, w)


def _ratio_pair_sum_quadrature(x: np.ndarray, w: np.ndarray, step: float = 0.2) -> float:
    """The same sum by 1/s² = ∫₀^∞ t e^(−s t) dt: Σ w_c w_k (x_c − x_k)² e^(−(x_c + x_k) t) = 2·A₀·Σ a_c (x_c − μ)²
    with a_c = w_c e^(−x_c t), A₀ = Σ a_c, μ = Σ a_c x_c / A₀; integrated over s = log t by the trapezoid rule,
    which converges geometrically for this analytic, doubly-exponentially decaying integrand."""
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    x, w = x[w > 0], w[w > 0]  # (a bootstrap resample leaves some values out)
    if x.size < 2:
        return 0.0
    scale = float(x[-1])
    if scale == 0:
        return 0.0
    x = x / scale  # δ is scale-free
    smallest = float(x[x > 0].min())
    lo, hi = np.log(1e-9), np.log(60.0 / smallest)
    total = 0.0
    x0 = float(x[0])
    for s in np.arange(lo, hi + step, step):
        t = np.exp(s)
        cut = int(np.searchsorted(x, x0 + 700.0 / t, side="right"))  # beyond: weights below e^-700, and
        xs = x[:cut]  # leaving them out also keeps the arithmetic clear of slow subnormal numbers
        a = w[:cut] * np.exp(-(xs - x0) * t)
        a0 = a.sum()
        mu = float((a * xs).sum()) / a0
        var = float((a * (xs - mu) ** 2).sum())
        total += t * t * np.exp(-2.0 * x0 * t) * 2.0 * a0 * var
    return total * step
