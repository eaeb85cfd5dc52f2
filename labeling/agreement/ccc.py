"""Lin's concordance correlation coefficient between two series, with the moment convention selectable."""

from typing import Literal

import numpy as np
import numpy.typing as npt

from ._checks import as_pair, check_choice

CCCConvention = Literal["lin", "unbiased", "avec"]
"""Which moments Lin's CCC uses: 1/n (Lin 1989), 1/(n−1), or a 1/n covariance over 1/(n−1) variances."""

# convention: (ddof of the covariance, ddof of the variances)
CONVENTIONS: dict[CCCConvention, tuple[int, int]] = {
    "lin": (0, 0),  # Lin (1989): 1/n moments, the maximum-likelihood estimator (epiR, DescTools)
    "unbiased": (1, 1),  # 1/(n−1) moments throughout
    "avec": (0, 1),  # 1/n covariance over 1/(n−1) variances (numpy defaults mixed, as in AVEC-challenge code)
}


def ccc(x: npt.ArrayLike, y: npt.ArrayLike, convention: CCCConvention = "lin") -> float:
    """Lin's concordance correlation ρ_c = 2·s_xy / (s_x² + s_y² + (x̄ − ȳ)²) of two equally long series.

    Source: Lin (1989) Biometrics 45:255, with 1/n moments by default; ``convention="unbiased"`` uses
    1/(n−1) moments, ``"avec"`` a 1/n covariance over 1/(n−1) variances (AVEC challenge baseline code).
    Positions where either value is nan are dropped. Returns nan if both series are constant and equal.

    Bland & Altman's (1986) peak expiratory flow rates of 17 subjects, Wright vs mini-Wright meter (the
    example data of R's epiR::epi.ccc and DescTools::CCC):

    >>> wright = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
    >>> mini = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]
    >>> round(ccc(wright, mini), 3), round(ccc(wright, mini, "unbiased"), 3), round(ccc(wright, mini, "avec"), 3)
    (0.943, 0.943, 0.887)
    """
    check_choice("convention", convention, CONVENTIONS)
    a, b = as_pair(x, y)
    if a.size < 2:
        raise ValueError(f"ccc needs at least 2 pairs of values without nan, got {a.size}")
    return concordance(a, b, convention)


def concordance(a: np.ndarray, b: np.ndarray, convention: CCCConvention = "lin") -> float:
    """CCC of clean (no nan) 1-D arrays, no checks."""
    ddof_cov, ddof_var = CONVENTIONS[convention]
    n = a.size
    ma, mb = a.mean(), b.mean()
    da, db = a - ma, b - mb
    cov = (da * db).sum() / (n - ddof_cov)
    denom = ((da * da).sum() + (db * db).sum()) / (n - ddof_var) + (ma - mb) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")
