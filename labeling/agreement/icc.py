"""Intraclass correlations (all six Shrout & Fleiss forms) and Cronbach's α, from a two-way ANOVA.

Missing ratings: ICC and Cronbach's α need balanced data, so units (targets, clips) with any missing rating
are dropped (listwise deletion, as pingouin's ``nan_policy="omit"`` and R's ``irr::icc`` with complete cases
do). ``ICCResult.n_units`` is the number used and ``n_units_dropped`` the number left out; report both.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._checks import as_ratings, check_confidence, complete_units
from ._json import JsonResult

ICCFormName = Literal["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]
"""Shrout & Fleiss's (1979) names of the six forms: ICC(model, unit), unit 1 = one rater, k = mean of k."""

# Shrout & Fleiss name: (McGraw & Wong name, model, type, unit)
FORMS: dict[ICCFormName, tuple[str, str, str, str]] = {
    "ICC(1,1)": ("ICC(1)", "one-way random", "absolute agreement", "single rater"),
    "ICC(2,1)": ("ICC(A,1)", "two-way random", "absolute agreement", "single rater"),
    "ICC(3,1)": ("ICC(C,1)", "two-way mixed", "consistency", "single rater"),
    "ICC(1,k)": ("ICC(k)", "one-way random", "absolute agreement", "mean of k raters"),
    "ICC(2,k)": ("ICC(A,k)", "two-way random", "absolute agreement", "mean of k raters"),
    "ICC(3,k)": ("ICC(C,k)", "two-way mixed", "consistency", "mean of k raters"),
}


@dataclass(frozen=True)
class ICCForm(JsonResult):
    """One ICC form with its F test against ICC = 0 and its F-based confidence interval."""

    name: ICCFormName  # Shrout & Fleiss, e.g. "ICC(2,1)"
    mcgraw_wong: str  # McGraw & Wong, e.g. "ICC(A,1)"
    model: str
    type: str
    unit: str
    value: float
    f: float
    df1: int
    df2: int
    p_value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class ICCResult(JsonResult):
    forms: dict[ICCFormName, ICCForm]  # keyed by the Shrout & Fleiss name
    n_units: int  # units used (rated by every rater)
    n_units_dropped: int  # units left out for a missing rating
    n_raters: int
    confidence: float

    def __getitem__(self, name: ICCFormName) -> ICCForm:
        return self.forms[name]


def icc(data: npt.ArrayLike, *, confidence: float = 0.95) -> ICCResult:
    """All six intraclass correlations of a raters × units array, with F tests and confidence intervals.

    Sources: Shrout & Fleiss (1979) Psychol. Bull. 86:420 (forms, F tests, CIs for (1,·) and (3,·));
    McGraw & Wong (1996) Psychol. Methods 1:30 (names; CI for ICC(A,·) via Satterthwaite's df, as pingouin).
    Units with any missing rating are dropped (listwise deletion); the result says how many were used.

    Shrout & Fleiss's (1979) Table 2, 4 judges × 6 targets (published: .17 .29 .71 .44 .62 .91):

    >>> judges = [
    ...     [9, 6, 8, 7, 10, 6],
    ...     [2, 1, 4, 1, 5, 2],
    ...     [5, 3, 6, 2, 6, 4],
    ...     [8, 2, 8, 6, 9, 7],
    ... ]
    >>> result = icc(judges)
    >>> {name: round(form.value, 2) for name, form in result.forms.items()}
    {'ICC(1,1)': 0.17, 'ICC(2,1)': 0.29, 'ICC(3,1)': 0.71, 'ICC(1,k)': 0.44, 'ICC(2,k)': 0.62, 'ICC(3,k)': 0.91}
    >>> result["ICC(2,1)"].mcgraw_wong, result.n_units, result.n_raters
    ('ICC(A,1)', 6, 4)
    """
    check_confidence(confidence)
    y, dropped = complete_units(as_ratings(data), what="ICC")
    k, n = y.shape  # raters, units
    grand = y.mean()
    ss_units = k * ((y.mean(axis=0) - grand) ** 2).sum()
    ss_raters = n * ((y.mean(axis=1) - grand) ** 2).sum()
    ss_error = ((y - grand) ** 2).sum() - ss_units - ss_raters
    msr = ss_units / (n - 1)  # between units (targets)
    msc = ss_raters / (k - 1)  # between raters (judges)
    mse = max(ss_error, 0.0) / ((n - 1) * (k - 1))
    msw = (ss_raters + max(ss_error, 0.0)) / (n * (k - 1))  # within units (one-way model)

    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "ICC(1,1)": (msr - msw) / (msr + (k - 1) * msw),
            "ICC(2,1)": (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n),
            "ICC(3,1)": (msr - mse) / (msr + (k - 1) * mse),
            "ICC(1,k)": (msr - msw) / msr,
            "ICC(2,k)": (msr - mse) / (msr + (msc - mse) / n),
            "ICC(3,k)": (msr - mse) / msr,
        }
        f1, f3 = msr / msw, msr / mse
        df1, df1_den, df3_den = n - 1, n * (k - 1), (n - 1) * (k - 1)
        q = 1 - (1 - confidence) / 2
        from scipy import stats  # here, not at import: the package loads numpy only (see __init__)

        f1_low, f1_high = f1 / stats.f.ppf(q, df1, df1_den), f1 * stats.f.ppf(q, df1_den, df1)
        f3_low, f3_high = f3 / stats.f.ppf(q, df1, df3_den), f3 * stats.f.ppf(q, df3_den, df1)
        ci = {
            "ICC(1,1)": ((f1_low - 1) / (f1_low + k - 1), (f1_high - 1) / (f1_high + k - 1)),
            "ICC(3,1)": ((f3_low - 1) / (f3_low + k - 1), (f3_high - 1) / (f3_high + k - 1)),
            "ICC(1,k)": (1 - 1 / f1_low, 1 - 1 / f1_high),
            "ICC(3,k)": (1 - 1 / f3_low, 1 - 1 / f3_high),
        }
        # ICC(A,1): McGraw & Wong (1996): Satterthwaite degrees of freedom v
        r, fj = values["ICC(2,1)"], msc / mse
        v = (df3_den * (k * r * fj + n * (1 + (k - 1) * r) - k * r) ** 2) / (
            df1 * k**2 * r**2 * fj**2 + (n * (1 + (k - 1) * r) - k * r) ** 2
        )
        f_up, f_lo = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
        low2 = n * (msr - f_up * mse) / (f_up * (k * msc + (k * n - k - n) * mse) + n * msr)
        high2 = n * (f_lo * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_lo * msr)
        ci["ICC(2,1)"] = (low2, high2)
        ci["ICC(2,k)"] = (low2 * k / (1 + low2 * (k - 1)), high2 * k / (1 + high2 * (k - 1)))
        p1, p3 = stats.f.sf(f1, df1, df1_den), stats.f.sf(f3, df1, df3_den)

    forms = {}
    for name, (mw, model, kind, unit) in FORMS.items():
        one_way = name.startswith("ICC(1")
        forms[name] = ICCForm(
            name=name,
            mcgraw_wong=mw,
            model=model,
            type=kind,
            unit=unit,
            value=float(values[name]),
            f=float(f1 if one_way else f3),
            df1=int(df1),
            df2=int(df1_den if one_way else df3_den),
            p_value=float(p1 if one_way else p3),
            ci_low=float(ci[name][0]),
            ci_high=float(ci[name][1]),
        )
    return ICCResult(forms=forms, n_units=n, n_units_dropped=dropped, n_raters=k, confidence=confidence)


def cronbach_alpha(data: npt.ArrayLike) -> float:
    """Cronbach's α with raters as items and units as cases: k/(k−1)·(1 − Σ var(rater) / var(sum)).

    Source: Cronbach (1951) Psychometrika 16:297; equals ICC(3,k) (McGraw & Wong 1996). Units with any
    missing rating are dropped (listwise deletion), as for `icc`.

    Shrout & Fleiss's (1979) Table 2 (see `icc`), where ICC(3,k) = .91:

    >>> judges = [
    ...     [9, 6, 8, 7, 10, 6],
    ...     [2, 1, 4, 1, 5, 2],
    ...     [5, 3, 6, 2, 6, 4],
    ...     [8, 2, 8, 6, 9, 7],
    ... ]
    >>> round(cronbach_alpha(judges), 3)
    0.909
    """
    y, _ = complete_units(as_ratings(data), what="Cronbach's alpha")
    k = y.shape[0]
    total_var = y.sum(axis=0).var(ddof=1)
    if total_var == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - y.var(axis=1, ddof=1).sum() / total_var))
