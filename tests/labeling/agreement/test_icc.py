import numpy as np
import pandas as pd
import pingouin
import pytest

from labeling.agreement import cronbach_alpha, icc
from labeling.agreement.icc import FORMS

from .helpers import correlated_ratings

pytestmark = pytest.mark.filterwarnings("ignore:.*inplace keyword.*")  # pingouin vs pandas 3, not ours

PINGOUIN_NAMES = {
    name: mw.replace("ICC(1)", "ICC(1,1)").replace("ICC(k)", "ICC(1,k)") for name, (mw, *_) in FORMS.items()
}


def pingouin_icc(data: np.ndarray) -> pd.DataFrame:
    raters, units = np.indices(data.shape)
    long = pd.DataFrame({"rater": raters.ravel(), "unit": units.ravel(), "score": data.ravel()})
    out = pingouin.intraclass_corr(
        data=long, targets="unit", raters="rater", ratings="score", nan_policy="omit"
    )
    return out.set_index("Type")


@pytest.mark.parametrize(
    ("raters", "units", "noise"), [(2, 30, 1.0), (3, 40, 0.5), (5, 60, 2.0), (8, 25, 0.3)]
)
def test_matches_pingouin_on_random_data_with_missing_values(rng, monkeypatch, raters, units, noise):
    monkeypatch.setitem(pingouin.options, "round.column.CI95", None)  # pingouin rounds CIs to 2 decimals
    data = correlated_ratings(rng, raters, units, noise=noise, missing=0.03)
    result = icc(data)
    reference = pingouin_icc(data)
    complete = int((~np.isnan(data)).all(axis=0).sum())
    assert result.n_units == complete and result.n_units_dropped == units - complete
    assert result.n_units_dropped > 0 or raters == 2  # the listwise policy is exercised
    for name, form in result.forms.items():
        row = reference.loc[PINGOUIN_NAMES[name]]
        assert form.value == pytest.approx(row["ICC"], abs=1e-9), name
        assert form.f == pytest.approx(row["F"], rel=1e-9), name
        assert (form.df1, form.df2) == (row["df1"], row["df2"]), name
        assert form.p_value == pytest.approx(row["pval"], rel=1e-6, abs=1e-300), name
        assert [form.ci_low, form.ci_high] == pytest.approx(list(row["CI95"]), abs=1e-9), name


def test_forms_carry_both_naming_schemes_and_the_confidence_level(rng):
    result = icc(correlated_ratings(rng, 4, 50, missing=0), confidence=0.9)
    assert list(result.forms) == ["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]
    assert [f.mcgraw_wong for f in result.forms.values()] == [
        "ICC(1)",
        "ICC(A,1)",
        "ICC(C,1)",
        "ICC(k)",
        "ICC(A,k)",
        "ICC(C,k)",
    ]
    assert result["ICC(3,1)"].model == "two-way mixed" and result["ICC(3,1)"].type == "consistency"
    narrow, wide = (
        result["ICC(2,1)"],
        icc(correlated_ratings(np.random.default_rng(0), 4, 50, missing=0))["ICC(2,1)"],
    )
    assert narrow.ci_low < narrow.value < narrow.ci_high and wide.ci_low < wide.value < wide.ci_high
    assert result.as_dict()["forms"]["ICC(2,k)"]["mcgraw_wong"] == "ICC(A,k)"


def test_cronbach_alpha_equals_icc_3k_and_pingouin_listwise(rng):
    data = correlated_ratings(rng, 5, 80, missing=0.02)
    expected = pingouin.cronbach_alpha(data=pd.DataFrame(data.T), nan_policy="listwise")[0]
    assert cronbach_alpha(data) == pytest.approx(expected, abs=1e-9)
    assert cronbach_alpha(data) == pytest.approx(icc(data)["ICC(3,k)"].value, abs=1e-9)


def test_too_few_complete_units_is_an_error():
    data = np.array([[1, 2, np.nan, 4], [np.nan, np.nan, 3, 4.0]])
    with pytest.raises(ValueError, match="at least 2 units rated by every rater"):
        icc(data)
    with pytest.raises(ValueError, match="at least 2 raters"):
        icc([[1, 2, 3]])
    with pytest.raises(ValueError, match="confidence"):
        icc([[1, 2, 3], [1, 2, 3]], confidence=95)
