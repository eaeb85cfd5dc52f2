"""Krippendorff's α for ratings at any level of measurement, missing ratings allowed.

With ``n_u`` pairable values in unit u (units with fewer than two values are not pairable and are dropped),
``n`` pairable values in all and δ² the metric difference of the level, Krippendorff (2011) defines

    α = 1 − D_o / D_e,  D_o = 1/n · Σ_u Σ_{i≠j∈u} δ²(v_i, v_j) / (n_u − 1),
                        D_e = 1/(n(n−1)) · Σ_{i≠j} δ²(v_i, v_j)   (all pairs of pairable values),

which is the coincidence-matrix formula written over pairs of values; `_alpha_sums` computes the sums
without building a coincidence matrix. α is nan when the pairable values do not vary (D_e = 0):
Krippendorff leaves it undefined then.
"""

import numpy.typing as npt

from ._alpha_sums import alpha_of, pairable
from ._checks import Level, as_ratings, check_level


def krippendorff_alpha(data: npt.ArrayLike, level: Level = "interval") -> float:
    """Krippendorff's α of a raters × units array (nan = missing) at level nominal, ordinal, interval or ratio.

    Source: Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability" (coincidence form, any metric).
    Returns nan when the pairable values do not vary. Raises ValueError for bad input or no pairable values.

    Krippendorff's (2011) example C, 4 observers × 12 units with missing values (published: nominal .743,
    ordinal .815, interval .849, ratio .797):

    >>> nan = float("nan")
    >>> reliability_data = [
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ]
    >>> levels = ("nominal", "ordinal", "interval", "ratio")
    >>> [round(krippendorff_alpha(reliability_data, level), 3) for level in levels]
    [0.743, 0.815, 0.849, 0.797]
    """
    check_level(level)
    return alpha_of(pairable(as_ratings(data)), level)
