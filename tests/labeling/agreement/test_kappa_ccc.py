import numpy as np
import pytest

from labeling.agreement import ccc, cohen_kappa, fleiss_kappa, fleiss_kappa_per_category, krippendorff_alpha


def brute_weighted_kappa(a, b, k, weight):
    """Cohen (1968) written out cell by cell, as an independent check."""
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[x, y] += 1
    observed /= len(a)
    rows, cols = observed.sum(axis=1), observed.sum(axis=0)
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = weight(i, j)
            num += w * observed[i, j]
            den += w * rows[i] * cols[j]
    return 1 - num / den


@pytest.mark.parametrize(
    ("weights", "weight"),
    [
        (None, lambda i, j: float(i != j)),
        ("linear", lambda i, j: abs(i - j) / 4),
        ("quadratic", lambda i, j: ((i - j) / 4) ** 2),
    ],
)
def test_cohen_kappa_matches_the_formula_written_out(rng, weights, weight):
    a = rng.integers(0, 5, 200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, 5, 200))
    assert cohen_kappa(a, b, weights) == pytest.approx(brute_weighted_kappa(a, b, 5, weight), abs=1e-12)


def test_quadratic_weighted_kappa_equals_lins_ccc_on_category_indices(rng):
    a = rng.integers(0, 7, 300)
    b = np.clip(a + rng.integers(-2, 3, 300), 0, 6)
    assert cohen_kappa(a, b, "quadratic") == pytest.approx(ccc(a, b), abs=1e-12)


def test_cohen_kappa_labels_missing_values_and_categories():
    a = ["yes", "no", "yes", None, "no", "yes"]
    b = ["yes", "no", "no", "yes", None, "yes"]
    assert cohen_kappa(a, b) == pytest.approx(
        cohen_kappa(["yes", "no", "yes", "yes"], ["yes", "no", "no", "yes"])
    )
    # unused scale points change index-based linear weights only when they are declared
    x, y = [1, 2, 5, 1, 5, 2], [2, 2, 5, 5, 1, 1]
    assert cohen_kappa(x, y, "linear") != pytest.approx(
        cohen_kappa(x, y, "linear", categories=[1, 2, 3, 4, 5])
    )
    with pytest.raises(ValueError, match="not among the categories"):
        cohen_kappa(x, y, categories=[1, 2])
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa(x, y, "cubic")
    with pytest.raises(ValueError, match="same units"):
        cohen_kappa([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="no pairable values"):
        cohen_kappa([1, None], [None, 2])
    assert np.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))


def test_fleiss_kappa_with_missing_labels_uses_each_units_own_count(rng):
    complete = rng.integers(1, 4, (5, 60)).astype(float)
    holed = complete.copy()
    holed[0, :30] = np.nan
    kappa = fleiss_kappa(holed)
    # by hand: per-unit agreement with n_i raters, pooled category proportions
    counts = np.stack([(holed == c).sum(axis=0) for c in (1, 2, 3)], axis=1)
    n_i = counts.sum(axis=1)
    p_bar = ((counts * (counts - 1)).sum(axis=1) / (n_i * (n_i - 1))).mean()
    p_e = ((counts.sum(axis=0) / n_i.sum()) ** 2).sum()
    assert kappa == pytest.approx((p_bar - p_e) / (1 - p_e), abs=1e-12)
    with pytest.raises(ValueError, match="complete data"):
        fleiss_kappa(holed, exact=True)


def test_fleiss_kappa_is_close_to_nominal_alpha_for_many_units(rng):
    data = np.where(
        rng.random((4, 2000)) < 0.7, rng.integers(1, 4, 2000), rng.integers(1, 4, (4, 2000))
    ).astype(float)
    assert fleiss_kappa(data) == pytest.approx(krippendorff_alpha(data, "nominal"), abs=2e-3)
    per_category = fleiss_kappa_per_category(data)
    assert set(per_category) == {1.0, 2.0, 3.0}
    for category, kappa in per_category.items():  # category against the rest = Fleiss' κ of that split
        assert kappa == pytest.approx(fleiss_kappa((data == category).astype(float)), abs=1e-12)


def test_ccc_conventions_and_missing_values():
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 6.0])
    y = np.array([1.5, 2.5, 2.5, np.nan, 5.0, 6.5])
    clean_x, clean_y = np.array([1.0, 2.0, 3.0, 6.0]), np.array([1.5, 2.5, 2.5, 6.5])
    mx, my = clean_x.mean(), clean_y.mean()
    cov = ((clean_x - mx) * (clean_y - my)).mean()
    lin = 2 * cov / (clean_x.var() + clean_y.var() + (mx - my) ** 2)
    assert ccc(x, y) == pytest.approx(lin, abs=1e-12)
    assert ccc(x, y, convention="unbiased") == pytest.approx(
        2 * cov * 4 / 3 / (clean_x.var(ddof=1) + clean_y.var(ddof=1) + (mx - my) ** 2), abs=1e-12
    )
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x - np.nanmean(x), np.nanmean(x) - x) == pytest.approx(-1.0)
    assert ccc(x, x + 10) < 0.2  # a constant offset is disagreement, unlike for Pearson's r


def test_ccc_bad_input():
    with pytest.raises(ValueError, match="convention"):
        ccc([1, 2], [1, 2], convention="pearson")
    with pytest.raises(ValueError, match="same length"):
        ccc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 pairs"):
        ccc([1, np.nan], [np.nan, 2])
    with pytest.raises(ValueError, match="1-D"):
        ccc([[1, 2]], [[1, 2]])
