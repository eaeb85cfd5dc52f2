import krippendorff
import numpy as np
import pytest

from labeling.agreement import krippendorff_alpha, per_tag_alpha, set_alpha
from labeling.agreement.tags import set_distance, tag_sets

VOCAB = ["indoors", "outdoors", "alone", "with others", "talking", "eating"]


def random_tags(rng, raters, units, *, missing=0.2, agree=0.6):
    """Each unit has a 'true' tag set; raters copy it or draw their own; some ratings are missing."""
    out = [[None] * units for _ in range(raters)]
    for u in range(units):
        truth = frozenset(rng.choice(VOCAB, rng.integers(0, 3), replace=False))
        for r in range(raters):
            if rng.random() < missing:
                continue
            out[r][u] = (
                truth
                if rng.random() < agree
                else frozenset(rng.choice(VOCAB, rng.integers(0, 3), replace=False))
            )
    return out


def test_per_tag_alpha_is_nominal_alpha_on_presence(rng):
    tags = random_tags(rng, 4, 120)
    result = per_tag_alpha(tags)
    assert set(result) <= set(VOCAB) and len(result) >= 5
    for tag, got in result.items():
        binary = np.array([[np.nan if c is None else float(tag in c) for c in row] for row in tags])
        expected = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert got.alpha == pytest.approx(expected, abs=1e-9), tag
        assert got.alpha == pytest.approx(krippendorff_alpha(binary, "nominal"), abs=1e-12)
        pairable = (~np.isnan(binary)).sum(axis=0) >= 2
        assert got.n_present == int(np.nansum(binary[:, pairable])) and got.n_ratings == int(
            (~np.isnan(binary[:, pairable])).sum()
        )
    assert result["indoors"].alpha > 0.3  # raters copy the true set 60% of the time


def test_per_tag_alpha_vocabulary_unused_and_unknown_tags(rng):
    tags = [[{"a"}, {"a", "b"}, set(), None], [{"a"}, {"b"}, set(), {"a"}]]
    result = per_tag_alpha(tags, vocabulary=["a", "b", "never"])
    assert np.isnan(result["never"].alpha) and result["never"].n_present == 0
    assert result["a"].n_ratings == 6  # the empty sets count as ratings; the unit rated once does not
    with pytest.raises(ValueError, match="not in the vocabulary"):
        per_tag_alpha(tags, vocabulary=["a"])


def krippendorff_with_set_distance(tags, distance):
    """The krippendorff package with a custom metric over set codes, as an independent reference."""
    distinct = sorted({c for row in tags for c in row if c is not None}, key=sorted)
    code = {s: i for i, s in enumerate(distinct)}
    data = np.array([[np.nan if c is None else code[c] for c in row] for row in tags], dtype=float)
    vocab = sorted({t for s in distinct for t in s})
    members = np.array([[t in s for t in vocab] for s in distinct], dtype=float)
    inter = members @ members.T
    sizes = members.sum(axis=1)
    table = set_distance(inter, sizes[:, None], sizes[None, :], distance)

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):
        return table[v1.astype(int), v2.astype(int)]

    return krippendorff.alpha(
        reliability_data=data, value_domain=np.arange(len(distinct)), level_of_measurement=metric
    )


@pytest.mark.parametrize("distance", ["jaccard", "masi"])
def test_set_alpha_matches_krippendorff_package_with_the_same_distance(rng, distance):
    tags = random_tags(rng, 5, 150)
    assert set_alpha(tags, distance) == pytest.approx(
        krippendorff_with_set_distance(tags, distance), abs=1e-9
    )


@pytest.mark.parametrize("distance", ["jaccard", "masi"])
def test_set_alpha_on_single_tags_is_nominal_alpha(rng, distance):
    labels = rng.integers(0, 4, (3, 80)).astype(float)
    labels[rng.random(labels.shape) < 0.2] = np.nan
    tags = np.empty(labels.shape, dtype=object)
    for (r, u), v in np.ndenumerate(labels):
        tags[r, u] = None if np.isnan(v) else frozenset([VOCAB[int(v)]])
    assert set_alpha(tags, distance) == pytest.approx(krippendorff_alpha(labels, "nominal"), abs=1e-12)


def test_masi_distance_values_from_passonneau():
    def d(a, b, distance="masi"):
        a, b = set(a), set(b)
        return float(set_distance(np.array(len(a & b)), np.array(len(a)), np.array(len(b)), distance))

    assert d("ab", "ab") == 0.0
    assert d("ab", "abc") == pytest.approx(1 - (2 / 3) * (2 / 3))  # subset
    assert d("ab", "bc") == pytest.approx(1 - (1 / 3) * (1 / 3))  # overlap
    assert d("ab", "cd") == 1.0  # disjoint
    assert d("", "") == 0.0 and d("", "a") == 1.0
    assert d("ab", "bc", "jaccard") == pytest.approx(2 / 3)


def test_set_alpha_agreement_and_no_variation():
    same = [[{"a", "b"}, {"c"}, set()], [{"a", "b"}, {"c"}, set()]]
    assert set_alpha(same) == pytest.approx(1.0)
    assert np.isnan(set_alpha([[{"a"}, {"a"}], [{"a"}, {"a"}]]))


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([[{"a"}, {"b"}]], "at least 2 raters"),
        ([[{"a"}, {"b"}], [{"a"}]], "same"),
        ([["ab", {"b"}], [{"a"}, {"b"}]], "collection of tags"),
        ([[{"a"}, None], [None, {"b"}]], "no pairable values"),
        (np.array([{"a"}, {"b"}], dtype=object), "2-D"),
    ],
)
def test_bad_tag_input(tags, message):
    with pytest.raises(ValueError, match=message):
        tag_sets(tags) if message != "no pairable values" else per_tag_alpha(tags)


def test_unknown_distance_is_refused():
    with pytest.raises(ValueError, match="distance must be one of"):
        set_alpha([[{"a"}], [{"a"}]], "hamming")
