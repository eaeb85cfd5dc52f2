import numpy as np
import pytest

from labeling.agreement import annotator_reliability, krippendorff_alpha

from .helpers import correlated_ratings


@pytest.mark.parametrize("level", ["interval", "ordinal", "nominal", "ratio"])
def test_alpha_without_each_annotator_equals_alpha_of_the_rest(rng, level):
    data = correlated_ratings(rng, 5, 150, levels=7, missing=0.2)
    for row in annotator_reliability(data, level):
        rest = np.delete(data, row.rater, axis=0)
        assert row.alpha_without == pytest.approx(krippendorff_alpha(rest, level), abs=1e-12)


def test_a_careless_annotator_stands_out(rng):
    data = correlated_ratings(rng, 5, 200, noise=0.4, missing=0.1)
    data[2] = rng.normal(size=200)  # annotator 2 ignores the clips
    table = annotator_reliability(data)
    overall = krippendorff_alpha(data)
    careless = table[2]
    assert careless.r_loo < 0.2 < min(r.r_loo for r in table if r.rater != 2)
    assert careless.alpha_without > overall > max(r.alpha_without for r in table if r.rater != 2)
    assert careless.n_units == careless.n_compared == 200


def test_r_loo_is_pearson_with_the_mean_of_the_others(rng):
    data = correlated_ratings(rng, 4, 60, missing=0.3)
    row = annotator_reliability(data)[1]
    use = ~np.isnan(data[1]) & ((~np.isnan(np.delete(data, 1, axis=0))).sum(axis=0) >= 1)
    others = np.nanmean(np.delete(data, 1, axis=0)[:, use], axis=0)
    assert row.r_loo == pytest.approx(np.corrcoef(data[1, use], others)[0, 1], abs=1e-12)
    assert row.n_compared == int(use.sum()) and row.as_dict()["rater"] == 1


def test_sparse_crowd_data_and_undefined_values(rng):
    data = np.full((30, 100), np.nan)
    for u in range(100):
        data[rng.choice(30, 3, replace=False), u] = rng.integers(1, 6, 3)
    table = annotator_reliability(data, "ordinal")
    assert len(table) == 30 and all(np.isfinite(r.alpha_without) for r in table)
    two = annotator_reliability(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]]))
    assert all(np.isnan(r.alpha_without) for r in two)  # one rater left: nothing to pair
    assert two[0].r_loo == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])
