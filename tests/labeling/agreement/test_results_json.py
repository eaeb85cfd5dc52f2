"""Every result converts to strict JSON (what the report task stores): undefined values become null."""

import json

import numpy as np

from labeling.agreement import (
    alpha_bootstrap,
    annotator_reliability,
    ewe,
    icc,
    json_safe,
    lag_corrected_ccc,
    per_tag_alpha,
)

from .helpers import correlated_ratings


def strict(obj):
    return json.loads(json.dumps(obj, allow_nan=False))


def test_results_are_strict_json_with_null_for_undefined(rng):
    data = correlated_ratings(rng, 3, 40, levels=5)
    assert strict(alpha_bootstrap(data, n_resamples=20).as_dict())["n_resamples"] == 20
    assert strict(icc(data).as_dict())["forms"]["ICC(2,1)"]["mcgraw_wong"] == "ICC(A,1)"
    two = annotator_reliability(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]]))
    assert strict(two[0].as_dict())["alpha_without"] is None  # nan: nothing left to pair
    tags = per_tag_alpha([[{"a"}, {"a"}], [{"a"}, {"a"}]])
    assert strict(tags["a"].as_dict()) == {"alpha": None, "n_present": 4, "n_ratings": 4}
    clips = [rng.normal(size=(2, 30)), np.vstack([rng.normal(size=30), np.full(30, np.nan)])]
    trace = strict(lag_corrected_ccc(clips, 10.0, lags_s=[0.0, 0.0]).as_dict())
    assert trace["per_clip"][1] is None and trace["lags_s"] == [0.0, 0.0]
    gold = strict(ewe(np.vstack([np.arange(10.0), np.arange(10.0) + 1])).as_dict())
    assert gold["weights"] == [0.5, 0.5] and len(gold["trace"][0]) == 10


def test_json_safe_gives_plain_json_types():
    value = {
        "alpha": np.float64(0.5),
        "undefined": [np.nan, float("inf"), -np.inf, np.float32("nan")],
        "n": np.int64(3),
        "flag": np.bool_(True),
        "array": np.array([[1.0, np.nan], [2.0, 3.0]]),
        "pair": (1, "a"),
        2: None,
        "text": "α",
    }
    cleaned = json_safe(value)
    assert (
        strict(cleaned)
        == cleaned
        == {
            "alpha": 0.5,
            "undefined": [None, None, None, None],
            "n": 3,
            "flag": True,
            "array": [[1.0, None], [2.0, 3.0]],
            "pair": [1, "a"],
            "2": None,
            "text": "α",
        }
    )
    assert type(cleaned["n"]) is int and type(cleaned["flag"]) is bool and type(cleaned["alpha"]) is float
