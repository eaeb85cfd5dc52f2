import numpy as np
import pytest

from labeling.agreement import alpha_bootstrap, bootstrap_ci, krippendorff_alpha, lag_corrected_ccc

from .helpers import correlated_ratings


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_vectorised_alpha_bootstrap_equals_the_generic_one_resample_for_resample(rng, level):
    data = correlated_ratings(rng, 4, 120, noise=0.8, levels=7, missing=0.3)
    fast = alpha_bootstrap(data, level, n_resamples=150, seed=11)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, level), data, n_resamples=150, seed=11)
    assert fast.estimate == pytest.approx(krippendorff_alpha(data, level), abs=1e-12)
    for field in ("estimate", "low", "high", "standard_error"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), abs=1e-10), field
    assert fast.n_valid == slow.n_valid == 150 and fast.n_units == 120


@pytest.mark.parametrize("level", ["ordinal", "interval", "nominal"])
def test_continuous_values_vectorised_bootstrap(rng, level):
    data = correlated_ratings(rng, 3, 80, noise=0.5)
    fast = alpha_bootstrap(data, level, n_resamples=60, seed=3)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, level), data, n_resamples=60, seed=3)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-10)


def test_seeding(rng):
    data = correlated_ratings(rng, 3, 100, levels=5)
    first = alpha_bootstrap(data, "ordinal", n_resamples=200, seed=42)
    assert alpha_bootstrap(data, "ordinal", n_resamples=200, seed=42) == first
    other = alpha_bootstrap(data, "ordinal", n_resamples=200, seed=43)
    assert (other.low, other.high) != (first.low, first.high)
    assert first.seed == 42 and first.as_dict()["n_resamples"] == 200
    with pytest.raises(ValueError, match="seed must be an integer"):
        alpha_bootstrap(data, seed=None)


def test_interval_covers_the_estimate_and_narrows_with_more_units(rng):
    small = alpha_bootstrap(correlated_ratings(rng, 4, 50, levels=9), "interval", n_resamples=300)
    large = alpha_bootstrap(correlated_ratings(rng, 4, 800, levels=9), "interval", n_resamples=300)
    for ci in (small, large):
        assert ci.low < ci.estimate < ci.high and ci.confidence == 0.95
    assert large.high - large.low < (small.high - small.low) / 2


def test_ratings_resampling_keeps_each_unit_whole(rng):
    data = correlated_ratings(rng, 3, 40, missing=0.3)
    columns = {tuple(np.nan_to_num(c, nan=-99)) for c in data.T}
    seen = []

    def statistic(d):
        assert d.shape == data.shape  # all raters, as many units as there are
        seen.extend(tuple(np.nan_to_num(c, nan=-99)) for c in d.T)
        return krippendorff_alpha(d)

    bootstrap_ci(statistic, data, n_resamples=20, seed=1)
    assert set(seen) <= columns  # every resampled unit is an original unit with all its ratings
    assert len(set(seen)) > 30  # and units were drawn with replacement from all of them


def test_trace_resampling_draws_whole_clips_never_frames(rng):
    clips = [rng.normal(size=(3, int(rng.integers(50, 80)))) for _ in range(12)]
    ids = {id(c) for c in clips}
    drawn = []

    def statistic(resampled):
        assert len(resampled) == len(clips)
        assert all(id(c) in ids for c in resampled)  # the clip objects themselves, frames untouched
        drawn.extend(id(c) for c in resampled)
        return lag_corrected_ccc(resampled, 10.0, lags_s=[0.0, 0.0, 0.0]).mean

    result = bootstrap_ci(statistic, clips, n_resamples=25, seed=5)
    assert len(drawn) == (1 + 25) * 12 and len(set(drawn)) == 12  # the estimate, then 25 resamples
    assert result.n_units == 12 and result.low <= result.high


def test_undefined_resamples_are_counted_not_hidden():
    data = np.array(
        [[1.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, 3.0]]
    )  # resamples without unit 3 have no variation
    result = alpha_bootstrap(data, "interval", n_resamples=400, seed=0)
    assert 0 < 400 - result.n_valid < 400 and result.n_resamples == 400


def test_bad_arguments():
    data = np.ones((2, 5))
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(np.mean, data, n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        alpha_bootstrap(data, confidence=1.5)
    with pytest.raises(ValueError, match="numpy array or a list"):
        bootstrap_ci(np.mean, "abc")


def test_ratio_bootstrap_with_many_distinct_values(rng):
    data = np.exp(correlated_ratings(rng, 3, 1000, noise=0.5))  # ~2,400 distinct values: the quadrature path
    fast = alpha_bootstrap(data, "ratio", n_resamples=15, seed=2)
    slow = bootstrap_ci(lambda d: krippendorff_alpha(d, "ratio"), data, n_resamples=15, seed=2)
    assert fast.n_valid == 15 and (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-10)
