"""Perceived (observers) against experienced (self-report) affect: every figure against a hand computation
written out here, and the cluster bootstrap against the generic one resampling the same participants."""

import math

import numpy as np
import pytest

from labeling.agreement import (
    bootstrap_ci,
    ccc,
    observer_summary,
    outside_observers,
    self_observer_agreement,
    self_report_per_clip,
)

# Four clips. Observers' individual ratings of each (canonical scale), the filmed person's self-report, and
# whose clip it is (clips 0, 1: participant 10; 2, 3: participant 20).
RATINGS = {0: [0.5, 0.0, 0.25], 1: [-0.5, -0.25], 2: [0.75], 3: [0.0, 0.5, 1.0]}
SELF = [0.75, -0.25, 0.5, -0.5]
PEOPLE = [10, 10, 20, 20]


def _arrays():
    clips = [c for c, values in RATINGS.items() for _ in values]
    values = [v for c in RATINGS for v in RATINGS[c]]
    return observer_summary(clips, values, 4)


def test_observer_summary_and_per_clip_figures_by_hand():
    obs = _arrays()
    # clip 0: mean (0.5 + 0 + 0.25) / 3 = 0.25; deviations .25, -.25, 0 -> ss = 0.125, sd = sqrt(.125 / 2) = .25
    # clip 1: mean -0.375; deviations -.125, .125 -> ss = .03125, sd = sqrt(.03125) = .1767767
    # clip 2: one rating: mean .75, no sd; clip 3: mean .5, ss = .5, sd = .5
    assert obs.n.tolist() == [3, 2, 1, 3]
    assert obs.mean.tolist() == pytest.approx([0.25, -0.375, 0.75, 0.5])
    assert obs.sd[[0, 1, 3]].tolist() == pytest.approx([0.25, math.sqrt(0.03125), 0.5])
    assert math.isnan(obs.sd[2])
    assert obs.min.tolist() == [0.0, -0.5, 0.75, 0.0] and obs.max.tolist() == [0.5, -0.25, 0.75, 1.0]

    out_range, out_sd = outside_observers(SELF, obs)
    # clip 0: .75 > max .5 -> outside the range; |.75 - .25| = .5 > sd .25 -> outside mean ± sd
    # clip 1: -.25 within [-.5, -.25] (a bound counts as inside); |-.25 + .375| = .125 < .177 -> inside
    # clip 2: one rating: undefined; clip 3: -.5 < min 0 -> outside; |-.5 - .5| = 1 > .5 -> outside
    assert out_range[[0, 1, 3]].tolist() == [1.0, 0.0, 1.0] and math.isnan(out_range[2])
    assert out_sd[[0, 1, 3]].tolist() == [1.0, 0.0, 1.0] and math.isnan(out_sd[2])


def test_study_figures_match_a_hand_computation():
    obs = _arrays()
    res = self_observer_agreement(SELF, obs, PEOPLE, n_resamples=300, seed=5)

    x = [0.25, -0.375, 0.75, 0.5]  # observers' means
    y = SELF
    n = 4
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    r = sxy / math.sqrt(sxx * syy)
    lin = 2 * (sxy / n) / (sxx / n + syy / n + (mx - my) ** 2)  # Lin (1989), 1/n moments
    gaps = [b - a for a, b in zip(x, y, strict=True)]  # 0.5, 0.125, -0.25, -1.0
    assert gaps == pytest.approx([0.5, 0.125, -0.25, -1.0])

    assert (res.n_clips, res.n_participants, res.n_clusters) == (4, 2, 2)
    assert res.pearson_r.estimate == pytest.approx(r)
    assert res.ccc.estimate == pytest.approx(lin)
    assert res.ccc.estimate == pytest.approx(ccc(x, y))  # the same convention as labeling.agreement.ccc
    assert res.mean_gap.estimate == pytest.approx(sum(gaps) / 4) == pytest.approx(-0.15625)
    assert res.mean_abs_gap == pytest.approx(sum(abs(g) for g in gaps) / 4) == pytest.approx(0.46875)
    # range and sd are defined on the three clips with 2+ ratings; two of them lie outside
    assert (res.n_spread_clips, res.n_outside_range, res.n_outside_sd) == (3, 2, 2)
    assert res.share_outside_range == pytest.approx(2 / 3) and res.share_outside_sd == pytest.approx(2 / 3)
    for ci in (res.pearson_r, res.ccc, res.mean_gap):
        assert ci.n_units == 2 and ci.n_resamples == 300 and ci.low <= ci.high
    assert res.reasons == {}
    assert res.as_dict()["pearson_r"]["estimate"] == pytest.approx(r)


def test_the_bootstrap_resamples_participants_with_all_their_clips(rng):
    """The vectorised cluster bootstrap gives, resample for resample, what the generic bootstrap_ci gives
    over a list of participants (each the array of its clips), so a resample is whole participants."""
    n_people, clips_each = 9, 4
    truth = rng.normal(0, 0.4, n_people * clips_each)
    people = np.repeat(np.arange(n_people) * 3 + 100, clips_each)
    people[::7] = -1  # some clips have no participant: each its own cluster
    ratings = truth[None, :] + rng.normal(0, 0.3, (3, truth.size))
    clip_index = np.tile(np.arange(truth.size), 3)
    obs = observer_summary(clip_index, ratings.ravel(), truth.size)
    own = truth + rng.normal(0.1, 0.3, truth.size)
    res = self_observer_agreement(own, obs, people, n_resamples=250, seed=3)

    # the same clusters the function forms: participants in ascending id, then each clip without one
    ids = sorted(set(people[people >= 0]))
    groups = [np.flatnonzero(people == p) for p in ids] + [np.array([i]) for i in np.flatnonzero(people < 0)]
    items = [np.column_stack([obs.mean[g], own[g]]) for g in groups]

    def stat(f):
        return lambda clusters: f(np.concatenate(clusters))

    def pearson(d):
        return float(np.corrcoef(d[:, 0], d[:, 1])[0, 1])

    generic = {
        "pearson_r": bootstrap_ci(stat(pearson), items, n_resamples=250, seed=3),
        "ccc": bootstrap_ci(stat(lambda d: ccc(d[:, 0], d[:, 1])), items, n_resamples=250, seed=3),
        "mean_gap": bootstrap_ci(
            stat(lambda d: float((d[:, 1] - d[:, 0]).mean())), items, n_resamples=250, seed=3
        ),
    }
    assert res.n_clusters == len(groups) == generic["ccc"].n_units
    assert res.n_participants == n_people
    for name, slow in generic.items():
        fast = getattr(res, name)
        for part in ("estimate", "low", "high", "standard_error"):
            assert getattr(fast, part) == pytest.approx(getattr(slow, part), abs=1e-10), (name, part)
        assert fast.n_valid == slow.n_valid


def test_clustered_intervals_are_wider_than_clip_resampling_when_a_person_reports_alike(rng):
    """Each person reports with their own offset, shared by their clips: resampling clips as if independent
    would understate the gap's uncertainty; resampling people does not."""
    people = np.repeat(np.arange(8), 10)
    offset = rng.normal(0, 0.4, 8)[people]
    truth = rng.normal(0, 0.3, people.size)
    obs = observer_summary(np.repeat(np.arange(people.size), 2), np.repeat(truth, 2), people.size)
    own = truth + offset + rng.normal(0, 0.05, people.size)
    by_person = self_observer_agreement(own, obs, people, n_resamples=400).mean_gap
    by_clip = self_observer_agreement(own, obs, np.arange(people.size), n_resamples=400).mean_gap
    assert by_person.estimate == pytest.approx(by_clip.estimate)
    assert by_person.high - by_person.low > 2 * (by_clip.high - by_clip.low)


def test_undefined_figures_are_nan_with_the_reason():
    obs = observer_summary([0, 0, 1], [0.5, 0.25, 0.0], 3)
    two = self_observer_agreement([0.5, 0.0, np.nan], obs, [1, 1, 1])
    assert two.n_clips == 2 and two.n_clusters == 1
    assert math.isnan(two.pearson_r.estimate) and math.isnan(two.ccc.estimate)
    assert "3+ clips" in two.reasons["pearson_r"] and "3+ clips" in two.reasons["ccc"]
    assert two.mean_gap.estimate == pytest.approx((0.5 - 0.375 + 0.0 - 0.0) / 2)
    assert math.isnan(two.mean_gap.low) and "2+ of them" in two.reasons["intervals"]
    assert two.n_spread_clips == 1 and two.share_outside_range == 0.0  # 0.5 is on the range's bound: inside
    none = self_observer_agreement([np.nan] * 3, obs, [-1, -1, -1])
    assert none.n_clips == 0 and math.isnan(none.mean_abs_gap) and math.isnan(none.share_outside_range)
    assert set(none.reasons) >= {"pearson_r", "ccc", "mean_gap", "share_outside_range", "share_outside_sd"}
    assert none.as_dict()["mean_gap"]["estimate"] is None  # JSON: undefined is null

    flat = observer_summary([0, 1, 2, 3], [0.1, 0.2, 0.3, 0.4], 4)
    constant = self_observer_agreement([0.5] * 4, flat, [1, 2, 3, 4], n_resamples=50)
    assert math.isnan(constant.pearson_r.estimate) and "do not vary" in constant.reasons["pearson_r"]
    assert not math.isnan(constant.ccc.estimate)  # CCC is defined (0) when only one side is constant


def test_bad_input_is_refused_plainly():
    obs = observer_summary([0, 1], [0.1, 0.2], 2)
    with pytest.raises(ValueError, match="one entry per clip"):
        self_observer_agreement([0.1], obs, [1])
    with pytest.raises(ValueError, match="convention"):
        self_observer_agreement([0.1, 0.2], obs, [1, 2], convention="pearson")
    with pytest.raises(ValueError, match="0..n_clips-1"):
        observer_summary([0, 3], [0.1, 0.2], 2)
    with pytest.raises(ValueError, match="finite"):
        observer_summary([0], [np.inf], 1)


def test_the_self_value_of_windows_feeds_the_figures():
    """End to end with the contract's per-clip rule: windows weighted by length, whole-clip reports first."""
    value, used = self_report_per_clip([0, 0, 1], [0.0, 2.0, np.nan], [2.0, 6.0, np.nan], [0.9, 0.3, -0.2], 2)
    # clip 0: (0.9 * 2 + 0.3 * 4) / 6 = 0.5
    assert value.tolist() == pytest.approx([0.5, -0.2]) and used.tolist() == [2, 1]
    obs = observer_summary([0, 0, 1, 1], [0.0, 0.5, 0.0, -0.5], 2)
    res = self_observer_agreement(value, obs, [1, 1])
    assert res.mean_gap.estimate == pytest.approx(((0.5 - 0.25) + (-0.2 + 0.25)) / 2)
