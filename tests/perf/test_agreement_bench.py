"""Agreement statistics against the `krippendorff` package, side by side in one run, and a full study report.

Run with `make bench` (pytest -m perf tests/perf -s). Timings are the best of several interleaved runs, so
that the shared machine's noise hits both sides alike; ratios are what the assertions check.
"""

import time
from importlib.metadata import version

import krippendorff
import numpy as np
import pytest

from labeling.agreement import (
    alpha_bootstrap,
    annotator_reliability,
    bootstrap_ci,
    icc,
    krippendorff_alpha,
    per_tag_alpha,
)
from tests.perf.report import SMOKE, check_target, smoke_or, write_section

pytestmark = pytest.mark.perf

RATERS, UNITS = 5, smoke_or(100_000, 2_000)
CLIPS, BOOTSTRAP = smoke_or(10_000, 500), smoke_or(1_000, 50)
REPEATS = smoke_or(9, 2)
TAGS = [
    "indoors",
    "outdoors",
    "alone",
    "with others",
    "talking",
    "eating",
    "crowd",
    "vehicle",
    "night",
    "music",
]


def ratings(rng, raters, units, *, levels=None, missing=0.1):
    """Ratings that agree to a degree (true score + rater bias + noise), on a `levels`-point scale or continuous."""
    data = rng.normal(size=units) + rng.normal(scale=0.3, size=(raters, 1)) + rng.normal(size=(raters, units))
    if levels is not None:
        data = np.clip(np.round(data * 1.5) + (levels + 1) // 2, 1, levels)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def interleaved_best(ours, theirs, *, repeats):
    """Best wall time of each of two functions, alternating runs; returns (ours_s, theirs_s, ours_value, theirs_value)."""
    best = [float("inf"), float("inf")]
    values = [None, None]
    for _ in range(repeats):
        for i, fn in enumerate((ours, theirs)):
            start = time.perf_counter()
            values[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1], values[0], values[1]


def best_of(fn, repeats):
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def clip_spread(data):
    """Per clip: number of ratings and their standard deviation (nan for fewer than two)."""
    n = np.sum(~np.isnan(data), axis=0)
    sd = np.full(n.size, np.nan)
    sd[n >= 2] = np.nanstd(data[:, n >= 2], axis=0, ddof=1)
    return n, sd


def study_report(valence, arousal, tags):
    """What the report task computes per study: α (interval, ordinal) with bootstrap CIs, ICC forms, the
    per-annotator table and per-clip spread for each dimension, and per-tag α."""
    out = {}
    for name, data in (("valence", valence), ("arousal", arousal)):
        out[name] = {
            "alpha_interval": alpha_bootstrap(data, "interval", n_resamples=BOOTSTRAP, seed=1),
            "alpha_ordinal": alpha_bootstrap(data, "ordinal", n_resamples=BOOTSTRAP, seed=1),
            "icc": icc(data),
            "annotators": annotator_reliability(data),
            "spread": clip_spread(data),
        }
    out["tags"] = per_tag_alpha(tags, vocabulary=TAGS)
    return out


def test_agreement_benchmark():
    rng = np.random.default_rng(2024)
    lines = [
        "## Agreement statistics (`labeling.agreement`)",
        "",
        f"Krippendorff's α on {RATERS} raters × {UNITS:,} units (10% of ratings missing), `krippendorff_alpha` "
        f"against `krippendorff.alpha` {version('krippendorff')} on the same data in the same run; best of "
        "interleaved runs. Command: `make bench` (`pytest -m perf tests/perf -s`).",
        "",
        "| data | level | labeling.agreement | krippendorff.alpha | speed-up | same value |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]

    nine = ratings(rng, RATERS, UNITS, levels=9)
    baseline_times = {}
    for level in ("interval", "ordinal"):
        ours_s, theirs_s, ours, theirs = interleaved_best(
            lambda level=level: krippendorff_alpha(nine, level),
            lambda level=level: krippendorff.alpha(reliability_data=nine, level_of_measurement=level),
            repeats=REPEATS,
        )
        baseline_times[level] = theirs_s
        ratio = theirs_s / ours_s
        lines.append(
            f"| 9-point scale | {level} | {ms(ours_s)} | {ms(theirs_s)} | **{ratio:.1f}×** | "
            f"Δ = {abs(ours - theirs):.1e} (α = {ours:.6f}) |"
        )
        assert abs(ours - theirs) < 1e-9, level
        check_target(ratio >= 10, f"{level}: only {ratio:.1f}× faster than krippendorff.alpha")

    continuous = ratings(rng, RATERS, UNITS)
    n_values = int(np.unique(continuous[~np.isnan(continuous)]).size)
    needed_pb = UNITS * n_values**2 * 8 / 1e15
    continuous_times = {}
    for level in ("interval", "ordinal", "ratio"):
        data = continuous if level != "ratio" else np.clip(continuous + 6, 0, None)  # a 0-based scale
        took, value = best_of(lambda level=level, data=data: krippendorff_alpha(data, level), repeats=3)
        continuous_times[level] = took
        lines.append(
            f"| continuous ({n_values:,} distinct values) | {level} | {ms(took)} | cannot (see below) | — | "
            f"α = {value:.6f} |"
        )
        assert np.isfinite(value) and value > 0.3
    lines += [
        "",
        f"`krippendorff.alpha` cannot take the continuous data: it builds a units × values × values array, here "
        f"{UNITS:,} × {n_values:,} × {n_values:,} float64 ({needed_pb:,.0f} PB). For scale, the continuous "
        f"interval and ordinal α above take {baseline_times['interval'] / continuous_times['interval']:.0f}× and "
        f"{baseline_times['ordinal'] / continuous_times['ordinal']:.1f}× less time than `krippendorff.alpha` "
        "needs for the 9-point data.",
    ]

    # A full study: 10,000 clips × 5 annotators, valence on a 9-point grid in [-1, 1], arousal continuous.
    valence = (ratings(rng, RATERS, CLIPS, levels=9) - 5) / 4
    arousal = np.clip(ratings(rng, RATERS, CLIPS) / 3, -1, 1)
    present = ~np.isnan(valence)
    tags = [
        [
            frozenset(rng.choice(TAGS, rng.integers(0, 4), replace=False)) if present[r, u] else None
            for u in range(CLIPS)
        ]
        for r in range(RATERS)
    ]
    start = time.perf_counter()
    report = study_report(valence, arousal, tags)
    full_s = time.perf_counter() - start

    # Baseline for the bootstrap: the same resamples one at a time, with our α and with krippendorff.alpha.
    few = 20
    loop_s, loop_ci = best_of(
        lambda: bootstrap_ci(lambda d: krippendorff_alpha(d, "ordinal"), valence, n_resamples=few, seed=1), 1
    )
    package_s, _ = best_of(
        lambda: bootstrap_ci(
            lambda d: krippendorff.alpha(reliability_data=d, level_of_measurement="ordinal"),
            valence,
            n_resamples=few,
            seed=1,
        ),
        1,
    )
    vector_s, vector_ci = best_of(
        lambda: alpha_bootstrap(valence, "ordinal", n_resamples=BOOTSTRAP, seed=1), 1
    )
    loop_1000, package_1000 = loop_s / few * BOOTSTRAP, package_s / few * BOOTSTRAP
    assert vector_ci.estimate == pytest.approx(loop_ci.estimate, abs=1e-12)

    v_int = report["valence"]["alpha_interval"]
    lines += [
        "",
        f"Full study report: {CLIPS:,} clips × {RATERS} annotators, two dimensions (valence on a 9-point grid, "
        f"arousal continuous), each with α interval and ordinal and {BOOTSTRAP:,} bootstrap resamples of whole "
        "clips, the six ICC forms, the per-annotator table and per-clip spread; plus per-tag α for "
        f"{len(TAGS)} tags.",
        "",
        "| computation | time | baseline in the same run | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| full study report | **{ms(full_s)}** | limit 30 s | {30 / full_s:.0f}× under |",
        f"| α ordinal + {BOOTSTRAP:,} resamples, vectorised | {ms(vector_s)} | one resample at a time: "
        f"{ms(loop_1000)} (from {few}) | {loop_1000 / vector_s:.0f}× |",
        f"| same, against krippendorff.alpha in a loop | {ms(vector_s)} | {ms(package_1000)} (from {few}) | "
        f"{package_1000 / vector_s:.0f}× |",
        "",
        f"Valence α (interval) = {v_int.estimate:.4f}, 95% CI [{v_int.low:.4f}, {v_int.high:.4f}] "
        f"({v_int.n_valid} of {v_int.n_resamples} resamples defined).",
    ]
    write_section("agreement", "\n".join(lines))
    print("\n".join(lines))
    check_target(full_s < 30, f"the full study report took {full_s:.1f} s")
    if SMOKE:
        print(
            "SMOKE MODE: small sizes; values checked, speed targets not asserted, docs/benchmarks.md untouched"
        )
