import krippendorff
import numpy as np
import pytest

from labeling.agreement import krippendorff_alpha
from labeling.agreement._alpha_sums import ratio_pair_sum

from .helpers import correlated_ratings, random_ratings

LEVELS = ["nominal", "ordinal", "interval", "ratio"]


def reference(data, level):
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("shape", [(2, 30), (3, 50), (5, 200), (9, 40)])
def test_matches_krippendorff_package_on_random_data_with_missing_values(rng, level, shape):
    for _ in range(3):
        data = random_ratings(rng, *shape, values=7, missing=0.3)
        assert krippendorff_alpha(data, level) == pytest.approx(reference(data, level), abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_matches_krippendorff_package_when_raters_agree(rng, level):
    data = correlated_ratings(rng, 4, 300, noise=0.5, levels=9)
    value = krippendorff_alpha(data, level)
    assert value > (0.1 if level == "nominal" else 0.5)  # real agreement, not chance level
    assert value == pytest.approx(reference(data, level), abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_continuous_values_match_krippendorff_package(rng, level):
    data = np.abs(correlated_ratings(rng, 3, 60, noise=0.7))  # ~150 distinct values: fine for the package
    assert krippendorff_alpha(data, level) == pytest.approx(reference(data, level), abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_values_off_any_grid_and_unused_scale_points(rng, level):
    scale = np.array([0.0, 1.0, 3.7, 4.0, 10.5])  # not evenly spaced: the binary-search path
    data = scale[rng.integers(0, 5, (4, 80))]
    data[rng.random(data.shape) < 0.2] = np.nan
    assert krippendorff_alpha(data, level) == pytest.approx(reference(data, level), abs=1e-9)
    gappy = np.where(data == 4.0, 9.0, data)  # a 0..10.5 scale with holes
    assert krippendorff_alpha(gappy, level) == pytest.approx(reference(gappy, level), abs=1e-9)
    tenths = np.round(random_ratings(rng, 3, 90, values=9) * 0.1 - 0.5, 1)  # a grid whose step is not exact
    assert krippendorff_alpha(tenths, "ordinal") == pytest.approx(reference(tenths, "ordinal"), abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_sparse_crowd_data(rng, level):
    """40 raters, each unit rated by 3 of them (some by 1): the rows are compacted before pairing."""
    data = np.full((40, 150), np.nan)
    for u in range(150):
        k = 1 if u % 10 == 0 else 3
        data[rng.choice(40, k, replace=False), u] = rng.integers(1, 6, k)
    assert krippendorff_alpha(data, level) == pytest.approx(reference(data, level), abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_ratings_of_units_rated_once_never_count_even_off_the_scale(rng, level):
    data = random_ratings(rng, 4, 100)
    lonely = np.full((4, 3), np.nan)
    lonely[0] = [1000.0, -1000.0, 3.5]  # far outside and between the scale points used elsewhere
    assert krippendorff_alpha(np.hstack([data, lonely]), level) == pytest.approx(
        reference(data, level), abs=1e-9
    )


def test_ordinal_alpha_depends_only_on_the_order_of_values(rng):
    data = correlated_ratings(rng, 4, 200, noise=0.8)
    monotone = np.exp(data) * 3 + 1
    assert krippendorff_alpha(monotone, "ordinal") == pytest.approx(
        krippendorff_alpha(data, "ordinal"), abs=1e-12
    )
    assert krippendorff_alpha(monotone, "interval") != pytest.approx(
        krippendorff_alpha(data, "interval"), abs=1e-3
    )


def test_interval_alpha_is_invariant_to_affine_change_of_scale(rng):
    data = correlated_ratings(rng, 5, 100)
    assert krippendorff_alpha(data * 2.5 - 7, "interval") == pytest.approx(
        krippendorff_alpha(data), abs=1e-12
    )


def test_units_with_one_rating_and_rater_order_do_not_matter(rng):
    data = random_ratings(rng, 4, 100)
    lonely = np.full((4, 30), np.nan)
    lonely[rng.integers(0, 4, 30), np.arange(30)] = rng.integers(1, 8, 30)
    for level in LEVELS:
        base = krippendorff_alpha(data, level)
        assert krippendorff_alpha(np.hstack([data, lonely]), level) == pytest.approx(base, abs=1e-12)
        assert krippendorff_alpha(data[::-1], level) == pytest.approx(base, abs=1e-12)


def test_large_continuous_data_every_level():
    """5 × 100,000 continuous ratings: no values × values matrix is ever built (the package cannot do this)."""
    rng = np.random.default_rng(7)
    truth = rng.normal(size=100_000)
    data = truth + rng.normal(scale=0.5, size=(5, 100_000))
    data[rng.random(data.shape) < 0.1] = np.nan
    interval = krippendorff_alpha(data, "interval")
    ordinal = krippendorff_alpha(data, "ordinal")
    assert 0.75 < interval < 0.85  # true reliability 1 / (1 + 0.25) = 0.8
    assert 0.7 < ordinal < 0.85
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.0, abs=1e-4)  # no two values are equal
    assert krippendorff_alpha(data[:, :20_000] + 5, "ratio") > 0.5  # 90,000 distinct values: the quadrature


def test_ratio_quadrature_equals_the_exact_pair_sum(rng):
    for values in (rng.random(3000) * 5, rng.lognormal(0, 3, 3000), 100 + rng.random(3000)):
        values = np.sort(values)
        values[:2] = [0.0, 0.0]
        weights = rng.integers(1, 5, values.size).astype(float)
        exact = ratio_pair_sum(values, weights, exact_max=10**9)
        assert ratio_pair_sum(values, weights, exact_max=0) == pytest.approx(exact, rel=1e-11)
        weights[:50] = 0.0  # as in a bootstrap resample that leaves the smallest values out
        exact = ratio_pair_sum(values, weights, exact_max=10**9)
        assert ratio_pair_sum(values, weights, exact_max=0) == pytest.approx(exact, rel=1e-11)


def test_no_variation_gives_nan_and_perfect_agreement_gives_one():
    same = np.full((3, 10), 4.0)
    assert np.isnan(krippendorff_alpha(same, "interval"))
    perfect = np.tile(np.arange(10.0), (3, 1))
    for level in LEVELS:
        assert krippendorff_alpha(perfect + 1, level) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1.0, 2.0, 3.0], "2-D raters × units"),
        ([[1.0, 2.0, 3.0]], "at least 2 raters"),
        ([[1.0, np.nan], [np.nan, 2.0]], "no pairable values"),
        ([["a", "b"], ["a", "c"]], "numeric ratings"),
        ([[1.0, np.inf], [1.0, 2.0]], "infinite"),
        (np.zeros((2, 0)), "no units"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        krippendorff_alpha(data, "interval")


def test_unknown_level_and_negative_ratio_values_are_refused():
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha([[1, 2], [1, 2]], "metric")
    with pytest.raises(ValueError, match="non-negative"):
        krippendorff_alpha([[-1, 2], [1, 2]], "ratio")


def test_none_is_missing_in_nested_lists():
    data = [[1, 2, None, 4], [1, 2, 3, None], [None, 2, 3, 4]]
    assert krippendorff_alpha(data, "nominal") == pytest.approx(1.0)
