import numpy as np
import pytest

from labeling.agreement import ccc, estimate_lags, ewe, lag_corrected_ccc, shift_traces

RATE = 10.0  # Hz


def smooth_signal(rng, frames):
    """A slowly varying valence-like signal in about [-1, 1]: a few random low-frequency sines."""
    t = np.arange(frames) / RATE
    freqs = rng.uniform(0.02, 0.25, 6)
    phases = rng.uniform(0, 2 * np.pi, 6)
    return np.tanh(sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases, strict=True)) / 2)


def lagged_clips(rng, lags_s, *, clips=6, seconds=60, noise=0.05, gain=None):
    """Each annotator follows the clip's signal late by their lag, with noise; returns raters × frames per clip."""
    out = []
    pad = int(max(lags_s) * RATE)
    frames = int(seconds * RATE)
    for _ in range(clips):
        s = smooth_signal(rng, frames + pad)
        rows = []
        for i, lag in enumerate(lags_s):
            k = int(round(lag * RATE))
            g = 1.0 if gain is None else gain[i]
            rows.append(g * s[pad - k : pad - k + frames] + rng.normal(scale=noise, size=frames))
        out.append(np.array(rows))
    return out


def test_known_lags_are_recovered_exactly(rng):
    true = [0.0, 1.0, 2.5, 6.0, 0.3]
    clips = lagged_clips(rng, true)
    assert estimate_lags(clips, RATE) == pytest.approx(true)


def test_lags_are_relative_to_the_earliest_annotator_and_capped(rng):
    clips = lagged_clips(rng, [1.5, 2.5, 3.0])  # everyone late: only the differences are visible
    assert estimate_lags(clips, RATE) == pytest.approx([0.0, 1.0, 1.5])
    assert estimate_lags(clips, RATE, max_lag_s=0.5).max() <= 0.5


def test_one_clip_with_missing_samples_and_a_missing_trace(rng):
    clip = lagged_clips(rng, [0.0, 2.0, 0.5], clips=1, seconds=120)[0]
    clip[1, 300:400] = np.nan  # a dropout
    extra = np.full((3, 400), np.nan)
    extra[[0, 2]] = lagged_clips(rng, [0.0, 0.5], clips=1, seconds=40)[0]  # annotator 1 skipped this clip
    assert estimate_lags(clip, RATE) == pytest.approx([0.0, 2.0, 0.5])
    assert estimate_lags([clip, extra], RATE) == pytest.approx([0.0, 2.0, 0.5])
    late = lagged_clips(rng, [1.0, 3.0], clips=2)
    absent = [np.vstack([c, np.full((1, c.shape[1]), np.nan)]) for c in late]  # a third who traced nothing
    assert estimate_lags(absent, RATE) == pytest.approx([0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="no two annotators traced overlapping frames"):
        estimate_lags(np.array([[1.0, 2.0, np.nan, np.nan], [np.nan, np.nan, 3.0, 4.0]]), RATE)


def test_shift_traces_advances_each_row_by_its_lag():
    clip = np.arange(20.0).reshape(2, 10)
    shifted = shift_traces(clip, [0.0, 0.3], RATE)
    assert shifted[0].tolist() == clip[0].tolist()
    assert shifted[1, :7].tolist() == clip[1, 3:].tolist() and np.isnan(shifted[1, 7:]).all()
    with pytest.raises(ValueError, match="one non-negative lag per rater"):
        shift_traces(clip, [0.0], RATE)


def test_lag_corrected_ccc_recovers_agreement_and_matches_ccc_per_pair(rng):
    true = [0.0, 2.0, 3.5]
    clips = lagged_clips(rng, true, clips=4)
    corrected = lag_corrected_ccc(clips, RATE)
    raw = lag_corrected_ccc(clips, RATE, lags_s=np.zeros(3))
    assert corrected.lags_s.tolist() == pytest.approx(true)
    assert corrected.mean > 0.95 > raw.mean
    assert corrected.n_clips == 4 and corrected.per_clip.shape == (4,)
    # each clip's value is the mean over pairs of ccc() on the lag-corrected traces
    shifted = shift_traces(clips, true, RATE)
    for c, clip in enumerate(shifted):
        pairs = [ccc(clip[i], clip[j]) for i in range(3) for j in range(i + 1, 3)]
        assert corrected.per_clip[c] == pytest.approx(np.mean(pairs), abs=1e-12)
    assert corrected.pairwise[0, 1] == pytest.approx(np.mean([ccc(c[0], c[1]) for c in shifted]), abs=1e-12)
    assert np.isnan(corrected.pairwise[0, 0])
    assert lag_corrected_ccc(clips, RATE, lags_s=true, convention="unbiased").mean != corrected.mean
    assert corrected.as_dict()["lags_s"] == pytest.approx(true)


def test_a_clip_without_two_overlapping_annotators_has_no_value(rng):
    clips = lagged_clips(rng, [0.0, 0.0], clips=2)
    clips[1][1] = np.nan
    result = lag_corrected_ccc(clips, RATE, lags_s=[0.0, 0.0])
    assert np.isnan(result.per_clip[1]) and result.n_clips == 1
    assert result.mean == pytest.approx(result.per_clip[0])


def test_ewe_weights_annotators_by_their_correlation_with_the_mean(rng):
    clips = lagged_clips(rng, [0.0] * 5, noise=0.05, gain=[1.0, 1.0, 1.0, 1.0, -1.0])
    noisy = [np.vstack([c, rng.normal(scale=0.5, size=(1, c.shape[1]))]) for c in clips]  # 5: pure noise
    result = ewe(noisy)
    assert result.weights[4] == 0.0 and result.correlations[4] < 0  # against the consensus: no weight
    assert result.weights[5] < 0.5 * min(result.weights[:4])
    assert result.weights.sum() == pytest.approx(1.0)
    expected = (result.weights[:, None] * noisy[0]).sum(axis=0)
    assert result.trace[0] == pytest.approx(expected, abs=1e-12)
    assert ccc(result.trace[0], clips[0][0]) > 0.95


def test_ewe_of_identical_annotators_is_their_mean_and_handles_gaps(rng):
    clip = np.tile(smooth_signal(rng, 300), (3, 1))
    clip[2, :100] = np.nan
    result = ewe(clip)
    assert result.weights == pytest.approx([1 / 3] * 3)
    assert result.trace == pytest.approx(clip[0], abs=1e-12)
    with pytest.raises(ValueError, match="EWE is undefined"):
        ewe(np.array([[1.0, 2, 3, 4], [4, 3, 2, 1]]))  # the mean is flat: no correlation is defined


def test_ewe_of_two_units_rated_in_the_same_direction_is_the_plain_mean():
    # Two units: every defined r is ±1, so annotators who all rate the second unit higher weigh the same
    # (Grimm & Kroschel's plain correlation, as scipy.stats.pearsonr gives it; this used to be refused).
    ratings = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 3.0]])
    result = ewe(ratings)
    assert result.correlations == pytest.approx([1.0, 1.0, 1.0])
    assert result.weights == pytest.approx([1 / 3] * 3)
    assert result.trace == pytest.approx(ratings.mean(axis=0))


def test_ewe_of_two_units_gives_an_annotator_against_the_others_no_weight():
    result = ewe(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 2.5]]))  # the mean rises; annotator 2 goes down
    assert result.correlations == pytest.approx([1.0, 1.0, -1.0])
    assert result.weights == pytest.approx([0.5, 0.5, 0.0])
    assert result.trace == pytest.approx([1.5, 3.0])


def test_ewe_gives_a_constant_annotator_no_weight():
    ratings = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    result = ewe(ratings)
    assert np.isnan(result.correlations[2]) and result.weights[2] == 0.0  # r undefined: no variance
    assert result.weights[:2].sum() == pytest.approx(1.0)
    expected = (result.weights[0] * ratings[0] + result.weights[1] * ratings[1]) / result.weights[:2].sum()
    assert result.trace == pytest.approx(expected)
    two_units = ewe(np.array([[1.0, 2.0], [2.0, 4.0], [5.0, 5.0]]))
    assert two_units.weights == pytest.approx([0.5, 0.5, 0.0]) and two_units.trace == pytest.approx(
        [1.5, 3.0]
    )


def test_ewe_gives_an_annotator_with_fewer_than_two_shared_frames_no_weight():
    result = ewe(np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 5.0], [np.nan, np.nan, 4.0]]))
    assert np.isnan(result.correlations[2]) and result.weights[2] == 0.0
    assert result.trace[2] == pytest.approx(3.0 * result.weights[0] + 5.0 * result.weights[1])


@pytest.mark.parametrize(
    "ratings",
    [
        np.array([[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]]),  # every annotator constant: the mean is flat
        np.array([[2.0, 2.0], [2.0, 2.0]]),  # all equal, two units
        np.array([[1.0], [2.0]]),  # one unit: no correlation is defined
    ],
)
def test_ewe_of_all_constant_annotators_is_undefined(ratings):
    with pytest.raises(ValueError, match="EWE is undefined"):
        ewe(ratings)


@pytest.mark.parametrize(
    ("traces", "message"),
    [
        (np.zeros(10), "raters × frames array or a non-empty list"),
        ([], "non-empty list"),
        ([np.zeros((1, 10))], "at least 2 raters"),
        ([np.zeros((2, 10)), np.zeros((3, 10))], "same raters"),
        ([np.full((2, 10), np.inf)], "finite"),
    ],
)
def test_bad_trace_input(traces, message):
    with pytest.raises(ValueError, match=message):
        estimate_lags(traces, RATE)


def test_bad_rate():
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        estimate_lags(np.zeros((2, 10)), 0)
